"""Arrivals: disputes per calendar-month slice of the period, in a Poisson GLM.

Exposure is the population × time, one coefficient per month of the year (seasonality; needs
all 12 months) and a linear trend in log rate (growth; fitted whenever a calendar month is seen
in two different years, which is what tells a trend from seasonality). Monthly counts are
tested for overdispersion (Pearson χ² against its residual degrees of freedom); when they vary
more than Poisson, the intervals are quasi-Poisson (the covariance × the estimated dispersion).

The rates are stated at the end of the period (the date a calibrated scenario starts from,
``run.start_date``): the model applies ``arrivals.rate_per_1000_per_year`` at its start date and
grows it from there. Per-township and per-township × category rates (exact Poisson intervals)
go to the report: a scenario has one district rate scaled by population.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from sim.scenario.schema import Scenario

from .params import Params
from .params import rounded as _r
from .township_rates import township_multipliers

__all__ = [
    "DISPERSION_TEST_LEVEL",
    "MIN_DISPERSION_DF",
    "MONTHS",
    "default_period",
    "fit_arrivals",
    "month_slices",
    "poisson_interval",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DISPERSION_TEST_LEVEL = 0.05  # Pearson χ² test of Poisson counts, one-sided (too variable)
MIN_DISPERSION_DF = 5  # fewer residual df: the dispersion is not estimable with any precision
_MIN_REPEAT_DAYS = 28  # a calendar month counts as seen in a year when ≥ 28 of its days are
_DAY = pd.Timedelta(days=1)


def default_period(cases: pd.DataFrame, last: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window a register covers: the first day a dispute arose to the end of the day of its
    latest date ``last`` (the day it was taken). Not to the day after the last arrival: the
    quiet days before a register was taken are part of what it observed, and cutting them off
    makes a two-year register just short of two years."""
    arisen = cases.loc[~cases["initial"], "arisen"]
    return arisen.min().floor("D"), last.floor("D") + _DAY


