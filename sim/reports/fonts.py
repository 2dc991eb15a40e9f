"""Chinese text in figures: the one font lookup of the package.

Planners read 小事不出村, 乡镇 and 樟潭街道; matplotlib's default font (DejaVu Sans) has no Chinese
glyphs and would draw each character as an empty box (豆腐块). :func:`cjk_font` finds a font with
them and puts it first in ``font.sans-serif``, keeping DejaVu Sans behind it so that Latin
letters and symbols still have glyphs (matplotlib falls back glyph by glyph). In order:

1. a CJK font of the system that matplotlib already knows (Debian's ``fonts-noto-cjk``,
   WenQuanYi, Source Han, the Windows and macOS ones) — a system font stays the preference;
2. the same, found by rescanning the system's font folders: matplotlib's cached font list
   predates a font installed after its first use, and would otherwise hide it;
3. Noto Sans CJK SC as shipped by the ``mplfonts`` package, a dependency of this one, so that
   ``pip install`` alone gives Chinese figures on any machine. Only that file is used: it is
   under the SIL Open Font License 1.1 (the package also carries a proprietary SimHei, which
   we never load).

Language is the reader's choice (``language="zh"`` or ``"en"``, English words and pinyin place
names), not a consequence of the fonts: tables and the HTML report keep their Chinese whatever
this machine has (the reader's browser draws it), so they call :func:`check_language`. Only a
broken install with no CJK font at all makes :func:`resolve_language` draw figures in English
— with one warning per process saying how to repair it — rather than as boxes.

:func:`missing_glyphs` checks a finished figure: every character of every text artist must be
in one of the fonts matplotlib would use for it.
"""

from __future__ import annotations

import importlib.util
import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "BUNDLED_FONT_FILE",
    "CJK_FAMILIES",
    "LANGUAGES",
    "Language",
    "NoCJKFontWarning",
    "bundled_font_file",
    "check_language",
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
# The font that comes with `pip install`: (package, file inside it). Noto Sans CJK SC, SIL OFL
# 1.1 (its name table says so; tests/test_fonts.py checks it).
BUNDLED_FONT_FILE: tuple[str, str] = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")
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
    """No font with Chinese glyphs at all (a broken install): figures fall back to English."""


def _installed() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def _first_cjk(names: set[str]) -> str | None:
    return next((n for n in CJK_FAMILIES if n in names), None)


def _register_system_cjk_fonts() -> None:
    """Add CJK font files matplotlib has not seen (its font cache predates their install)."""
    for path in font_manager.findSystemFonts():
        name = re.sub(r"[^a-z]", "", Path(path).name.lower())
        if any(hint in name for hint in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # an unreadable file is just skipped
                continue


def bundled_font_file() -> Path | None:
    """The Noto Sans CJK SC file that ``pip install`` brought (package ``mplfonts``), or None.

    Found without importing the package (its import pulls in tools we do not need).
    """
    package, name = BUNDLED_FONT_FILE
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None


def _register_bundled_font() -> str | None:
    path = bundled_font_file()
    if path is None:
        return None
    try:
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()
    except (OSError, RuntimeError, ValueError):  # a damaged install: as if it were missing
        return None


def _look_up() -> str | None:
    """A system CJK font (known to matplotlib, or found by a rescan), else the bundled one."""
    found = _first_cjk(_installed())
    if found is None:
        _register_system_cjk_fonts()
        found = _first_cjk(_installed())
    return found or _register_bundled_font()


def cjk_font() -> str | None:
    """The family name of the CJK font figures use, made the first sans-serif font.

    None only on a broken install (no system CJK font and no ``mplfonts``). Looked up once per
    process; setting ``rcParams`` here (not at import) leaves a user's own matplotlib style
    alone until a figure with Chinese text is asked for.
    """
    if "font" not in _state:
        _state["font"] = _look_up()
    font = _state["font"]
    if isinstance(font, str):
        rc = matplotlib.rcParams
        if not rc["font.sans-serif"] or rc["font.sans-serif"][0] != font:
            rc["font.sans-serif"] = [font, *(f for f in rc["font.sans-serif"] if f != font)]
        rc["axes.unicode_minus"] = False  # CJK fonts often lack U+2212 (minus sign)
        return font
    return None


def has_cjk_font() -> bool:
    """True if Chinese text can be drawn in figures (see :func:`cjk_font`)."""
    return cjk_font() is not None


def check_language(language: str = "zh") -> Language:
    """``language`` if it is ``"zh"`` or ``"en"``; anything else is a ValueError.

    For text (tables, the HTML report): its language is the reader's choice and never depends
    on this machine's fonts.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return "zh" if language == "zh" else "en"


def resolve_language(language: str = "zh") -> Language:
    """The language a figure is drawn in: ``language`` (checked), with its CJK font set up.

    ``"zh"`` stays ``"zh"`` wherever a CJK font exists, which a normal install guarantees (the
    bundled Noto Sans CJK SC). Only without any — a broken install — does ``"zh"`` become
    ``"en"``, with one :class:`NoCJKFontWarning` per process, instead of a figure of boxes.
    """
    lang = check_language(language)
    if lang == "en" or cjk_font() is not None:
        return lang
    if not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(
            "no CJK font found, not even the Noto Sans CJK SC of the mplfonts package (a "
            "dependency: reinstall with pip install -e .): figures use English labels and "
            "pinyin place names",
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
