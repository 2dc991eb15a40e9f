"""Durations with right-censoring: exponential, gamma, lognormal and Weibull fits, chosen by AIC.

A register ends on some day; the cases still open then (在办) have not ended, and dropping them
keeps only the quick ones — the mean comes out too short. The fits here maximise the censored
likelihood (density for the ended steps, survival for the open ones), which is what
``scipy.stats.CensoredData`` does, but with our own parametrisation so that the observed
information (the numerical Hessian) gives standard errors; intervals for derived quantities
(mean, median, p90, cv) come from draws of the parameters from their asymptotic normal law.

The goodness of fit compares the fitted survival with the Kaplan–Meier estimate (a KS-type
distance that respects censoring), plus a KS test when nothing is censored.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.tools.numdiff import approx_hess3

__all__ = [
    "FAMILIES",
    "REPRESENTABLE",
    "DurationFit",
    "FamilyFit",
    "fit_durations",
    "kaplan_meier",
]

FAMILIES: tuple[str, ...] = ("exponential", "gamma", "lognormal", "weibull")
# Families a scenario's Distribution can hold (sim.distributions); Weibull is not one of them.
REPRESENTABLE: tuple[str, ...] = ("exponential", "gamma", "lognormal")
_DRAWS = 2000
_Z90 = 1.2815515655446004


def _frozen(family: str, theta: np.ndarray):
    """The scipy distribution of ``family`` at unconstrained parameters ``theta``."""
    if family == "exponential":
        return stats.expon(scale=math.exp(theta[0]))
    if family == "gamma":
        return stats.gamma(math.exp(theta[0]), scale=math.exp(theta[1]))
    if family == "lognormal":
        return stats.lognorm(math.exp(theta[1]), scale=math.exp(theta[0]))
    if family == "weibull":
        return stats.weibull_min(math.exp(theta[0]), scale=math.exp(theta[1]))
    raise ValueError(family)


def _summaries(family: str, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, median, p90 and cv of the law at each row of ``theta`` (closed forms, vectorised).

    These are the quantities a scenario states (exponential mean; gamma mean and cv; lognormal
    median and p90), so their intervals are what the report and the round-trip test need.
    """
    t = np.atleast_2d(theta)
    if family == "exponential":
        m = np.exp(t[:, 0])
        return {
            "mean": m,
            "median": m * math.log(2),
            "p90": m * math.log(10),
            "cv": np.ones_like(m),
        }
    if family == "gamma":
        k, scale = np.exp(t[:, 0]), np.exp(t[:, 1])
        return {
            "mean": k * scale,
            "median": special.gammaincinv(k, 0.5) * scale,
            "p90": special.gammaincinv(k, 0.9) * scale,
            "cv": 1 / np.sqrt(k),
        }
    if family == "lognormal":
        mu, sigma = t[:, 0], np.exp(t[:, 1])
        return {
            "mean": np.exp(mu + sigma**2 / 2),
            "median": np.exp(mu),
            "p90": np.exp(mu + _Z90 * sigma),
            "cv": np.sqrt(np.expm1(sigma**2)),
        }
    c, scale = np.exp(t[:, 0]), np.exp(t[:, 1])
    g1, g2 = special.gamma(1 + 1 / c), special.gamma(1 + 2 / c)
    return {
        "mean": scale * g1,
        "median": scale * math.log(2) ** (1 / c),
        "p90": scale * math.log(10) ** (1 / c),
        "cv": np.sqrt(np.maximum(g2 / g1**2 - 1, 0)),
    }


def _summary(family: str, theta: np.ndarray) -> dict[str, float]:
    return {q: float(v[0]) for q, v in _summaries(family, theta).items()}


def _start(family: str, x: np.ndarray) -> np.ndarray:
    m, logs = float(np.mean(x)), np.log(x)
    cv = float(np.std(x) / m) if m > 0 else 1.0
    cv = min(max(cv, 0.05), 20.0)
    if family == "exponential":
        return np.array([math.log(m)])
    if family == "gamma":
        k = 1 / cv**2
        return np.array([math.log(k), math.log(m / k)])
    if family == "lognormal":
        return np.array([float(np.mean(logs)), math.log(max(float(np.std(logs)), 0.05))])
    # Weibull: shape ≈ cv^-1.086 (a standard approximation)
    c = cv**-1.086
    return np.array([math.log(c), math.log(m / math.gamma(1 + 1 / c))])


