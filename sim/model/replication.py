"""The mediation model (大调解) in SimPy: one process per dispute, one resource per mediator pool.

A dispute arises in a grid, is found by the weekly sweep (排查) or reported directly, may be
settled on the spot (当场调处), and otherwise climbs grid → village → township → district
(三级四步) until it is resolved or fails at the top. At each level it queues for a mediator of
that unit, gets ``sessions`` sessions of effort in the mediator's working hours with elapsed time
for the parties between them, and escalates when mediation fails or the level's time limit
passes. Around the ladder (each switchable in ``mechanisms``): enterprise committees take
disputes inside firms; the district centre sends sector disputes to their sector committee and
hard ones to joint mediation by several departments at once; stationed rooms take court
referrals; experts join major cases; a party whose patience runs out petitions (信访), and
petitions unresolved in time become backlog cases (积案) that district leaders take (包案).

All randomness comes from named streams (:mod:`sim.model.streams`); most of it is carried by the
case as rows of uniforms drawn at its arrival, so that variants of a scenario run with the same seed
see the same disputes (common random numbers).
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import heapq
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

from sim.model.initial_state import open_cases
from sim.model.records import CHUNK_ROWS, RecordLog
from sim.model.streams import UniformRows, Uniforms, stream
from sim.scenario.calendar import WorkingCalendar
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS, OUTCOMES, VENUES

__all__ = [
    "CASE_FIELDS",
    "CHANNELS",
    "ORIGINS",
    "PETITION_FIELDS",
    "PETITION_OUTCOMES",
    "SAMPLE_FIELDS",
    "STATUSES",
    "STEP_FIELDS",
    "Replication",
    "simulate_replication",
]

GRID, VILLAGE, TOWNSHIP, DISTRICT, SECTOR, ENTERPRISE, ROOM, JOINT = range(8)
N_LEVELS = len(LEVELS)
N_VENUES = len(VENUES)
OUT = {name: i for i, name in enumerate(OUTCOMES)}
CHANNELS = (
    "sweep",
    "self_report",
    "online",
    "offline",
    "initial",
    "direct",
    "in_firm",
    "referral",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
CH_ONLINE, CH_OFFLINE = CH["online"], CH["offline"]
STATUSES = ("resolved", "unresolved", "open", "pending", "petitioned")
ST = {name: i for i, name in enumerate(STATUSES)}
ORIGINS = ("ladder", "court_referral")
PETITION_OUTCOMES = ("closed", "closed_by_hearing", "open")
RESOLVED = ("resolved", "resolved_on_the_spot")

# The records the model makes, field by field with their types (sim.model.records.RecordLog).
# Codes index the tuples above and in sim.vocabulary; -1 means none, NaN not (yet) happened.
STEP_FIELDS = (
    ("case_id", "int64"), ("step", "int32"), ("level_i", "int8"), ("unit_i", "int32"),
    ("channel_i", "int8"), ("entered", "float64"), ("started", "float64"),
    ("ended", "float64"), ("outcome_i", "int8"), ("kind_i", "int8"),
    ("effort_hours", "float64"), ("severity_entered_i", "int8"), ("severity_i", "int8"),
    ("expert", "bool"),
)  # fmt: skip
CASE_FIELDS = (
    ("case_id", "int64"), ("arisen", "float64"), ("grid_i", "int32"), ("category_i", "int16"),
    ("severity_initial_i", "int8"), ("severity_i", "int8"), ("sensitive", "bool"),
    ("initial", "bool"), ("status_i", "int8"), ("concluded", "float64"), ("steps", "int32"),
    ("origin_i", "int8"),
)  # fmt: skip
PETITION_FIELDS = (
    ("petition_id", "int64"), ("case_id", "int64"), ("filed", "float64"), ("level_i", "int8"),
    ("skip_level", "bool"), ("repeat", "bool"), ("backlog_entered", "float64"),
    ("closed", "float64"), ("outcome_i", "int8"),
)  # fmt: skip
SAMPLE_FIELDS = (
    ("time", "float64"), ("level_i", "int8"), ("present", "int32"), ("waiting", "int32"),
    ("busy", "int32"),
)  # fmt: skip

# Layout of the row of uniforms each case carries (stream "case"). Append only: a new
# mechanism takes a new stream instead, so that existing numbers never move.
U_VILLAGE, U_GRID, U_CATEGORY, U_SEVERITY, U_CHANNEL, U_SENSITIVE = range(6)
U_DETECT, U_ON_THE_SPOT, U_REPORT_DELAY, U_ENTRY, U_WORSEN_1, U_WORSEN_2 = range(6, 12)
U_LEVEL_BASE = 12  # then per level: effort, outcome, hand-over delay
U_EFFORT, U_OUTCOME, U_HANDOVER = range(3)
U_WIDTH = U_LEVEL_BASE + 3 * N_LEVELS

# Second row (stream "policy"): the mechanisms of issue 3 around the ladder.
P_SECTOR_DIRECT, P_ENTERPRISE, P_ENTERPRISE_PICK, P_JOINT, P_SUMMON = range(5)
P_DEPARTMENTS = 5  # three uniforms to pick departments
P_PATIENCE, P_SKIP, P_PETITION_TIME, P_PETITION_OUTCOME, P_HEARING = range(8, 13)
P_REPEAT, P_REPEAT_DELAY, P_EXPERT = range(13, 16)
P_VENUE_BASE = 16  # then per venue sector, enterprise, stationed room, joint: effort, outcome
P_WIDTH = P_VENUE_BASE + 2 * 4


@dataclass
class Replication:
    """Raw output of one replication: record lists and gauges, turned into tables elsewhere."""

    scenario: Scenario
    district: District
    replication: int
    seed: int
    window: tuple[float, float]  # measurement window [warm-up end, arrivals end)
    end_time: float
    cases: RecordLog  # CASE_FIELDS, one row per dispute
    steps: RecordLog  # STEP_FIELDS, one row per step (the register, raw)
    petitions: RecordLog  # PETITION_FIELDS
    timeseries: RecordLog  # SAMPLE_FIELDS, per venue every sample interval
    unit_names: dict[str, list[str]]  # per venue
    areas: dict[str, dict[str, float]]  # per venue: "present", case-days over the window
    areas_total: dict[str, float]  # per venue: present area over the whole run
    effort_hours: dict[str, float]  # per venue: effort of steps entered in the window
    available_hours: dict[str, float]  # per venue, mediator working hours in the window
    staffing: dict[str, list[tuple[int, int]]]  # per venue: (full-time, part-time) per unit
    backlog_at_start: int  # backlog cases open when the window opens
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


class _Count:
    """Cases waiting or mediators busy at a venue now, for the sampled time series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class _Pool:
    """Mediators of one unit: free mediators by kind and a queue of waiting cases.

    Lighter than ``simpy.PriorityResource``: a free mediator is taken without an event, and a
    mediator who finishes a session hands over to the first waiting case directly (continuing
    sessions first, then first come, first served). Full-time mediators are taken first.
    """

    __slots__ = ("_seq", "env", "free", "queue", "servers", "waiting")

    def __init__(self, env: simpy.Environment, full_time: int, part_time: int):
        self.env = env
        self.free = [full_time, part_time]
        self.servers = full_time + part_time
        self.queue: list[list] = []  # heap of [priority, seq, event or None if cancelled]
        self.waiting = 0
        self._seq = 0

    def acquire_now(self, case: _Case) -> int:
        """The kind of a free mediator, now taken; -1 if every mediator is busy."""
        free = self.free
        if free[0]:
            free[0] -= 1
            return 0
        if free[1]:
            free[1] -= 1
            return 1
        return -1

    def wait(self, priority: int, case: _Case) -> simpy.Event:
        """An event that succeeds with the kind of the mediator handed over."""
        event = self.env.event()
        self._seq += 1
        heapq.heappush(self.queue, [priority, self._seq, event])
        self.waiting += 1
        return event

    def cancel(self, event: simpy.Event) -> None:
        for entry in self.queue:  # rare (time limits, patience): a scan is fine
            if entry[2] is event:
                entry[2] = None
                self.waiting -= 1
                return

    def release(self, kind: int, case: _Case) -> None:
        queue = self.queue
        while queue:
            event = heapq.heappop(queue)[2]
            if event is not None:
                self.waiting -= 1
                event.succeed(kind)
                return
        self.free[kind] += 1

    def queue_length(self) -> int:
        return self.waiting


