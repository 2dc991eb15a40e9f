"""Queueing formulas of the screen: Erlang B and C, the M/M/c wait, one mediator pool.

:func:`erlang_c` and :func:`mmc_waiting_time` are exact for M/M/c; :func:`approximate_pool` is
the stationary approximation of one pool the analytic screen (:mod:`sim.sizing.analytic`) uses
everywhere else: offered load in working time, Erlang C for the chance of waiting, the
Allen–Cunneen correction ``(1 + cs²)/2`` for non-exponential effort, escalation by time limit
from the tail of the wait, and the share of cases full-time mediators take (Erlang B overflow).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from sim.scenario.distributions import Distribution, Exponential
from sim.scenario.schema import Enterprise, Level, Scenario

__all__ = [
    "PoolResult",
    "PoolSpec",
    "approximate_pool",
    "calendar_fractions",
    "erlang_b",
    "erlang_c",
    "mmc_waiting_time",
]

PoolSpec = Level | Enterprise
"""The settings a pool is served by: a ladder level, a committee, or the enterprise table."""

_QUADRATURE = 4000  # midpoints for numeric moments of a distribution
_DELAY_SAMPLES = 2000  # fixed-seed draws of the sum of party delays (deterministic)


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


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B): the overflow from ``servers`` preferred ones."""
    if servers <= 0:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def calendar_fractions(scenario: Scenario) -> tuple[float, float]:
    """Share of a round-the-clock mediator's hours a full-time and a part-time one offer.

    ``hours_per_week / 168`` of each kind's calendar, or (1, 1) without working calendars.
    """
    if not scenario.mechanisms.working_calendar:
        return 1.0, 1.0
    cal = scenario.calendars
    return cal.full_time.hours_per_week / 168.0, cal.part_time.hours_per_week / 168.0


@functools.lru_cache(maxsize=512)
def _moments(dist: Distribution) -> tuple[float, float]:
    """First and second moment of a duration distribution (closed form where known)."""
    from sim.scenario.distributions import Fixed, Gamma, Lognormal, Uniform

    if isinstance(dist, Exponential):
        return dist.mean, 2 * dist.mean**2
    if isinstance(dist, Fixed):
        return dist.value, dist.value**2
    if isinstance(dist, Uniform):
        return dist.mean, (dist.low**2 + dist.low * dist.high + dist.high**2) / 3
    if isinstance(dist, Gamma):
        return dist.mean, dist.mean**2 * (1 + dist.cv**2)
    if isinstance(dist, Lognormal) and dist.cap is None:
        return dist.mean, dist.median**2 * math.exp(2 * dist.sigma**2)
    u = (np.arange(_QUADRATURE) + 0.5) / _QUADRATURE
    x = np.array([dist.ppf(float(v)) for v in u])
    return float(x.mean()), float((x**2).mean())


@functools.lru_cache(maxsize=512)
def _delay_sums(dist: Distribution | None, count: int) -> np.ndarray:
    """Draws of the sum of ``count`` party delays (a fixed seed: the screen is deterministic)."""
    if dist is None or count <= 0:
        return np.zeros(1)
    u = np.random.default_rng(20200804).random((_DELAY_SAMPLES, count))
    ppf = np.vectorize(dist.ppf, otypes=[float])
    return ppf(u).sum(axis=1)


@dataclass
class PoolResult:
    """One pool in its stationary state: its row of the screen's pool table and its outcomes."""

    row: dict[str, object]
    p_resolve: np.ndarray  # by severity, after time limits and overload
    p_time_limit: float
    t_done: float  # days at the pool when it concludes there or fails
    t_limit: float  # days at the pool when the time limit passes


