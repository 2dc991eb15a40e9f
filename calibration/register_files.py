"""Opening a calibration register (登记表): the file checks of
:mod:`sim.scenario.register_files` (CSV in UTF-8 or GB18030, Big5 named, Excel workbooks,
formula cells without a stored value), with calibration's words to tell Big5 from GB18030.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from sim.scenario.register_files import Formula, formula_problems, read_register

from .columns import (
    CHANNEL_VALUES,
    COLUMN_ALIASES,
    KIND_VALUES,
    LEVEL_VALUES,
    OUTCOME_VALUES,
    SEVERITY_VALUES,
    TRUTH_VALUES,
)

__all__ = ["Formula", "formula_problems", "read_raw"]

_BIG5_HINT = " with the simplified headers of docs/calibration.md (案件编号, 调处层级 …)"


def read_raw(path: Path, shown: str, sheet: str | int | None) -> pd.DataFrame:
    """The register's cells as objects; Excel dates are dates. Bad files raise ScenarioError."""
    return read_register(path, shown, sheet, _register_characters(), _BIG5_HINT)


@cache
def _register_characters() -> frozenset[str]:
    """The Chinese characters of the register's headers and values (columns.py's words)."""
    words = [*COLUMN_ALIASES, *LEVEL_VALUES, *OUTCOME_VALUES, *SEVERITY_VALUES]
    words += [*KIND_VALUES, *CHANNEL_VALUES, *TRUTH_VALUES]
    return frozenset(c for w in words for c in w if "\u4e00" <= c <= "\u9fff")