@dataclass
class FamilyFit:
    """One family fitted by censored maximum likelihood."""

    family: str
    theta: np.ndarray
    cov: np.ndarray  # covariance of theta (inverse observed information); NaN if singular
    loglik: float
    aic: float
    summary: dict[str, float]
    ci: dict[str, tuple[float, float]]  # interval for each summary quantity

    @property
    def frozen(self):
        """The fitted distribution as a frozen scipy distribution (``ppf``, ``sf``, ``mean``)."""
        return _frozen(self.family, self.theta)


@dataclass
class DurationFit:
    """Fits of one set of durations (e.g. days at the village level) and the AIC choice."""

    name: str
    unit: str
    times: np.ndarray
    censored: np.ndarray  # True where the duration is only known to exceed `times`
    fits: dict[str, FamilyFit]
    chosen: str  # best AIC among all families
    written: str | None  # best AIC among the families a scenario can hold
    km_distance: float  # sup |KM − fitted survival| for the chosen family
    ks_pvalue: float  # KS test on the ended durations (NaN when some are censored)
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of durations fitted, censored ones included."""
        return len(self.times)

    @property
    def n_censored(self) -> int:
        """Number of durations only known to exceed their value (steps still open and the like)."""
        return int(self.censored.sum())

    def table(self) -> pd.DataFrame:
        """One row per family: AIC, ΔAIC and the summary quantities with their intervals."""
        best = min(f.aic for f in self.fits.values())
        rows = []
        for fam, f in self.fits.items():
            row: dict[str, object] = {"family": fam, "aic": f.aic, "delta_aic": f.aic - best}
            for q, v in f.summary.items():
                row[q] = v
                row[f"{q}_low"], row[f"{q}_high"] = f.ci[q]
            rows.append(row)
        return pd.DataFrame(rows).set_index("family")

    def spec(
        self, scale: float = 1.0, rng: np.random.Generator | None = None
    ) -> dict[str, object] | None:
        """The scenario distribution (sim.distributions) of the written family, × ``scale``.

        With ``rng``, at parameters drawn from their asymptotic normal law (the backtest's
        parametric bootstrap) instead of the estimate.
        """
        if self.written is None:
            return None
        fit = self.fits[self.written]
        s = fit.summary
        if rng is not None and np.all(np.isfinite(fit.cov)):
            s = _summary(self.written, rng.multivariate_normal(fit.theta, fit.cov))
        if self.written == "exponential":
            return {"dist": "exponential", "mean": _round(s["mean"] * scale)}
        if self.written == "gamma":
            return {"dist": "gamma", "mean": _round(s["mean"] * scale), "cv": _round(s["cv"])}
        return {
            "dist": "lognormal",
            "median": _round(s["median"] * scale),
            "p90": _round(s["p90"] * scale),
        }


def _round(x: float) -> float:
    return float(f"{x:.5g}")


def kaplan_meier(times: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event times and the Kaplan–Meier survival just after each."""
    order = np.argsort(times, kind="stable")
    t, c = times[order], censored[order]
    uniq, first = np.unique(t, return_index=True)
    at_risk = len(t) - first
    events = np.add.reduceat((~c).astype(float), first)
    keep = events > 0
    surv = np.cumprod(1 - events[keep] / at_risk[keep])
    return uniq[keep], surv


def _loglik(family: str, theta: np.ndarray, obs: np.ndarray, right: np.ndarray) -> float:
    """Censored log-likelihood: log density of ended durations + log survival of open ones.

    Closed forms on pre-computed logs: scipy's frozen distributions cost ~0.3 ms to build, and
    the optimiser and the Hessian call this a few hundred times per family.
    """
    lo, lr = np.log(obs), np.log(right)
    if family == "exponential":
        rate = math.exp(-theta[0])
        return float(len(obs) * math.log(rate) - rate * (obs.sum() + right.sum()))
    if family == "lognormal":
        mu, sigma = theta[0], math.exp(theta[1])
        z_o, z_r = (lo - mu) / sigma, (lr - mu) / sigma
        dens = -0.5 * z_o**2 - lo - math.log(sigma) - 0.5 * math.log(2 * math.pi)
        return float(dens.sum() + special.log_ndtr(-z_r).sum())
    if family == "weibull":
        c, scale = math.exp(theta[0]), math.exp(theta[1])
        ho, hr = (obs / scale) ** c, (right / scale) ** c
        dens = math.log(c) - math.log(scale) + (c - 1) * (lo - math.log(scale)) - ho
        return float(dens.sum() - hr.sum())
    k, scale = math.exp(theta[0]), math.exp(theta[1])
    dens = (k - 1) * lo - obs / scale - special.gammaln(k) - k * math.log(scale)
    with np.errstate(divide="ignore"):
        surv = np.log(special.gammaincc(k, right / scale))
    return float(dens.sum() + surv.sum())


