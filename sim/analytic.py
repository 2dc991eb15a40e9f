"""Queueing theory for the ladder: Erlang C per mediator pool, traffic equations over the ladder.

With every behavioural mechanism off (see docs/model.md) and exponential effort, each pool is an
M/M/c queue in an open multi-class network with product form (BCMP, FCFS, class-independent
exponential service), so these formulas are exact. With mechanisms on they are a screen only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .distributions import Exponential
from .district import District
from .scenario import Scenario
from .vocabulary import LEVELS

__all__ = ["PoolTheory", "erlang_c", "ladder_theory", "mmc_waiting_time"]


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (offered load a = λ/μ < c)."""
    c, a = servers, offered_load
    if c <= 0:
        raise ValueError("an M/M/c queue needs at least one server")
    if a >= c:
        return 1.0
    # Stable recurrence for Erlang B, then C from B.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def mmc_waiting_time(arrival_rate: float, service_mean: float, servers: int) -> float:
    """Mean wait in queue of M/M/c; ``inf`` when the pool is overloaded."""
    a = arrival_rate * service_mean
    if a >= servers:
        return math.inf
    if arrival_rate == 0:
        return 0.0
    return erlang_c(servers, a) * service_mean / (servers - a)


@dataclass(frozen=True)
class PoolTheory:
    level: str
    unit: int
    servers: int
    arrival_rate: float  # cases per day
    service_mean: float  # days
    utilization: float
    waiting_time: float  # days, mean wait in queue


def ladder_theory(scenario: Scenario) -> tuple[list[PoolTheory], float]:
    """Per-pool M/M/c results and the network's mean time in system (days).

    Valid when the scenario's mechanisms are off, effort is exponential, every dispute enters at
    one level, and resolution probabilities do not depend on the mediator kind.
    """
    _check_reducible(scenario)
    d = District.from_scenario(scenario)
    base = scenario.population * scenario.arrivals.rate_per_1000_per_year / 1000.0 / 365.0
    pops = np.asarray(d.village_population) / sum(d.village_population)
    entry = scenario.discovery.self_report_entry.as_tuple()
    sev = scenario.severity
    sev_shares = (sev.minor, sev.major, sev.serious)

    # Arrival rate per pool, by severity class (routing depends on severity only).
    rates = {lv: np.zeros((d.units(lv), 3)) for lv in LEVELS}
    for vi, share in enumerate(pops):
        grids = d.village_grids[vi]
        for g in grids:
            for s, ss in enumerate(sev_shares):
                flow = base * share * ss / len(grids)
                # Enter at level li (shares), then climb on each failure.
                carry = 0.0
                for li, lv in enumerate(LEVELS):
                    arriving = flow * entry[li] + carry
                    unit = d.unit_of(lv, g)
                    rates[lv][unit, s] += arriving
                    p = scenario.ladder.level(lv).resolve.full_time.of(s)
                    carry = (
                        arriving * (1 - p) if d.staffing[lv][unit].number_of_servers else arriving
                    )
    pools: list[PoolTheory] = []
    total_time = 0.0
    total_rate = base
    for lv in LEVELS:
        spec = scenario.ladder.level(lv)
        mean_days = spec.effort_hours.mean / 24.0  # round-the-clock calendar
        for unit, staff in enumerate(d.staffing[lv]):
            lam = float(rates[lv][unit].sum())
            c = staff.number_of_servers
            if c == 0:
                continue
            wq = mmc_waiting_time(lam, mean_days, c)
            pools.append(PoolTheory(lv, unit, c, lam, mean_days, lam * mean_days / c, wq))
            total_time += lam * (wq + mean_days)
    # Little's law over the network: mean time in system = Σ λ_i T_i / total arrival rate.
    return pools, total_time / total_rate if total_rate else math.nan


def _check_reducible(scenario: Scenario) -> None:
    m = scenario.mechanisms
    on = [k for k, v in m.model_dump().items() if v]
    if on:
        raise ValueError(f"theory needs every mechanism off; still on: {', '.join(on)}")
    for lv in LEVELS:
        spec = scenario.ladder.level(lv)
        if not isinstance(spec.effort_hours, Exponential):
            raise ValueError(
                f"theory needs exponential effort; ladder.{lv} has {spec.effort_hours.dist}"
            )
        if spec.resolve.full_time != spec.resolve.part_time:
            raise ValueError(f"theory needs ladder.{lv}.resolve to be the same for both kinds")