def approximate_pool(
    sc: Scenario,
    spec: PoolSpec,
    venue: str,
    full_time: int,
    part_time: int,
    lam_cls: np.ndarray,
    cat_factor: np.ndarray,
    expert_here: bool,
) -> PoolResult | None:
    """Stationary approximation of one pool fed by Poisson arrivals ``lam_cls`` (per day).

    ``lam_cls`` is the arrival rate by (category, severity) class, ``cat_factor`` the effort
    factor of each category; ``None`` for a pool without mediators. The row's ``unit`` is left
    empty: pools with equal inputs give equal results, whichever unit they serve.
    """
    m = sc.mechanisms
    c = full_time + part_time
    lam = float(lam_cls.sum())
    if c == 0:
        return None
    m1, m2 = _moments(spec.effort_hours)
    sev_f = np.array([spec.severity_effort.of(s) for s in range(3)])
    f = cat_factor[:, None] * sev_f[None, :] if m.effort_factors else np.ones_like(lam_cls)
    w = lam_cls / lam if lam > 0 else np.full_like(lam_cls, 1.0 / lam_cls.size)
    es = m1 * float((w * f).sum())
    es2 = m2 * float((w * f * f).sum())
    cs2 = max(es2 / es**2 - 1.0, 0.0)
    f_ft, f_pt = calendar_fractions(sc)
    speed = full_time * f_ft + part_time * f_pt  # effort hours per elapsed hour, whole pool
    service_days = es / (24.0 * speed / c)  # per case, at the pool's mean speed
    a = lam * service_days
    rho = a / c
    p_wait = erlang_c(c, a) if lam > 0 else 0.0
    stable = rho < 1.0
    if lam == 0:
        theta, wq = 0.0, 0.0
    elif stable:
        theta = (1.0 + cs2) / 2.0 / (c / service_days - lam)  # Allen–Cunneen, Poisson arrivals
        wq = p_wait * theta
    else:
        theta, wq = math.inf, math.inf
    if full_time == 0:
        share_ft = 0.0
    elif part_time == 0:
        share_ft = 1.0
    else:  # full-time mediators take a case first: part-timers get the overflow
        share_ft = 1.0 - erlang_b(full_time, lam * es / (24.0 * f_ft))
    p_sev = np.array(
        [
            share_ft * spec.resolve.full_time.of(s) + (1 - share_ft) * spec.resolve.part_time.of(s)
            for s in range(3)
        ]
    )
    if expert_here:
        ex = sc.experts
        required = np.array([ex.required.of(s) for s in range(3)])
        p_sev = np.minimum(1.0, p_sev + ex.resolve_bonus * required)
    factor = 1.0
    if m.overload and sc.overload.penalty_per_waiting_case > 0:
        lq = lam * wq if stable else math.inf
        ov = sc.overload
        factor = max(ov.floor, 1.0 - ov.penalty_per_waiting_case * lq / c)
    sessions = spec.sessions if (m.party_delays and spec.party_delay_days is not None) else 1
    delays = _delay_sums(spec.party_delay_days if sessions > 1 else None, sessions - 1)
    limit = spec.time_limit_days if m.time_limits else None
    before_last = service_days * (sessions - 1) / sessions
    if limit is None or lam == 0:
        p_tl = 0.0
    elif not stable:
        p_tl = 1.0
    else:
        slack = limit - delays - before_last
        tail = np.where(slack > 0, np.exp(-np.maximum(slack, 0) / theta), 1.0)
        p_tl = float(np.mean((1 - p_wait) * (slack <= 0) + p_wait * tail))
    p_resolve = (1 - p_tl) * p_sev * factor
    party_mean = float(delays.mean()) if sessions > 1 else 0.0
    t_done = wq + service_days + party_mean
    row = {
        "venue": venue,
        "unit": "",
        "full_time": full_time,
        "part_time": part_time,
        "arrivals_per_year": lam * 365.0,
        "effort_hours": es,
        "effort_cv2": cs2,
        "capacity_hours_per_year": 24.0 * speed * 365.0,
        "utilization": rho,
        "p_wait": p_wait,
        "waiting_days": wq,
        "p_time_limit": p_tl,
        "share_full_time": share_ft,
        "resolve_minor": float(p_resolve[0]),
    }
    return PoolResult(row, p_resolve, p_tl, t_done, float(limit) if limit else t_done)
