"""Dates as offices write them: 2024-03-05, 2024/3/5, 2024年3月5日, 2024.03.05, with optional time.

Excel cells that hold real dates arrive as ``datetime`` objects and pass straight through; text
cells are parsed here with one strict pattern, so that ``2024-02-30`` or ``3/5/2024`` is reported
as a bad date instead of being guessed (day-first vs month-first guessing is how registers get
silently corrupted).
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

__all__ = ["DATE_FORMATS", "parse_date"]

DATE_FORMATS = (
    "YYYY-MM-DD, YYYY/M/D, YYYY年M月D日 or YYYY.MM.DD, optionally followed by a time "
    "HH:MM[:SS] or H时M分"
)

_DATE = re.compile(
    r"""^\s*
    (?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?
    (?:\s*[T\s]?\s*
        (?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})\s*分?
        (?:\s*[:：]?\s*(?P<S>\d{1,2}(?:\.\d+)?)\s*秒?)?
    )?
    \s*$""",
    re.VERBOSE,
)


def parse_date(value: object) -> pd.Timestamp | None:
    """A timestamp, ``pd.NaT`` for an empty cell, or ``None`` if the value is not a date.

    Empty (``""``, NaN, None) is ``NaT``: whether a date may be missing is the caller's rule.
    """
    if value is None or value is pd.NaT:
        return pd.NaT
    if isinstance(value, pd.Timestamp):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value)
    if isinstance(value, float) and math.isnan(value):
        return pd.NaT
    if not isinstance(value, str):
        return None  # a number in a date column: an Excel serial or a typo; never guess
    text = value.replace("：", ":").strip()
    if not text:
        return pd.NaT
    found = _DATE.match(text)
    if not found:
        return None
    try:
        seconds = float(found["S"]) if found["S"] else 0.0
        whole = int(seconds)
        stamp = dt.datetime(
            int(found["y"]),
            int(found["m"]),
            int(found["d"]),
            int(found["H"] or 0),
            int(found["M"] or 0),
            whole,
        )
    except ValueError:  # 2024-02-30, 25:00, ...
        return None
    return pd.Timestamp(stamp) + pd.Timedelta(seconds=seconds - whole)
