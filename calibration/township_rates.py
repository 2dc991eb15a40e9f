"""Per-township dispute rates as ``townships[].rate_multiplier``, shrunk toward the district.

A township with 40 disputes over two years and 30,000 residents has a raw rate 1.5× the
district's; with 4 disputes the same ratio means little. Each township's rate is modelled as
drawn from a Gamma law around the district rate ``μ`` with shape ``α`` (Poisson counts given the
rate: a negative-binomial marginal), ``α`` chosen by maximum likelihood, as a number of "prior
disputes per unit of exposure at the district rate". The posterior of a township with ``k``
disputes over exposure ``E`` (thousand resident-years) is Gamma(α + k, α/μ + E): with ``k ≪ α``
it stays near the district, with ``k ≫ α`` near its own rate. When the townships look alike
(``α`` at its ceiling) every multiplier is 1 and none is written.

The multipliers written are posterior means over ``μ``, normalised to a population-weighted mean
of 1, so that ``arrivals.rate_per_1000_per_year`` stays the district's per-capita rate and the
district's total is unchanged. Intervals are the posterior's equal-tailed quantiles (the
hyperparameters plugged in: slightly narrow with few townships, as usual for empirical Bayes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .params import Params
from .params import rounded as _r

__all__ = ["ALPHA_MAX", "fit_shape", "township_multipliers"]

ALPHA_MAX = 1e6  # "no heterogeneity found": complete pooling
_ALPHA_MIN = 1e-2


def _log_marginal(alpha: float, k: np.ndarray, e: np.ndarray, mu: float) -> float:
    """Negative-binomial log-likelihood of counts ``k`` over exposures ``e`` (Gamma(α, α/μ))."""
    b = alpha / mu
    return float(
        np.sum(
            special.gammaln(alpha + k)
            - special.gammaln(alpha)
            - special.gammaln(k + 1)
            + alpha * np.log(b / (b + e))
            + k * np.log(e / (b + e))
        )
    )


def fit_shape(k: np.ndarray, e: np.ndarray, mu: float) -> float:
    """The Gamma shape ``α`` that maximises the marginal likelihood, on a log scale."""
    if len(k) < 2 or mu <= 0:
        return ALPHA_MAX
    res = optimize.minimize_scalar(
        lambda la: -_log_marginal(math.exp(la), k, e, mu),
        bounds=(math.log(_ALPHA_MIN), math.log(ALPHA_MAX)),
        method="bounded",
    )
    alpha = math.exp(res.x)
    # The likelihood is flat toward pooling: at the ceiling's edge call it pooled.
    return ALPHA_MAX if alpha > ALPHA_MAX / 2 else alpha


def township_multipliers(townships: pd.DataFrame, level: float, params: Params) -> pd.DataFrame:
    """Add ``rate_multiplier`` (and its interval) to the per-township table and write them.

    ``townships`` has columns township, population, cases and ``exposure`` (thousand
    resident-years). Adds ``townships.<name>.rate_multiplier`` rows to ``params`` (written when
    the data find heterogeneity) and returns the table with ``rate_multiplier``, ``rm_low``,
    ``rm_high``.
    """
    k = townships["cases"].to_numpy(dtype=float)
    e = townships["exposure"].to_numpy(dtype=float)
    out = townships.copy()
    if e.sum() <= 0 or k.sum() <= 0:
        out["rate_multiplier"], out["rm_low"], out["rm_high"] = 1.0, np.nan, np.nan
        return out
    mu = k.sum() / e.sum()
    alpha = fit_shape(k, e, mu)
    shape, rate = alpha + k, alpha / mu + e
    mean = shape / rate / mu
    pop = townships["population"].to_numpy(dtype=float)
    norm = float(np.sum(pop * mean) / pop.sum())
    q = (1 - level) / 2
    lo = stats.gamma.ppf(q, shape, scale=1 / rate) / mu / norm
    hi = stats.gamma.ppf(1 - q, shape, scale=1 / rate) / mu / norm
    mult = mean / norm
    out["rate_multiplier"], out["rm_low"], out["rm_high"] = mult, lo, hi
    pooled = alpha >= ALPHA_MAX
    note = (
        "townships alike: pooled (no multiplier written)"
        if pooled
        else f"gamma-Poisson shrinkage, shape {alpha:.3g}"
    )
    for i, name in enumerate(townships["township"]):
        params.add(
            f"townships.{name}.rate_multiplier",
            "arrivals",
            float(mult[i]),
            float(lo[i]),
            float(hi[i]),
            float(k[i]),
            write=None if pooled else _r(float(mult[i]), 3),
            note=note,
        )
    return out
