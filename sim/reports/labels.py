"""Bilingual labels for figures, tables and the report: levels, KPIs, places, outcomes, costs.

``language="zh"`` gives the Chinese terms planners use (小事不出村, 乡镇(街道)…), ``"en"`` readable
English and pinyin place names for researchers. The language is the caller's choice and never
depends on the fonts of the machine (:func:`sim.reports.fonts.check_language`); figures make sure
their font can draw it (:func:`sim.reports.fonts.resolve_language`). :func:`axis_label` names a
sweep axis (a dotted scenario key, ``ladder.township.full_time``) in words.
"""

from __future__ import annotations

from sim.reports.fonts import Language, check_language
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KPI_LABELS, LEVEL_LABELS, SEVERITY_LABELS

__all__ = [
    "COST_ITEMS",
    "KPI_EN",
    "LEVEL_EN",
    "OUTCOME_CLASSES",
    "SEVERITY_EN",
    "axis_label",
    "kpi_label",
    "level_label",
    "outcome_label",
    "place_label",
    "severity_label",
    "yuan_unit",
    "zh_or_en",
]

LEVEL_EN: dict[str, str] = {
    "grid": "Grid",
    "village": "Village",
    "township": "Township",
    "district": "District",
    "sector": "Sector committee",
    "enterprise": "Enterprise committee",
    "stationed_room": "Stationed room",
    "joint": "Joint mediation",
}
SEVERITY_EN: dict[str, str] = {"minor": "Minor", "major": "Major", "serious": "Serious"}
KPI_EN: dict[str, str] = {
    "disputes": "Disputes per year",
    "minor_kept_in_village": "Minor kept in village",
    "major_kept_in_township": "Major kept in township",
    "minor_reached_village": "Minor that reached the village (ceiling)",
    "minor_retained_in_village": "Minor kept, of those that reached the village",
    "major_only_kept_in_township": "Major (not serious) kept in township",
    "serious_kept_in_township": "Serious kept in township",
    "resolved_at_or_below_township": "Resolved at the grassroots (township or below)",
    "found_by_sweep": "Found first by a sweep",
    "unresolved_share": "Unresolved share",
    "open_share": "Still open share",
    "on_the_spot_share": "Resolved on the spot",
    "days_to_resolution.mean": "Days to resolution (mean)",
    "days_to_resolution.p90": "Days to resolution (P90)",
    "resolved_within_limit": "Resolved within time limit",
    "escalations_by_time_limit": "Escalations by time limit / yr",
    "petitions_per_year": "Petitions per year",
    "skip_level_petitions_per_year": "Skip-level petitions per year",
    "repeat_petitions_per_year": "Repeat petitions per year",
    "new_backlog_rate": "New-backlog rate",
    "backlog_resolution_rate": "Backlog resolution rate",
    "petitioned_share": "Share petitioned",
    "backlog_open_at_start": "Backlog open at the window's start",
    "backlog_open_at_end": "Backlog open at the window's end",
    "petitions_closed_by_mediation_per_year": "Petitions settled by mediation (访调对接) / yr",
    "court_filings_per_year": "Unresolved cases filed in court / yr",
    "court_delegations_per_year": "Delegated back to the court's room (诉前委派) / yr",
    "expert_cases_per_year": "Expert cases per year",
    "annual_cost_yuan": "Annual cost (yuan)",
    "full_time_mediators": "Full-time mediators",
}
# Final outcome classes of a dispute, in ladder order; label (zh, en) and colour.
OUTCOME_CLASSES: dict[str, tuple[str, str, str]] = {
    "on_the_spot": ("当场调处", "On the spot (sweep)", "#9ad0a0"),
    "grid": ("网格化解", "Grid", "#4daf62"),
    "village": ("村(社区)化解", "Village", "#238b45"),
    "enterprise": ("企业调委会化解", "Enterprise committee", "#7fbf7b"),
    "township": ("乡镇(街道)化解", "Township", "#4292c6"),
    "district": ("区级化解", "District", "#08519c"),
    "sector": ("行业调委会化解", "Sector committee", "#807dba"),
    "stationed_room": ("派驻工作室化解", "Stationed room", "#bcbddc"),
    "joint": ("联合调处化解", "Joint mediation", "#54278f"),
    "unresolved": ("未化解(诉讼等)", "Unresolved (court etc.)", "#fd8d3c"),
    "petitioned": ("转信访", "Petitioned", "#d7301f"),
    "open": ("未办结", "Still open", "#bdbdbd"),
}
COST_ITEMS: dict[str, tuple[str, str]] = {
    "salary": ("专职工资", "Full-time salaries"),
    "allowance": ("兼职补贴", "Part-time allowances"),
    "case_reward": ("以奖代补", "Per-case rewards"),
    "training": ("培训", "Training"),
    "expert_fee": ("专家费用", "Expert fees"),
    "purchased_services": ("购买服务", "Purchased services"),
    "gold_mediator_awards": ("金牌调解员奖励", "Gold-mediator awards"),
    "petition_agent_allowance": ("信访代办员补贴", "Petition-agent allowances"),
}


