"""The skeleton of a ``sim report`` page: inline CSS, bilingual headings, figures as base64 PNG,
formatted tables, and the self-contained page around them. The per-kind renderers of
:mod:`sim.reports.html` fill it.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "CSS",
    "FigureError",
    "drawn",
    "figure_img",
    "fmt_cell",
    "heading",
    "html_table",
    "verdict_text",
    "whole_page",
]

# No web font and no link: the page must open offline, so the CSS names fonts that may be there.
CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
"WenQuanYi Zen Hei","Helvetica Neue",Arial,sans-serif;margin:0 auto;max-width:1100px;
padding:1.2em 2em 3em;color:#222;line-height:1.5;background:#fff}
h1{font-size:1.6em;border-bottom:3px solid #08519c;padding-bottom:.3em}
h2{font-size:1.25em;margin-top:2em;color:#08519c;border-bottom:1px solid #ccc}
h2 .en,h1 .en{color:#666;font-weight:normal;font-size:.8em;margin-left:.5em}
.meta{color:#555;font-size:.9em}
table.tbl{border-collapse:collapse;margin:.8em 0;font-size:.88em}
table.tbl th,table.tbl td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
table.tbl th{background:#eef3fa}
table.tbl td:first-child,table.tbl th:first-child{text-align:left}
img.fig{max-width:100%;height:auto;display:block;margin:1em 0;border:1px solid #eee}
.met{color:#1a7f37;font-weight:bold}.notmet{color:#c0392b;font-weight:bold}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em;font-size:.92em}
details{margin:.8em 0}summary{cursor:pointer;color:#08519c}
footer{margin-top:3em;color:#888;font-size:.8em;border-top:1px solid #eee;padding-top:.5em}
"""


def heading(zh: str, en: str, level: int = 2) -> str:
    """A heading with the Chinese term and, beside it, the English one."""
    return f'<h{level}>{html.escape(zh)}<span class="en">{html.escape(en)}</span></h{level}>'


def figure_img(fig: Figure, alt: str) -> str:
    """The figure inline as base64 PNG: the page fetches nothing."""
    from sim.reports.drawing import png_base64

    return (
        f'<img class="fig" alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64(fig)}">'
    )


class FigureError(RuntimeError):
    """A figure of the page could not be drawn from results that were read: our bug, not bad
    input, so the CLI reports it as an internal error (exit status 1) naming the figure."""


def drawn(alt: str, draw: Callable[..., Figure], *args: Any, **kwargs: Any) -> str:
    """:func:`figure_img` of ``draw(*args, **kwargs)``.

    The results were read before: a failure while drawing or saving this figure is a
    :class:`FigureError` that names it (``alt`` and the drawing function) and the cause, so it
    is not mistaken for an unreadable results folder.
    """
    try:
        return figure_img(draw(*args, **kwargs), alt)
    except Exception as exc:
        name = getattr(draw, "__name__", "figure")
        raise FigureError(
            f"the figure {alt!r} ({name}) could not be drawn: {type(exc).__name__}: {exc}"
        ) from exc


def fmt_cell(x: Any, digits: int = 3) -> str:
    """A table cell: ``—`` for missing, ✓/✗ for booleans, numbers rounded to be read."""
    if x is None or isinstance(x, str):
        return "—" if x is None else x
    if isinstance(x, bool):
        return "✓" if x else "✗"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == int(v) and abs(v) < 1000:
        return f"{int(v)}"
    return f"{v:.{digits}f}" if abs(v) < 10 else f"{v:.1f}"


def html_table(df: pd.DataFrame, index: bool = False) -> str:
    """A DataFrame as a plain HTML table, each cell formatted by :func:`fmt_cell`."""
    shown = df.copy()
    for col in shown.columns:
        shown[col] = [fmt_cell(v) for v in shown[col]]
    return shown.to_html(index=index, classes="tbl", border=0, escape=True, na_rep="—")


def verdict_text(met: bool, lang: str) -> str:
    """达标 / not met, for a target."""
    if met:
        return "达标 met" if lang == "zh" else "met"
    return "未达标 not met" if lang == "zh" else "not met"


def whole_page(title_zh: str, title_en: str, meta: str, body: Iterable[str], source: str) -> str:
    """The whole self-contained page: inline CSS, the title, ``body``, a footer."""
    from sim import __version__

    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title_zh)} {html.escape(title_en)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            heading(title_zh, title_en, 1),
            f'<p class="meta">{meta}</p>',
            *body,
            f"<footer>mediation-sim {html.escape(__version__)} · sim report · "
            f"{html.escape(source)} · {stamp}. 本页自包含,可离线打开 "
            "(self-contained: opens offline).</footer>",
            "</body>",
            "</html>",
        ]
    )
