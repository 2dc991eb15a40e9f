"""Figures for sweeps and sensitivity analyses, drawn from results, never running a model.

Axes and KPIs are labelled in words in the reader's language (``language="zh"``: 排查间隔(天),
小事不出村; ``"en"``: Sweep interval (days), Minor kept in village), never as raw dotted keys.
The font that draws the Chinese is set up by :mod:`sim.reports.fonts`, the package's one font
lookup. A heatmap's colours are tied to the target (green met, red not, the same scale for the
same distance from it), and each cell shows its CI half-width, so noise does not look like a
finding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from sim.experiments.sweep_results import summarise_sweep
from sim.reports import labels
from sim.reports.drawing import new_figure, save
from sim.reports.fonts import Language, cjk_font, resolve_language

__all__ = ["axis_label", "cjk_font", "heatmap", "kpi_label", "kpi_over_axis", "save", "tornado"]


def kpi_label(kpi: str, language: str = "zh") -> str:
    """A KPI in words with its name for researchers: ``小事不出村 (minor_kept_in_village)``."""
    text = labels.kpi_label(kpi, resolve_language(language))
    return text if text == kpi else f"{text} ({kpi})"


def axis_label(key: str, language: str = "zh") -> str:
    """A sweep axis in words (see :func:`sim.reports.labels.axis_label`)."""
    return labels.axis_label(key, resolve_language(language))


def _target(df: pd.DataFrame, kpi: str) -> dict[str, Any] | None:
    return df.attrs.get("sweep", {}).get("targets", {}).get(kpi)


def _sorted_values(values: pd.Series) -> list[Any]:
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _check_axes(df: pd.DataFrame, **axes: str | None) -> None:
    """Each named axis is a column of ``df``, and no two of them are the same axis."""
    given = {role: a for role, a in axes.items() if a is not None}
    for role, a in given.items():
        if a not in df.columns:
            raise ValueError(f"{role} axis {a!r} is not a column of the sweep's results")
    names = list(given.values())
    for a in dict.fromkeys(names):
        if names.count(a) > 1:
            roles = " and ".join(r for r, b in given.items() if b == a)
            raise ValueError(f"{roles} are the same axis {a!r}; choose two different axes")


def _target_text(spec: dict[str, Any], lang: Language) -> str:
    sense = "≥" if spec.get("sense", ">=") == ">=" else "≤"
    return labels.zh_or_en("目标", "target", lang) + f" {sense} {spec['value']:g}"


def kpi_over_axis(
    df: pd.DataFrame,
    kpi: str,
    axis: str,
    by: str | None = None,
    confidence: float = 0.95,
    ax: Any = None,
    language: str = "zh",
) -> Figure:
    """Mean of ``kpi`` along ``axis`` with its CI band; one line per value of ``by``.

    Other axes, if any, are averaged over (pass a filtered DataFrame to fix them instead).
    The KPI's target, if the scenario sets one, is drawn as a dashed line. ``by`` equal to
    ``axis`` is a ValueError (one line per x value says nothing).
    """
    _check_axes(df, x=axis, by=by)
    lang = resolve_language(language)
    summary = summarise_sweep(df, [kpi], confidence)
    fig, ax = _figure(ax)
    groups = [(None, summary)] if by is None else list(summary.groupby(by, sort=True))
    numeric = pd.api.types.is_numeric_dtype(summary[axis])
    for name, part in groups:
        agg = part.groupby(axis, sort=True)[["mean", "ci_low", "ci_high"]].mean()
        order = _sorted_values(part[axis]) if not numeric else list(agg.index)
        agg = agg.loc[order]
        xs = np.asarray(agg.index, dtype=float) if numeric else np.arange(len(agg))
        label = None if by is None else f"{labels.axis_label(by, lang)} = {name}"
        (line,) = ax.plot(xs, agg["mean"], marker="o", label=label)
        ax.fill_between(xs, agg["ci_low"], agg["ci_high"], alpha=0.2, color=line.get_color())
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in agg.index])
    target = _target(df, kpi)
    if target:
        ax.axhline(target["value"], color="0.3", linestyle="--", linewidth=1)
        ax.annotate(
            _target_text(target, lang),
            (0.01, target["value"]),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlabel(labels.axis_label(axis, lang))
    ax.set_ylabel(kpi_label(kpi, lang))
    band = labels.zh_or_en(f"阴影为 {confidence:.0%} 置信区间", f"band: {confidence:.0%} CI", lang)
    ax.set_title(f"{labels.kpi_label(kpi, lang)} ({band})")
    if by is not None:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def heatmap(
    df: pd.DataFrame,
    kpi: str,
    x: str,
    y: str,
    target: float | None = None,
    ax: Any = None,
    language: str = "zh",
    confidence: float = 0.95,
) -> Figure:
    """Mean of ``kpi`` over two axes, with the contour where it crosses its target.

    Answers "where is 小事不出村 met?": each cell shows the mean and the half-width of its
    confidence interval, and the solid contour line at the target (the scenario's, or
    ``target``) separates met from not met. With a target the colours are centred on it —
    green met, red not, the same span either side, at least 5% of the target wide — so a
    grid whose cells all sit within noise of each other is not painted as dramatic
    differences; without one they span the means. Other axes are averaged over. ``x`` equal
    to ``y`` is a ValueError.
    """
    _check_axes(df, x=x, y=y)
    lang = resolve_language(language)
    summary = summarise_sweep(df, [kpi], confidence)
    summary = summary.assign(half=(summary["ci_high"] - summary["ci_low"]) / 2)
    grid = summary.pivot_table(index=y, columns=x, values="mean", aggfunc="mean")
    half = summary.pivot_table(index=y, columns=x, values="half", aggfunc="mean")
    rows, cols = _sorted_values(grid.index), _sorted_values(grid.columns)
    grid, half = grid.loc[rows, cols], half.reindex(index=rows, columns=cols)
    fig, ax = _figure(ax)
    values = grid.to_numpy(dtype=float)
    spec = _target(df, kpi)
    level = target if target is not None else (spec["value"] if spec else None)
    at_most = (spec or {}).get("sense", ">=") == "<="
    finite = values[np.isfinite(values)]
    if level is not None and finite.size:
        reach = max(float(np.abs(finite - level).max()), 0.05 * abs(level) or 0.05)
        norm = TwoSlopeNorm(vcenter=level, vmin=level - reach, vmax=level + reach)
        image = ax.imshow(
            values,
            origin="lower",
            aspect="auto",
            norm=norm,
            cmap="RdYlGn_r" if at_most else "RdYlGn",
        )
    else:
        image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label=kpi_label(kpi, lang))
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" if _num(v) else str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if _num(v) else str(v) for v in grid.index])
    ax.set_xlabel(labels.axis_label(x, lang))
    ax.set_ylabel(labels.axis_label(y, lang))
    halves = half.to_numpy(dtype=float)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            hw = halves[i, j]
            text = f"{v:.3g}" + (f"\n±{hw:.2g}" if np.isfinite(hw) else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    title = labels.kpi_label(kpi, lang)
    target_word = labels.zh_or_en("目标", "target", lang)
    if level is not None and finite.size and finite.min() < level < finite.max():
        if min(values.shape) >= 2:
            contour = ax.contour(values, levels=[level], colors="black", linewidths=2)
            ax.clabel(contour, fmt=lambda v: f"{target_word} {v:g}", fontsize=8)
        title += labels.zh_or_en(
            f" — 黑线: 目标 {level:g}", f" — black line: target {level:g}", lang
        )
    elif level is not None and finite.size:
        met = finite.max() <= level if at_most else finite.min() >= level
        verdict = labels.zh_or_en(
            "处处达标" if met else "处处未达标", "met everywhere" if met else "met nowhere", lang
        )
        title += f" — {target_word} {level:g} {verdict}"
    ax.set_title(title)
    ax.annotate(
        labels.zh_or_en(
            f"格内: 均值 ± {confidence:.0%} 置信区间半宽",
            f"cells: mean ± {confidence:.0%} CI",
            lang,
        ),
        (1.0, -0.12),
        xycoords="axes fraction",
        ha="right",
        va="top",
        fontsize=7,
        color="0.35",
    )
    return fig


def _num(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def tornado(
    indices: pd.DataFrame, kpi: str | None = None, ax: Any = None, language: str = "zh"
) -> Figure:
    """Bars of the sensitivity indices of one KPI, largest on top, with confidence whiskers.

    Morris: mu* (mean absolute elementary effect, in the KPI's units); Sobol: total-order
    index ST with the first-order S1 beside it (shares of the KPI's variance).
    """
    lang = resolve_language(language)
    part = indices if kpi is None else indices[indices["kpi"] == kpi]
    kpi = kpi or str(part["kpi"].iloc[0])
    method = str(part["method"].iloc[0])
    fig, ax = _figure(ax, height=0.5 * len(part) + 1.5)
    if method == "morris":
        part = part.sort_values("mu_star")
        pos = np.arange(len(part))
        ax.barh(pos, part["mu_star"], xerr=part["mu_star_conf"], color="tab:blue")
        ax.set_xlabel("Morris μ* (mean |elementary effect|)")
    else:
        part = part.sort_values("ST")
        pos = np.arange(len(part))
        ax.barh(pos + 0.2, part["ST"], height=0.4, xerr=part["ST_conf"], label="total ST")
        ax.barh(pos - 0.2, part["S1"], height=0.4, xerr=part["S1_conf"], label="first-order S1")
        ax.set_xlabel("Sobol index (share of variance)")
        ax.legend(fontsize=8)
    ax.set_yticks(pos, [labels.axis_label(str(f), lang) for f in part["factor"]])
    what = kpi_label(kpi, lang)
    ax.set_title(labels.zh_or_en(f"{what} 取决于什么?", f"What decides {what}?", lang))
    ax.grid(axis="x", alpha=0.3)
    return fig


def _figure(ax: Any, height: float = 4.5) -> tuple[Figure, Any]:
    return new_figure(ax, 7.0, max(3.0, height))
