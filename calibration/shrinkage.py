"""Empirical-Bayes beta-binomial shrinkage: small villages borrow strength from their township.

A village with 3 cases at its level, 1 settled, has a raw success share of 33%; nobody believes
that is its real chance. The model here says each unit's chance is drawn from a Beta law around
its parent's (village → township → district), with a concentration κ shared by all units of
the tier: κ acts as a number of "prior cases". The data choose κ by maximising the beta-binomial
marginal likelihood, so heterogeneous villages keep their own estimates and homogeneous ones
are pooled. A unit's posterior is Beta(κ·m + k, κ·(1−m) + n − k): with n ≪ κ it stays near
its parent's mean m, with n ≫ κ near its own k / n.

Intervals are the posterior's equal-tailed quantiles (the hyperparameters are plugged in, the
usual empirical-Bayes approximation: they are slightly too narrow when there are few units).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = [
    "KAPPA_MAX",
    "fit_concentration",
    "jeffreys_interval",
    "resolution_by_category",
    "shrink",
    "shrink_hierarchy",
    "village_resolution",
]

KAPPA_MAX = 1e5  # "no heterogeneity found": complete pooling
_KAPPA_MIN = 1e-2


def jeffreys_interval(k: np.ndarray | float, n: np.ndarray | float, level: float = 0.9):
    """Jeffreys interval for a binomial share: Beta(k + ½, n − k + ½) quantiles.

    Near-nominal coverage even for small n (Brown, Cai & DasGupta 2001); the bound is set to 0
    (1) when k = 0 (k = n), as they recommend. NaN when n = 0.
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = stats.beta.ppf(tail, k + 0.5, n - k + 0.5)
        hi = stats.beta.ppf(1 - tail, k + 0.5, n - k + 0.5)
    lo = np.where(k <= 0, 0.0, lo)
    hi = np.where(k >= n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _marginal(kappa: float, k: np.ndarray, n: np.ndarray, m: np.ndarray) -> float:
    """Beta-binomial log marginal likelihood of all units (binomial coefficients left out)."""
    a, b = kappa * m, kappa * (1 - m)
    return float(np.sum(special.betaln(a + k, b + n - k) - special.betaln(a, b)))


def fit_concentration(k: np.ndarray, n: np.ndarray, means: np.ndarray) -> float:
    """The κ that maximises the marginal likelihood, given each unit's prior mean.

    Units without data carry no information about κ and are left out. Returns KAPPA_MAX when
    the data show no more spread than binomial noise (the likelihood rises to the boundary).
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    m = np.clip(np.asarray(means, float), 1e-4, 1 - 1e-4)
    use = n > 0
    k, n, m = k[use], n[use], m[use]
    if len(k) < 2:
        return KAPPA_MAX
    res = optimize.minimize_scalar(
        lambda lk: -_marginal(math.exp(lk), k, n, m),
        bounds=(math.log(_KAPPA_MIN), math.log(KAPPA_MAX)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    kappa = float(math.exp(res.x))
    # At the upper bound the likelihood is flat: say "pooled" explicitly.
    return KAPPA_MAX if kappa > 0.99 * KAPPA_MAX else kappa


def shrink(
    k: np.ndarray,
    n: np.ndarray,
    means: np.ndarray,
    kappa: float | None = None,
    level: float = 0.9,
) -> pd.DataFrame:
    """Posterior mean and interval of each unit's share, shrunk toward its prior mean."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    m = np.clip(np.asarray(means, float), 1e-4, 1 - 1e-4)
    kappa = fit_concentration(k, n, m) if kappa is None else kappa
    a, b = kappa * m + k, kappa * (1 - m) + n - k
    tail = (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    return pd.DataFrame(
        {
            "k": k,
            "n": n,
            "raw": raw,
            "prior_mean": m,
            "kappa": kappa,
            "estimate": a / (a + b),
            "ci_low": stats.beta.ppf(tail, a, b),
            "ci_high": stats.beta.ppf(1 - tail, a, b),
        }
    )


def shrink_hierarchy(
    data: pd.DataFrame, level: float = 0.9, *, unit: str = "village", parent: str = "township"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tiers: parents (townships) shrink toward the district, units toward their parent.

    ``data`` has one row per unit with columns ``unit``, ``parent``, ``k``, ``n``. Returns the
    parents' table and the units' table, each with raw share, prior mean, κ, posterior
    estimate and interval.
    """
    k_all, n_all = float(data["k"].sum()), float(data["n"].sum())
    district = k_all / n_all if n_all > 0 else math.nan
    parents = data.groupby(parent, sort=False, observed=True)[["k", "n"]].sum().reset_index()
    top = shrink(parents["k"], parents["n"], np.full(len(parents), district), level=level)
    top.insert(0, parent, parents[parent].to_numpy())
    mean_of = dict(zip(top[parent], top["estimate"], strict=True))
    prior = data[parent].map(mean_of).to_numpy(dtype=float)
    units = shrink(data["k"], data["n"], prior, level=level)
    units.insert(0, parent, data[parent].to_numpy())
    units.insert(0, unit, data[unit].to_numpy())
    return top, units


def resolution_by_category(mediated: pd.DataFrame, level: float) -> pd.DataFrame:
    """Share resolved per level × severity × category of mediated steps, shrunk toward the
    level × severity share."""
    if mediated.empty:
        return pd.DataFrame()
    g = (
        mediated.assign(ok=mediated["outcome"] == "resolved")
        .groupby(["level", "severity", "category"], observed=True)["ok"]
        .agg(["sum", "count"])
        .reset_index()
    )
    parent = g.groupby(["level", "severity"])[["sum", "count"]].transform("sum")
    means = parent["sum"] / parent["count"]
    shrunk = shrink(g["sum"], g["count"], means.to_numpy(), level=level)
    return pd.concat([g[["level", "severity", "category"]], shrunk], axis=1)


def village_resolution(mediated: pd.DataFrame, level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share resolved at grid and village level per village, shrunk toward its township."""
    low = mediated[mediated["level"].isin(["grid", "village"])]
    if low.empty:
        return pd.DataFrame(), pd.DataFrame()
    data = (
        low.assign(ok=low["outcome"] == "resolved")
        .groupby(["township", "village"], observed=True)["ok"]
        .agg(k="sum", n="count")
        .reset_index()
    )
    towns, villages = shrink_hierarchy(data, level)
    return villages, towns
