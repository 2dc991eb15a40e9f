"""The fixed words of the model: ladder levels, severities, mediator kinds, KPI names.

Identifiers follow the glossary of POLICY.md; the Chinese terms are kept beside them for labels.
"""

from __future__ import annotations

__all__ = [
    "KINDS",
    "KPI_LABELS",
    "KPI_NAMES",
    "LEVELS",
    "LEVEL_LABELS",
    "OUTCOMES",
    "SEVERITIES",
    "SEVERITY_LABELS",
    "SHARE_DENOMINATORS",
    "SHARE_KPIS",
    "VENUES",
    "share_denominator",
]

# 三级四步: grid → village → township → district (网格 → 村 → 乡镇 → 区)
LEVELS: tuple[str, ...] = ("grid", "village", "township", "district")
LEVEL_LABELS: dict[str, str] = {
    "grid": "网格",
    "village": "村(社区)",
    "township": "乡镇(街道)",
    "district": "区",
    "sector": "行业性专业性调委会",
}

# Where a step of a case takes place: the ladder levels, then the committees around them
# (行业性专业性调委会, 企业调委会, 派驻调解工作室, 联合调处).
# Appended since (append-only, so no index moves): joint mediation at a township centre
# (乡镇矛调中心, mechanisms.township_centres).
VENUES: tuple[str, ...] = (
    *LEVELS,
    "sector",
    "enterprise",
    "stationed_room",
    "joint",
    "township_joint",
)
LEVEL_LABELS.update(
    {
        "enterprise": "企业调委会",
        "stationed_room": "派驻调解工作室",
        "joint": "联合调处",
        "township_joint": "乡镇联合调处",
    }
)

# 小事 / 大事 / 重大疑难: minor, major, serious
SEVERITIES: tuple[str, ...] = ("minor", "major", "serious")
SEVERITY_LABELS: dict[str, str] = {"minor": "小事", "major": "大事", "serious": "重大疑难"}

# 专职 / 兼职人民调解员
KINDS: tuple[str, ...] = ("full_time", "part_time")

# How a step in the register ends.
OUTCOMES: tuple[str, ...] = (
    "resolved_on_the_spot",  # 当场调处, during the sweep
    "resolved",  # settled by mediation at this level
    "escalated_failed",  # mediation failed, passed up the ladder
    "escalated_time_limit",  # not concluded within the level's time limit, passed up
    "escalated_no_mediator",  # the level has no mediator here, passed straight up
    "unresolved",  # failed at the top of the ladder: litigation or petition
    "open",  # still at this level when the run ended
    "petitioned",  # 信访: the party's patience ran out; the case left the ladder
    "returned_to_court",  # 诉调衔接: a stationed room sends a failed referral back to court
)
# Outcomes that count as resolved (化解), on the spot or not.
RESOLVED = ("resolved", "resolved_on_the_spot")

_RESOLVED_SHARE = tuple(f"resolved_share.{lv}" for lv in (*LEVELS, "sector"))
_UTILIZATION = tuple(f"utilization.{v}" for v in VENUES)

# The "1减2降1升" indicators: NaN (null in JSON) when the scenario has no petitions section.
PETITION_KPIS = (
    "petitions_per_year",
    "skip_level_petitions_per_year",
    "repeat_petitions_per_year",
    "new_backlog_rate",
    "backlog_resolution_rate",
    "petitioned_share",
)

# What the two targets are made of (docs/model.md, KPIs): 小事不出村 = ceiling × retention.
EXPLAINING_KPIS = (
    "minor_reached_village",
    "minor_retained_in_village",
    "major_only_kept_in_township",
    "serious_kept_in_township",
    "resolved_at_or_below_township",
    "found_by_sweep",
)

KPI_NAMES: tuple[str, ...] = (
    "disputes",
    "minor_kept_in_village",
    "major_kept_in_township",
    *EXPLAINING_KPIS,
    *_RESOLVED_SHARE,
    "unresolved_share",
    "open_share",
    "on_the_spot_share",
    "days_to_resolution.mean",
    "days_to_resolution.p90",
    "resolved_within_limit",
    "escalations_by_time_limit",
    *_UTILIZATION,
    *(f"waiting_days.{v}" for v in VENUES),
    *PETITION_KPIS,
    *(f"resolved_share.{v}" for v in ("enterprise", "stationed_room", "joint", "township_joint")),
    "expert_cases_per_year",
    "annual_cost_yuan",
    "full_time_mediators",
    # Appended (issue 15, sim.measures.notice_kpis): the backlog stock at the window's ends,
    # petitions settled by 访调对接, and the court linkage (诉调衔接).
    "backlog_open_at_start",
    "backlog_open_at_end",
    "petitions_closed_by_mediation_per_year",
    "court_filings_per_year",
    "court_delegations_per_year",
)