class _JointPool:
    """Staff of several departments; a joint case holds one of each of its departments at once.

    A case is granted only when every department it names has a free member, and then all at
    once (no case ever holds some and waits for others), so joint mediation cannot deadlock.
    Waiting cases are scanned in order (continuing sessions first, then first come).
    """

    def __init__(self, env: simpy.Environment, staff: list[int]):
        self.env = env
        self.free = list(staff)
        self.servers = max(1, min(staff)) if staff else 1
        self.queue: list[tuple[int, int, simpy.Event, tuple[int, ...]]] = []
        self._seq = 0

    def acquire_now(self, case: _Case) -> int:
        if all(self.free[d] > 0 for d in case.departments):
            for d in case.departments:
                self.free[d] -= 1
            return 0  # department staff count as full-time
        return -1

    def wait(self, priority: int, case: _Case) -> simpy.Event:
        event = self.env.event()
        self._seq += 1
        bisect.insort(self.queue, (priority, self._seq, event, case.departments))
        return event

    def cancel(self, event: simpy.Event) -> None:
        self.queue = [w for w in self.queue if w[2] is not event]

    def release(self, kind: int, case: _Case) -> None:
        for d in case.departments:
            self.free[d] += 1
        still = []
        for item in self.queue:
            depts = item[3]
            if all(self.free[d] > 0 for d in depts):
                for d in depts:
                    self.free[d] -= 1
                item[2].succeed(0)
            else:
                still.append(item)
        self.queue = still

    def queue_length(self) -> int:
        return len(self.queue)


class _ArrivalProcess(simpy.Process):
    """A dispute's process, started by the timeout of its arrival instead of its own event.

    ``simpy.Process`` schedules an urgent Initialize event to start each process: one event in
    five of this model. A dispute's process can as well be resumed first by the arrival timeout
    the arrivals process is about to wait on; it then starts at the same instant, before the
    arrivals process draws the next arrival (which touches nothing the dispute uses). Sets the
    attributes ``simpy.Process.__init__`` sets (SimPy 4.1), with the arrival as the target.
    """

    def __init__(self, env: simpy.Environment, generator, arrival: simpy.Event):
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = arrival
        arrival.callbacks.append(self._resume)