def month_slices(t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """The period cut at calendar-month boundaries: each slice has one seasonal multiplier."""
    rows = []
    cursor = t0
    while cursor < t1:
        nxt = min((cursor + pd.offsets.MonthBegin(1)).floor("D"), t1)
        if nxt <= cursor:  # cursor on a month's first day: MonthBegin already moved on
            nxt = min(cursor + pd.offsets.MonthBegin(1), t1)
        rows.append(
            {
                "begin": cursor,
                "finish": nxt,
                "month": cursor.month - 1,
                "days": (nxt - cursor) / _DAY,
            }
        )
        cursor = nxt
    return pd.DataFrame(rows)


def poisson_interval(
    k: np.ndarray, exposure: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson rate k / exposure."""
    k = np.asarray(k, float)
    tail = (1 - level) / 2
    lo = np.where(k > 0, stats.chi2.ppf(tail, 2 * k) / 2, 0.0)
    hi = stats.chi2.ppf(1 - tail, 2 * k + 2) / 2
    return lo / exposure, hi / exposure


def _trend_identified(slices: pd.DataFrame) -> bool:
    """A trend is told from seasonality when some calendar month is seen in two years."""
    whole = slices[slices["days"] >= _MIN_REPEAT_DAYS]
    return bool(len(whole) and whole.groupby("month").size().max() >= 2)


def fit_arrivals(
    cases: pd.DataFrame,
    scenario: Scenario,
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    level: float,
    params: Params,
    notes: list[str],
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Fit the district rate, seasonality and growth from the disputes arisen in ``[t0, t1)``.

    ``cases`` needs ``arisen``, ``township`` and ``category``. Adds the parameters to
    ``params`` (rate as at ``t1``) and returns the GLM's summary and the per-township and
    per-township × category tables for the report.
    """
    slices = month_slices(t0, t1)
    pop = float(scenario.population)
    index = np.searchsorted(slices["begin"].to_numpy(), cases["arisen"].to_numpy(), side="right")
    slices["count"] = np.bincount(index - 1, minlength=len(slices))[: len(slices)]
    # Exposure in (1000 residents × years): the GLM's rates are then per 1000 per year.
    slices["exposure"] = slices["days"] / 365.0 * pop / 1000.0
    slices = slices[slices["days"] > 0].reset_index(drop=True)
    months_seen = sorted(set(slices["month"]))
    span_years = (t1 - t0) / _DAY / 365.0
    seasonal = len(months_seen) == 12
    trend = _trend_identified(slices)
    base = np.asarray(scenario.arrivals.seasonality, float)
    base = base / base.mean()

    if seasonal:
        X = (
            pd.get_dummies(slices["month"].map(lambda m: MONTHS[m]))
            .reindex(columns=list(MONTHS), fill_value=False)
            .astype(float)
        )
        offset = np.zeros(len(slices))
    else:
        X = pd.DataFrame({"rate": np.ones(len(slices))})
        offset = np.log(base[slices["month"].to_numpy()])
        notes.append(
            f"Seasonality not fitted: the period covers {len(months_seen)} of 12 months; "
            "the base scenario's monthly multipliers are kept."
        )
    t_ref = 0.0
    if trend:
        mid = slices["begin"] + (slices["finish"] - slices["begin"]) / 2
        X["trend"] = ((mid - t0) / _DAY / 365.0).to_numpy()
        t_ref = span_years  # rates are written as at the end of the period
    else:
        notes.append(
            f"Growth not fitted: the period ({span_years:.2f} years) sees no calendar month in "
            "two different years, so a trend cannot be told from seasonality. The base "
            "growth_per_year is kept."
        )
    model = sm.GLM(
        slices["count"].to_numpy(float),
        X,
        family=sm.families.Poisson(),
        exposure=slices["exposure"].to_numpy(),
        offset=offset,
    )
    with warnings.catch_warnings():
        # Twelve month coefficients on twelve or thirteen slices is a saturated model:
        # statsmodels warns about separation and a zero residual df, harmless for a Poisson
        # GLM whose scale is fixed at 1.
        warnings.simplefilter("ignore")
        result = model.fit()
        dispersion = _dispersion(result, notes)
        if dispersion is not None:
            # Quasi-Poisson: the same coefficients, the covariance × the Pearson dispersion.
            result = model.fit(scale="X2")
    coef = result.params.to_numpy()
    cov = result.cov_params().to_numpy()
    z = float(stats.norm.ppf(0.5 + level / 2))
    n = len(cases)
    k = len(coef)
    beta_col = list(X.columns).index("trend") if trend else None

    def log_interval(value: float, grad: np.ndarray) -> tuple[float, float]:
        """Delta method on the log scale: exp(log v ± z·se), se² = ∇ᵀ Σ ∇."""
        se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
        return value * math.exp(-z * se), value * math.exp(z * se)

    # Monthly log rates (per 1000 per year) at the reference time; the district rate is their
    # mean, as sim normalises the twelve multipliers to mean 1.
    shift = coef[beta_col] * t_ref if beta_col is not None else 0.0
    log_m = coef[:12] + shift if seasonal else coef[0] + shift + np.log(base)
    weights = np.exp(log_m) / np.exp(log_m).sum()
    rate = float(np.exp(log_m).mean())
    grad = np.zeros(k)
    if seasonal:
        grad[:12] = weights
    else:
        grad[0] = 1.0
    if beta_col is not None:
        grad[beta_col] = t_ref
    params.add(
        "arrivals.rate_per_1000_per_year",
        "arrivals",
        rate,
        *log_interval(rate, grad),
        n,
        write=_r(rate),
        note="at the end of the period" if trend else "",
    )
    if seasonal:
        shape = np.exp(log_m) / rate
        for m in range(12):
            g = -weights.copy()
            g[m] += 1.0
            g_full = np.zeros(k)
            g_full[:12] = g
            count = int(slices.loc[slices["month"] == m, "count"].sum())
            params.add(
                f"arrivals.seasonality.{MONTHS[m]}",
                "arrivals",
                shape[m],
                *log_interval(float(shape[m]), g_full),
                count,
            )
            params.rows[-1]["written"] = True
        params.settings["arrivals.seasonality"] = [_r(x, 4) for x in shape]
    if beta_col is not None:
        b, se = coef[beta_col], math.sqrt(cov[beta_col, beta_col])
        params.add(
            "arrivals.growth_per_year",
            "arrivals",
            math.expm1(b),
            math.expm1(b - z * se),
            math.expm1(b + z * se),
            n,
            write=_r(math.expm1(b), 4),
        )

    def draw(rng: np.random.Generator) -> dict[str, Any]:
        """Rate, seasonality and growth from one draw of the coefficients (asymptotic law)."""
        c = rng.multivariate_normal(coef, cov) if np.all(np.isfinite(cov)) else coef
        b = c[beta_col] if beta_col is not None else 0.0
        logs = c[:12] + b * t_ref if seasonal else c[0] + b * t_ref + np.log(base)
        r = float(np.exp(logs).mean())
        out: dict[str, Any] = {"arrivals.rate_per_1000_per_year": _r(r)}
        if seasonal:
            out["arrivals.seasonality"] = [_r(x, 4) for x in np.exp(logs) / r]
        if beta_col is not None:
            out["arrivals.growth_per_year"] = _r(max(math.expm1(b), -0.99), 4)
        return out

    params.draws.append(draw)

    # Per township: rate multipliers shrunk toward the district (townships[].rate_multiplier);
    # per township × category: report only.
    years = span_years
    pops = {t.name: t.population for t in scenario.townships}
    counts = cases.groupby("township").size().reindex(list(pops), fill_value=0)
    exposure = np.array([pops[t] for t in counts.index]) / 1000.0 * years
    lo, hi = poisson_interval(counts.to_numpy(), exposure, level)
    townships = pd.DataFrame(
        {
            "township": counts.index,
            "population": [pops[t] for t in counts.index],
            "cases": counts.to_numpy(),
            "rate_per_1000_per_year": counts.to_numpy() / exposure,
            "ci_low": lo,
            "ci_high": hi,
            "exposure": exposure,
        }
    )
    townships = township_multipliers(townships, level, params)
    cats = list(scenario.categories)
    tc = (
        cases.groupby(["township", "category"])
        .size()
        .reindex(pd.MultiIndex.from_product([list(pops), cats]), fill_value=0)
    )
    exp_tc = np.array([pops[t] for t, _ in tc.index]) / 1000.0 * years
    lo, hi = poisson_interval(tc.to_numpy(), exp_tc, level)
    township_cats = pd.DataFrame(
        {
            "township": [t for t, _ in tc.index],
            "category": [c for _, c in tc.index],
            "cases": tc.to_numpy(),
            "rate_per_1000_per_year": tc.to_numpy() / exp_tc,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    return str(result.summary()), townships, township_cats


def _dispersion(result: Any, notes: list[str]) -> float | None:
    """Pearson dispersion of a Poisson fit when the counts are too variable for Poisson.

    Under Poisson the Pearson χ² is about χ² on the residual degrees of freedom; a one-sided
    test at :data:`DISPERSION_TEST_LEVEL` decides. Returns the dispersion (χ² / df) when the
    counts are overdispersed, else None; the note says which and why.
    """
    df = round(float(result.df_resid))
    if df < MIN_DISPERSION_DF:
        notes.append(
            f"Overdispersion of monthly counts not tested: {df} residual degrees of freedom "
            f"(fewer than {MIN_DISPERSION_DF}); the rate's interval assumes Poisson counts."
        )
        return None
    chi2 = float(result.pearson_chi2)
    p = float(stats.chi2.sf(chi2, df))
    phi = chi2 / df
    if p >= DISPERSION_TEST_LEVEL:
        return None
    notes.append(
        f"Monthly counts are overdispersed (Pearson χ²/df = {phi:.2f}, p = {p:.2g} on {df} "
        "df): the arrival intervals are quasi-Poisson (widened by √dispersion). The model's "
        "arrivals are Poisson given the month, so simulated monthly volumes vary less than "
        "the register's."
    )
    return phi
