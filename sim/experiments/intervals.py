"""Student-t intervals over replications: the one place their quantile is computed.

Every confidence interval of the toolkit is over independent replications (or paired
differences of them), so it is a Student-t interval with ``n − 1`` degrees of freedom: two-sided
for a KPI's CI, one-sided for the sizing rule ("the lower bound meets the target").
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.vocabulary import KPI_NAMES, SHARE_KPIS

__all__ = ["confidence_interval", "half_width", "kpi_interval", "t_quantile"]


def t_quantile(probability: float, n: int) -> float:
    """The Student-t quantile at ``probability`` for ``n`` replications (``n − 1`` degrees of
    freedom); infinite when ``n < 2`` (no interval can be given)."""
    if n < 2:
        return math.inf
    from scipy import special  # here: a run of one replication, or none yet, needs no scipy

    return float(special.stdtrit(n - 1, probability))


def half_width(std: float, n: int, confidence: float, sided: int = 2) -> float:
    """Half-width of a ``sided``-sided Student-t interval at ``confidence`` for the mean of ``n``
    values of standard deviation ``std`` (NaN when ``n < 2``)."""
    if n < 2:
        return math.nan
    probability = 0.5 + confidence / 2 if sided == 2 else confidence
    return t_quantile(probability, n) * std / math.sqrt(n)


def confidence_interval(
    values: np.ndarray | list[float], confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval over replications; NaN values are left out."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = half_width(float(x.std(ddof=1)), len(x), confidence)
    return mean, mean - half, mean + half


def kpi_interval(
    name: str, values: np.ndarray | list[float], confidence: float = 0.95
) -> tuple[float, float, float, str]:
    """Mean, interval and how the interval was made, for KPI ``name`` over replications.

    The mean is the plain mean (the point estimate every table shows). The interval:

    * a share (:data:`~sim.scenario.vocabulary.SHARE_KPIS`): on the logit scale, by the delta
      method — ``expit(logit(m) ± t·s/(√n·m(1−m)))`` — so it lies inside (0, 1), contains the
      mean and is longer on the side away from the nearer bound; note ``"logit"``. When every
      replication gives 0 (or every one 1) the spread is 0 and the interval is that point; note
      ``"all 0"`` / ``"all 1"`` (a point, not certainty: more replications may move it);
    * any other KPI of :data:`~sim.scenario.vocabulary.KPI_NAMES` (counts, days, utilisation,
      yuan, headcount: none can be negative): the t interval with its lower end clipped at 0;
      note ``"clipped at 0"`` when the clip changed it;
    * anything else: the t interval of :func:`confidence_interval`; note ``""``.

    With fewer than two values the interval is NaN, as in :func:`confidence_interval`.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    mean, lo, hi = confidence_interval(x, confidence)
    if len(x) < 2:
        return mean, lo, hi, ""
    if name in SHARE_KPIS:
        if mean <= 0.0 or mean >= 1.0:
            # Every replication at the bound (a share's mean is 0 only if all are 0): the t
            # interval is the point itself; clipping only guards against rounding.
            return mean, min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0), f"all {mean:g}"
        half = half_width(float(x.std(ddof=1)), len(x), confidence) / (mean * (1.0 - mean))
        centre = math.log(mean / (1.0 - mean))
        return mean, _expit(centre - half), _expit(centre + half), "logit"
    if name in KPI_NAMES and lo < 0.0:
        return mean, 0.0, hi, "clipped at 0"
    return mean, lo, hi, ""


def _expit(z: float) -> float:
    """The logistic function, without overflow for large ``|z|``."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
