"""Figures and tables of finished results, for notebooks and ``sim report``; never runs a model.

Each figure answers one planner's question from a :class:`~sim.experiments.experiment.Results` (a
run with ``keep_tables=True`` or read back by :func:`sim.load_results`), a sizing result or a quota
verdict:

* :func:`escalation_flow` — where are disputes resolved (网格/村/乡镇/区/行业调委会…), by initial
  severity? A stacked bar per severity, the escalation ladder read left to right.
* :func:`queue_lengths` — how many cases wait at each level over the year?
* :func:`cost_breakdown` — where does the yearly budget go (salaries, allowances, rewards)?
* :func:`petition_indicators`, :func:`backlog_over_time` — the "1减2降1升" indicators.
* :func:`compare_kpis` — the same KPIs for several runs side by side, with their CIs.
* :func:`township_verdict` — 小事不出村 / 大事不出镇 township by township against the target.
* :func:`sizing_frontier`, :func:`budget_by_level` — cost against target attainment; budget.

Every function takes ``language="zh"`` (Chinese labels and place names, for planners) or
``"en"`` (English and pinyin, for researchers). ``"zh"`` without a CJK font falls back to
``"en"`` with one warning (:mod:`sim.reports.fonts`), so a figure never shows empty boxes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.experiment import Results
from sim.measures.kpis import PETITION_KPIS
from sim.reports.fonts import Language, has_cjk_font, resolve_language
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KPI_LABELS, LEVEL_LABELS, SEVERITIES, SEVERITY_LABELS, VENUES

__all__ = [
    "HEADLINE_KPIS",
    "backlog_over_time",
    "budget_by_level",
    "ci_text",
    "compare_kpis",
    "compare_table",
    "cost_breakdown",
    "cost_summary",
    "escalation_flow",
    "kpi_label",
    "kpi_table",
    "level_label",
    "outcome_label",
    "petition_indicators",
    "place_label",
    "png_base64",
    "queue_lengths",
    "queue_table",
    "save",
    "sizing_frontier",
    "sweep_bars",
    "targets_table",
    "township_verdict",
    "where_resolved",
]

# The KPIs a planner reads first; the full table has every venue's waiting time as well.
HEADLINE_KPIS: tuple[str, ...] = (
    "disputes",
    "minor_kept_in_village",
    "major_kept_in_township",
    "on_the_spot_share",
    "resolved_share.grid",
    "resolved_share.village",
    "resolved_share.township",
    "resolved_share.district",
    "resolved_share.sector",
    "unresolved_share",
    "petitioned_share",
    "days_to_resolution.mean",
    "days_to_resolution.p90",
    "resolved_within_limit",
    "utilization.village",
    "utilization.township",
    "utilization.district",
    "petitions_per_year",
    "skip_level_petitions_per_year",
    "repeat_petitions_per_year",
    "new_backlog_rate",
    "backlog_resolution_rate",
    "annual_cost_yuan",
    "full_time_mediators",
)

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
_KPI_EN: dict[str, str] = {
    "disputes": "Disputes per year",
    "minor_kept_in_village": "Minor kept in village",
    "major_kept_in_township": "Major kept in township",
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
    "expert_cases_per_year": "Expert cases per year",
    "annual_cost_yuan": "Annual cost (yuan)",
    "full_time_mediators": "Full-time mediators",
}
# Final outcome classes of a dispute, in ladder order; label (zh, en) and colour.
_FLOW: dict[str, tuple[str, str, str]] = {
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
_COST_ITEMS: dict[str, tuple[str, str]] = {
    "salary": ("专职工资", "Full-time salaries"),
    "allowance": ("兼职补贴", "Part-time allowances"),
    "case_reward": ("以奖代补", "Per-case rewards"),
    "expert_fee": ("专家费用", "Expert fees"),
    "purchased_services": ("购买服务", "Purchased services"),
    "gold_mediator_awards": ("金牌调解员奖励", "Gold-mediator awards"),
}


# --------------------------------------------------------------------------- labels


def _t(zh: str, en: str, language: Language) -> str:
    return zh if language == "zh" else en


def level_label(level: str, language: str = "zh") -> str:
    """网格 / Grid, 乡镇(街道) / Township, 行业性专业性调委会 / Sector committee, …"""
    lang = resolve_language(language)
    if lang == "zh":
        return LEVEL_LABELS.get(level, "专家库" if level == "expert_pool" else level)
    return LEVEL_EN.get(level, level.replace("_", " ").capitalize())


def kpi_label(kpi: str, language: str = "zh") -> str:
    """The Chinese label of a KPI (小事不出村), or a readable English one."""
    lang = resolve_language(language)
    if lang == "zh":
        return KPI_LABELS.get(kpi, kpi)
    if kpi in _KPI_EN:
        return _KPI_EN[kpi]
    head, _, venue = kpi.partition(".")
    where = LEVEL_EN.get(venue, venue)
    return {
        "resolved_share": f"Resolved at {where}",
        "utilization": f"Utilisation: {where}",
        "waiting_days": f"Waiting days: {where}",
    }.get(head, kpi)


def place_label(name: str, scenario: Scenario | None, language: str = "zh") -> str:
    """A township's Chinese name, or its pinyin (from the scenario) in English."""
    if resolve_language(language) == "zh" or scenario is None:
        return name
    for t in scenario.townships:
        if name == t.name:
            return t.pinyin
    return name