class _Desk:
    """A level's (or committee's) settings read once at build time, as plain values for the hot
    loop; the units that share a spec share the desk."""

    __slots__ = (
        "effort_ppf",
        "expert_required",
        "limit",
        "party_ppf",
        "resolve",
        "return_to_court",
        "sessions",
        "severity_factor",
        "spec",
        "top",
        "u_base",
        "u_policy",
    )

    def __init__(self, spec, venue: int, mech, experts_at: set[int], experts) -> None:
        self.spec = spec
        # Where the step's uniforms (effort, outcome) lie: ladder levels in the case row,
        # the venues of issue 3 in the policy row.
        self.u_policy = venue >= N_LEVELS
        self.u_base = (
            P_VENUE_BASE + 2 * (venue - N_LEVELS) if self.u_policy else U_LEVEL_BASE + 3 * venue
        )
        self.limit = spec.time_limit_days if mech.time_limits else None
        self.effort_ppf = spec.effort_hours.ppf
        sev = spec.severity_effort
        self.severity_factor = (
            (sev.minor, sev.major, sev.serious) if mech.effort_factors else (1.0, 1.0, 1.0)
        )
        with_party = mech.party_delays and spec.party_delay_days is not None
        self.sessions = spec.sessions if with_party else 1
        self.party_ppf = spec.party_delay_days.ppf if with_party else None
        self.resolve = tuple(
            (r.minor, r.major, r.serious) for r in (spec.resolve.full_time, spec.resolve.part_time)
        )
        self.return_to_court = bool(getattr(spec, "return_to_court", False))
        self.top = venue >= DISTRICT and venue != ENTERPRISE
        req = experts.required
        self.expert_required = (req.minor, req.major, req.serious) if venue in experts_at else None


