"""Queueing theory for the ladder: exact where it is, a screen everywhere else.

With every behavioural mechanism off (see docs/model.md) and exponential effort, each pool is an
M/M/c queue in an open multi-class network with product form (BCMP, FCFS, class-independent
exponential service), so :func:`ladder_theory` is exact. With mechanisms on, :func:`screen`
approximates the scenario as a network of multi-server queues (the flows of
:mod:`sim.sizing.flows`, each pool by :func:`sim.sizing.queueing.approximate_pool`) and says
which of its assumptions are at work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.scenario.distributions import Exponential
from sim.scenario.district import District
from sim.scenario.schema import Enterprise, Level, Scenario
from sim.scenario.vocabulary import LEVELS, VENUES
from sim.sizing.flows import DisputeFlows, PoolCache
from sim.sizing.queueing import mmc_waiting_time

__all__ = [
    "SCREEN_KPIS",
    "PoolTheory",
    "Screen",
    "ladder_theory",
    "screen",
    "screen_is_exact",
]


@dataclass(frozen=True)
class PoolTheory:
    """Erlang C figures of one mediator pool of the ladder (one unit of a level)."""

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
    rate = scenario.arrivals.rate_per_1000_per_year
    base = scenario.arrival_population * rate / 1000.0 / 365.0
    pops = np.asarray(d.village_weight) / sum(d.village_weight)
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
        """True when the screen used no approximation (its figures are Erlang C exact)."""
        return not self.approximations


def screen_is_exact(scenario: Scenario) -> bool:
    """True when the screen's answers are exact: the reducible case of :func:`ladder_theory`."""
    return not _approximations(scenario)


_UNFOLLOWED = (
    "discovery_race",
    "entry_choice",
    "quality",
    "assign_down",
    "township_centres",
    "petition_agent_effect",
    "petition_history",
    "petition_mediation",
    "leader_visits",
    "court_linkage",
    "cross_village_routing",
    "major_difficult_to_district",
    "special_teams",
)
"""Switches of [mechanisms] whose effect :class:`~sim.sizing.flows.DisputeFlows` leaves out."""


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
    cal = sc.calendars
    if m.mediator_time and (
        min(cal.full_time.mediation_share, cal.part_time.mediation_share) < 1
        or any(sc.ladder.level(lv).travel_hours > 0 for lv in LEVELS)
        or sc.discovery.sweep_hours_per_grid > 0
    ):
        say("mediator time: mediation shares, travel and sweep hours are ignored")
    # Mechanisms the flows do not follow at all (simulation only); the screen says so rather
    # than claim to be exact when one of them is on.
    unfollowed = [name for name in _UNFOLLOWED if getattr(m, name)]
    if unfollowed:
        say("not in the screen (simulation only): mechanisms." + ", ".join(unfollowed))
    specs: list[tuple[str, Level | Enterprise]] = [(lv, sc.ladder.level(lv)) for lv in LEVELS]
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


def screen(scenario: Scenario, cache: PoolCache | None = None) -> Screen:
    """Approximate the scenario as a feed-forward network of multi-server queues, in milliseconds.

    Disputes are followed as flows per (category, severity) class: enterprise committees, sweeps
    and on-the-spot settlement, direct reports by entry level and sector, then up the ladder
    grid → village → township → district centre (sector committee, joint mediation or the
    district committee), with hand-overs between. At each pool the flow's offered load gives
    Erlang C, Allen–Cunneen's correction ``(1 + cs²)/2`` gives the mean wait, and the tail
    ``C·exp(−t/θ)`` (θ the conditional mean wait) gives the chance that the time limit passes
    while the case waits or its parties are apart. Resolution mixes full- and part-time
    probabilities by the share of cases full-time mediators take (Erlang B overflow).

    ``cache`` keeps the pools already approximated; pass one to screen many staffings of a
    scenario (as sizing does). The answers are the same with or without it.
    """
    sc = scenario
    flows = DisputeFlows(sc, cache if cache is not None else PoolCache()).follow()
    d = flows.district
    pools = pd.DataFrame(flows.rows)
    kpis = _screen_kpis(
        sc,
        d,
        pools,
        flows.rate,
        flows.classes,
        flows.resolved,
        flows.resolved_time,
        flows.unresolved,
        flows.on_the_spot,
    )
    kpis["escalations_by_time_limit"] = flows.time_limit_escalations * 365.0
    kpis["expert_cases_per_year"] = flows.expert_cases * 365.0
    kpis["annual_cost_yuan"] = _screen_cost(sc, d, flows.resolved, flows.expert_cases * 365.0)
    overloaded = (
        [f"{r.venue} {r.unit}" for r in pools.itertuples() if r.utilization >= 1.0]
        if len(pools)
        else []
    )
    return Screen(pools, kpis, _approximations(sc), overloaded)


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
        if v in ("joint", "township_joint"):  # department staff, paid by their departments
            continue
        total += full[v] * costs.full_time_salary_yuan.of(v)
        total += part[v] * costs.part_time_allowance_yuan.of(v)
    grade = costs.grades.mean_multiplier
    for v in VENUES:
        total += resolved[v].sum() * 365.0 * costs.case_reward_yuan.of(v) * grade
    total += expert_cases * sc.experts.fee_per_case_yuan
    return total + costs.purchased_services_yuan + costs.gold_mediator_awards_yuan
