"""Figures of planning answers rather than of one run: the per-township quota verdict, the
sizing search's cost frontier and budget, and a sweep's points side by side.

Each reads a finished result (:class:`~sim.sizing.confirmation.QuotaVerdict`,
:class:`~sim.sizing.results.SizingResult`, a sweep summary) and never runs a model.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.reports.drawing import draw_empty, new_figure
from sim.reports.fonts import has_cjk_font, resolve_language
from sim.reports.labels import kpi_label, level_label, place_label, yuan_unit, zh_or_en
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import VENUES

__all__ = ["budget_by_level", "sizing_frontier", "sweep_bars", "township_verdict"]


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
            zh_or_en(
                f"{label}:{met}/{len(part)} 个乡镇达标", f"{label}: {met}/{len(part)} met", lang
            ),
            fontsize=10,
        )
        ax.set_xlabel(
            zh_or_en(
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
    fig, ax = new_figure(ax)
    scale, unit = yuan_unit(lang)
    if frontier is None or not len(frontier):
        draw_empty(ax, zh_or_en("无前沿数据", "no frontier", lang))
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
            label=zh_or_en(f"需求 ×{demand:g}", f"demand ×{demand:g}", lang),
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
    ax.set_xlabel(zh_or_en(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_ylabel(
        zh_or_en(
            "目标达成度(各目标达标重复占比均值)",
            "Target attainment (mean share of replications meeting each)",
            lang,
        )
    )
    ax.set_title(
        zh_or_en(
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
    scale, unit = yuan_unit(lang)
    fig, ax = new_figure(ax)
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
    ax.set_xlabel(zh_or_en("纠纷量倍数", "demand multiplier", lang))
    ax.set_ylabel(zh_or_en(f"年度经费({unit})", f"Yearly cost ({unit})", lang))
    ax.set_title(
        zh_or_en("测算编制下的年度经费(按层级)", "Yearly budget of the sized staffing", lang)
    )
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

    ``summary`` is :func:`sim.experiments.sweep_results.summarise_sweep` of a sweep; its
    ``attrs`` carry the targets, drawn as a dashed line.
    """
    lang = resolve_language(language)
    part = summary[summary["kpi"] == kpi]
    names = [str(v) for v in (part[by] if by in part else part["point"])]
    fig, ax = new_figure(ax, max(5.0, 1.1 * len(names) + 2.0), 4.0)
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
            zh_or_en(
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
        zh_or_en(
            f"{kpi_label(kpi, lang)}(均值与 95% 置信区间)",
            f"{kpi_label(kpi, lang)} (mean, 95% CI)",
            lang,
        )
    )
    ax.grid(axis="y", alpha=0.3)
    return fig
