"""The table of fitted parameters being built, and the scenario settings that go with it."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "Params", "rounded"]

COLUMNS = ["key", "group", "estimate", "ci_low", "ci_high", "n", "written", "note"]


class Params:
    """Collects parameter rows (estimate, interval, sample size) and the settings to write."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {}

    def add(
        self,
        key: str,
        group: str,
        est: float,
        lo: float,
        hi: float,
        n: float,
        *,
        write: Any = None,
        note: str = "",
    ) -> None:
        """One fitted quantity; ``write`` is the value the scenario takes under ``key``."""
        self.rows.append(
            {
                "key": key,
                "group": group,
                "estimate": float(est),
                "ci_low": float(lo),
                "ci_high": float(hi),
                "n": float(n),
                "written": write is not None,
                "note": note,
            }
        )
        if write is not None:
            self.settings[key] = write

    def frame(self) -> pd.DataFrame:
        """The rows as a table with the columns of :data:`COLUMNS`."""
        return pd.DataFrame(self.rows, columns=COLUMNS)


def rounded(x: float, digits: int = 5) -> float:
    """Round for a readable scenario file: 5 significant digits carry far more than the CI."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else x
