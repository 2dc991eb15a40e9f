"""What a run would allocate, estimated before it starts, and refused when it is absurd.

A slip of a few characters (``rate_per_1000_per_year = 1e308``, ``villages = 1000000000``,
``sample_interval_days = 1e-9``, a backlog of 1e9 cases) once made a run take all the memory of
the machine before anything was said. Each estimate here is cheap (arithmetic on the validated
scenario, nothing is built) and is compared with a limit far above any real district; a scenario
over a limit is bad input naming the key and the estimated size. ``run.allow_large = true`` (or
``sim run --force``) accepts it for the deliberate case.

The limits are per replication: replications run one after another (or one per worker), so
memory is set by one replication's register and time series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.scenario.keypaths import KeyPath, get
from sim.scenario.schema import Scenario

__all__ = [
    "MAX_DISPUTES",
    "MAX_INITIAL_CASES",
    "MAX_SAMPLES",
    "MAX_UNITS",
    "expected_disputes",
    "oversized",
]

MAX_DISPUTES = 5_000_000
"""Most disputes one replication may expect to see arise. A district of a million residents at
20 disputes per 1,000 a year for a century is 2 million; each dispute costs about a kilobyte of
register rows and live objects, so the limit is a few gigabytes."""

MAX_INITIAL_CASES = 1_000_000
"""Most cases open at the start (``initial_state.open_cases`` counts, summed): each is an object
created before the first event."""

MAX_UNITS = 200_000
"""Most townships, villages and grids together: each has names, staffing and a sweep schedule
built up front (a large prefecture-level city has some tens of thousands of grids)."""

MAX_SAMPLES = 1_000_000
"""Most time-series sample times (``(warmup + horizon) / sample_interval_days``): each adds one
row per venue. A century sampled daily is 36,500."""

_ALLOW = "set run.allow_large = true (or sim run --force) if this is meant"


def expected_disputes(scenario: Scenario) -> float:
    """Disputes one replication is expected to see arise, window and warm-up together.

    Population-scaled arrivals (seasonality averages to one; growth integrated in closed form)
    plus the stationed rooms' referrals. Infinity when the numbers overflow a float.
    """
    run = scenario.run
    days = run.warmup_days + run.horizon_days
    try:
        per_day = float(scenario.arrival_population) * scenario.arrivals.rate_per_1000_per_year
        per_day /= 1000.0 * 365.0
        growth = scenario.arrivals.growth_per_year if scenario.mechanisms.growth else 0.0
        if growth:  # ∫₀ᵀ (1+g)^(t/365) dt = 365 ((1+g)^(T/365) − 1) / ln(1+g)
            span = 365.0 * math.expm1(days / 365.0 * math.log1p(growth)) / math.log1p(growth)
        else:
            span = days
        referrals = sum(r.referrals_per_year for r in scenario.stationed_rooms.values())
        total = per_day * span + referrals * days / 365.0
    except OverflowError:  # an int population past float range, or growth overflowing exp
        return math.inf
    return total if math.isfinite(total) else math.inf


def oversized(scenario: Scenario, table: Mapping[str, Any]) -> list[tuple[KeyPath, Any, str]]:
    """The keys whose values would make one replication allocate more than the limits allow:
    ``(path, value, expected)`` each, empty when ``run.allow_large`` is set."""
    if scenario.run.allow_large:
        return []
    found: list[tuple[KeyPath, Any, str]] = []

    def refuse(path: KeyPath, what: str, size: float, limit: int) -> None:
        found.append(
            (
                path,
                get(table, path),
                f"expected a scenario of at most {limit:,} {what} per replication; "
                f"this one would have {_size(size)} ({_ALLOW})",
            )
        )

    disputes = expected_disputes(scenario)
    if not disputes <= MAX_DISPUTES:  # also True for nan
        refuse(_largest_arrival_key(scenario, table), "expected disputes", disputes, MAX_DISPUTES)

    counts = [oc.count for oc in scenario.initial_state.open_cases]
    if sum(counts) > MAX_INITIAL_CASES:
        i = max(range(len(counts)), key=counts.__getitem__)
        where = ("initial_state", "open_cases", i, "count")
        refuse(where, "initial open cases", sum(counts), MAX_INITIAL_CASES)

    units = [t.grids + t.villages + 1 for t in scenario.townships]
    if sum(units) > MAX_UNITS:
        i = max(range(len(units)), key=units.__getitem__)
        t = scenario.townships[i]
        key = "villages" if t.villages * 2 > t.grids else "grids"  # the one that grew
        refuse(("townships", i, key), "townships, villages and grids", sum(units), MAX_UNITS)

    run = scenario.run
    samples = (run.warmup_days + run.horizon_days) / run.sample_interval_days
    if not samples <= MAX_SAMPLES:
        refuse(("run", "sample_interval_days"), "time-series samples", samples, MAX_SAMPLES)
    return found


def _largest_arrival_key(scenario: Scenario, table: Mapping[str, Any]) -> KeyPath:
    """The key most likely at fault for too many disputes: a township whose population (times
    its multiplier) dwarfs the others, else the rate."""
    weights = [float(t.population) * t.rate_multiplier for t in scenario.townships]
    total = sum(weights)
    rate = scenario.arrivals.rate_per_1000_per_year
    # Real per-capita rates are a few to a few dozen per 1,000 a year; beyond 1,000 (one dispute
    # per resident a year) the rate is the slip, else the largest township's population is.
    if rate > 1000 or not weights:
        return ("arrivals", "rate_per_1000_per_year")
    i = max(range(len(weights)), key=weights.__getitem__)
    if weights[i] >= 0.5 * total:
        t = scenario.townships[i]
        key = "rate_multiplier" if t.rate_multiplier > 1000 else "population"
        return ("townships", i, key)
    return ("arrivals", "rate_per_1000_per_year")


def _size(n: float) -> str:
    """A count for a message: ``about 1.2e+09`` past a billion, else with thousands separators."""
    if not math.isfinite(n):
        return "more than a float can count"
    return f"about {n:.3g}" if n >= 1e9 else f"about {round(n):,}"