def outcome_label(outcome: str, language: str = "zh") -> str:
    """Label of an outcome class of :func:`where_resolved` (当场调处, 村(社区)化解, 转信访…)."""
    zh, en, _colour = _FLOW.get(outcome, (outcome, outcome, ""))
    return zh if resolve_language(language) == "zh" else en


def _severity_label(sev: str, language: Language) -> str:
    if sev == "all":
        return _t("全部", "All", language)
    return SEVERITY_LABELS[sev] if language == "zh" else SEVERITY_EN[sev]


def _yuan_unit(language: Language) -> tuple[float, str]:
    """Chinese budgets are read in 万元 (10,000 yuan); researchers get thousand yuan."""
    return (1e4, "万元") if language == "zh" else (1e3, "thousand yuan")


# --------------------------------------------------------------------------- tables


def _need_tables(results: Results, name: str) -> list[pd.DataFrame]:
    tables = getattr(results, name)
    if not tables:
        raise ValueError(
            f"these results have no {name} tables: run simulate(..., keep_tables=True)"
        )
    return tables


def _window(results: Results) -> tuple[float, float]:
    run = results.scenario.run
    return run.warmup_days, run.warmup_days + run.horizon_days


def kpi_table(
    results: Results, language: str = "zh", kpis: Iterable[str] | None = HEADLINE_KPIS
) -> pd.DataFrame:
    """KPI × (label, mean, ci_low, ci_high, n); ``kpis=None`` for every KPI.

    KPIs whose mechanism the scenario leaves out (the petition indicators without a
    ``[petitions]`` section) are dropped, not shown as zeros.
    """
    lang = resolve_language(language)
    names = list(results.summary.index) if kpis is None else list(kpis)
    names = [k for k in names if k in results.summary.index and k not in results.not_modelled]
    out = results.summary.loc[names, ["mean", "ci_low", "ci_high", "n"]].copy()
    out.insert(0, "label", [kpi_label(k, lang) for k in names])
    out.index.name = "kpi"
    return out


def targets_table(results: Results, language: str = "zh") -> pd.DataFrame:
    """Each target: label, goal (``>= 0.8``), mean with CI, met, met with confidence."""
    lang = resolve_language(language)
    t = results.targets
    out = pd.DataFrame(
        {
            "label": [
                (row["label"] if lang == "zh" and row["label"] else kpi_label(k, lang))
                for k, row in t.iterrows()
            ],
            "goal": [f"{row['sense']} {row['target']:g}" for _, row in t.iterrows()],
            "mean": t["mean"],
            "ci_low": t["ci_low"],
            "ci_high": t["ci_high"],
            "met": t["met"].astype(bool),
            "met_with_confidence": t["met_with_confidence"].astype(bool),
        },
        index=t.index,
    )
    out.index.name = "kpi"
    return out


