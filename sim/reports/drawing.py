"""What every figure module shares: a new figure (or the caller's axes), an empty-panel
message, and the output of a figure as a file, as base64 PNG for the HTML report, or of a mean
with its confidence interval as text.
"""

from __future__ import annotations

import base64
import io
import math
from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = [
    "ci_text",
    "draw_empty",
    "literal_rc",
    "literal_text",
    "new_figure",
    "png_base64",
    "save",
]


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


def literal_text(fig: Figure) -> Figure:
    """Draw every text of ``fig`` as written: no mathtext.

    Our labels never use ``$…$``, but names from a scenario or register can hold dollar signs
    (a township ``$甲$镇``, a variant ``+$5k``); matplotlib would parse them as mathematics and
    fail to save the figure (or set them in italics). Tick labels made while the figure is
    saved read ``text.parse_math`` then: :func:`save` and :func:`png_base64` save under
    :func:`literal_rc`.
    """
    for artist in fig.findobj(Text):
        artist.set_parse_math(False)
    return fig


def literal_rc() -> AbstractContextManager[None]:
    """The settings under which figures are saved: no mathtext (see :func:`literal_text`)."""
    return matplotlib.rc_context({"text.parse_math": False})


def png_base64(fig: Figure, dpi: int = 110, close: bool = True) -> str:
    """The figure as base64 PNG text, for an ``<img src="data:image/png;base64,…">``."""
    literal_text(fig)
    buffer = io.BytesIO()
    with literal_rc():
        fig.savefig(buffer, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` (PNG, SVG or PDF by suffix) and free it."""
    from sim.experiments.files import write_atomic

    path = Path(path)
    literal_text(fig)
    try:  # whole or not at all: a figure cut short never sits under its final name
        with literal_rc():
            write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    finally:
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
