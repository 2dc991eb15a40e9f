"""Queueing theory for the ladder: Erlang C per mediator pool, traffic equations over the ladder.

With every behavioural mechanism off (see docs/model.md) and exponential effort, each pool is an
M/M/c queue in an open multi-class network with product form (BCMP, FCFS, class-independent
exponential service), so these formulas are exact. With mechanisms on they are a screen only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.scenario.distributions import Distribution, Exponential
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS, VENUES

__all__ = [
    "SCREEN_KPIS",
    "PoolTheory",
    "Screen",
    "erlang_b",
    "erlang_c",
    "ladder_theory",
    "mmc_waiting_time",
    "screen",
    "screen_is_exact",
]


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


# ---------------------------------------------------------------------------------------------
# The analytic screen (issue 5): a queueing-network approximation of any scenario.
#
# Sizing asks "which of thousands of staffings meet the targets?"; simulating each costs seconds.
# The screen answers in milliseconds by following the routing of the model as flows (no
# randomness): arrival rates per pool from the shares of the scenario, offered load, Erlang C
# with the Allen–Cunneen correction for non-exponential effort, and escalation by time limit
# from the tail of the waiting-time distribution. It is exact (up to the arithmetic) only in
# the reducible case of ``ladder_theory``; everywhere else it is a screen, and
# :attr:`Screen.approximations` says which of its assumptions are at work in the scenario.

_POOL_CACHE: dict[tuple, _PoolResult | None] = {}
_POOL_CACHE_SIZE = 200_000  # sizing screens thousands of staffings that share most pools
_QUADRATURE = 4000  # midpoints for numeric moments of a distribution
_DELAY_SAMPLES = 2000  # fixed-seed draws of the sum of party delays (deterministic)

SCREEN_KPIS: tuple[str, ...] = (
    "disputes",
    "minor_kept_in_village",
    "major_kept_in_township",
    *(f"resolved_share.{v}" for v in VENUES),
    "unresolved_share",
    "on_the_spot_share",
    "days_to_resolution.mean",
    "escalations_by_time_limit",
    *(f"utilization.{v}" for v in VENUES),
    *(f"waiting_days.{v}" for v in VENUES),
    "expert_cases_per_year",
    "annual_cost_yuan",
    "full_time_mediators",
)
"""KPIs the screen estimates; the others (p90 of days, petitions, …) it leaves to simulation."""


@dataclass
class Screen:
    """What :func:`screen` returns.

    ``pools`` has one row per mediator pool (venue, unit): staffing, arrivals per year, mean and
    squared CV of effort, utilisation, Erlang C probability of waiting, mean wait (days), the
    probability of escalation by time limit and the share of cases taken by full-time staff.
    ``kpis`` holds district-wide estimates under the names of
    :data:`sim.scenario.vocabulary.KPI_NAMES`. ``approximations`` lists the assumptions at work;
    empty means the screen is exact.
    """

    pools: pd.DataFrame
    kpis: dict[str, float]
    approximations: list[str] = field(default_factory=list)
    overloaded: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.approximations


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B): the overflow from ``servers`` preferred ones."""
    if servers <= 0:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


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


def screen_is_exact(scenario: Scenario) -> bool:
    """True when the screen's answers are exact: the reducible case of :func:`ladder_theory`."""
    return not _approximations(scenario)


