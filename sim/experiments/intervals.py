"""Student-t intervals over replications: the one place their quantile is computed.

Every confidence interval of the toolkit is over independent replications (or paired
differences of them), so it is a Student-t interval with ``n − 1`` degrees of freedom: two-sided
for a KPI's CI, one-sided for the sizing rule ("the lower bound meets the target").
"""

from __future__ import annotations

import math

from scipy import special

__all__ = ["half_width", "t_quantile"]


def t_quantile(probability: float, n: int) -> float:
    """The Student-t quantile at ``probability`` for ``n`` replications (``n − 1`` degrees of
    freedom); infinite when ``n < 2`` (no interval can be given)."""
    if n < 2:
        return math.inf
    return float(special.stdtrit(n - 1, probability))


def half_width(std: float, n: int, confidence: float, sided: int = 2) -> float:
    """Half-width of a ``sided``-sided Student-t interval at ``confidence`` for the mean of ``n``
    values of standard deviation ``std`` (NaN when ``n < 2``)."""
    if n < 2:
        return math.nan
    probability = 0.5 + confidence / 2 if sided == 2 else confidence
    return t_quantile(probability, n) * std / math.sqrt(n)