class _Case:
    """State of one dispute; behaviour lives in the model."""

    __slots__ = (
        "arisen",
        "category",
        "departments",
        "grid",
        "id",
        "initial",
        "neglect",
        "origin",
        "p",
        "patience_at",
        "sensitive",
        "severity",
        "severity0",
        "step",
        "step_info",
        "u",
        "venue",
        "waiting_req",
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
        self.origin = 0
        self.neglect = 0.0
        self.worsen_at: list[float] = []
        self.patience_at = math.inf
        self.departments: tuple[int, ...] = ()
        self.venue = -1  # venue it is at now, -1 while in transit or undiscovered
        self.step = 0
        self.step_info: list = []
        self.u: list[float] = []
        self.p: list[float] = []
        self.waiting_req = None  # the request it queues on, while it queues


class _Model:
    def __init__(
        self, scenario: Scenario, replication: int, seed: int, spool: str | Path | None = None
    ):
        self.sc = scenario
        self.mech = scenario.mechanisms
        self.district = District.from_scenario(scenario)
        self.env = simpy.Environment()
        self.seed = seed
        self.replication = replication
        run = scenario.run
        self.window = (run.warmup_days, run.warmup_days + run.horizon_days)
        self.window_start, self.window_end = self.window
        self.end_time = self.window[1] + (run.drain_limit_days if run.drain else 0.0)

        self.case_rows = UniformRows(stream(seed, replication, "case"), U_WIDTH)
        self.policy_rows = UniformRows(stream(seed, replication, "policy"), P_WIDTH)
        self.arrival_u = Uniforms(stream(seed, replication, "arrivals"))
        self.session_u = Uniforms(stream(seed, replication, "party_delay"))
        self.initial_rows = UniformRows(stream(seed, replication, "initial_state"), U_WIDTH)
        self.initial_policy = UniformRows(stream(seed, replication, "initial_policy"), P_WIDTH)
        self.backlog_u = Uniforms(stream(seed, replication, "backlog"))

        weekday = run.start_date.weekday()
        cals = scenario.calendars
        if self.mech.working_calendar:
            self.calendars = [
                WorkingCalendar(cals.full_time, weekday),
                WorkingCalendar(cals.part_time, weekday),
            ]
            self.expert_calendar = WorkingCalendar(scenario.experts.calendar, weekday)
        else:
            self.calendars = [WorkingCalendar.round_the_clock()] * 2
            self.expert_calendar = WorkingCalendar.round_the_clock()
        self._build_venues()
        self.present = [_Gauge() for _ in VENUES]
        # Only the cases present need a time integral (Little's law); waiting and busy are
        # sampled counts.
        self.waiting = [_Count() for _ in VENUES]
        self.busy = [_Count() for _ in VENUES]
        self.gauges = list(zip(self.present, self.waiting, self.busy, strict=True))
        # Round-the-clock calendars (working_calendar off): a session ends effort / 24 days on.
        self.always_open = all(c.always_open for c in self.calendars)
        self.effort_in_window = [0.0] * N_VENUES
        self.snapshots: dict[str, list[float]] = {}

        self._prepare_sampling_tables()
        self.grid_units = self.district.grid_units()  # looked up once per step
        folder = Path(spool) if spool is not None else None
        logs = {}
        for name, fields in (
            ("cases", CASE_FIELDS),
            ("steps", STEP_FIELDS),
            ("petitions", PETITION_FIELDS),
            ("timeseries", SAMPLE_FIELDS),
        ):
            path = folder / f"{name}.parquet" if folder is not None else None
            logs[name] = RecordLog(fields, chunk_rows=CHUNK_ROWS, spool=path)
        self.cases, self.steps = logs["cases"], logs["steps"]
        self.petitions, self.series = logs["petitions"], logs["timeseries"]
        # The lists the hot loop appends to (packed into columns now and then).
        self.case_records, self.step_records = self.cases.rows, self.steps.rows
        self.active: dict[int, _Case] = {}
        self.open_petitions: dict[int, list] = {}
        self.backlog_open = 0
        self.backlog_at_start = 0
        self.next_id = 0
        self.next_petition = 0

    # ----------------------------------------------------------------- set-up helpers
    def _build_venues(self) -> None:
        """Pools, specs and unit names of every venue (ladder levels and committees)."""
        sc, env, mech = self.sc, self.env, self.mech
        self.specs: list[list] = []
        self.pools: list[list[_Pool | _JointPool | None]] = []
        self.unit_names: dict[str, list[str]] = {}
        self.staffing: dict[str, list[tuple[int, int]]] = {}

        def add(venue: str, names: list[str], specs: list, staff: list[tuple[int, int]]) -> None:
            self.unit_names[venue] = names
            self.specs.append(specs)
            self.staffing[venue] = staff
            self.pools.append([_Pool(env, f, p) if f + p > 0 else None for f, p in staff])

        for lv in LEVELS:
            staff = [(s.full_time, s.part_time) for s in self.district.staffing[lv]]
            spec = sc.ladder.level(lv)
            add(lv, self.district.unit_names(lv), [spec] * len(staff), staff)
        sectors = sc.sectors if mech.sector_committees else {}
        add(
            "sector",
            list(sectors),
            list(sectors.values()),
            [(c.full_time, c.part_time) for c in sectors.values()],
        )
        committees = sc.enterprise.committees if mech.enterprise_committees else {}
        add(
            "enterprise",
            list(committees),
            [sc.enterprise] * len(committees),
            [(c.full_time, c.part_time) for c in committees.values()],
        )
        rooms = sc.stationed_rooms if mech.stationed_rooms else {}
        add(
            "stationed_room",
            list(rooms),
            list(rooms.values()),
            [(r.full_time, r.part_time) for r in rooms.values()],
        )
        centre = sc.district_centre
        self.departments = list(centre.departments)
        dept_staff = [d.staff for d in centre.departments.values()]
        joint_on = mech.joint_mediation and centre.joint is not None and len(dept_staff) >= 2
        self.unit_names["joint"] = ["joint"] if joint_on else []
        self.specs.append([centre.joint] if joint_on else [])
        self.staffing["joint"] = [(sum(dept_staff), 0)] if joint_on else []
        self.pools.append([_JointPool(env, dept_staff)] if joint_on else [])
        self.joint_on = joint_on

        self.sector_of_category = [
            list(sectors).index(c.sector) if c.sector in sectors else -1
            for c in sc.categories.values()
        ]
        self.enterprise_cum = (
            (
                np.cumsum([c.weight for c in committees.values()])
                / sum(c.weight for c in committees.values())
            ).tolist()
            if committees
            else []
        )
        experts = sc.experts
        self.experts_on = mech.experts and experts.members > 0
        self.expert_pool = simpy.Resource(env, experts.members) if self.experts_on else None
        self.expert_at = {VENUES.index(v) for v in experts.at} if self.experts_on else set()
        self.expert_steps_in_window = 0
        self.petitions_on = mech.petitions and sc.petitions is not None
        pet = sc.petitions
        self.leaders = (
            simpy.Resource(env, pet.leader_cases)
            if self.petitions_on and pet is not None and pet.leader_cases > 0
            else None
        )
        # Units of a level share one spec, and so one desk: its settings are read once.
        shared: dict[tuple[int, int], _Desk] = {}

        def desk(v: int, spec) -> _Desk:
            key = (v, id(spec))
            if key not in shared:
                shared[key] = _Desk(spec, v, mech, self.expert_at, experts)
            return shared[key]

        self.desks = [[desk(v, spec) for spec in specs] for v, specs in enumerate(self.specs)]
        ov = sc.overload
        self.overload = (
            (ov.penalty_per_waiting_case, ov.floor)
            if mech.overload and ov.penalty_per_waiting_case > 0
            else None
        )

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
        self.effort_factor = [
            c.effort_factor if self.mech.effort_factors else 1.0 for c in sc.categories.values()
        ]
        self.enterprise_share = [
            c.enterprise_share if self.enterprise_cum else 0.0 for c in sc.categories.values()
        ]
        self.category_departments = [
            tuple(self.departments.index(x) for x in c.departments) for c in sc.categories.values()
        ]
        self.entry_cum = np.cumsum(sc.discovery.self_report_entry.as_tuple()).tolist()
        # Disputes reported by the parties: "self_report" beside sweeps, else "direct".
        sweeps = self.mech.sweeps or sc.discovery.sweep_share < 1
        self.report_channel = CH["self_report"] if sweeps else CH["direct"]

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

    # ----------------------------------------------------------------- arrivals
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
            arrival = env.timeout(t - env.now)
            _ArrivalProcess(env, self.journey(t), arrival)
            yield arrival

    def referrals(self, room: int, rate_per_year: float):
        """Court-referred cases (诉调衔接) to one stationed room: Poisson, own streams."""
        name = self.unit_names["stationed_room"][room]
        times = Uniforms(stream(self.seed, self.replication, f"referrals:{name}"))
        rows = UniformRows(stream(self.seed, self.replication, f"referral_cases:{name}"), U_WIDTH)
        policy = UniformRows(
            stream(self.seed, self.replication, f"referral_policy:{name}"), P_WIDTH
        )
        rate = rate_per_year / 365.0
        t = 0.0
        while True:
            t += -math.log1p(-times.next()) / rate
            if t >= self.window[1]:
                return
            yield self.env.timeout(t - self.env.now)
            case = self._make_case(t, rows.next(), policy.next())
            case.origin = ORIGINS.index("court_referral")
            self.env.process(self._at_room(case, room))

    def _make_case(self, t: float, row: list[float], prow: list[float]) -> _Case:
        d = self.district
        village = min(
            bisect.bisect_right(self.village_cum, row[U_VILLAGE]), len(d.village_grids) - 1
        )
        grids = d.village_grids[village]
        grid = grids[min(int(row[U_GRID] * len(grids)), len(grids) - 1)]
        category = min(
            bisect.bisect_right(self.category_cum, row[U_CATEGORY]), len(self.category_cum) - 1
        )
        severity = min(bisect.bisect_right(self.severity_cum, row[U_SEVERITY]), 2)
        case = _Case(self.next_id, t, grid, category, severity)
        self.next_id += 1
        case.u = row
        case.p = prow
        case.sensitive = row[U_SENSITIVE] < self.sensitive_share[category]
        if self.mech.worsening:
            self._set_worsening(case)
        if self.petitions_on:
            self._set_patience(case)
        self.active[case.id] = case
        return case

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

    def _set_patience(self, case: _Case) -> None:
        if self.petitions_on:
            mean = self.sc.petitions.patience_days.of(case.severity0)  # type: ignore[union-attr]
            case.patience_at = case.arisen - mean * math.log1p(-case.p[P_PATIENCE])

    def _neglect(self, case: _Case, days: float) -> None:
        """Time left unattended; a dispute may worsen one step per threshold passed."""
        case.neglect += days
        while case.worsen_at and case.neglect >= case.worsen_at[0]:
            case.worsen_at.pop(0)
            if case.severity < 2:
                case.severity += 1

    # ----------------------------------------------------------------- journeys
    def journey(self, arisen: float):
        """A dispute arising at ``arisen`` (now), from discovery to its last step."""
        case = self._make_case(arisen, self.case_rows.next(), self.policy_rows.next())
        env, sc, mech = self.env, self.sc, self.mech
        u, p = case.u, case.p
        disc = sc.discovery
        # Disputes inside a firm go first to an enterprise committee (企业/商会调委会).
        if p[P_ENTERPRISE] < self.enterprise_share[case.category]:
            unit = min(
                bisect.bisect_right(self.enterprise_cum, p[P_ENTERPRISE_PICK]),
                len(self.enterprise_cum) - 1,
            )
            outcome = yield from self._mediate(case, ENTERPRISE, unit, CH["in_firm"])
            if outcome in RESOLVED:
                return self._conclude(case, "resolved")
            if outcome == "petitioned":
                return
            yield from self._handover(case, case.u[U_LEVEL_BASE + U_HANDOVER])
            target = self.sc.enterprise.escalate_to
            yield from self._climb(case, LEVELS.index(target), self._channel(case))
            return
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
                    case,
                    GRID,
                    case.grid,
                    channel,
                    env.now,
                    env.now,
                    env.now,
                    "resolved_on_the_spot",
                    -1,
                    0.0,
                )
                return self._conclude(case, "resolved")
            level = GRID
        else:
            channel = self.report_channel
            if mech.self_report_delays:
                delay = disc.self_report_delay_days.ppf(u[U_REPORT_DELAY])
                yield env.timeout(delay)
                self._neglect(case, delay)
            # Residents of some sectors go straight to that sector's committee.
            sector = self.sector_of_category[case.category]
            if sector >= 0 and p[P_SECTOR_DIRECT] < self.specs[SECTOR][sector].direct_share:
                yield from self._final(case, SECTOR, sector, CH["direct"])
                return
            level = min(bisect.bisect_right(self.entry_cum, u[U_ENTRY]), DISTRICT)
        yield from self._climb(case, level, channel)

    def _channel(self, case: _Case) -> int:
        return CH_OFFLINE if case.sensitive else CH_ONLINE

    def _handover(self, case: _Case, u: float):
        """The reporting delay of a hand-over (逐级报告移交), by channel."""
        if self.mech.handover_delays:
            ch = self.sc.channels
            dist = ch.offline_delay_days if case.sensitive else ch.online_delay_days
            delay = dist.ppf(u)
            if delay > 0:
                yield self.env.timeout(delay)
                self._neglect(case, delay)

    def _climb(self, case: _Case, level: int, channel: int):
        """Mediate at ``level`` and above until resolved, failed at the top or petitioned."""
        while True:
            if level == DISTRICT:
                yield from self._district_centre(case, channel, summoned=False)
                return
            unit = self.grid_units[case.grid][level]
            outcome = yield from self._mediate(case, level, unit, channel)
            if outcome in RESOLVED:
                return self._conclude(case, "resolved")
            if outcome == "petitioned":
                return
            if self.env.now >= case.patience_at:  # gives up after a failed step
                yield from self._petition(case, level)
                return
            if self.mech.handover_delays:
                yield from self._handover(case, case.u[U_LEVEL_BASE + 3 * level + U_HANDOVER])
            channel = self._channel(case)
            if level == TOWNSHIP and self._summons(case):
                yield from self._district_centre(case, channel, summoned=True)
                return
            level += 1

    def _summons(self, case: _Case) -> bool:
        """点将约访: the township asks the district centre for named departments."""
        if not self.joint_on:
            return False
        prob = self.sc.district_centre.summon_probability.of(case.severity)
        return case.p[P_SUMMON] < prob

    def _district_centre(self, case: _Case, channel: int, summoned: bool):
        """One window (一窗受理): sector committee, joint mediation or the district committee."""
        sector = self.sector_of_category[case.category]
        if sector >= 0 and self.pools[SECTOR][sector] is not None:
            yield from self._final(case, SECTOR, sector, channel)
            return
        centre = self.sc.district_centre
        if self.joint_on and (summoned or case.p[P_JOINT] < centre.joint_share.of(case.severity)):
            case.departments = self._pick_departments(case)
            yield from self._final(case, JOINT, 0, channel)
            return
        yield from self._final(case, DISTRICT, 0, channel)

    def _pick_departments(self, case: _Case) -> tuple[int, ...]:
        k = self.sc.district_centre.departments_per_case
        named = list(self.category_departments[case.category])
        staff = [d.staff for d in self.sc.district_centre.departments.values()]
        chosen = named[:k]
        draw = 0
        while len(chosen) < k:  # the rest by staff weight, without replacement
            left = [i for i in range(len(staff)) if i not in chosen]
            weights = np.cumsum([staff[i] for i in left])
            u = case.p[P_DEPARTMENTS + min(draw, 2)]
            u = (u * (draw + 1)) % 1.0 if draw > 2 else u
            chosen.append(
                left[min(bisect.bisect_right((weights / weights[-1]).tolist(), u), len(left) - 1)]
            )
            draw += 1
        return tuple(sorted(chosen))

    def _final(self, case: _Case, venue: int, unit: int, channel: int):
        """A venue at the top: failure leaves the case unresolved."""
        outcome = yield from self._mediate(case, venue, unit, channel)
        if outcome in RESOLVED:
            self._conclude(case, "resolved")
        elif outcome != "petitioned":
            self._conclude(case, "unresolved")

    def _at_room(self, case: _Case, room: int):
        """A court referral at a stationed room (派驻调解工作室); failure goes back to court."""
        outcome = yield from self._mediate(case, ROOM, room, CH["referral"])
        if outcome in RESOLVED:
            self._conclude(case, "resolved")
        elif outcome != "petitioned":
            self._conclude(case, "unresolved")

    # ----------------------------------------------------------------- mediation
    def _top(self, venue: int) -> bool:
        return venue >= DISTRICT and venue != ENTERPRISE

    def _mediate(self, case: _Case, venue: int, unit: int, channel: int):
        """One step at one venue and unit; returns its outcome name."""
        env = self.env
        desk = self.desks[venue][unit]
        pool = self.pools[venue][unit]
        entered = env.now
        spec = desk.spec
        if pool is None:
            # No mediator here: passed straight up, or, at the top, nobody can take it.
            outcome = self._over_time(venue, spec) if self._top(venue) else "escalated_no_mediator"
            self._record_step(
                case, venue, unit, channel, entered, math.nan, entered, outcome, -1, 0.0
            )
            return outcome
        limit = desk.limit
        deadline = entered + limit if limit is not None else math.inf
        # The party gives up (and petitions) if waiting outlasts their patience.
        patience_at = case.patience_at
        give_up = deadline if deadline < patience_at else patience_at
        row, base = (case.p if desk.u_policy else case.u), desk.u_base
        u_effort, u_outcome = row[base], row[base + 1]
        severity = case.severity
        effort = (
            desk.effort_ppf(u_effort)
            * self.effort_factor[case.category]
            * desk.severity_factor[severity]
        )
        sessions = desk.sessions
        per_session = effort / sessions
        required = desk.expert_required
        expert = required is not None and case.p[P_EXPERT] < required[severity]

        present, waiting, busy = self.gauges[venue]
        present.change(entered, +1)
        case.venue = venue
        case.step_info = [venue, unit, channel, entered, math.nan, case.severity, effort]
        started = math.nan
        first_kind = -1
        in_window = self.window_start <= entered < self.window_end
        always_open, calendars = self.always_open, self.calendars
        if expert and in_window:
            self.expert_steps_in_window += 1
        timer_armed = False
        for s in range(sessions):
            now = env.now
            kind = pool.acquire_now(case)
            if kind < 0:
                if now >= give_up:
                    # Past the time limit or patience, the party does not queue (again).
                    outcome = yield from self._give_up(case, venue, unit, channel, entered,
                                                       started, first_kind, effort if s else 0.0,
                                                       deadline, spec)  # fmt: skip
                    return outcome
                req = pool.wait(1 if s == 0 else 0, case)
                waiting.value += 1
                if give_up < math.inf and not timer_armed:
                    # One timer per step, armed only when the case has to queue: it interrupts
                    # the case if it is still queueing for this step when it fires.
                    timer_armed = True
                    proc = env.active_process
                    # The step number goes with the timer: a timer left from an earlier step
                    # must not touch a later one.
                    env.timeout(give_up - now).callbacks.append(
                        lambda _, proc=proc, step=case.step: self._interrupt_waiting(
                            case, proc, step
                        )
                    )
                case.waiting_req = req
                try:
                    kind = yield req
                except simpy.Interrupt:
                    case.waiting_req = None
                    if req.triggered:  # granted in the same instant: hand it on
                        pool.release(req.value, case)
                    else:
                        pool.cancel(req)
                    waiting.value -= 1
                    if s == 0:
                        self._neglect(case, env.now - now)
                    outcome = yield from self._give_up(case, venue, unit, channel, entered,
                                                       started, first_kind, effort if s else 0.0,
                                                       deadline, spec)  # fmt: skip
                    return outcome
                case.waiting_req = None
                waiting.value -= 1
                if s == 0:
                    self._neglect(case, env.now - now)
            now = env.now
            busy.value += 1
            if s == 0:
                started = now
                case.step_info[4] = now
                first_kind = kind  # the mediator who takes the case answers for it
            if in_window:
                # A joint session occupies one member of each department it names.
                self.effort_in_window[venue] += per_session * max(1, len(case.departments))
            end = (
                now + per_session / 24.0
                if always_open
                else calendars[kind].finish(now, per_session)
            )
            if expert:
                # Mediator first, then the expert: one order for all, so no cycle of waits.
                ereq = self.expert_pool.request()  # type: ignore[union-attr]
                yield ereq
                end = max(
                    self.calendars[kind].finish(env.now, per_session),
                    self.expert_calendar.finish(env.now, per_session),
                )
                yield env.timeout(end - env.now)
                self.expert_pool.release(ereq)  # type: ignore[union-attr]
            else:
                yield env.timeout(end - now)
            pool.release(kind, case)
            busy.value -= 1
            if s < sessions - 1:
                gap = desk.party_ppf(self.session_u.next())
                if env.now + gap >= deadline:
                    # The parties are still apart when the time limit passes.
                    yield env.timeout(max(deadline - env.now, 0.0))
                    present.change(env.now, -1)
                    outcome = self._over_time(venue, spec)
                    self._record_step(
                        case,
                        venue,
                        unit,
                        channel,
                        entered,
                        started,
                        env.now,
                        outcome,
                        first_kind,
                        effort,
                    )
                    return outcome
                yield env.timeout(gap)

        p = desk.resolve[first_kind][case.severity]
        if expert:
            p = min(1.0, p + self.sc.experts.resolve_bonus)
        if self.overload is not None:
            penalty, floor = self.overload
            p *= max(floor, 1.0 - penalty * pool.queue_length() / pool.servers)
        if u_outcome < p:
            outcome = "resolved"
        elif desk.return_to_court:
            outcome = "returned_to_court"
        elif desk.top:
            outcome = "unresolved"
        else:
            outcome = "escalated_failed"
        now = env.now
        present.change(now, -1)
        # _record_step, inlined on the path every step takes.
        self.step_records.append(
            (case.id, case.step, venue, unit, channel, entered, started, now, OUT[outcome],
             first_kind, effort, severity, case.severity, expert)
        )  # fmt: skip
        case.step += 1
        case.venue = -1
        case.step_info = []
        return outcome

    def _give_up(self, case, venue, unit, channel, entered, started, kind, done, deadline, spec):
        """The step ends while waiting: patience ran out (petition) or the time limit did."""
        env = self.env
        self.present[venue].change(env.now, -1)
        if env.now >= case.patience_at and case.patience_at <= deadline:
            self._record_step(
                case, venue, unit, channel, entered, started, env.now, "petitioned", kind, done
            )
            env.process(self._petition(case, venue))
            return "petitioned"
        outcome = self._over_time(venue, spec)
        self._record_step(
            case, venue, unit, channel, entered, started, env.now, outcome, kind, done
        )
        return outcome
        yield  # a generator, so that callers can `yield from` it like the other steps

    @staticmethod
    def _interrupt_waiting(case: _Case, proc: simpy.Process, step: int) -> None:
        req = case.waiting_req
        if req is not None and not req.triggered and case.step == step and proc.is_alive:
            proc.interrupt("time limit or patience")

    def _over_time(self, venue: int, spec) -> str:
        # Past the time limit a case goes up; at the top there is no level left to take it,
        # and a court referral goes back to the court.
        if venue == ROOM and spec.return_to_court:
            return "returned_to_court"
        return "unresolved" if self._top(venue) else "escalated_time_limit"

    # ----------------------------------------------------------------- petitions (信访)
    def _petition(self, case: _Case, venue: int, repeat: bool = False):
        """The party leaves the ladder and petitions; unresolved petitions become backlog."""
        pet = self.sc.petitions
        env = self.env
        if not repeat:
            self._conclude(case, "petitioned")
        # 越级: a petition skipping the level where the dispute stood.
        skip = (
            case.p[P_SKIP] < pet.skip_level_share
            if not repeat
            else self.backlog_u.next() < pet.skip_level_share
        )
        pid = self.next_petition
        self.next_petition += 1
        # Petitions are filed with the ladder: an enterprise dispute on the village's ground,
        # committees of the district centre at the district.
        level = venue if venue < N_LEVELS else (VILLAGE if venue == ENTERPRISE else DISTRICT)
        record = [pid, case.id, env.now, level, skip, repeat, math.nan, math.nan, -1]
        self.open_petitions[pid] = record
        u_time = case.p[P_PETITION_TIME] if not repeat else self.backlog_u.next()
        u_out = case.p[P_PETITION_OUTCOME] if not repeat else self.backlog_u.next()
        handling = pet.handling_days.ppf(u_time)
        if handling <= pet.backlog_after_days and u_out < pet.resolve_probability:
            yield env.timeout(handling)
            return self._close_petition(case, record, "closed")
        yield env.timeout(pet.backlog_after_days)
        # 积案: into the registry; a district leader takes it (包案) when one is free.
        record[6] = env.now
        self.backlog_open += 1
        hearing = (
            case.p[P_HEARING] < pet.hearing_share
            if not repeat
            else self.backlog_u.next() < pet.hearing_share
        )
        leader = self.leaders.request() if self.leaders is not None else None
        if leader is None:
            return  # no leader cases: the backlog case stays open
        yield leader
        reviews = 0
        how = ""
        while not how:
            yield env.timeout(pet.review_interval_days)
            reviews += 1
            if self.backlog_u.next() < pet.review_resolve_probability:
                how = "closed"
            elif (
                hearing
                and reviews >= pet.hearing_after_reviews
                and self.backlog_u.next() < pet.hearing_finality
            ):
                how = "closed_by_hearing"  # 听证终结
        # 每月评估: struck off (销号) at the next monthly evaluation.
        every = pet.evaluation_interval_days
        yield env.timeout(math.ceil(env.now / every) * every - env.now)
        self.leaders.release(leader)  # type: ignore[union-attr]
        self.backlog_open -= 1
        self._close_petition(case, record, how)

    def _close_petition(self, case: _Case, record: list, how: str) -> None:
        record[7] = self.env.now
        record[8] = PETITION_OUTCOMES.index(how)
        del self.open_petitions[record[0]]
        self.petitions.rows.append(tuple(record))
        self.petitions.pack_if_full()
        pet = self.sc.petitions
        u_repeat = case.p[P_REPEAT] if not record[5] else self.backlog_u.next()
        if u_repeat < pet.repeat_probability:  # 重复信访: the closed case comes back
            self.env.process(self._repeat(case, record[3], first=not record[5]))

    def _repeat(self, case: _Case, venue: int, first: bool):
        u = case.p[P_REPEAT_DELAY] if first else self.backlog_u.next()
        yield self.env.timeout(self.sc.petitions.repeat_delay_days.ppf(u))  # type: ignore[union-attr]
        if self.env.now < self.end_time:
            yield from self._petition(case, venue, repeat=True)

    # ----------------------------------------------------------------- records
    def _record_step(
        self,
        case,
        venue,
        unit,
        channel,
        entered,
        started,
        ended,
        outcome,
        kind,
        effort,
        expert=False,
    ):
        info = case.step_info
        self.step_records.append(
            (case.id, case.step, venue, unit, channel, entered, started, ended, OUT[outcome], kind,
             effort, info[5] if info else case.severity, case.severity, expert)
        )  # fmt: skip
        case.step += 1
        case.venue = -1
        case.step_info = []

    def _conclude(self, case: _Case, status: str) -> None:
        del self.active[case.id]
        self._record_case(case, ST[status], self.env.now)

    def _record_case(self, case: _Case, status: int, concluded: float) -> None:
        records = self.case_records
        records.append(
            (case.id, case.arisen, case.grid, case.category, case.severity0, case.severity,
             case.sensitive, case.initial, status, concluded, case.step, case.origin)
        )  # fmt: skip
        # A case has at least one step as a rule, so the steps fill their chunk first.
        if len(self.step_records) >= CHUNK_ROWS:
            self.cases.pack()
            self.steps.pack()

    def sampler(self):
        """Per venue: cases present, waiting and mediators busy, every sample interval."""
        env = self.env
        dt_ = self.sc.run.sample_interval_days
        while env.now <= self.window[1]:
            now = env.now
            for v in range(N_VENUES):
                self.series.rows.append(
                    (now, v, self.present[v].value, self.waiting[v].value, self.busy[v].value)
                )
            self.series.pack_if_full()
            yield env.timeout(dt_)

    def snapshot(self, at: float, name: str):
        yield self.env.timeout(at)
        now = self.env.now
        self.snapshots[name] = [g.integral(now) for g in self.present]
        if name == "start":
            self.backlog_at_start = self.backlog_open

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
                severity = ("minor", "major", "serious").index(oc.severity)
                case = _Case(self.next_id, 0.0, grid, category, severity)
                self.next_id += 1
                case.u = row
                case.p = self.initial_policy.next()
                case.initial = True
                case.sensitive = row[U_SENSITIVE] < self.sensitive_share[category]
                self._set_worsening(case)
                self._set_patience(case)
                self.active[case.id] = case
                self.env.process(self._climb(case, level, CH["initial"]))

    def run(self) -> Replication:
        env = self.env
        self.seed_initial_state()
        env.process(self.arrivals())
        for room, spec in enumerate(self.specs[ROOM]):
            if spec.referrals_per_year > 0:
                env.process(self.referrals(room, spec.referrals_per_year))
        env.process(self.sampler())
        env.process(self.snapshot(self.window[0], "start"))
        env.process(self.snapshot(self.window[1], "end"))
        events = 0
        step = env.step
        end = self.end_time
        while env.peek() <= end:
            step()
            events += 1
        finish = end if env.peek() < math.inf else min(env.now, end)
        for case in list(self.active.values()):
            if case.venue >= 0:
                venue, unit, ch, entered, started, sev_in, effort = case.step_info
                self.step_records.append(
                    (case.id, case.step, venue, unit, ch, entered, started, math.nan, OUT["open"],
                     -1, effort, sev_in, case.severity, False)
                )  # fmt: skip
                case.step += 1  # the open row is a step too
                self._record_case(case, ST["open"], math.nan)
            else:
                self._record_case(case, ST["pending"], math.nan)
        for record in self.open_petitions.values():
            record[8] = PETITION_OUTCOMES.index("open")
            self.petitions.rows.append(tuple(record))
        for log in (self.cases, self.steps, self.petitions, self.series):
            log.close()
        return self._result(finish, events)

    def _result(self, finish: float, events: int) -> Replication:
        start, end = self.snapshots["start"], self.snapshots["end"]
        areas = {venue: {"present": end[vi] - start[vi]} for vi, venue in enumerate(VENUES)}
        areas_total = {venue: self.present[vi].integral(finish) for vi, venue in enumerate(VENUES)}
        span_weeks = (self.window[1] - self.window[0]) / 7.0
        available = {}
        for venue in VENUES:
            hours = 0.0
            for full, part in self.staffing[venue]:
                hours += full * self.calendars[0].hours_per_week
                hours += part * self.calendars[1].hours_per_week
            available[venue] = hours * span_weeks
        return Replication(
            scenario=self.sc,
            district=self.district,
            replication=self.replication,
            seed=self.seed,
            window=self.window,
            end_time=finish,
            cases=self.cases,
            steps=self.steps,
            petitions=self.petitions,
            timeseries=self.series,
            unit_names=self.unit_names,
            areas=areas,
            areas_total=areas_total,
            effort_hours=dict(zip(VENUES, self.effort_in_window, strict=True)),
            available_hours=available,
            staffing=self.staffing,
            backlog_at_start=self.backlog_at_start,
            events=events,
        )


def simulate_replication(
    scenario: Scenario,
    replication: int = 0,
    seed: int | None = None,
    spool: str | Path | None = None,
) -> Replication:
    """Run one replication of ``scenario``; ``seed`` defaults to the scenario's own.

    The records are kept as typed columns (:class:`sim.model.records.RecordLog`). With ``spool`` (a
    folder) they are written there instead as they are made, as cases.parquet, steps.parquet,
    petitions.parquet and timeseries.parquet, so that a long or province-size run holds only
    one chunk of records in memory; the tables of :mod:`sim.measures.register` read them back.
    """
    seed = scenario.run.seed if seed is None else seed
    # The cyclic collector would re-scan every object alive (the imported libraries', the open
    # cases') each time enough cases have come and gone, for garbage a replication hardly makes
    # (a handful of cycles per 10,000 disputes, from interrupts): paused, it costs nothing and
    # saves about a fifth of the time. Restored as found.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Model(scenario, replication, seed, spool).run()
    finally:
        if collecting:
            gc.enable()