def where_resolved(results: Results, counts: bool = False) -> pd.DataFrame:
    """Where disputes ended, by initial severity: rows minor/major/serious/all, columns outcome.

    The same disputes as the KPIs (arisen in the measurement window, up the ladder, not the
    starting state), pooled over replications. Columns: ``on_the_spot`` (settled during the
    sweep), each venue where a dispute was resolved by mediation, then ``unresolved``,
    ``petitioned`` and ``open``. Shares of the row total unless ``counts``.
    """
    lo, hi = _window(results)
    registers = _need_tables(results, "registers")
    frames = []
    for cases, register in zip(_need_tables(results, "cases"), registers, strict=True):
        c = cases[
            (~cases["initial"])
            & (cases["arisen"] >= lo)
            & (cases["arisen"] < hi)
            & (cases["origin"] == "ladder")
        ]
        last = register.drop_duplicates("case_id", keep="last").set_index("case_id")
        level = last["level"].astype(object).reindex(c["case_id"]).to_numpy()
        outcome = last["outcome"].astype(object).reindex(c["case_id"]).to_numpy()
        status = c["status"].astype(str).to_numpy()
        cls = np.where(status == "resolved", level, status)
        cls = np.where(outcome == "resolved_on_the_spot", "on_the_spot", cls)
        cls = np.where(np.isin(cls, ["pending"]), "open", cls)
        frames.append(pd.DataFrame({"severity": c["severity_initial"].astype(str), "cls": cls}))
    both = pd.concat(frames, ignore_index=True)
    table = pd.crosstab(both["severity"], both["cls"])
    table = table.reindex(index=[s for s in SEVERITIES if s in table.index])
    table.loc["all"] = table.sum()
    table = table.reindex(columns=[c for c in _FLOW if c in table.columns], fill_value=0)
    table = table.loc[:, table.sum() > 0]
    table.columns.name = "outcome"
    table.index.name = "severity_initial"
    if counts:
        return table / len(frames)  # per replication
    return table.div(table.sum(axis=1).replace(0, np.nan), axis=0)


def queue_table(
    results: Results, measure: str = "waiting", include_drain: bool = False, smooth_days: int = 7
) -> pd.DataFrame:
    """Mean over replications of cases ``waiting`` (present, busy) per venue, by date.

    Daily samples of a few replications jump from 0 to 1 and back; a centred rolling mean over
    ``smooth_days`` samples (1 = none) shows the level a planner reads.
    """
    if measure not in ("present", "waiting", "busy"):
        raise ValueError("measure must be present, waiting or busy")
    series = pd.concat(_need_tables(results, "timeseries"), ignore_index=True)
    if not include_drain:
        series = series[series["time"] <= _window(results)[1]]
    table = series.pivot_table(
        index="date", columns="level", values=measure, aggfunc="mean", observed=True
    )
    table = table.reindex(columns=[v for v in VENUES if v in table.columns])
    if smooth_days > 1:
        table = table.rolling(smooth_days, center=True, min_periods=1).mean()
    return table.loc[:, table.fillna(0).abs().sum() > 0]


def cost_summary(results: Results) -> pd.DataFrame:
    """Mean yearly cost in yuan, rows venue (where), columns cost item."""
    tables = _need_tables(results, "costs")
    both = pd.concat(tables, ignore_index=True)
    out = both.pivot_table(index="where", columns="item", values="yuan_per_year", aggfunc="sum")
    out = out.fillna(0.0) / len(tables)
    order = [*VENUES, "expert_pool"]
    out = out.reindex(
        index=sorted(out.index, key=lambda w: order.index(w) if w in order else len(order)),
        columns=[c for c in _COST_ITEMS if c in out.columns]
        + [c for c in out.columns if c not in _COST_ITEMS],
    )
    return out.loc[out.sum(axis=1) > 0, out.sum(axis=0) > 0]