def _approximations(sc: Scenario) -> list[str]:
    m = sc.mechanisms
    out: list[str] = []
    say = out.append
    if m.working_calendar:
        say("working calendars: capacity is hours_per_week/168 of a round-the-clock mediator")
    if m.sweeps and sc.discovery.sweep_share > 0:
        say("sweeps: waiting for a sweep enters days_to_resolution as its mean only")
    if m.party_delays and any(
        sc.ladder.level(lv).party_delay_days is not None and sc.ladder.level(lv).sessions > 1
        for lv in LEVELS
    ):
        say("sessions: a case's sessions are served as one job; party delays add to the time")
    if m.time_limits:
        say("time limits: escalation from the exponential tail of the wait (Allen–Cunneen scale)")
    if m.worsening and any(v > 0 for v in sc.worsening.rate_per_day.values()):
        say("worsening is ignored: every dispute keeps its initial severity")
    if m.overload and sc.overload.penalty_per_waiting_case > 0:
        say("overload: the penalty uses the mean queue length (Little's law)")
    if (m.seasonality and len(set(sc.arrivals.seasonality)) > 1) or (
        m.growth and sc.arrivals.growth_per_year != 0
    ):
        say("seasonality/growth: the yearly mean rate is used (peaks queue longer)")
    if m.petitions and sc.petitions is not None:
        say("petitions are ignored: no party leaves the ladder from impatience")
    if m.handover_delays or m.self_report_delays:
        say("hand-over and reporting delays enter days_to_resolution as their means only")
    if m.experts and sc.experts.members > 0:
        say("experts: waiting for an expert is ignored; their bonus is added to resolution")
    if m.joint_mediation and sc.district_centre.joint is not None:
        say("joint mediation: department staff are pooled as min(staff) servers")
    specs = [(lv, sc.ladder.level(lv)) for lv in LEVELS]
    if m.sector_committees:
        specs += [(f"sectors.{k}", c) for k, c in sc.sectors.items()]
    if m.stationed_rooms:
        specs += [(f"stationed_rooms.{k}", c) for k, c in sc.stationed_rooms.items()]
    if m.enterprise_committees and sc.enterprise.committees:
        specs.append(("enterprise", sc.enterprise))
    not_exp = [name for name, s in specs if not isinstance(s.effort_hours, Exponential)]
    if not_exp:
        say("effort not exponential (" + ", ".join(not_exp) + "): Allen–Cunneen correction")
    if m.effort_factors:
        say("effort factors: a pool's effort is a mixture of classes, served as one distribution")
    mixed = [name for name, s in specs if s.resolve.full_time != s.resolve.part_time]
    if mixed:
        say("full-/part-time resolve differ: share of full-time cases from Erlang B overflow")
    return out


def _calendar_fraction(sc: Scenario) -> tuple[float, float]:
    if not sc.mechanisms.working_calendar:
        return 1.0, 1.0
    cal = sc.calendars
    return cal.full_time.hours_per_week / 168.0, cal.part_time.hours_per_week / 168.0


@dataclass
class _PoolResult:
    row: dict
    p_resolve: np.ndarray  # by severity, after time limits and overload
    p_time_limit: float
    t_done: float  # days at the pool when it concludes there or fails
    t_limit: float  # days at the pool when the time limit passes


def _pool(
    sc: Scenario,
    spec,
    venue: str,
    unit: str,
    full_time: int,
    part_time: int,
    lam_cls: np.ndarray,
    cat_factor: np.ndarray,
    expert_here: bool,
    fractions: tuple[float, float],
) -> _PoolResult | None:
    """Stationary approximation of one pool fed by Poisson arrivals ``lam_cls`` (per day)."""
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
    f_ft, f_pt = fractions
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
        "unit": unit,
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
    return _PoolResult(row, p_resolve, p_tl, t_done, float(limit) if limit else t_done)


def _growth_mean(sc: Scenario) -> float:
    """Mean growth multiplier over the measurement window ((1 + g)^(t/365) averaged)."""
    g = sc.arrivals.growth_per_year
    if not sc.mechanisms.growth or g == 0:
        return 1.0
    lo, hi = sc.run.warmup_days / 365.0, (sc.run.warmup_days + sc.run.horizon_days) / 365.0
    k = math.log1p(g)
    return (math.exp(k * hi) - math.exp(k * lo)) / (k * (hi - lo))


