"""Plain-text columns that line up in a terminal, Chinese labels included.

A CJK character takes two terminal columns (Unicode East Asian width "W" or "F"), so padding
by ``len`` misaligns every column after a Chinese label; these helpers pad by display width.
"""

from __future__ import annotations

import math
import unicodedata

__all__ = ["display_width", "pad", "plural", "yuan"]


def display_width(text: object) -> int:
    """Columns ``text`` takes in a terminal: two for each wide (CJK) character, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in str(text))


def pad(text: object, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` display columns (right-aligned if ``right``).

    Text already wider than ``width`` is returned whole: a cell is never cut.
    """
    text = str(text)
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 replication"``, ``"5 replications"``: the count with its noun in the right number."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def yuan(amount: float | None) -> str:
    """An amount of yuan with thousands separators, or "—" when there is none (NaN)."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)):
        return "—"
    return f"{amount:,.0f}"
