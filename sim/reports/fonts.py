"""Chinese text in figures: find a CJK font, or fall back to English and pinyin, warning once.

Planners read 小事不出村, 乡镇 and 樟潭街道; matplotlib's default font (DejaVu Sans) has no Chinese
glyphs and would draw each character as an empty box (豆腐块). :func:`cjk_font` looks for an
installed CJK font (Debian's ``fonts-noto-cjk``, WenQuanYi, Source Han, the Windows and macOS
ones) and puts it first in ``font.sans-serif``, keeping DejaVu Sans behind it so that Latin
letters and symbols still have glyphs (matplotlib falls back glyph by glyph). Without such a
font, :func:`resolve_language` turns ``"zh"`` into ``"en"``: figures use English words and
pinyin place names, and one warning per process says why — never a figure full of boxes.

:func:`missing_glyphs` checks a finished figure: every character of every text artist must be
in one of the fonts matplotlib would use for it.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "CJK_FAMILIES",
    "LANGUAGES",
    "Language",
    "NoCJKFontWarning",
    "cjk_font",
    "has_cjk_font",
    "missing_glyphs",
    "resolve_language",
]

Language = Literal["zh", "en"]
LANGUAGES: tuple[str, ...] = ("zh", "en")

# Simplified-Chinese faces first: the SC variant picks mainland glyph shapes.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
    "Noto Sans CJK JP",
)
# File names of those fonts, for a font installed after matplotlib cached its font list.
_FILE_HINTS = (
    "notosanscjk",
    "notoserifcjk",
    "sourcehan",
    "wqy",
    "wenquanyi",
    "msyh",
    "simhei",
    "pingfang",
    "uming",
    "ukai",
    "droidsansfallback",
)
# Generic family -> the rcParams list of the fonts matplotlib tries for it, in order.
_GENERIC: dict[str, RcKeyType] = {
    "sans-serif": "font.sans-serif",
    "serif": "font.serif",
    "monospace": "font.monospace",
    "cursive": "font.cursive",
    "fantasy": "font.fantasy",
}
_state: dict[str, object] = {}


class NoCJKFontWarning(UserWarning):
    """No font with Chinese glyphs: figures fall back to English labels and pinyin."""


def _installed() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def _first_cjk(names: set[str]) -> str | None:
    return next((n for n in CJK_FAMILIES if n in names), None)


def _register_system_cjk_fonts() -> None:
    """Add CJK font files matplotlib has not seen (its font cache predates their install)."""
    for path in font_manager.findSystemFonts():
        name = re.sub(r"[^a-z]", "", path.rsplit("/", 1)[-1].lower())
        if any(hint in name for hint in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # an unreadable file is just skipped
                continue


def cjk_font() -> str | None:
    """The family name of an installed CJK font, made the first sans-serif font; else None.

    Looked up once per process. Setting ``rcParams`` here (not at import) leaves a user's own
    matplotlib style alone until a figure with Chinese text is asked for.
    """
    if "font" not in _state:
        found = _first_cjk(_installed())
        if found is None:
            _register_system_cjk_fonts()
            found = _first_cjk(_installed())
        _state["font"] = found
    font = _state["font"]
    if isinstance(font, str):
        rc = matplotlib.rcParams
        rest = [f for f in rc["font.sans-serif"] if f != font]
        if not rc["font.sans-serif"] or rc["font.sans-serif"][0] != font:
            rc["font.sans-serif"] = [font, *rest]
        return font
    return None


def has_cjk_font() -> bool:
    """True if Chinese text can be drawn (see :func:`cjk_font`)."""
    return cjk_font() is not None


def resolve_language(language: str = "zh") -> Language:
    """The language figures will really use: ``"zh"`` only where a CJK font exists.

    ``"zh"`` without a CJK font becomes ``"en"`` (English words, pinyin place names) with one
    :class:`NoCJKFontWarning` per process. Anything but ``"zh"`` / ``"en"`` is a ValueError.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if language == "en":
        return "en"
    if cjk_font() is not None:
        return "zh"
    if not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(
            "no CJK font found (install Debian's fonts-noto-cjk, or WenQuanYi / Source Han): "
            "figures use English labels and pinyin place names",
            NoCJKFontWarning,
            stacklevel=2,
        )
    return "en"


def _font_files(prop: font_manager.FontProperties) -> list[str]:
    """The font files matplotlib would try for ``prop``, in its glyph-fallback order."""
    names: list[str] = []
    for family in prop.get_family():
        rc_key = _GENERIC.get(family)
        if rc_key is not None:
            names += list(matplotlib.rcParams[rc_key])
        else:
            names.append(family)
    files: list[str] = []
    for name in names:
        p = prop.copy()
        p.set_family(name)
        try:
            path = font_manager.findfont(p, fallback_to_default=False)
        except ValueError:  # not installed: matplotlib skips it too
            continue
        if path not in files:
            files.append(path)
    if not files:
        files.append(font_manager.findfont(prop))
    return files


def _has_glyph(files: Iterable[str], ch: str) -> bool:
    return any(font_manager.get_font(f).get_char_index(ord(ch)) != 0 for f in files)


def _is_math(text: str) -> bool:
    return text.count("$") >= 2 and not matplotlib.rcParams["text.usetex"]


def missing_glyphs(fig: Figure) -> list[tuple[str, str]]:
    """(text, character) for each character of ``fig`` that no usable font can draw.

    The figure is drawn first (tick labels exist only then). For every visible text artist,
    each character must be in one of the fonts of its family list — the same fallback chain
    matplotlib uses. Matplotlib's own "Glyph … missing" warnings while rendering to PNG are
    counted too, so a gap in this check cannot hide a box that is really drawn. Mathtext
    (``$…$``) uses its own fonts and is skipped.
    """
    found: list[tuple[str, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    for w in caught:
        m = re.search(r"Glyph (\d+) .*missing from font", str(w.message))
        if m:
            found.append(("<rendered>", chr(int(m.group(1)))))
    seen: set[tuple[str, str]] = set()
    for artist in fig.findobj(Text):
        text = artist.get_text()
        if not text or not artist.get_visible() or _is_math(text):
            continue
        files = _font_files(artist.get_fontproperties())
        for ch in dict.fromkeys(text):
            if ch.isspace() or (text, ch) in seen:
                continue
            seen.add((text, ch))
            if not _has_glyph(files, ch):
                found.append((text, ch))
    return found
