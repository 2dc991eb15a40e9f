"""Variants of a scenario the calibration simulates: fitted settings set, start date moved.

Kept apart from :mod:`.backtest` and :mod:`.time_at_level`, which both need them, so that
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sim.scenario.loading import apply_overrides, validate_table
from sim.scenario.schema import Scenario

__all__ = ["plain_data", "restated_at", "scale_spec", "with_settings"]

_DAY = pd.Timedelta(days=1)


def plain_data(value: Any) -> Any:
    """Pydantic dumps as TOML-writable data (no None: TOML has no null)."""
    if isinstance(value, Mapping):
        return {k: plain_data(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    return value


def with_settings(scenario: Scenario, settings: Mapping[str, Any]) -> Scenario:
    """``scenario`` with dotted ``settings`` set, validated as a scenario file would be."""
    table = plain_data(scenario.model_dump(by_alias=True))
    table.pop("source_file", None)
    return validate_table(apply_overrides(table, settings.items()), scenario.name)


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


def scale_spec(spec: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """A duration distribution (scenario data) with every time in it × ``factor``.

    Exponential and gamma: mean (a gamma's cv unchanged); lognormal: median, p90 and cap;
    fixed: value; uniform: low and high — the shape stays, the time scale moves.
    """
    out = dict(spec)
    for key in ("mean", "median", "p90", "cap", "value", "low", "high"):
        if isinstance(out.get(key), int | float) and not isinstance(out.get(key), bool):
            out[key] = float(f"{out[key] * factor:.5g}")
    return out