def zh_or_en(zh: str, en: str, language: Language) -> str:
    """The Chinese or the English text, by the (resolved) language."""
    return zh if language == "zh" else en


def level_label(level: str, language: str = "zh") -> str:
    """网格 / Grid, 乡镇(街道) / Township, 行业性专业性调委会 / Sector committee, …"""
    lang = check_language(language)
    if lang == "zh":
        return LEVEL_LABELS.get(level, "专家库" if level == "expert_pool" else level)
    return LEVEL_EN.get(level, level.replace("_", " ").capitalize())


def kpi_label(kpi: str, language: str = "zh") -> str:
    """The Chinese label of a KPI (小事不出村), or a readable English one."""
    lang = check_language(language)
    if lang == "zh":
        return KPI_LABELS.get(kpi, kpi)
    if kpi in KPI_EN:
        return KPI_EN[kpi]
    head, _, venue = kpi.partition(".")
    where = LEVEL_EN.get(venue, venue)
    return {
        "resolved_share": f"Resolved at {where}",
        "utilization": f"Utilisation: {where}",
        "waiting_days": f"Waiting days: {where}",
    }.get(head, kpi)


def place_label(name: str, scenario: Scenario | None, language: str = "zh") -> str:
    """A township's Chinese name, or its pinyin (from the scenario) in English."""
    if check_language(language) == "zh" or scenario is None:
        return name
    for t in scenario.townships:
        if name == t.name:
            return t.pinyin
    return name


def outcome_label(outcome: str, language: str = "zh") -> str:
    """Label of an outcome class of :func:`sim.reports.tables.where_resolved` (当场调处, 转信访)."""
    zh, en, _colour = OUTCOME_CLASSES.get(outcome, (outcome, outcome, ""))
    return zh if check_language(language) == "zh" else en


def severity_label(sev: str, language: Language) -> str:
    """小事 / Minor …, and 全部 / All for the pooled row."""
    if sev == "all":
        return zh_or_en("全部", "All", language)
    return SEVERITY_LABELS[sev] if language == "zh" else SEVERITY_EN[sev]


def yuan_unit(language: Language) -> tuple[float, str]:
    """Chinese budgets are read in 万元 (10,000 yuan); researchers get thousand yuan."""
    return (1e4, "万元") if language == "zh" else (1e3, "thousand yuan")


# Sweep axes planners use most, by dotted scenario key: (zh, en). "{level}" takes the level's
# name; other keys are shown as they are (researchers know them from docs/scenario.md).
_AXES: dict[str, tuple[str, str]] = {
    "discovery.sweep_interval_days": ("排查间隔(天)", "Sweep interval (days)"),
    "discovery.detect_probability": ("排查发现概率", "Sweep detection probability"),
    "discovery.on_the_spot.minor": ("小事当场调处概率", "On-the-spot settlement (minor)"),
    "arrivals.rate_per_1000_per_year": (
        "纠纷发生率(每千人每年)",
        "Disputes per 1,000 residents/yr",
    ),
    "arrivals.growth_per_year": ("纠纷年增长率", "Demand growth per year"),
    "ladder.{level}.full_time": ("{level}专职调解员(人)", "Full-time mediators per {level}"),
    "ladder.{level}.part_time": ("{level}兼职调解员(人)", "Part-time mediators per {level}"),
    "ladder.{level}.full_time_coverage": (
        "有专职调解员的{level}占比",
        "Share of {level}s with a full-time mediator",
    ),
    "variant": ("方案", "Variant"),
}


def axis_label(key: str, language: str = "zh") -> str:
    """A sweep axis in words: ``ladder.township.full_time`` → 乡镇(街道)专职调解员(人).

    A ``:scale`` axis (values multiply the base scenario's) says so (×); an axis not in the
    table keeps its dotted key, which is what docs/scenario.md documents.
    """
    lang = check_language(language)
    name, _, how = key.partition(":")
    parts = name.split(".")
    text = None
    if name in _AXES:
        text = zh_or_en(*_AXES[name], lang)
    elif len(parts) == 3 and parts[0] == "ladder":
        pattern = _AXES.get(f"ladder.{{level}}.{parts[2]}")
        if pattern is not None:
            level = level_label(parts[1], lang) if lang == "zh" else parts[1]
            text = zh_or_en(*pattern, lang).format(level=level)
    if text is None:
        text = name
    if how == "scale":
        text += zh_or_en("(相对基准 ×)", " (× base scenario)", lang)
    elif how:
        text += f" ({how})"
    return text