def screen(scenario: Scenario) -> Screen:
    """Approximate the scenario as a feed-forward network of multi-server queues, in milliseconds.

    Disputes are followed as flows per (category, severity) class: enterprise committees, sweeps
    and on-the-spot settlement, direct reports by entry level and sector, then up the ladder
    grid → village → township → district centre (sector committee, joint mediation or the
    district committee), with hand-overs between. At each pool the flow's offered load gives
    Erlang C, Allen–Cunneen's correction ``(1 + cs²)/2`` gives the mean wait, and the tail
    ``C·exp(−t/θ)`` (θ the conditional mean wait) gives the chance that the time limit passes
    while the case waits or its parties are apart. Resolution mixes full- and part-time
    probabilities by the share of cases full-time mediators take (Erlang B overflow).
    """
    sc = scenario
    m = sc.mechanisms
    d = District.from_scenario(sc)
    cats = list(sc.categories.values())
    n_cat = len(cats)
    sev = np.array([sc.severity.minor, sc.severity.major, sc.severity.serious])
    cls = np.array([c.share for c in cats])[:, None] * sev[None, :]
    cat_factor = np.array([c.effort_factor for c in cats])
    rate = sc.population * sc.arrivals.rate_per_1000_per_year / 1000.0 / 365.0 * _growth_mean(sc)
    fractions = _calendar_fraction(sc)
    sensitive = np.array([c.sensitive_share for c in cats])
    ch = sc.channels
    handover = (
        (sensitive * ch.offline_delay_days.mean + (1 - sensitive) * ch.online_delay_days.mean)[
            :, None
        ]
        if m.handover_delays
        else np.zeros((n_cat, 1))
    )
    sectors = sc.sectors if m.sector_committees else {}
    sector_names = list(sectors)
    sector_of = [sector_names.index(c.sector) if c.sector in sectors else -1 for c in cats]
    committees = sc.enterprise.committees if m.enterprise_committees else {}
    rooms = sc.stationed_rooms if m.stationed_rooms else {}
    centre = sc.district_centre
    joint_on = m.joint_mediation and centre.joint is not None and len(centre.departments) >= 2
    expert_at = set(sc.experts.at) if (m.experts and sc.experts.members > 0) else set()

    n_units = {
        "grid": len(d.grid_names),
        "village": len(d.village_names),
        "township": len(d.township_names),
        "district": 1,
        "sector": len(sectors),
        "enterprise": len(committees),
        "stationed_room": len(rooms),
        "joint": 1 if joint_on else 0,
    }
    zero = np.zeros((n_cat, 3))
    mass = {v: np.zeros((n_units[v], n_cat, 3)) for v in VENUES}
    tmass = {v: np.zeros((n_units[v], n_cat, 3)) for v in VENUES}
    resolved = {v: zero.copy() for v in VENUES}
    resolved_t = {v: zero.copy() for v in VENUES}
    unresolved = zero.copy()
    on_spot = zero.copy()
    rows: list[dict] = []
    time_limit_escalations = [0.0]
    expert_cases = [0.0]
    required = np.array([sc.experts.required.of(s) for s in range(3)])

    context = (
        sc.mechanisms.model_dump_json()
        + sc.overload.model_dump_json()
        + sc.calendars.model_dump_json()
        + sc.experts.model_dump_json()
        + cat_factor.tobytes().hex()
    )
    spec_keys: dict[int, str] = {}

    def cached_pool(spec, venue, name, ft, pt, mm, here) -> _PoolResult | None:
        """Pools whose inputs did not change since an earlier screen are not recomputed."""
        if ft + pt == 0:
            return None
        if id(spec) not in spec_keys:
            spec_keys[id(spec)] = spec.model_dump_json()
        key = (context, spec_keys[id(spec)], venue, ft, pt, here, mm.tobytes())
        hit = _POOL_CACHE.get(key)
        if hit is None:
            if len(_POOL_CACHE) > _POOL_CACHE_SIZE:
                _POOL_CACHE.clear()
            hit = _pool(sc, spec, venue, "", ft, pt, mm, cat_factor, here, fractions)
            _POOL_CACHE[key] = hit
        row = dict(hit.row, unit=name)  # type: ignore[union-attr]
        return _PoolResult(row, hit.p_resolve, hit.p_time_limit, hit.t_done, hit.t_limit)  # type: ignore[union-attr]

    def serve(venue: str, j: int, spec, ft: int, pt: int, name: str, top: bool):
        """Serve the flow waiting at one unit; return the escalated flow (mass, time-mass)."""
        mm, tm = mass[venue][j], tmass[venue][j]
        here = venue in expert_at
        if here:
            expert_cases[0] += float((mm * required[None, :]).sum())
        r = cached_pool(spec, venue, name, ft, pt, mm, here)
        if r is None:
            if top:
                unresolved[:] += mm
                return zero, zero
            return mm, tm
        r.row["township"] = _township_of(d, venue, j)
        rows.append(r.row)
        pres = r.p_resolve[None, :]
        resolved[venue][:] += mm * pres
        p_fail = (1.0 - r.p_time_limit) - pres
        out_m = mm * (p_fail + r.p_time_limit)
        if math.isfinite(r.t_done) and math.isfinite(r.t_limit):
            done_t = tm + mm * r.t_done
            resolved_t[venue][:] += done_t * pres
            out_t = done_t * p_fail + (tm + mm * r.t_limit) * r.p_time_limit
            if top:
                unresolved[:] += out_m
                return zero, zero
            time_limit_escalations[0] += float(mm.sum()) * r.p_time_limit
            return out_m, out_t
        # An overloaded pool has infinite time on a branch of zero weight: 0 · ∞ counts as 0.
        with np.errstate(invalid="ignore"):
            done_t = np.nan_to_num(tm + mm * r.t_done, nan=0.0, posinf=np.inf)
            limit_t = np.nan_to_num(tm + mm * r.t_limit, nan=0.0, posinf=np.inf)
            resolved_t[venue][:] += np.nan_to_num(done_t * pres, nan=0.0, posinf=np.inf)
            out_t = np.nan_to_num(done_t * p_fail, nan=0.0, posinf=np.inf) + np.nan_to_num(
                limit_t * r.p_time_limit, nan=0.0, posinf=np.inf
            )
        if top:
            unresolved[:] += out_m
            return zero, zero
        time_limit_escalations[0] += float(mm.sum()) * r.p_time_limit
        return out_m, out_t

    # Enterprise committees first: their arrivals do not depend on the ladder.
    ent_share = np.array([c.enterprise_share for c in cats]) if committees else np.zeros(n_cat)
    ent_esc = zero.copy()  # escalated share of a unit of in-firm flow, by class
    ent_esc_t = zero.copy()
    if committees:
        weights = np.array([c.weight for c in committees.values()])
        weights = weights / weights.sum()
        unit_flow = cls * ent_share[:, None]
        for j, (name, c) in enumerate(committees.items()):
            mass["enterprise"][j] = rate * unit_flow * weights[j]
            out_m, out_t = serve(
                "enterprise", j, sc.enterprise, c.full_time, c.part_time, name, top=False
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                flow = rate * unit_flow
                ent_esc += np.where(flow > 0, out_m / flow, 0.0)
                ent_esc_t += np.where(flow > 0, out_t / flow, 0.0)

    disc = sc.discovery
    sweeping = m.sweeps and disc.sweep_share > 0
    sweep_wait = disc.sweep_interval_days * (
        0.5 + (1 - disc.detect_probability) / disc.detect_probability
    )
    spot_p = np.array([disc.on_the_spot.of(s) for s in range(3)]) if m.on_the_spot else np.zeros(3)
    report_delay = disc.self_report_delay_days.mean if m.self_report_delays else 0.0
    entry = disc.self_report_entry.as_tuple()
    centre_m, centre_t = zero.copy(), zero.copy()
    vshare = np.asarray(d.village_population) / sum(d.village_population)
    escalate_to = sc.enterprise.escalate_to
    # Flows into the first venues, for all villages at once (arrays village × category × sev).
    v_town = np.asarray(d.village_township)
    g_village = np.asarray(d.grid_village)
    per_grid = 1.0 / np.array([len(d.village_grids[v]) for v in g_village])[:, None, None]
    flow = rate * vshare[:, None, None] * cls[None] * (1 - ent_share)[None, :, None]
    if sweeping:
        swept = flow * disc.sweep_share
        spot = swept * spot_p[None, None, :]
        on_spot += spot.sum(axis=0)
        resolved["grid"] += spot.sum(axis=0)
        resolved_t["grid"] += spot.sum(axis=0) * sweep_wait
        left = (swept - spot)[g_village] * per_grid
        mass["grid"] += left
        tmass["grid"] += left * sweep_wait
        reported = flow * (1 - disc.sweep_share)
    else:
        reported = flow
    direct_share = np.array(
        [sectors[sector_names[s]].direct_share if s >= 0 else 0.0 for s in sector_of]
    )
    direct = reported * direct_share[None, :, None]
    for ci, s in enumerate(sector_of):
        if s >= 0:
            mass["sector"][s][ci] += direct[:, ci].sum(axis=0)
            tmass["sector"][s][ci] += direct[:, ci].sum(axis=0) * report_delay
    reported = reported - direct
    at_grid = reported[g_village] * per_grid * entry[0]
    mass["grid"] += at_grid
    tmass["grid"] += at_grid * report_delay
    mass["village"] += reported * entry[1]
    tmass["village"] += reported * entry[1] * report_delay
    np.add.at(mass["township"], v_town, reported * entry[2])
    np.add.at(tmass["township"], v_town, reported * entry[2] * report_delay)
    centre_m += reported.sum(axis=0) * entry[3]
    centre_t += reported.sum(axis=0) * entry[3] * report_delay
    if committees:
        in_firm = rate * vshare[:, None, None] * (cls * ent_share[:, None])[None]
        em = in_firm * ent_esc[None]
        et = in_firm * ent_esc_t[None] + em * handover[None]
        if escalate_to == "village":
            mass["village"] += em
            tmass["village"] += et
        elif escalate_to == "township":
            np.add.at(mass["township"], v_town, em)
            np.add.at(tmass["township"], v_town, et)
        else:
            centre_m += em.sum(axis=0)
            centre_t += et.sum(axis=0)

    ladder = sc.ladder
    for g, staff in enumerate(d.staffing["grid"]):
        out_m, out_t = serve(
            "grid", g, ladder.grid, staff.full_time, staff.part_time, d.grid_names[g], False
        )
        vi = d.grid_village[g]
        mass["village"][vi] += out_m
        tmass["village"][vi] += out_t + out_m * handover
    for vi, staff in enumerate(d.staffing["village"]):
        out_m, out_t = serve(
            "village", vi, ladder.village, staff.full_time, staff.part_time,
            d.village_names[vi], False,
        )  # fmt: skip
        ti = d.village_township[vi]
        mass["township"][ti] += out_m
        tmass["township"][ti] += out_t + out_m * handover
    summon = (
        np.array([centre.summon_probability.of(s) for s in range(3)])[None, :]
        if joint_on
        else np.zeros((1, 3))
    )
    for ti, staff in enumerate(d.staffing["township"]):
        out_m, out_t = serve(
            "township", ti, ladder.township, staff.full_time, staff.part_time,
            d.township_names[ti], False,
        )  # fmt: skip
        out_t = out_t + out_m * handover
        if joint_on:
            mass["joint"][0] += out_m * summon
            tmass["joint"][0] += out_t * summon
        centre_m += out_m * (1 - summon)
        centre_t += out_t * (1 - summon)
    joint_p = (
        np.array([centre.joint_share.of(s) for s in range(3)])[None, :]
        if joint_on
        else np.zeros((1, 3))
    )
    for ci, s in enumerate(sector_of):
        if s >= 0:
            mass["sector"][s][ci] += centre_m[ci]
            tmass["sector"][s][ci] += centre_t[ci]
            centre_m[ci] = 0.0
            centre_t[ci] = 0.0
    if joint_on:
        mass["joint"][0] += centre_m * joint_p
        tmass["joint"][0] += centre_t * joint_p
    mass["district"][0] += centre_m * (1 - joint_p)
    tmass["district"][0] += centre_t * (1 - joint_p)
    top = d.staffing["district"][0]
    serve("district", 0, ladder.district, top.full_time, top.part_time, "district", True)
    for s, (name, c) in enumerate(sectors.items()):
        serve("sector", s, c, c.full_time, c.part_time, name, True)
    if joint_on:
        staff = [dep.staff for dep in centre.departments.values()]
        serve("joint", 0, centre.joint, max(1, min(staff)), 0, "joint", True)
    for j, (name, r) in enumerate(rooms.items()):
        mass["stationed_room"][j] = r.referrals_per_year / 365.0 * cls
        serve("stationed_room", j, r, r.full_time, r.part_time, name, True)

    pools = pd.DataFrame(rows)
    kpis = _screen_kpis(sc, d, pools, rate, cls, resolved, resolved_t, unresolved, on_spot)
    kpis["escalations_by_time_limit"] = time_limit_escalations[0] * 365.0
    kpis["expert_cases_per_year"] = expert_cases[0] * 365.0
    kpis["annual_cost_yuan"] = _screen_cost(sc, d, resolved, expert_cases[0] * 365.0)
    overloaded = (
        [f"{r.venue} {r.unit}" for r in pools.itertuples() if r.utilization >= 1.0]
        if len(pools)
        else []
    )
    return Screen(pools, kpis, _approximations(sc), overloaded)


def _township_of(d: District, venue: str, j: int) -> str | None:
    if venue == "township":
        return d.township_names[j]
    if venue == "village":
        return d.township_names[d.village_township[j]]
    if venue == "grid":
        return d.township_names[d.village_township[d.grid_village[j]]]
    return None


def _screen_kpis(
    sc: Scenario,
    d: District,
    pools: pd.DataFrame,
    rate: float,
    cls: np.ndarray,
    resolved: dict[str, np.ndarray],
    resolved_t: dict[str, np.ndarray],
    unresolved: np.ndarray,
    on_spot: np.ndarray,
) -> dict[str, float]:
    out: dict[str, float] = {}
    out["disputes"] = rate * 365.0
    ladder_venues = [v for v in VENUES if v != "stationed_room"]
    minor, major = cls[:, 0].sum(), cls[:, 1:].sum()
    kept_v = sum(resolved[v][:, 0].sum() for v in ("grid", "village", "enterprise"))
    kept_t = sum(resolved[v][:, 1:].sum() for v in ("grid", "village", "enterprise", "township"))
    out["minor_kept_in_village"] = kept_v / (rate * minor) if minor > 0 else math.nan
    out["major_kept_in_township"] = kept_t / (rate * major) if major > 0 else math.nan
    for v in ladder_venues:
        out[f"resolved_share.{v}"] = resolved[v].sum() / rate if rate > 0 else math.nan
    rooms = pools[pools["venue"] == "stationed_room"] if len(pools) else pools
    if len(rooms) and rooms["arrivals_per_year"].sum() > 0:
        out["resolved_share.stationed_room"] = (
            resolved["stationed_room"].sum() * 365.0 / rooms["arrivals_per_year"].sum()
        )
    else:
        out["resolved_share.stationed_room"] = 0.0 if not len(rooms) else math.nan
    out["unresolved_share"] = unresolved.sum() / rate if rate > 0 else math.nan
    out["on_the_spot_share"] = on_spot.sum() / rate if rate > 0 else math.nan
    done = sum(resolved[v].sum() for v in ladder_venues)
    t = sum(resolved_t[v].sum() for v in ladder_venues)
    out["days_to_resolution.mean"] = t / done if done > 0 else math.nan
    for v in VENUES:
        here = pools[pools["venue"] == v] if len(pools) else pools
        cap = float(here["capacity_hours_per_year"].sum()) if len(here) else 0.0
        load = float((here["arrivals_per_year"] * here["effort_hours"]).sum()) if len(here) else 0
        out[f"utilization.{v}"] = load / cap if cap > 0 else math.nan
        lam = float(here["arrivals_per_year"].sum()) if len(here) else 0.0
        waits = here["waiting_days"].replace(math.inf, np.nan) if len(here) else None
        if lam > 0 and waits is not None:
            total = float((here["arrivals_per_year"] * here["waiting_days"]).sum())
            out[f"waiting_days.{v}"] = total / lam
        else:
            out[f"waiting_days.{v}"] = math.nan
    out["full_time_mediators"] = float(sum(_full_time_by_venue(sc, d).values()))
    return out


def _full_time_by_venue(sc: Scenario, d: District) -> dict[str, int]:
    m = sc.mechanisms
    out = d.full_time_mediators()
    out["sector"] = sum(c.full_time for c in sc.sectors.values()) if m.sector_committees else 0
    out["enterprise"] = (
        sum(c.full_time for c in sc.enterprise.committees.values())
        if m.enterprise_committees
        else 0
    )
    out["stationed_room"] = (
        sum(c.full_time for c in sc.stationed_rooms.values()) if m.stationed_rooms else 0
    )
    return out


def _screen_cost(
    sc: Scenario, d: District, resolved: dict[str, np.ndarray], expert_cases: float
) -> float:
    """Expected yearly cost by the rules of :func:`sim.measures.costs.cost_table`."""
    costs = sc.costs
    m = sc.mechanisms
    full = _full_time_by_venue(sc, d)
    part = d.part_time_mediators()
    part["sector"] = sum(c.part_time for c in sc.sectors.values()) if m.sector_committees else 0
    part["enterprise"] = (
        sum(c.part_time for c in sc.enterprise.committees.values())
        if m.enterprise_committees
        else 0
    )
    part["stationed_room"] = (
        sum(c.part_time for c in sc.stationed_rooms.values()) if m.stationed_rooms else 0
    )
    total = 0.0
    for v in VENUES:
        if v == "joint":
            continue
        total += full[v] * costs.full_time_salary_yuan.of(v)
        total += part[v] * costs.part_time_allowance_yuan.of(v)
    grade = costs.grades.mean_multiplier
    for v in VENUES:
        total += resolved[v].sum() * 365.0 * costs.case_reward_yuan.of(v) * grade
    total += expert_cases * sc.experts.fee_per_case_yuan
    return total + costs.purchased_services_yuan + costs.gold_mediator_awards_yuan
