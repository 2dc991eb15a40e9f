"""Figures for sweeps and sensitivity analyses, drawn from results, never running a model.

Labels put the Chinese term beside the English KPI name (``小事不出村 minor_kept_in_village``)
when a CJK font is installed; without one, the Chinese would print as empty boxes, so the
English name is used alone and a single warning says why.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from sim.experiments.sweep_results import summarise_sweep
from sim.scenario.vocabulary import KPI_LABELS

__all__ = ["cjk_font", "heatmap", "kpi_label", "kpi_over_axis", "save", "tornado"]

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)
_font_checked: list[str | None] = []  # memo: [] unchecked, [None] none found, [name] found


def cjk_font() -> str | None:
    """The first installed font that has Chinese glyphs (and make it the default), or None."""
    if not _font_checked:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in _CJK_FONTS if name in installed), None)
        if found is None:
            found = next((n for n in sorted(installed) if "CJK" in n or "Hei" in n), None)
        if found:
            plt.rcParams["font.sans-serif"] = [found, *plt.rcParams["font.sans-serif"]]
            plt.rcParams["axes.unicode_minus"] = False
        else:
            warnings.warn(
                "no CJK font found (e.g. Noto Sans CJK, WenQuanYi): figure labels are in "
                "English only",
                stacklevel=2,
            )
        _font_checked.append(found)
    return _font_checked[0]


def kpi_label(kpi: str) -> str:
    """``小事不出村 minor_kept_in_village`` with a CJK font, else ``minor_kept_in_village``."""
    chinese = KPI_LABELS.get(kpi)
    return f"{chinese} {kpi}" if chinese and cjk_font() else kpi


def _target(df: pd.DataFrame, kpi: str) -> dict[str, Any] | None:
    return df.attrs.get("sweep", {}).get("targets", {}).get(kpi)


def _sorted_values(values: pd.Series) -> list[Any]:
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def kpi_over_axis(
    df: pd.DataFrame,
    kpi: str,
    axis: str,
    by: str | None = None,
    confidence: float = 0.95,
    ax: Any = None,
) -> Figure:
    """Mean of ``kpi`` along ``axis`` with its CI band; one line per value of ``by``.

    Other axes, if any, are averaged over (pass a filtered DataFrame to fix them instead).
    The KPI's target, if the scenario sets one, is drawn as a dashed line.
    """
    summary = summarise_sweep(df, [kpi], confidence)
    fig, ax = _figure(ax)
    groups = [(None, summary)] if by is None else list(summary.groupby(by, sort=True))
    numeric = pd.api.types.is_numeric_dtype(summary[axis])
    for name, part in groups:
        agg = part.groupby(axis, sort=True)[["mean", "ci_low", "ci_high"]].mean()
        order = _sorted_values(part[axis]) if not numeric else list(agg.index)
        agg = agg.loc[order]
        xs = np.asarray(agg.index, dtype=float) if numeric else np.arange(len(agg))
        label = None if name is None else f"{by} = {name}"
        (line,) = ax.plot(xs, agg["mean"], marker="o", label=label)
        ax.fill_between(xs, agg["ci_low"], agg["ci_high"], alpha=0.2, color=line.get_color())
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in agg.index])
    target = _target(df, kpi)
    if target:
        ax.axhline(target["value"], color="0.3", linestyle="--", linewidth=1)
        ax.annotate(
            f"target {target['sense']} {target['value']:g}",
            (0.01, target["value"]),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlabel(axis)
    ax.set_ylabel(kpi_label(kpi))
    ax.set_title(f"{kpi_label(kpi)} ({confidence:.0%} CI)")
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
) -> Figure:
    """Mean of ``kpi`` over two axes, with the contour where it crosses its target.

    Answers "where is 小事不出村 met?": cells are annotated with the mean, and the solid
    contour line at the target (the scenario's, or ``target``) separates met from not met.
    Other axes are averaged over.
    """
    summary = summarise_sweep(df, [kpi])
    grid = summary.pivot_table(index=y, columns=x, values="mean", aggfunc="mean")
    grid = grid.loc[_sorted_values(grid.index), _sorted_values(grid.columns)]
    fig, ax = _figure(ax)
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label=kpi_label(kpi))
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" if _num(v) else str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if _num(v) else str(v) for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    spec = _target(df, kpi)
    level = target if target is not None else (spec["value"] if spec else None)
    finite = values[np.isfinite(values)]
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            light = finite.size and v < finite.min() + 0.5 * (finite.max() - finite.min())
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                    color="white" if light else "black")  # fmt: skip
    title = kpi_label(kpi)
    if level is not None and finite.size and finite.min() < level < finite.max():
        if min(values.shape) >= 2:
            contour = ax.contour(values, levels=[level], colors="red", linewidths=2)
            ax.clabel(contour, fmt=lambda v: f"target {v:g}", fontsize=8)
        title += f" — red: target {level:g}"
    elif level is not None:
        met = (
            finite.min() >= level
            if (spec or {}).get("sense", ">=") == ">="
            else finite.max() <= level
        )
        title += f" — target {level:g} {'met everywhere' if met else 'met nowhere'}"
    ax.set_title(title)
    return fig


def _num(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def tornado(indices: pd.DataFrame, kpi: str | None = None, ax: Any = None) -> Figure:
    """Bars of the sensitivity indices of one KPI, largest on top, with confidence whiskers.

    Morris: mu* (mean absolute elementary effect, in the KPI's units); Sobol: total-order
    index ST with the first-order S1 beside it (shares of the KPI's variance).
    """
    part = indices if kpi is None else indices[indices["kpi"] == kpi]
    kpi = kpi or str(part["kpi"].iloc[0])
    method = str(part["method"].iloc[0])
    fig, ax = _figure(ax, height=0.5 * len(part) + 1.5)
    if method == "morris":
        part = part.sort_values("mu_star")
        ax.barh(part["factor"], part["mu_star"], xerr=part["mu_star_conf"], color="tab:blue")
        ax.set_xlabel("Morris μ* (mean |elementary effect|)")
    else:
        part = part.sort_values("ST")
        pos = np.arange(len(part))
        ax.barh(pos + 0.2, part["ST"], height=0.4, xerr=part["ST_conf"], label="total ST")
        ax.barh(pos - 0.2, part["S1"], height=0.4, xerr=part["S1_conf"], label="first-order S1")
        ax.set_yticks(pos, part["factor"])
        ax.set_xlabel("Sobol index (share of variance)")
        ax.legend(fontsize=8)
    ax.set_title(f"What decides {kpi_label(kpi)}?")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _figure(ax: Any, height: float = 4.5) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(7, max(3.0, height)), layout="constrained")
    return fig, ax


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` (PNG, SVG, PDF by suffix) and free it."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