# KPIs that are shares of a count (a number between 0 and 1 by construction): a target on one
# is a share too, so 80 for 80% is caught (sim.scenario.schema_settings.share_target_problem).
SHARE_KPIS: frozenset[str] = frozenset(
    (
        "minor_kept_in_village",
        "major_kept_in_township",
        "minor_reached_village",
        "minor_retained_in_village",
        "major_only_kept_in_township",
        "serious_kept_in_township",
        "resolved_at_or_below_township",
        "found_by_sweep",
        *(f"resolved_share.{v}" for v in VENUES),
        "unresolved_share",
        "open_share",
        "on_the_spot_share",
        "resolved_within_limit",
        "new_backlog_rate",
        "backlog_resolution_rate",
        "petitioned_share",
    )
)

# What each share is a share of (its denominator), (Chinese, English): shown beside the share
# wherever it is printed, because shares of different wholes disagree at first sight
# (resolved_share.grid counts on-the-spot settlements, the where-resolved table shows them
# apart; resolved_share.stationed_room is a share of court referrals, not of disputes).
# "Disputes" are the window disputes of the ladder (docs/model.md, KPIs).
_ALL = ("全部纠纷", "all disputes")
SHARE_DENOMINATORS: dict[str, tuple[str, str]] = {
    "minor_kept_in_village": ("已办结小事", "concluded minor disputes"),
    "major_kept_in_township": ("已办结大事和重大疑难", "concluded major and serious disputes"),
    "minor_reached_village": ("已办结小事", "concluded minor disputes"),
    "minor_retained_in_village": (
        "进村的已办结小事",
        "concluded minor disputes that reached the village",
    ),
    "major_only_kept_in_township": ("已办结大事", "concluded major disputes"),
    "serious_kept_in_township": ("已办结重大疑难", "concluded serious disputes"),
    "resolved_at_or_below_township": _ALL,
    "found_by_sweep": (
        "被发现的纠纷(企业内部除外)",
        "disputes found or reported (in-firm left out)",
    ),
    **{f"resolved_share.{v}": _ALL for v in VENUES},
    "resolved_share.grid": ("全部纠纷(含当场调处)", "all disputes (on-the-spot counted here)"),
    "resolved_share.stationed_room": ("法院、派出所委派的案件", "court and police referrals"),
    "unresolved_share": _ALL,
    "open_share": _ALL,
    "on_the_spot_share": _ALL,
    "resolved_within_limit": ("已化解纠纷", "resolved disputes"),
    "new_backlog_rate": ("信访件", "petitions filed"),
    "backlog_resolution_rate": (
        "积案(期初未结+新增)",
        "backlog cases (open at the start + new)",
    ),
    "petitioned_share": _ALL,
}


def share_denominator(name: str, language: str = "both") -> str:
    """What share KPI ``name`` is a share of, e.g. ``"of all disputes 全部纠纷"``; ``""`` for a
    KPI that is not a share. ``language``: ``"zh"``, ``"en"`` or ``"both"`` (English first)."""
    if name not in SHARE_DENOMINATORS:
        return ""
    zh, en = SHARE_DENOMINATORS[name]
    if language == "zh":
        return f"占{zh}"
    if language == "en":
        return f"of {en}"
    return f"of {en} 占{zh}"


# Chinese labels for tables and figures.
KPI_LABELS: dict[str, str] = {
    "disputes": "纠纷数/年",
    "minor_kept_in_village": "小事不出村",
    "major_kept_in_township": "大事不出镇",
    "minor_reached_village": "小事进村率",
    "minor_retained_in_village": "小事进村后留村率",
    "major_only_kept_in_township": "大事不出镇(仅大事)",
    "serious_kept_in_township": "重大疑难不出镇",
    "resolved_at_or_below_township": "基层化解率",
    "found_by_sweep": "排查发现率",
    **{f"resolved_share.{v}": f"{LEVEL_LABELS[v]}化解" for v in VENUES},
    "unresolved_share": "未化解",
    "open_share": "未办结",
    "on_the_spot_share": "当场调处",
    "days_to_resolution.mean": "化解天数均值",
    "days_to_resolution.p90": "化解天数P90",
    "resolved_within_limit": "期限内化解",
    "escalations_by_time_limit": "超期上交/年",
    **{f"utilization.{v}": f"{LEVEL_LABELS[v]}负荷" for v in VENUES},
    **{f"waiting_days.{v}": f"{LEVEL_LABELS[v]}等待天数" for v in VENUES},
    "petitions_per_year": "信访/年",
    "skip_level_petitions_per_year": "越级信访/年",
    "repeat_petitions_per_year": "重复信访/年",
    "new_backlog_rate": "新增积案率",
    "backlog_resolution_rate": "积案化解率",
    "petitioned_share": "转信访",
    "expert_cases_per_year": "专家参与/年",
    "annual_cost_yuan": "年度成本(元)",
    "full_time_mediators": "专职调解员",
    "backlog_open_at_start": "期初积案",
    "backlog_open_at_end": "期末积案",
    "petitions_closed_by_mediation_per_year": "访调对接化解/年",
    "court_filings_per_year": "诉讼/年",
    "court_delegations_per_year": "诉前委派/年",
}