def compare_table(
    runs: Mapping[str, Results], kpis: Sequence[str], language: str = "zh"
) -> pd.DataFrame:
    """One row per (run, KPI): mean and CI, so several what-ifs read as one table."""
    lang = resolve_language(language)
    rows = []
    for name, res in runs.items():
        for k in kpis:
            r = res.summary.loc[k]
            rows.append(
                {
                    "run": name,
                    "kpi": k,
                    "label": kpi_label(k, lang),
                    "mean": r["mean"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures


def _figure(ax: Axes | None, width: float = 8.0, height: float = 4.5) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()


def escalation_flow(results: Results, language: str = "zh", ax: Axes | None = None) -> Figure:
    """Stacked bars: where disputes of each initial severity end, in ladder order.

    Reading a bar left to right climbs the ladder (当场调处 → 网格 → 村 → 乡镇 → 区 …); the
    green part is 小事不出村 for minor disputes, green and blue 大事不出镇 for major ones.
    """
    lang = resolve_language(language)
    shares = where_resolved(results)
    fig, ax = _figure(ax, 9.0, 1.1 * len(shares) + 2.2)
    rows = list(shares.index)[::-1]  # minor on top
    left = np.zeros(len(rows))
    for cls in shares.columns:
        values = shares.loc[rows, cls].fillna(0).to_numpy()
        zh, en, colour = _FLOW[cls]
        ax.barh(range(len(rows)), values, left=left, color=colour, label=_t(zh, en, lang))
        for i, v in enumerate(values):
            if v >= 0.045:
                ax.text(
                    left[i] + v / 2,
                    i,
                    f"{v:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if cls in ("district", "joint", "village") else "black",
                )
        left += values
    ax.set_yticks(range(len(rows)), [_severity_label(s, lang) for s in rows])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
    ax.set_xlabel(_t("纠纷占比", "Share of disputes", lang))
    ax.set_title(
        _t(
            f"纠纷在哪一级化解?({results.scenario.name},{results.replications} 次重复)",
            f"Where are disputes resolved? ({results.scenario.name}, "
            f"{results.replications} replications)",
            lang,
        )
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize=8, frameon=False)
    return fig


def queue_lengths(
    results: Results,
    measure: str = "waiting",
    language: str = "zh",
    ax: Axes | None = None,
    include_drain: bool = False,
    smooth_days: int = 7,
) -> Figure:
    """Cases waiting (or present, or in service) at each level over the year, mean of reps.

    The warm-up is shaded: the district starts empty, so those weeks are not measured.
    """
    lang = resolve_language(language)
    table = queue_table(results, measure, include_drain, smooth_days)
    fig, ax = _figure(ax)
    for venue in table.columns:
        ax.plot(table.index, table[venue], label=level_label(venue, lang), linewidth=1.2)
    start = pd.Timestamp(results.scenario.run.start_date)
    warm = results.scenario.run.warmup_days
    if warm > 0:
        ax.axvspan(
            start, start + pd.Timedelta(days=warm), color="0.9", label=_t("预热期", "warm-up", lang)
        )
    what = {
        "waiting": ("排队等候的案件数", "cases waiting for a mediator"),
        "present": ("在办案件数", "cases present"),
        "busy": ("正在调解的案件数", "cases in mediation"),
    }[measure]
    ax.set_ylabel(_t(*what, lang))
    ax.set_title(
        _t(
            f"各级{what[0]}({smooth_days} 日滑动平均,{results.replications} 次重复均值)",
            f"{what[1].capitalize()} per level ({smooth_days}-day rolling mean of "
            f"{results.replications} replications)",
            lang,
        )
    )
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def cost_breakdown(results: Results, language: str = "zh", ax: Axes | None = None) -> Figure:
    """Yearly cost by level and item (salaries, allowances, per-case rewards, experts…)."""
    lang = resolve_language(language)
    table = cost_summary(results)
    scale, unit = _yuan_unit(lang)
    fig, ax = _figure(ax, 8.0, 0.45 * len(table) + 2.0)
    rows = list(table.index)[::-1]
    left = np.zeros(len(rows))
    for item in table.columns:
        values = table.loc[rows, item].to_numpy() / scale
        zh, en = _COST_ITEMS.get(item, (item, item))
        ax.barh(range(len(rows)), values, left=left, label=_t(zh, en, lang))
        left += values
    ax.set_yticks(range(len(rows)), [level_label(w, lang) for w in rows])
    total = float(table.to_numpy().sum()) / scale
    ax.set_xlabel(_t(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_title(
        _t(f"年度经费构成:合计 {total:,.0f} {unit}", f"Yearly cost: {total:,.0f} {unit}", lang)
    )
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def petition_indicators(results: Results, language: str = "zh") -> Figure:
    """The "1减2降1升" indicators with their CIs: counts per year, and the two rates.

    1减: repeat petitions down; 2降: skip-level petitions and the new-backlog rate down;
    1升: the backlog resolution rate up.
    """
    lang = resolve_language(language)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    if set(PETITION_KPIS) & set(results.not_modelled):
        _empty(axes[0], _t("本情景未启用信访机制", "no petitions in this scenario", lang))
        axes[1].set_axis_off()
        return fig
    groups = (
        (
            axes[0],
            ("petitions_per_year", "skip_level_petitions_per_year", "repeat_petitions_per_year"),
            ("", "↓", "↓"),
            _t("件/年", "per year", lang),
        ),
        (
            axes[1],
            ("new_backlog_rate", "backlog_resolution_rate"),
            ("↓", "↑"),
            _t("比率", "rate", lang),
        ),
    )
    for ax, names, arrows, ylabel in groups:
        s = results.summary.loc[list(names)]
        mean = s["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - s["ci_low"], s["ci_high"] - mean]).astype(float)
        err = np.where(np.isfinite(err), err, 0.0)
        colours = ["#6baed6" if a == "" else "#d7301f" if a == "↓" else "#31a354" for a in arrows]
        ax.bar(range(len(names)), mean, yerr=err, capsize=4, color=colours)
        labels = [f"{kpi_label(k, lang)} {a}".strip() for k, a in zip(names, arrows, strict=True)]
        ax.set_xticks(range(len(names)), labels, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        for i, v in enumerate(mean):
            if math.isfinite(v):
                ax.annotate(
                    f"{v:.3g}", (i, v), textcoords="offset points", xytext=(12, 3), fontsize=8
                )
    fig.suptitle(
        _t(
            "信访“1减2降1升”指标(均值与 95% 置信区间;↓ 应降,↑ 应升)",
            "Petition indicators '1 down, 2 lower, 1 up' (mean, 95% CI; ↓ lower is better)",
            lang,
        )
    )
    return fig


def _backlog_series(petitions: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Backlog cases open at each of ``days``: entered the backlog by then, not yet closed."""
    entered = petitions["backlog_entered"].to_numpy(dtype=float)
    entered = entered[np.isfinite(entered)]
    closed_b = petitions.loc[petitions["backlog_entered"].notna(), "closed"].to_numpy(dtype=float)
    closed_b = closed_b[np.isfinite(closed_b)]
    return np.searchsorted(np.sort(entered), days, side="right") - np.searchsorted(
        np.sort(closed_b), days, side="right"
    )


def backlog_over_time(
    results: Results | Mapping[str, Results], language: str = "zh", ax: Axes | None = None
) -> Figure:
    """Open backlog cases (积案) over time; several runs (a dict) as one line each."""
    lang = resolve_language(language)
    runs = {"": results} if isinstance(results, Results) else dict(results)
    fig, ax = _figure(ax)
    drawn = False
    for name, res in runs.items():
        if set(PETITION_KPIS) & set(res.not_modelled):
            continue
        _lo, hi = _window(res)
        days = np.arange(0.0, hi + 1.0, 1.0)
        counts = np.array([_backlog_series(p, days) for p in _need_tables(res, "petitions")])
        dates = pd.Timestamp(res.scenario.run.start_date) + pd.to_timedelta(days, unit="D")
        (line,) = ax.plot(dates, counts.mean(axis=0), label=name or None)
        if len(counts) >= 3:
            low, high = np.percentile(counts, [10, 90], axis=0)
            ax.fill_between(dates, low, high, alpha=0.15, color=line.get_color())
        drawn = True
    if not drawn:
        _empty(ax, _t("本情景未启用信访机制", "no petitions in this scenario", lang))
        return fig
    ax.set_ylabel(_t("在册积案数", "open backlog cases", lang))
    ax.set_title(
        _t(
            "积案存量(均值;阴影为 10%–90% 重复区间)",
            "Petition backlog (mean; band: 10–90% of replications)",
            lang,
        )
    )
    if len(runs) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def compare_kpis(runs: Mapping[str, Results], kpis: Sequence[str], language: str = "zh") -> Figure:
    """One panel per KPI: a bar per run with its CI; the scenario's target as a dashed line."""
    lang = resolve_language(language)
    table = compare_table(runs, kpis, lang)
    n = len(kpis)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.4 * rows), layout="constrained", squeeze=False
    )
    names = list(runs)
    for ax, k in zip(axes.flat, kpis, strict=False):
        part = table[table["kpi"] == k].set_index("run").loc[names]
        mean = part["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - part["ci_low"], part["ci_high"] - mean]).astype(float)
        ax.bar(
            range(len(names)),
            mean,
            yerr=np.where(np.isfinite(err), err, 0),
            capsize=3,
            color="#4292c6",
        )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(kpi_label(k, lang), fontsize=10)
        target = next((r.scenario.targets.get(k) for r in runs.values()), None)
        if target is not None:
            ax.axhline(target.value, color="0.3", linestyle="--", linewidth=1)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    return fig


def township_verdict(
    townships: pd.DataFrame, scenario: Scenario | None = None, language: str = "zh"
) -> Figure:
    """Per township, each target KPI's mean with its CI against the target; red = not met.

    ``townships`` is :attr:`sim.sizing.confirmation.QuotaVerdict.townships` (columns township,
    kpi, mean, ci_low, ci_high, target, sense, met, label). Townships are sorted by their mean.
    """
    lang = resolve_language(language)
    kpis = list(dict.fromkeys(townships["kpi"]))
    n_towns = townships["township"].nunique()
    fig, axes = plt.subplots(
        1,
        len(kpis),
        figsize=(5.0 * len(kpis), 0.28 * n_towns + 1.8),
        layout="constrained",
        squeeze=False,
    )
    for ax, k in zip(axes[0], kpis, strict=True):
        part = townships[townships["kpi"] == k].sort_values("mean", na_position="first")
        mean = part["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - part["ci_low"], part["ci_high"] - mean]).astype(float)
        colours = ["#31a354" if m else "#d7301f" for m in part["met"].astype(bool)]
        y = np.arange(len(part))
        ax.barh(
            y,
            np.nan_to_num(mean),
            xerr=np.where(np.isfinite(err), err, 0),
            color=colours,
            capsize=2,
            error_kw={"elinewidth": 0.8},
        )
        names = [place_label(t, scenario, lang) for t in part["township"]]
        if not has_cjk_font():  # no pinyin known and no font to draw the Chinese: number them
            names = [n if n.isascii() else f"#{i + 1}" for i, n in enumerate(names)]
        ax.set_yticks(y, names, fontsize=8)
        target = float(part["target"].iloc[0])
        ax.axvline(target, color="0.2", linestyle="--", linewidth=1)
        label = str(part["label"].iloc[0]) if "label" in part and lang == "zh" else ""
        label = label if label and label != "nan" else kpi_label(k, lang)
        met = int(part["met"].astype(bool).sum())
        ax.set_title(
            _t(f"{label}:{met}/{len(part)} 个乡镇达标", f"{label}: {met}/{len(part)} met", lang),
            fontsize=10,
        )
        ax.set_xlabel(
            _t(
                f"目标 {part['sense'].iloc[0]} {target:g}(虚线)",
                f"target {part['sense'].iloc[0]} {target:g} (dashed)",
                lang,
            )
        )
        if part["sense"].iloc[0] == ">=" and target <= 1:
            ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    return fig


def sizing_frontier(frontier: pd.DataFrame, language: str = "zh", ax: Axes | None = None) -> Figure:
    """Cost against target attainment of every staffing the sizing search simulated.

    Attainment is the mean share of replications meeting each target; the Pareto front (the
    cheapest staffing for each level of attainment) is joined, the chosen staffing starred,
    one colour per demand level.
    """
    lang = resolve_language(language)
    fig, ax = _figure(ax)
    scale, unit = _yuan_unit(lang)
    if frontier is None or not len(frontier):
        _empty(ax, _t("无前沿数据", "no frontier", lang))
        return fig
    for demand, part in frontier.groupby("demand", sort=True):
        part = part.sort_values("annual_cost_yuan")
        cost = part["annual_cost_yuan"].to_numpy(dtype=float) / scale
        (dots,) = ax.plot(
            cost,
            part["attainment"],
            "o",
            alpha=0.45,
            markersize=4,
            label=_t(f"需求 ×{demand:g}", f"demand ×{demand:g}", lang),
        )
        if "pareto" in part:
            front = part[part["pareto"].astype(bool)]
            ax.step(
                front["annual_cost_yuan"] / scale,
                front["attainment"],
                where="post",
                color=dots.get_color(),
                linewidth=1.2,
            )
        chosen = part[part["chosen"].astype(bool)] if "chosen" in part else part.iloc[:0]
        if len(chosen):
            ax.plot(
                chosen["annual_cost_yuan"] / scale,
                chosen["attainment"],
                "*",
                markersize=14,
                color=dots.get_color(),
                markeredgecolor="black",
            )
    ax.set_xlabel(_t(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_ylabel(
        _t(
            "目标达成度(各目标达标重复占比均值)",
            "Target attainment (mean share of replications meeting each)",
            lang,
        )
    )
    ax.set_title(
        _t(
            "成本—达标前沿(★ 为最低成本达标配置)",
            "Cost frontier (★ least-cost staffing meeting every target)",
            lang,
        )
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def budget_by_level(budget: pd.DataFrame, language: str = "zh", ax: Axes | None = None) -> Figure:
    """The sized yearly budget per demand level, stacked by level (salaries and the rest).

    ``budget`` is :attr:`sim.sizing.results.SizingResult.budget` (columns demand, item, level,
    yuan_per_year; the ``total`` row is left out here).
    """
    lang = resolve_language(language)
    scale, unit = _yuan_unit(lang)
    fig, ax = _figure(ax)
    b = budget[budget["item"] != "total"].copy()
    if "demand" not in b:
        b["demand"] = 1.0
    b["level"] = b["level"].fillna("").astype(str).replace("", "district")
    table = b.pivot_table(
        index="demand", columns="level", values="yuan_per_year", aggfunc="sum"
    ).fillna(0.0)
    order = [*VENUES, "expert_pool"]
    table = table[sorted(table.columns, key=lambda c: order.index(c) if c in order else 99)]
    bottom = np.zeros(len(table))
    x = np.arange(len(table))
    for level in table.columns:
        values = table[level].to_numpy() / scale
        ax.bar(x, values, bottom=bottom, label=level_label(level, lang))
        bottom += values
    for i, total in enumerate(bottom):
        ax.annotate(f"{total:,.0f}", (i, total), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [f"×{d:g}" for d in table.index])
    ax.set_xlabel(_t("纠纷量倍数", "demand multiplier", lang))
    ax.set_ylabel(_t(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_title(_t("测算编制下的年度经费(按层级)", "Yearly budget of the sized staffing", lang))
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    return fig


def sweep_bars(
    summary: pd.DataFrame,
    kpi: str,
    by: str = "variant",
    language: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """A bar per sweep point (named variant, or value of ``by``) with its CI and the target.

    ``summary`` is :func:`sim.experiments.sweep.summarise_sweep` of a sweep; its ``attrs`` carry the
    targets, drawn as a dashed line.
    """
    lang = resolve_language(language)
    part = summary[summary["kpi"] == kpi]
    names = [str(v) for v in (part[by] if by in part else part["point"])]
    fig, ax = _figure(ax, max(5.0, 1.1 * len(names) + 2.0), 4.0)
    mean = part["mean"].to_numpy(dtype=float)
    err = np.vstack([mean - part["ci_low"], part["ci_high"] - mean]).astype(float)
    ax.bar(
        range(len(names)), mean, yerr=np.where(np.isfinite(err), err, 0), capsize=4, color="#4292c6"
    )
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    target = summary.attrs.get("sweep", {}).get("targets", {}).get(kpi)
    if target:
        ax.axhline(target["value"], color="0.3", linestyle="--", linewidth=1)
        ax.annotate(
            _t(
                f"目标 {target['sense']} {target['value']:g}",
                f"target {target['sense']} {target['value']:g}",
                lang,
            ),
            (0.01, target["value"]),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_ylabel(kpi_label(kpi, lang))
    ax.set_title(
        _t(
            f"{kpi_label(kpi, lang)}(均值与 95% 置信区间)",
            f"{kpi_label(kpi, lang)} (mean, 95% CI)",
            lang,
        )
    )
    ax.grid(axis="y", alpha=0.3)
    return fig


# --------------------------------------------------------------------------- output


def png_base64(fig: Figure, dpi: int = 110, close: bool = True) -> str:
    """The figure as base64 PNG text, for an ``<img src="data:image/png;base64,…">``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` (PNG, SVG or PDF by suffix) and free it."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def ci_text(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``0.812 [0.801, 0.823]`` for tables; used by the report."""

    def f(x: float) -> str:
        if x is None or not math.isfinite(x):
            return "—"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}f}" if abs(x) < 10 else f"{x:.1f}"

    if not math.isfinite(lo):
        return f(mean)
    return f"{f(mean)} [{f(lo)}, {f(hi)}]"
