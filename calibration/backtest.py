"""Backtest: fit on the register before a holdout date, simulate after it, compare.

The fit sees the register as it stood on the holdout date (steps that ended later are open
then, so they are censored, as they would have been for a planner fitting on that day). The
calibrated scenario is then run from a warm-up before the holdout date to the register's
as-of date, without draining, so that the simulated registers are censored at the same moment
as the real one; the same measures are computed on both sides:

- monthly volumes (disputes arising per calendar month, a partial month as it is),
- the share of the period's disputes resolved at each level by the as-of date,
- days from arising to resolution of the period's disputes resolved by then (mean, median).

Each measure gets the prediction interval of the replications (equal-tailed, at the fit's
level) and is marked covered or not; the coverage is the share covered. The intervals contain
the simulation's randomness but not the parameters' uncertainty, so they are somewhat narrow:
a coverage well under the nominal level says the model misses something, one slightly under it
is expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.experiments.experiment import simulate
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS

from .arrivals import month_slices
from .fitting import case_rows

__all__ = [
    "Backtest",
    "backtest",
    "observed_measures",
    "register_from_sim",
    "restated_at",
    "truncate",
]

_DAY = pd.Timedelta(days=1)
RESOLVED = ("resolved", "resolved_on_the_spot")


@dataclass
class Backtest:
    """Observed measures of the held-out period against the calibrated model's predictions."""

    holdout: pd.Timestamp
    as_of: pd.Timestamp
    level: float
    replications: int
    table: pd.DataFrame  # measure, observed, predicted_low, predicted_median, predicted_high,..
    simulated: pd.DataFrame  # one row per replication, one column per measure

    @property
    def coverage(self) -> float:
        """Share of the measures whose observed value fell inside the predicted interval."""
        covered = self.table["covered"].dropna()
        return float(covered.mean()) if len(covered) else math.nan


def restated_at(scenario: Scenario, start: pd.Timestamp) -> Scenario:
    """The same scenario started on ``start``, its arrival rate moved along its growth.

    The model applies ``arrivals.rate_per_1000_per_year`` at ``run.start_date``; starting
    earlier or later without restating the rate would shift the whole growth curve.
    """
    start = pd.Timestamp(start).floor("D")
    years = (start - pd.Timestamp(scenario.run.start_date)) / _DAY / 365.0
    growth = scenario.arrivals.growth_per_year if scenario.mechanisms.growth else 0.0
    rate = scenario.arrivals.rate_per_1000_per_year * (1.0 + growth) ** years
    arrivals = scenario.arrivals.model_copy(update={"rate_per_1000_per_year": rate})
    run = scenario.run.model_copy(update={"start_date": start.date()})
    return scenario.model_copy(update={"arrivals": arrivals, "run": run})


def truncate(table: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The register as it stood at ``cutoff``: later steps unknown, later endings still open."""
    t = table[table["entered_date"] < cutoff].copy()
    late = t["ended_date"].notna() & (t["ended_date"] >= cutoff)
    t.loc[late, "outcome"] = "open"
    t.loc[late, "ended_date"] = pd.NaT
    t.loc[late, "effort_hours"] = math.nan
    return t.reset_index(drop=True)


def register_from_sim(register: pd.DataFrame) -> pd.DataFrame:
    """A simulated register (sim.register_table) in the canonical form calibration reads."""
    out = pd.DataFrame(
        {
            "row": -1,
            "case_id": register["case_id"].astype(str),
            "step": register["step"].astype("int64"),
        }
    )
    for col in ("level", "township", "village", "grid", "category", "severity_initial",
                "severity", "channel", "outcome", "mediator_kind"):  # fmt: skip
        values = register[col].astype(object)
        out[col] = values.where(values.notna(), None)
    out["sensitive"] = register["sensitive"].astype("boolean")
    out["initial"] = register["initial"].astype(bool)
    out["effort_hours"] = register["effort_hours"].astype(float)
    for col in ("arisen_date", "entered_date", "ended_date"):
        out[col] = pd.to_datetime(register[col])
    return out


def observed_measures(table: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Volumes per month, share resolved per level, days to resolution, of [start, end)."""
    cases = case_rows(table)
    here = cases[(~cases["initial"]) & (cases["arisen"] >= start) & (cases["arisen"] < end)]
    out: dict[str, float] = {}
    for s in month_slices(start, end).itertuples():
        inside = (here["arisen"] >= s.begin) & (here["arisen"] < s.finish)
        out[f"volume {s.begin:%Y-%m}"] = float(inside.sum())
    last = (
        table[table["case_id"].isin(here["case_id"])]
        .sort_values(["case_id", "step"])
        .groupby("case_id", sort=False)
        .tail(1)
    )
    n = max(len(here), 1)
    resolved = last[last["outcome"].isin(RESOLVED)]
    for lv in LEVELS:
        out[f"resolved_share.{lv}"] = float((resolved["level"] == lv).sum()) / n
    arisen = here.set_index("case_id")["arisen"]
    days = (resolved["ended_date"].to_numpy() - arisen.loc[resolved["case_id"]].to_numpy()) / _DAY
    days = np.asarray(days, dtype=float)
    out["days_to_resolution.mean"] = float(days.mean()) if len(days) else math.nan
    out["days_to_resolution.median"] = float(np.median(days)) if len(days) else math.nan
    return pd.Series(out)


def backtest(
    scenario: Scenario,
    observed: pd.DataFrame,
    holdout: pd.Timestamp,
    as_of: pd.Timestamp,
    *,
    replications: int = 30,
    seed: int = 1,
    level: float = 0.9,
    warmup_days: float = 60.0,
) -> Backtest:
    """Simulate ``scenario`` over [holdout, as_of) ``replications`` times and compare."""
    holdout = pd.Timestamp(holdout).floor("D")
    scenario = restated_at(scenario, holdout - pd.Timedelta(days=warmup_days))
    horizon = (as_of - holdout) / _DAY
    run = scenario.run.model_copy(
        update={
            "warmup_days": warmup_days,
            "horizon_days": horizon,
            "drain": False,
            "drain_limit_days": 0.0,
        }
    )
    sc = scenario.model_copy(update={"run": run})
    results = simulate(sc, replications=replications, seed=seed, keep_tables=True)
    sim_end = holdout + pd.Timedelta(days=horizon)
    simulated = pd.DataFrame(
        [observed_measures(register_from_sim(r), holdout, sim_end) for r in results.registers]
    )
    seen = observed_measures(observed, holdout, as_of)
    tail = (1 - level) / 2
    rows = []
    for name, value in seen.items():
        col = simulated[name] if name in simulated else pd.Series(dtype=float)
        col = col.dropna()
        if len(col):
            lo, mid, hi = np.quantile(col, [tail, 0.5, 1 - tail])
        else:
            lo = mid = hi = math.nan
        covered = bool(lo <= value <= hi) if len(col) and math.isfinite(value) else None
        rows.append(
            {
                "measure": name,
                "observed": value,
                "predicted_low": lo,
                "predicted_median": mid,
                "predicted_high": hi,
                "covered": covered,
            }
        )
    return Backtest(holdout, as_of, level, replications, pd.DataFrame(rows), simulated)
