"""What every figure module shares: a new figure (or the caller's axes), an empty-panel
message, and the output of a figure as a file, as base64 PNG for the HTML report, or of a mean
with its confidence interval as text.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["ci_text", "draw_empty", "new_figure", "png_base64", "save"]


def new_figure(ax: Axes | None, width: float = 8.0, height: float = 4.5) -> tuple[Figure, Axes]:
    """A new figure of ``width`` × ``height`` inches, or the figure of the caller's ``ax``."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def draw_empty(ax: Axes, message: str) -> None:
    """Say in the panel why there is nothing to draw (e.g. no petitions in this scenario)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()


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