def _fit_family(
    family: str, x: np.ndarray, cens: np.ndarray, level: float, rng: np.random.Generator
) -> FamilyFit | None:
    obs, right = x[~cens], x[cens]

    def nll(theta: np.ndarray) -> float:
        try:
            value = -_loglik(family, theta, obs, right)
        except (ValueError, OverflowError):  # math.log(0), exp overflow: durations all equal
            return 1e300
        return value if np.isfinite(value) else 1e300

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theta0 = _start(family, obs if len(obs) else x)
        res = optimize.minimize(
            nll,
            theta0,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
        )
        res = optimize.minimize(nll, res.x, method="BFGS", options={"gtol": 1e-8})
        theta = res.x
        loglik = -nll(theta)
        if not np.isfinite(loglik) or loglik < -1e299:
            return None
        try:
            hess = approx_hess3(theta, nll)
            cov = np.linalg.inv(hess)
            if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh(cov) <= 0):
                raise np.linalg.LinAlgError
        except (np.linalg.LinAlgError, ValueError):
            cov = np.full((len(theta), len(theta)), np.nan)
    # A fit near its edge (durations with little spread) has draws whose summaries overflow
    # to inf or nan: they are out of the interval's way, not a fault to print.
    summary = _summary(family, theta)
    ci = {q: (math.nan, math.nan) for q in summary}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if np.all(np.isfinite(cov)):
            draws = rng.multivariate_normal(theta, cov, size=_DRAWS)
            values = _summaries(family, draws)
            tail = (1 - level) / 2
            for q in summary:
                lo, hi = np.nanquantile(values[q], [tail, 1 - tail])
                ci[q] = (float(lo), float(hi))
    return FamilyFit(family, theta, cov, loglik, 2 * len(theta) - 2 * loglik, summary, ci)


def fit_durations(
    name: str,
    times: np.ndarray,
    censored: np.ndarray | None = None,
    *,
    unit: str = "days",
    level: float = 0.9,
    seed: int = 0,
    families: tuple[str, ...] = FAMILIES,
) -> DurationFit | None:
    """Fit each family by censored maximum likelihood and choose by AIC; None if too few data.

    Zero durations (same-day steps in a register kept to the day) have no density under these
    laws; they are set to half the smallest positive duration, and a note says how many.
    """
    x = np.asarray(times, dtype=float)
    cens = np.zeros(len(x), bool) if censored is None else np.asarray(censored, dtype=bool)
    keep = np.isfinite(x) & (x >= 0)
    x, cens = x[keep], cens[keep]
    notes: list[str] = []
    if (~cens).sum() < 5:
        return None
    zero = x <= 0
    if zero.any():
        positive = x[~zero]
        if len(positive) == 0:
            return None
        x = x.copy()
        x[zero] = positive.min() / 2
        notes.append(f"{int(zero.sum())} zero durations set to {positive.min() / 2:.3g} {unit}")
    rng = np.random.default_rng(seed)
    fits = {}
    for fam in families:
        f = _fit_family(fam, x, cens, level, rng)
        if f is not None:
            fits[fam] = f
    if not fits:
        return None
    chosen = min(fits, key=lambda k: fits[k].aic)
    writable = [k for k in fits if k in REPRESENTABLE]
    written = min(writable, key=lambda k: fits[k].aic) if writable else None
    if written != chosen:
        notes.append(
            f"{chosen} has the best AIC but a scenario cannot hold it; {written} is written "
            f"(ΔAIC {fits[written].aic - fits[chosen].aic:.1f})"
            if written
            else f"no family a scenario can hold fitted; best is {chosen}"
        )
    km_t, km_s = kaplan_meier(x, cens)
    fitted = fits[chosen].frozen.sf(km_t)
    km_distance = float(np.max(np.abs(km_s - fitted))) if len(km_t) else math.nan
    ks_p = math.nan
    if not cens.any():
        ks_p = float(stats.kstest(x, fits[chosen].frozen.cdf).pvalue)
    return DurationFit(name, unit, x, cens, fits, chosen, written, km_distance, ks_p, notes)
