"""The ladder model (三级四步) in SimPy: one process per dispute, one resource per mediator pool.

A dispute arises in a grid, is found by the weekly sweep (排查) or reported directly, may be
settled on the spot (当场调处), and otherwise climbs grid → village → township → district until
it is resolved or fails at the top. At each level it queues for a mediator of that unit, gets
``sessions`` sessions of effort in the mediator's working hours with elapsed time for the parties
between them, and escalates when mediation fails or the level's time limit passes.

All randomness comes from named streams (:mod:`sim.streams`); most of it is carried by the case
as a row of uniforms drawn at its arrival, so that variants of a scenario run with the same seed
see the same disputes (common random numbers).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import simpy

from .calendar import WorkingCalendar
from .district import District
from .initial_state import open_cases
from .scenario import Level, Scenario
from .streams import UniformRows, Uniforms, stream
from .vocabulary import LEVELS, OUTCOMES

__all__ = ["Replication", "simulate_replication"]

GRID, VILLAGE, TOWNSHIP, DISTRICT = range(4)
N_LEVELS = len(LEVELS)
OUT = {name: i for i, name in enumerate(OUTCOMES)}
CHANNELS = ("sweep", "self_report", "online", "offline", "initial", "direct")
CH = {name: i for i, name in enumerate(CHANNELS)}
STATUSES = ("resolved", "unresolved", "open", "pending")
ST = {name: i for i, name in enumerate(STATUSES)}

# Layout of the row of uniforms each case carries (stream "case"). Append only: a new
# mechanism takes a new stream instead, so that existing numbers never move.
U_VILLAGE, U_GRID, U_CATEGORY, U_SEVERITY, U_CHANNEL, U_SENSITIVE = range(6)
U_DETECT, U_ON_THE_SPOT, U_REPORT_DELAY, U_ENTRY, U_WORSEN_1, U_WORSEN_2 = range(6, 12)
U_LEVEL_BASE = 12  # then per level: effort, outcome, hand-over delay
U_EFFORT, U_OUTCOME, U_HANDOVER = range(3)
U_WIDTH = U_LEVEL_BASE + 3 * N_LEVELS


@dataclass
class Replication:
    """Raw output of one replication: tables as numpy-backed record lists, plus gauges."""

    scenario: Scenario
    district: District
    replication: int
    seed: int
    window: tuple[float, float]  # measurement window [warm-up end, arrivals end)
    end_time: float
    cases: list[tuple]
    steps: list[tuple]
    timeseries: list[tuple]
    areas: dict[str, dict[str, float]]  # per level: present/waiting/busy area over the window
    areas_total: dict[str, float]  # per level: present area over the whole run
    effort_hours: list[float]  # per level, sessions started in the window
    available_hours: list[float]  # per level, mediator working hours in the window
    events: int


class _Gauge:
    """A count that changes over time and its time integral."""

    __slots__ = ("area", "last", "value")

    def __init__(self) -> None:
        self.value = 0
        self.area = 0.0
        self.last = 0.0

    def change(self, now: float, delta: int) -> None:
        self.area += self.value * (now - self.last)
        self.last = now
        self.value += delta

    def integral(self, now: float) -> float:
        return self.area + self.value * (now - self.last)


class _Pool:
    """Mediators of one unit; full-time mediators are given the next case first."""

    __slots__ = ("free", "resource", "servers")

    def __init__(self, env: simpy.Environment, full_time: int, part_time: int):
        self.resource = simpy.PriorityResource(env, capacity=full_time + part_time)
        self.free = [full_time, part_time]
        self.servers = full_time + part_time

    def take(self) -> int:
        kind = 0 if self.free[0] > 0 else 1
        self.free[kind] -= 1
        return kind

    def give_back(self, kind: int) -> None:
        self.free[kind] += 1


class _Case:
    """State of one dispute; behaviour lives in the model."""

    __slots__ = (
        "arisen",
        "category",
        "grid",
        "id",
        "initial",
        "level",
        "neglect",
        "sensitive",
        "severity",
        "severity0",
        "step",
        "step_info",
        "u",
        "worsen_at",
    )

    def __init__(self, cid: int, arisen: float, grid: int, category: int, severity: int):
        self.id = cid
        self.arisen = arisen
        self.grid = grid
        self.category = category
        self.severity = severity
        self.severity0 = severity
        self.sensitive = False
        self.initial = False
        self.neglect = 0.0
        self.worsen_at: list[float] = []
        self.level = -1  # level it is at now, -1 while in transit or undiscovered
        self.step = 0
        self.step_info: list = []
        self.u: list[float] = []


class _Model:
    def __init__(self, scenario: Scenario, replication: int, seed: int):
        self.sc = scenario
        self.mech = scenario.mechanisms
        self.district = District.from_scenario(scenario)
        self.env = simpy.Environment()
        self.seed = seed
        self.replication = replication
        run = scenario.run
        self.window = (run.warmup_days, run.warmup_days + run.horizon_days)
        self.end_time = self.window[1] + (run.drain_limit_days if run.drain else 0.0)

        self.case_rows = UniformRows(stream(seed, replication, "case"), U_WIDTH)
        self.arrival_u = Uniforms(stream(seed, replication, "arrivals"))
        self.session_u = Uniforms(stream(seed, replication, "party_delay"))
        self.initial_rows = UniformRows(stream(seed, replication, "initial_state"), U_WIDTH)

        self.levels: list[Level] = [scenario.ladder.level(lv) for lv in LEVELS]
        weekday = run.start_date.weekday()
        cals = scenario.calendars
        if self.mech.working_calendar:
            self.calendars = [
                WorkingCalendar(cals.full_time, weekday),
                WorkingCalendar(cals.part_time, weekday),
            ]
        else:
            self.calendars = [WorkingCalendar.round_the_clock()] * 2
        self.pools: list[list[_Pool | None]] = []
        for lv in LEVELS:
            self.pools.append(
                [
                    _Pool(self.env, s.full_time, s.part_time) if s.number_of_servers > 0 else None
                    for s in self.district.staffing[lv]
                ]
            )
        self.present = [_Gauge() for _ in LEVELS]
        self.waiting = [_Gauge() for _ in LEVELS]
        self.busy = [_Gauge() for _ in LEVELS]
        self.effort_in_window = [0.0] * N_LEVELS
        self.snapshots: dict[str, list[list[float]]] = {}

        self._prepare_sampling_tables()
        self.cases: list[tuple] = []
        self.steps: list[tuple] = []
        self.series: list[tuple] = []
        self.active: dict[int, _Case] = {}
        self.next_id = 0

    # ----------------------------------------------------------------- set-up helpers
    def _prepare_sampling_tables(self) -> None:
        sc, d = self.sc, self.district
        pops = np.asarray(d.village_population, dtype=float)
        self.village_cum = (np.cumsum(pops) / pops.sum()).tolist()
        self.category_names = list(sc.categories)
        shares = np.array([c.share for c in sc.categories.values()])
        self.category_cum = (np.cumsum(shares) / shares.sum()).tolist()
        sev = sc.severity
        self.severity_cum = np.cumsum([sev.minor, sev.major, sev.serious]).tolist()
        self.sensitive_share = [c.sensitive_share for c in sc.categories.values()]
        self.effort_factor = [c.effort_factor for c in sc.categories.values()]
        self.entry_cum = np.cumsum(sc.discovery.self_report_entry.as_tuple()).tolist()

        days = math.ceil(self.end_time) + 2
        start = sc.run.start_date
        months = [(start + dt.timedelta(days=k)).month - 1 for k in range(days)]
        season = np.asarray(sc.arrivals.seasonality, dtype=float)
        season = season / season.mean() if self.mech.seasonality else np.ones(12)
        self.day_multiplier = [float(season[m]) for m in months]
        self.growth = sc.arrivals.growth_per_year if self.mech.growth else 0.0
        self.base_rate = sc.population * sc.arrivals.rate_per_1000_per_year / 1000.0 / 365.0

        # Sweep schedule: each grid is swept every interval days from its own offset, so no
        # process is needed per grid (the next sweep after t is computed when needed).
        interval = sc.discovery.sweep_interval_days
        rng = stream(self.seed, self.replication, "sweep_schedule")
        self.sweep_offset = (rng.random(len(d.grid_names)) * interval).tolist()
        self.sweep_interval = interval

    def _rate_multiplier(self, t: float) -> float:
        m = self.day_multiplier[int(t)]
        if self.growth:
            m *= (1.0 + self.growth) ** (t / 365.0)
        return m

    # ----------------------------------------------------------------- processes
    def arrivals(self):
        """Non-homogeneous Poisson arrivals over the district, by thinning."""
        env = self.env
        stop = self.window[1]
        if self.base_rate <= 0:
            return
        growth_max = (1.0 + self.growth) ** (stop / 365.0) if self.growth > 0 else 1.0
        rate_max = self.base_rate * max(self.day_multiplier) * growth_max
        t = 0.0
        u = self.arrival_u
        while True:
            t += -math.log1p(-u.next()) / rate_max
            if t >= stop:
                return
            accept = u.next()
            if accept * rate_max > self.base_rate * self._rate_multiplier(t):
                continue
            yield env.timeout(t - env.now)
            self._new_case(t)

    def _new_case(self, t: float) -> None:
        row = self.case_rows.next()
        d = self.district
        village = bisect.bisect_right(self.village_cum, row[U_VILLAGE])
        village = min(village, len(d.village_grids) - 1)
        grids = d.village_grids[village]
        grid = grids[min(int(row[U_GRID] * len(grids)), len(grids) - 1)]
        category = min(
            bisect.bisect_right(self.category_cum, row[U_CATEGORY]), len(self.category_cum) - 1
        )
        severity = min(bisect.bisect_right(self.severity_cum, row[U_SEVERITY]), 2)
        case = _Case(self.next_id, t, grid, category, severity)
        self.next_id += 1
        case.u = row
        case.sensitive = row[U_SENSITIVE] < self.sensitive_share[category]
        self._set_worsening(case)
        self.active[case.id] = case
        self.env.process(self.journey(case))

    def _set_worsening(self, case: _Case) -> None:
        if not self.mech.worsening:
            return
        rates = self.sc.worsening.rate_per_day
        at = 0.0
        for sev, ui in ((0, U_WORSEN_1), (1, U_WORSEN_2)):
            if case.severity > sev:
                continue
            r = rates.get("minor" if sev == 0 else "major", 0.0)
            if r <= 0:
                break
            at += -math.log1p(-case.u[ui]) / r
            case.worsen_at.append(at)

    def _neglect(self, case: _Case, days: float) -> None:
        """Time left unattended; a dispute may worsen one step per threshold passed."""
        case.neglect += days
        while case.worsen_at and case.neglect >= case.worsen_at[0]:
            case.worsen_at.pop(0)
            if case.severity < 2:
                case.severity += 1

    def journey(self, case: _Case):
        env, sc, mech = self.env, self.sc, self.mech
        u = case.u
        disc = sc.discovery
        if mech.sweeps and u[U_CHANNEL] < disc.sweep_share:
            channel = CH["sweep"]
            t0 = env.now
            k = math.floor((t0 - self.sweep_offset[case.grid]) / self.sweep_interval) + 1
            found = self.sweep_offset[case.grid] + k * self.sweep_interval
            if disc.detect_probability < 1.0:
                misses = math.floor(math.log1p(-u[U_DETECT]) / math.log1p(-disc.detect_probability))
                found += misses * self.sweep_interval
            yield env.timeout(found - t0)
            self._neglect(case, found - t0)
            if mech.on_the_spot and u[U_ON_THE_SPOT] < disc.on_the_spot.of(case.severity):
                self._record_step(
                    case, GRID, channel, env.now, env.now, env.now, "resolved_on_the_spot", -1, 0.0
                )
                self._conclude(case, "resolved")
                return
            level = GRID
        else:
            channel = CH["self_report"] if mech.sweeps or disc.sweep_share < 1 else CH["direct"]
            if mech.self_report_delays:
                delay = disc.self_report_delay_days.ppf(u[U_REPORT_DELAY])
                yield env.timeout(delay)
                self._neglect(case, delay)
            level = min(bisect.bisect_right(self.entry_cum, u[U_ENTRY]), DISTRICT)
        yield from self._climb(case, level, channel)

    def _climb(self, case: _Case, level: int, channel: int):
        """Mediate at ``level`` and above until resolved or failed at the top."""
        env = self.env
        while True:
            outcome = yield from self._mediate(case, level, channel)
            if outcome in ("resolved", "resolved_on_the_spot"):
                self._conclude(case, "resolved")
                return
            if level == DISTRICT:
                self._conclude(case, "unresolved")
                return
            channel = CH["offline"] if case.sensitive else CH["online"]
            if self.mech.handover_delays:
                ch = self.sc.channels
                dist = ch.offline_delay_days if case.sensitive else ch.online_delay_days
                delay = dist.ppf(case.u[U_LEVEL_BASE + 3 * level + U_HANDOVER])
                if delay > 0:
                    yield env.timeout(delay)
                    self._neglect(case, delay)
            level += 1

    def _mediate(self, case: _Case, level: int, channel: int):
        """One step at one level; returns its outcome name."""
        env = self.env
        unit = self.district.unit_of(LEVELS[level], case.grid)
        pool = self.pools[level][unit]
        entered = env.now
        if pool is None:
            self._record_step(
                case, level, channel, entered, math.nan, entered, "escalated_no_mediator", -1, 0.0
            )
            return "escalated_no_mediator"
        spec = self.levels[level]
        mech = self.mech
        limit = spec.time_limit_days if mech.time_limits else None
        deadline = entered + limit if limit is not None else math.inf
        severity_entered = case.severity
        effort = spec.effort_hours.ppf(case.u[U_LEVEL_BASE + 3 * level + U_EFFORT])
        if mech.effort_factors:
            effort *= self.effort_factor[case.category] * spec.severity_effort.of(case.severity)
        sessions = spec.sessions if (mech.party_delays and spec.party_delay_days) else 1
        per_session = effort / sessions

        present, waiting, busy = self.present[level], self.waiting[level], self.busy[level]
        present.change(entered, +1)
        case.level = level
        case.step_info = [level, channel, entered, math.nan, severity_entered, effort]
        started = math.nan
        first_kind = -1
        in_window = self.window[0] <= entered < self.window[1]
        for s in range(sessions):
            req = pool.resource.request(priority=1 if s == 0 else 0)
            waiting.change(env.now, +1)
            queued = env.now
            if deadline < math.inf:
                yield req | env.timeout(max(deadline - env.now, 0.0))
                if not req.triggered:
                    req.cancel()
                    waiting.change(env.now, -1)
                    if s == 0:
                        self._neglect(case, env.now - queued)
                    present.change(env.now, -1)
                    outcome = self._over_time(level)
                    self._record_step(
                        case,
                        level,
                        channel,
                        entered,
                        started,
                        env.now,
                        outcome,
                        first_kind,
                        effort if s else 0.0,
                    )
                    return outcome
            else:
                yield req
            now = env.now
            waiting.change(now, -1)
            busy.change(now, +1)
            if s == 0:
                started = now
                case.step_info[3] = now
                self._neglect(case, now - queued)
            kind = pool.take()
            if s == 0:
                first_kind = kind  # the mediator who takes the case answers for it
            if in_window:
                self.effort_in_window[level] += per_session
            hold = self.calendars[kind].finish(now, per_session) - now
            yield env.timeout(hold)
            pool.give_back(kind)
            pool.resource.release(req)
            busy.change(env.now, -1)
            if s < sessions - 1:
                gap = spec.party_delay_days.ppf(self.session_u.next())  # type: ignore[union-attr]
                if env.now + gap >= deadline:
                    # The parties are still apart when the time limit passes.
                    yield env.timeout(max(deadline - env.now, 0.0))
                    present.change(env.now, -1)
                    outcome = self._over_time(level)
                    self._record_step(
                        case, level, channel, entered, started, env.now, outcome, first_kind, effort
                    )
                    return outcome
                yield env.timeout(gap)

        resolve = spec.resolve.full_time if first_kind == 0 else spec.resolve.part_time
        p = resolve.of(case.severity)
        if mech.overload and self.sc.overload.penalty_per_waiting_case > 0:
            ov = self.sc.overload
            per_mediator = len(pool.resource.queue) / pool.servers
            p *= max(ov.floor, 1.0 - ov.penalty_per_waiting_case * per_mediator)
        outcome = (
            "resolved" if case.u[U_LEVEL_BASE + 3 * level + U_OUTCOME] < p else "escalated_failed"
        )
        if outcome != "resolved" and level == DISTRICT:
            outcome = "unresolved"
        present.change(env.now, -1)
        self._record_step(
            case, level, channel, entered, started, env.now, outcome, first_kind, effort
        )
        return outcome

    @staticmethod
    def _over_time(level: int) -> str:
        # Past the time limit a case goes up; at the top there is no level left to take it.
        return "unresolved" if level == DISTRICT else "escalated_time_limit"

    # ----------------------------------------------------------------- records
    def _record_step(self, case, level, channel, entered, started, ended, outcome, kind, effort):
        self.steps.append(
            (
                case.id,
                case.step,
                level,
                channel,
                entered,
                started,
                ended,
                OUT[outcome],
                kind,
                effort,
                case.step_info[4] if case.step_info else case.severity,
                case.severity,
            )
        )
        case.step += 1
        case.level = -1
        case.step_info = []

    def _conclude(self, case: _Case, status: str) -> None:
        del self.active[case.id]
        self._record_case(case, ST[status], self.env.now)

    def _record_case(self, case: _Case, status: int, concluded: float) -> None:
        self.cases.append(
            (
                case.id,
                case.arisen,
                case.grid,
                case.category,
                case.severity0,
                case.severity,
                case.sensitive,
                case.initial,
                status,
                concluded,
                case.step,
            )
        )

    def sampler(self):
        """Per-level queue length, busy mediators and cases present, every sample interval."""
        env = self.env
        dt_ = self.sc.run.sample_interval_days
        while env.now <= self.window[1]:
            now = env.now
            for lv in range(N_LEVELS):
                self.series.append(
                    (now, lv, self.present[lv].value, self.waiting[lv].value, self.busy[lv].value)
                )
            yield env.timeout(dt_)

    def snapshot(self, at: float, name: str):
        yield self.env.timeout(at)
        now = self.env.now
        self.snapshots[name] = [
            [g[lv].integral(now) for lv in range(N_LEVELS)]
            for g in (self.present, self.waiting, self.busy)
        ]

    def seed_initial_state(self) -> None:
        d = self.district
        for oc in open_cases(self.sc):
            level = LEVELS.index(oc.level)
            if oc.township is not None:
                ti = next(
                    i for i, t in enumerate(self.sc.townships) if oc.township in (t.name, t.pinyin)
                )
                villages = [vi for vi, tj in enumerate(d.village_township) if tj == ti]
            else:
                villages = list(range(len(d.village_names)))
            if oc.village is not None:
                villages = [d.village_names.index(oc.village)]
            for k in range(oc.count):
                row = self.initial_rows.next()
                village = villages[k % len(villages)]
                grids = d.village_grids[village]
                grid = grids[k // len(villages) % len(grids)]
                category = (
                    self.category_names.index(oc.category)
                    if oc.category is not None
                    else min(
                        bisect.bisect_right(self.category_cum, row[U_CATEGORY]),
                        len(self.category_cum) - 1,
                    )
                )
                case = _Case(
                    self.next_id,
                    0.0,
                    grid,
                    category,
                    ("minor", "major", "serious").index(oc.severity),
                )
                self.next_id += 1
                case.u = row
                case.initial = True
                case.sensitive = row[U_SENSITIVE] < self.sensitive_share[category]
                self._set_worsening(case)
                self.active[case.id] = case
                self.env.process(self._climb(case, level, CH["initial"]))

    def run(self) -> Replication:
        env = self.env
        self.seed_initial_state()
        env.process(self.arrivals())
        env.process(self.sampler())
        env.process(self.snapshot(self.window[0], "start"))
        env.process(self.snapshot(self.window[1], "end"))
        events = 0
        # Count events as we go: cheap and lets the benchmark report events per dispute.
        step = env.step
        end = self.end_time
        try:
            while env.peek() <= end:
                step()
                events += 1
        except simpy.core.EmptySchedule:
            pass
        finish = min(env.now, end) if env.peek() == math.inf else end
        for case in list(self.active.values()):
            if case.level >= 0:
                lv, ch, entered, started, sev_in, effort = case.step_info
                self.steps.append(
                    (
                        case.id,
                        case.step,
                        lv,
                        ch,
                        entered,
                        started,
                        math.nan,
                        OUT["open"],
                        -1,
                        effort,
                        sev_in,
                        case.severity,
                    )
                )
                self._record_case(case, ST["open"], math.nan)
            else:
                self._record_case(case, ST["pending"], math.nan)
        return self._result(finish, events)

    def _result(self, finish: float, events: int) -> Replication:
        start, end = self.snapshots["start"], self.snapshots["end"]
        areas = {
            lv: {
                name: end[gi][li] - start[gi][li]
                for gi, name in enumerate(("present", "waiting", "busy"))
            }
            for li, lv in enumerate(LEVELS)
        }
        areas_total = {lv: self.present[li].integral(finish) for li, lv in enumerate(LEVELS)}
        span_weeks = (self.window[1] - self.window[0]) / 7.0
        available = []
        for lv in LEVELS:
            hours = 0.0
            for s in self.district.staffing[lv]:
                hours += s.full_time * self.calendars[0].hours_per_week
                hours += s.part_time * self.calendars[1].hours_per_week
            available.append(hours * span_weeks)
        return Replication(
            scenario=self.sc,
            district=self.district,
            replication=self.replication,
            seed=self.seed,
            window=self.window,
            end_time=finish,
            cases=self.cases,
            steps=self.steps,
            timeseries=self.series,
            areas=areas,
            areas_total=areas_total,
            effort_hours=self.effort_in_window,
            available_hours=available,
            events=events,
        )


def simulate_replication(
    scenario: Scenario, replication: int = 0, seed: int | None = None
) -> Replication:
    """Run one replication of ``scenario``; ``seed`` defaults to the scenario's own."""
    seed = scenario.run.seed if seed is None else seed
    return _Model(scenario, replication, seed).run()
