"""The table of fitted parameters being built, the scenario settings that go with it, and how
to draw them again from their sampling distribution (for the backtest's parametric bootstrap).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "Draw", "Params", "beta_draw", "rounded"]

# A draw of one or more written settings from the fit's sampling distribution: key → value.
Draw = Callable[[np.random.Generator], dict[str, Any]]

COLUMNS = ["key", "group", "estimate", "ci_low", "ci_high", "n", "written", "note"]


class Params:
    """Collects parameter rows (estimate, interval, sample size) and the settings to write."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {}
        self.draws: list[Draw] = []

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
        draw: Callable[[np.random.Generator], Any] | None = None,
    ) -> None:
        """One fitted quantity; ``write`` is the value the scenario takes under ``key``, and
        ``draw(rng)`` draws it again from its sampling distribution."""
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
            if draw is not None:
                self.draws.append(lambda rng: {key: draw(rng)})

    def frame(self) -> pd.DataFrame:
        """The rows as a table with the columns of :data:`COLUMNS`."""
        return pd.DataFrame(self.rows, columns=COLUMNS)


def rounded(x: float, digits: int = 5) -> float:
    """Round for a readable scenario file: 5 significant digits carry far more than the CI."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else x


def beta_draw(k: float, n: float, digits: int = 4) -> Callable[[np.random.Generator], float]:
    """A share ``k`` of ``n`` drawn from its Jeffreys posterior Beta(k + ½, n − k + ½)."""
    return lambda rng: rounded(float(rng.beta(k + 0.5, n - k + 0.5)), digits)
