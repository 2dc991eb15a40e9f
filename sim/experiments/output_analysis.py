"""Output analysis: how long a warm-up, how many replications.

- **Warm-up (预热期) by MSER-5.** A run starts empty, so its first weeks under-state queues. The
  Marginal Standard Error Rule (White 1997; MSER-5 batches the series by 5 first) truncates the
  start of a series where the standard error of the mean of what remains is smallest. We apply
  it to the daily series of cases present (or waiting, busy) per level, averaged over a few
  replications, over the arrival period only (the drain after arrivals stop is not steady).
  What a warm-up must remove is the empty start, not the year's rhythm: the KPIs count the
  disputes that arise over a whole measured year, seasons and growth included, while MSER
  assumes a stationary series and reads a busy January as a transient (Qujiang: 135 days at
  district level with its seasonality, 30 without). So the series come from the scenario with
  seasonality and growth switched off, and the suggestion is the longest truncation among the
  levels where MSER found one (a level whose minimum lies in the second half — in Qujiang the
  joint mediation, about 1.6 cases present — has no detectable warm-up; it is reported).
- **Replications advisor.** From pilot replications, the number ``n`` whose Student-t CI
  half-width ``t(n-1) s / sqrt(n)`` is within a chosen share of ``|mean|``, per KPI (the
  classic sequential-precision estimate; it trusts the pilot's standard deviation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.experiment import simulate
from sim.experiments.intervals import half_width, t_quantile
from sim.scenario.schema import Scenario

__all__ = [
    "MserResult",
    "WarmupResult",
    "advise_replications",
    "detect_warmup",
    "mser",
    "replications_needed",
]


@dataclass(frozen=True)
class MserResult:
    """MSER on one series: where to truncate and whether the rule can be trusted."""

    truncation: int  # observations to delete from the start
    statistic: np.ndarray  # MSER(d) for each candidate batch count d
    batch: int
    reliable: bool  # False when the minimum is in the second half: the run is too short


def mser(series: Sequence[float] | np.ndarray, batch: int = 5) -> MserResult:
    """Marginal Standard Error Rule on ``series`` (MSER-5 with the default ``batch``).

    The series is cut into non-overlapping batches of ``batch`` observations (the tail that does
    not fill a batch is dropped); for ``d`` batches deleted, MSER(d) = sum of squared
    deviations of the remaining batch means from their mean / (n - d)². Only ``d <= n/2`` is
    considered, the usual guard against a tiny, noisy tail; a minimum at that boundary means
    the series is too short to show a steady state (``reliable=False``).
    """
    x = np.asarray(series, dtype=float)
    if batch < 1:
        raise ValueError("batch must be at least 1")
    n = len(x) // batch
    if n < 2:
        raise ValueError(f"series too short for MSER-{batch}: {len(x)} observations")
    y = x[: n * batch].reshape(n, batch).mean(axis=1)
    # For each d, the squared deviations of y[d:] from its mean, from suffix sums.
    rev = y[::-1]
    count = np.arange(1, n + 1)[::-1]  # n - d
    s1 = np.cumsum(rev)[::-1]
    s2 = np.cumsum(rev**2)[::-1]
    ss = np.maximum(s2 - s1**2 / count, 0.0)
    stat = ss / count**2
    half = n // 2
    d = int(np.argmin(stat[: half + 1]))
    return MserResult(truncation=d * batch, statistic=stat, batch=batch, reliable=d < half)


@dataclass(frozen=True)
class WarmupResult:
    """The warm-up found per level, and the suggestion (the longest, rounded up)."""

    scenario: str
    measure: str
    table: pd.DataFrame  # per level: truncation_days, reliable, mean_after
    suggested_days: float
    scenario_warmup_days: float

    def describe(self) -> str:
        """The warm-up per level and the suggested ``run.warmup_days``, as text for the CLI."""
        lines = [
            f"{self.scenario}: MSER-5 warm-up on cases {self.measure} per level "
            f"(mean over replications, arrival period only, seasonality and growth off):",
            self.table.to_string(),
            f"\nsuggested run.warmup_days = {self.suggested_days:g} "
            f"(scenario has {self.scenario_warmup_days:g}: "
            + ("enough)" if self.scenario_warmup_days >= self.suggested_days else "too short)"),
        ]
        if not self.table["reliable"].all():
            unsure = ", ".join(self.table.index[~self.table["reliable"]].astype(str))
            lines.append(
                f"warning: no warm-up detectable at {unsure} (the minimum is in the second half "
                "of the run: noise, or a level still filling up); not counted in the suggestion. "
                "If that level matters, lengthen run.horizon_days and run this again"
            )
        return "\n".join(lines)


def detect_warmup(
    scenario: Scenario,
    replications: int = 5,
    seed: int | None = None,
    measure: str = "present",
    batch: int = 5,
    steady_load: bool = True,
) -> WarmupResult:
    """Run ``scenario`` and apply MSER to its per-level time series (see the module doc).

    With ``steady_load`` (the default) the run switches seasonality and growth off: they are
    part of what the KPIs measure, not a start-up bias to cut.
    """
    if steady_load:
        flat = scenario.mechanisms.model_copy(update={"seasonality": False, "growth": False})
        scenario = scenario.model_copy(update={"mechanisms": flat})
    results = simulate(scenario, replications, seed, keep_tables=True)
    end = scenario.run.warmup_days + scenario.run.horizon_days
    frames = [ts[ts["time"] < end] for ts in results.timeseries]
    series = pd.concat(frames).groupby(["level", "time"], observed=True)[measure].mean()
    rows = {}
    for level, s in series.groupby(level="level", observed=True, sort=False):
        values = s.to_numpy(dtype=float)
        times = s.index.get_level_values("time").to_numpy(dtype=float)
        if len(values) < 2 * batch or np.all(values == values[0]):
            rows[level] = {"truncation_days": 0.0, "reliable": True, "mean_after": values.mean()}
            continue
        found = mser(values, batch)
        rows[level] = {
            "truncation_days": float(times[found.truncation]) if found.truncation else 0.0,
            "reliable": found.reliable,
            "mean_after": float(values[found.truncation :].mean()),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "level"
    found = table[table["reliable"]] if len(table) else table
    suggested = float(math.ceil(found["truncation_days"].max())) if len(found) else 0.0
    return WarmupResult(scenario.name, measure, table, suggested, scenario.run.warmup_days)


def replications_needed(
    values: Sequence[float] | np.ndarray, rel_precision: float = 0.05, confidence: float = 0.95
) -> int | None:
    """Smallest ``n`` with ``t(n-1) s / sqrt(n) <= rel_precision × |mean|`` (pilot's s, mean).

    ``None`` when it cannot be said: fewer than two values, or a mean of zero. A KPI that
    does not vary needs 2 (the fewest that give an interval at all).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return None
    mean, s = float(x.mean()), float(x.std(ddof=1))
    if s == 0:
        return 2
    if mean == 0:
        return None
    target = rel_precision * abs(mean)
    q = 0.5 + confidence / 2
    n = max(2, math.ceil((stats.norm.ppf(q) * s / target) ** 2))  # the normal answer: a floor
    while t_quantile(q, n) * s / math.sqrt(n) > target:
        n += 1 if n < 1000 else max(1, n // 100)
    return n


def advise_replications(
    scenario: Scenario,
    rel_precision: float = 0.05,
    pilot: int = 10,
    seed: int | None = None,
    kpis: Sequence[str] | None = None,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Run ``pilot`` replications; per KPI, how many give a CI within ``rel_precision``.

    Columns: mean, std, half_width and relative_half_width of the pilot,
    replications_needed (NaN when undefined: a KPI not modelled, or a mean of zero).
    """
    confidence = scenario.run.confidence if confidence is None else confidence
    results = simulate(scenario, pilot, seed)
    per_rep = results.per_replication
    names = list(kpis) if kpis is not None else list(per_rep.columns)
    rows = {}
    for name in names:
        x = per_rep[name].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        mean = float(x.mean()) if len(x) else math.nan
        std = float(x.std(ddof=1)) if len(x) > 1 else math.nan
        half = half_width(std, len(x), confidence)
        need = replications_needed(x, rel_precision, confidence)
        rows[name] = {
            "mean": mean,
            "std": std,
            "half_width": half,
            "relative_half_width": half / abs(mean) if mean else math.nan,
            "replications_needed": float(need) if need is not None else math.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kpi"
    out["replications_needed"] = out["replications_needed"].astype("Int64")
    return out
