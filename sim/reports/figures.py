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

This module is the one place to import them from (``from sim.reports import figures``). The
figures of one run are defined here; the others, and the tables and labels they draw, are
defined by concept and re-exported: :mod:`sim.reports.planning_figures` (quota verdict,
sizing, sweeps), :mod:`sim.reports.tables`, :mod:`sim.reports.labels` and
:mod:`sim.reports.drawing` (figure and output helpers).

Every function takes ``language="zh"`` (Chinese labels and place names, for planners) or
``"en"`` (English and pinyin, for researchers). ``"zh"`` without a CJK font falls back to
``"en"`` with one warning (:mod:`sim.reports.fonts`), so a figure never shows empty boxes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.experiment import Results
from sim.measures.kpis import PETITION_KPIS
from sim.reports.drawing import ci_text, draw_empty, new_figure, png_base64, save
from sim.reports.fonts import resolve_language
from sim.reports.labels import (
    COST_ITEMS,
    OUTCOME_CLASSES,
    kpi_label,
    level_label,
    outcome_label,
    place_label,
    severity_label,
    yuan_unit,
    zh_or_en,
)
from sim.reports.planning_figures import (
    budget_by_level,
    sizing_frontier,
    sweep_bars,
    township_verdict,
)
from sim.reports.tables import (
    HEADLINE_KPIS,
    TARGET_PARTS,
    compare_table,
    cost_summary,
    kpi_table,
    ladder_targets_explained,
    measured_window,
    need_tables,
    queue_table,
    targets_table,
    where_resolved,
)

__all__ = [
    "HEADLINE_KPIS",
    "TARGET_PARTS",
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
    "ladder_targets_explained",
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


def escalation_flow(results: Results, language: str = "zh", ax: Axes | None = None) -> Figure:
    """Stacked bars: where disputes of each initial severity end, in ladder order.

    Reading a bar left to right climbs the ladder (当场调处 → 网格 → 村 → 乡镇 → 区 …); the
    green part is 小事不出村 for minor disputes, green and blue 大事不出镇 for major ones.
    """
    lang = resolve_language(language)
    shares = where_resolved(results)
    fig, ax = new_figure(ax, 9.0, 1.1 * len(shares) + 2.2)
    rows = list(shares.index)[::-1]  # minor on top
    left = np.zeros(len(rows))
    for cls in shares.columns:
        values = shares.loc[rows, cls].fillna(0).to_numpy()
        zh, en, colour = OUTCOME_CLASSES[cls]
        ax.barh(range(len(rows)), values, left=left, color=colour, label=zh_or_en(zh, en, lang))
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
    ax.set_yticks(range(len(rows)), [severity_label(s, lang) for s in rows])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
    ax.set_xlabel(zh_or_en("纠纷占比", "Share of disputes", lang))
    ax.set_title(
        zh_or_en(
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
    fig, ax = new_figure(ax)
    for venue in table.columns:
        ax.plot(table.index, table[venue], label=level_label(venue, lang), linewidth=1.2)
    start = pd.Timestamp(results.scenario.run.start_date)
    warm = results.scenario.run.warmup_days
    if warm > 0:
        ax.axvspan(
            start,
            start + pd.Timedelta(days=warm),
            color="0.9",
            label=zh_or_en("预热期", "warm-up", lang),
        )
    what = {
        "waiting": ("排队等候的案件数", "cases waiting for a mediator"),
        "present": ("在办案件数", "cases present"),
        "busy": ("正在调解的案件数", "cases in mediation"),
    }[measure]
    ax.set_ylabel(zh_or_en(*what, lang))
    ax.set_title(
        zh_or_en(
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
    scale, unit = yuan_unit(lang)
    fig, ax = new_figure(ax, 8.0, 0.45 * len(table) + 2.0)
    rows = list(table.index)[::-1]
    left = np.zeros(len(rows))
    for item in table.columns:
        values = table.loc[rows, item].to_numpy() / scale
        zh, en = COST_ITEMS.get(item, (item, item))
        ax.barh(range(len(rows)), values, left=left, label=zh_or_en(zh, en, lang))
        left += values
    ax.set_yticks(range(len(rows)), [level_label(w, lang) for w in rows])
    total = float(table.to_numpy().sum()) / scale
    ax.set_xlabel(zh_or_en(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_title(
        zh_or_en(
            f"年度经费构成:合计 {total:,.0f} {unit}", f"Yearly cost: {total:,.0f} {unit}", lang
        )
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
        draw_empty(axes[0], zh_or_en("本情景未启用信访机制", "no petitions in this scenario", lang))
        axes[1].set_axis_off()
        return fig
    groups = (
        (
            axes[0],
            ("petitions_per_year", "skip_level_petitions_per_year", "repeat_petitions_per_year"),
            ("", "↓", "↓"),
            zh_or_en("件/年", "per year", lang),
        ),
        (
            axes[1],
            ("new_backlog_rate", "backlog_resolution_rate"),
            ("↓", "↑"),
            zh_or_en("比率", "rate", lang),
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
        zh_or_en(
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
    fig, ax = new_figure(ax)
    drawn = False
    for name, res in runs.items():
        if set(PETITION_KPIS) & set(res.not_modelled):
            continue
        _lo, hi = measured_window(res)
        days = np.arange(0.0, hi + 1.0, 1.0)
        counts = np.array([_backlog_series(p, days) for p in need_tables(res, "petitions")])
        dates = pd.Timestamp(res.scenario.run.start_date) + pd.to_timedelta(days, unit="D")
        (line,) = ax.plot(dates, counts.mean(axis=0), label=name or None)
        if len(counts) >= 3:
            low, high = np.percentile(counts, [10, 90], axis=0)
            ax.fill_between(dates, low, high, alpha=0.15, color=line.get_color())
        drawn = True
    if not drawn:
        draw_empty(ax, zh_or_en("本情景未启用信访机制", "no petitions in this scenario", lang))
        return fig
    ax.set_ylabel(zh_or_en("在册积案数", "open backlog cases", lang))
    ax.set_title(
        zh_or_en(
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
