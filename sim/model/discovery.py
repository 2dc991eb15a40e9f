"""Where cases come from: arrivals, court referrals, the starting state, and discovery.

Implements docs/model.md "Arrivals (纠纷发生)" (a non-homogeneous Poisson process over the
district, by thinning, placed by population, with category, severity and sensitivity), "Court
referrals" (a Poisson stream per stationed room), "Starting state (存量案件)", "Discovery: the
weekly sweep (排查) or a direct report" (the sweep of the dispute's grid or the party's own report,
settlement on the spot, direct application to a sector committee, the level of entry) and
"Enterprise committees" (a dispute inside a firm goes first to a committee of its own), and
"Discovery: a race between the sweep and the party's own report" (``mechanisms.discovery_race``;
the entry choice it leads to is :mod:`sim.model.entry`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import simpy

from sim.model.cases import _Case, _Step, neglect
from sim.model.centre import _Centre
from sim.model.entry import _EntryChoice
from sim.model.initial_state import open_cases
from sim.model.ladder import _Ladder
from sim.model.layout import (
    CH,
    DISTRICT,
    E_WIDTH,
    ENTERPRISE,
    GRID,
    ORIGINS,
    P_ENTERPRISE,
    P_ENTERPRISE_PICK,
    P_PATIENCE,
    P_SECTOR_DIRECT,
    P_WIDTH,
    ROOM,
    SECTOR,
    U_CATEGORY,
    U_CHANNEL,
    U_DETECT,
    U_ENTRY,
    U_GRID,
    U_HANDOVER,
    U_LEVEL_BASE,
    U_ON_THE_SPOT,
    U_REPORT_DELAY,
    U_SENSITIVE,
    U_SEVERITY,
    U_VILLAGE,
    U_WIDTH,
    U_WORSEN_1,
    U_WORSEN_2,
)
from sim.model.processes import _ArrivalProcess, _Process
from sim.model.recorder import _Recorder
from sim.model.streams import Row, UniformRows, Uniforms, detached, stream
from sim.model.sweeps import _Sweeps
from sim.model.venues import _Venues
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS, RESOLVED

__all__: list[str] = []  # the model's own machinery; nothing public


class _Discovery:
    """Makes the cases (arising, referred, or open at the start) and brings them to a venue."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        district: District,
        seed: int,
        replication: int,
        end_time: float,
        venues: _Venues,
        recorder: _Recorder,
        mediate: Callable,
        ladder: _Ladder,
        centre: _Centre,
        petitions_on: bool,
    ) -> None:
        self.sc, self.env, self.district = sc, env, district
        self.mech = sc.mechanisms
        self.seed, self.replication = seed, replication
        self.stop = sc.run.warmup_days + sc.run.horizon_days  # no arrivals from then on
        self.unit_names = venues.unit_names
        self.room_specs = venues.specs[ROOM]
        self.sector_specs = venues.specs[SECTOR]
        self.sector_of_category = venues.sector_of_category
        self.enterprise_cum = venues.enterprise_cum
        self.active = recorder.active
        self.conclude = recorder.conclude
        self.record_step = recorder.record_step
        self.mediate = mediate
        self.climb = ladder.climb
        self.handover = ladder.handover
        self.channel = ladder.channel
        self.final = centre.final
        self.at_room = centre.at_room
        self.petitions_on = petitions_on
        # Per grid, a factor on the mean patience (信访代办员; set by the coordinator), or None.
        self.patience_scale: list[float] | None = None
        self.worsening = self.mech.worsening
        rates = sc.worsening.rate_per_day  # per day, read once: minor → major, major → serious
        self.worsen_rates = (rates.get("minor", 0.0), rates.get("major", 0.0))
        self.next_id = 0

        self.case_rows = UniformRows(stream(seed, replication, "case"), U_WIDTH)
        self.policy_rows = UniformRows(stream(seed, replication, "policy"), P_WIDTH)
        self.arrival_u = Uniforms(stream(seed, replication, "arrivals"))
        # The race and the entry choice are read once here; off, the journey is today's.
        self.race = self.mech.discovery_race
        self.entry_on = self.mech.entry_choice
        self.own_discovery = self.race or self.entry_on
        if self.entry_on:
            self.entry_choice = _EntryChoice(sc, district)
            self.entry_rows = UniformRows(stream(seed, replication, "entry"), E_WIDTH)
        self._prepare_sampling_tables(end_time)

    def _prepare_sampling_tables(self, end_time: float) -> None:
        sc, d, mech = self.sc, self.district, self.mech
        pops = np.asarray(d.village_weight, dtype=float)  # population × rate_multiplier
        self.village_cum = (np.cumsum(pops) / pops.sum()).tolist()
        self.category_names = list(sc.categories)
        shares = np.array([c.share for c in sc.categories.values()])
        self.category_cum = (np.cumsum(shares) / shares.sum()).tolist()
        sev = sc.severity
        self.severity_cum = np.cumsum([sev.minor, sev.major, sev.serious]).tolist()
        self.sensitive_share = [c.sensitive_share for c in sc.categories.values()]
        self.enterprise_share = [
            c.enterprise_share if self.enterprise_cum else 0.0 for c in sc.categories.values()
        ]
        self.entry_cum = np.cumsum(sc.discovery.self_report_entry.as_tuple()).tolist()
        # Disputes reported by the parties: "self_report" beside sweeps, else "direct".
        sweeps = mech.sweeps or sc.discovery.sweep_share < 1
        self.report_channel = CH["self_report"] if sweeps else CH["direct"]
        # In the race sweep_share plays no part: "self_report" exactly when sweeps run.
        self.race_channel = CH["self_report"] if mech.sweeps else CH["direct"]

        days = math.ceil(end_time) + 2
        start = sc.run.start_date
        months = [(start + dt.timedelta(days=k)).month - 1 for k in range(days)]
        season = np.asarray(sc.arrivals.seasonality, dtype=float)
        season = season / season.mean() if mech.seasonality else np.ones(12)
        self.day_multiplier = [float(season[m]) for m in months]
        self.growth = sc.arrivals.growth_per_year if mech.growth else 0.0
        rate = sc.arrivals.rate_per_1000_per_year
        self.base_rate = sc.arrival_population * rate / 1000.0 / 365.0

        # Sweep schedule: each grid is swept every interval days from its own offset, so no
        # process is needed per grid (the next sweep after t is computed when needed).
        interval = sc.discovery.sweep_interval_days
        rng = stream(self.seed, self.replication, "sweep_schedule")
        self.sweep_offset = (rng.random(len(d.grid_names)) * interval).tolist()
        self.sweep_interval = interval
        # Set by the coordinator when sweeps cost the grid worker time (sim.model.sweeps).
        self.sweep_work: _Sweeps | None = None

    def start(self) -> None:
        """The cases open at the start, then the processes that bring new ones."""
        env = self.env
        self._seed_initial_state()
        _Process(env, self.arrivals())
        for room, spec in enumerate(self.room_specs):
            if spec.referrals_per_year > 0:
                _Process(env, self.referrals(room, spec.referrals_per_year))

    # ----------------------------------------------------------------- arrivals
    def _rate_multiplier(self, t: float) -> float:
        m = self.day_multiplier[int(t)]
        if self.growth:
            m *= (1.0 + self.growth) ** (t / 365.0)
        return m

    def arrivals(self):
        """Non-homogeneous Poisson arrivals over the district, by thinning."""
        env = self.env
        stop = self.stop
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
        env = self.env
        t = 0.0
        while True:
            t += -math.log1p(-times.next()) / rate
            if t >= self.stop:
                return
            # The case's process starts on the referral, as a dispute's on its arrival.
            referral = env.timeout(t - env.now)
            _ArrivalProcess(env, self._referred(t, room, rows, policy), referral)
            yield referral

    def _referred(self, t: float, room: int, rows: UniformRows, policy: UniformRows):
        """A court-referred case, made as its referral comes, at its stationed room."""
        case = self._make_case(t, rows.next(), policy.next())
        case.origin = ORIGINS.index("court_referral")
        yield from self.at_room(case, room)

    # ----------------------------------------------------------------- cases
    def _make_case(self, t: float, row: Row, prow: Row) -> _Case:
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
        if self.worsening:
            self._set_worsening(case)
        if self.petitions_on:
            self._set_patience(case)
        self.active[case.id] = case
        return case

    def _set_worsening(self, case: _Case) -> None:
        if not self.worsening:
            return
        minor, major = self.worsen_rates
        at = 0.0
        if case.severity == 0:
            if minor <= 0:
                return  # no worsening from minor, hence none beyond it either
            at += -math.log1p(-case.u[U_WORSEN_1]) / minor
            case.worsen_at.append(at)
        if case.severity <= 1 and major > 0:
            at += -math.log1p(-case.u[U_WORSEN_2]) / major
            case.worsen_at.append(at)

    def _set_patience(self, case: _Case) -> None:
        if self.petitions_on:
            mean = self.sc.petitions.patience_days.of(case.severity0)  # type: ignore[union-attr]
            if self.patience_scale is not None:
                mean *= self.patience_scale[case.grid]
            case.patience_at = case.arisen - mean * math.log1p(-case.p[P_PATIENCE])

    def _seed_initial_state(self) -> None:
        """The cases open when the run starts (存量案件), each at its level."""
        d, sc = self.district, self.sc
        initial_rows = UniformRows(stream(self.seed, self.replication, "initial_state"), U_WIDTH)
        initial_policy = UniformRows(stream(self.seed, self.replication, "initial_policy"), P_WIDTH)
        for oc in open_cases(sc):
            level = LEVELS.index(oc.level)
            if oc.township is not None:
                ti = next(
                    i for i, t in enumerate(sc.townships) if oc.township in (t.name, t.pinyin)
                )
                villages = [vi for vi, tj in enumerate(d.village_township) if tj == ti]
            else:
                villages = list(range(len(d.village_names)))
            if oc.village is not None:
                villages = [d.village_names.index(oc.village)]
            for k in range(oc.count):
                row = initial_rows.next()
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
                case.p = initial_policy.next()
                case.initial = True
                case.sensitive = row[U_SENSITIVE] < self.sensitive_share[category]
                self._set_worsening(case)
                self._set_patience(case)
                self.active[case.id] = case
                _Process(self.env, self.climb(case, level, CH["initial"]))

    # ----------------------------------------------------------------- journeys
    def journey(self, arisen: float):
        """A dispute arising at ``arisen`` (now), from discovery to its last step."""
        case = self._make_case(arisen, self.case_rows.next(), self.policy_rows.next())
        env, sc, mech = self.env, self.sc, self.mech
        # The rows are read through the case, not held in locals: this frame lives as long as
        # the case, and a petitioner's rows are detached from their blocks (sim.model.streams).
        disc = sc.discovery
        if self.own_discovery:  # the race or the entry choice: _discover, off the common path
            yield from _discover(self, case)
            return
        # Disputes inside a firm go first to an enterprise committee (企业/商会调委会).
        if case.p[P_ENTERPRISE] < self.enterprise_share[case.category]:
            yield from self._in_firm(case)
            return
        if mech.sweeps and case.u[U_CHANNEL] < disc.sweep_share:
            channel = CH["sweep"]
            t0 = env.now
            if self.sweep_work is not None:
                # Sweeps are work (sim.model.sweeps): wait until the sweep that finds it is done.
                yield self.sweep_work.found(case.grid, _sweep_misses(self, case) + 1)
                waited = env.now - t0
            else:
                waited = _sweep_finds(self, case, t0) - t0
                yield env.timeout(waited)
            neglect(case, waited)
            if mech.on_the_spot and case.u[U_ON_THE_SPOT] < disc.on_the_spot.of(case.severity):
                # 当场调处: settled during the sweep, a zero-length grid step.
                now = env.now
                step = _Step(GRID, case.grid, channel, now, case.severity, 0.0)
                step.started = now
                self.record_step(case, step, "resolved_on_the_spot", 0.0)
                return self.conclude(case, "resolved")
            level = GRID
        else:
            channel = self.report_channel
            if mech.self_report_delays:
                delay = disc.self_report_delay_days.ppf(case.u[U_REPORT_DELAY])
                yield env.timeout(delay)
                neglect(case, delay)
            # Residents of some sectors go straight to that sector's committee.
            sector = self.sector_of_category[case.category]
            if sector >= 0 and case.p[P_SECTOR_DIRECT] < self.sector_specs[sector].direct_share:
                yield from self.final(case, SECTOR, sector, CH["direct"])
                return
            level = min(bisect.bisect_right(self.entry_cum, case.u[U_ENTRY]), DISTRICT)
        yield from self.climb(case, level, channel)

    def _in_firm(self, case: _Case):
        """A dispute inside a firm: its enterprise committee, then the ladder from escalate_to."""
        unit = min(
            bisect.bisect_right(self.enterprise_cum, case.p[P_ENTERPRISE_PICK]),
            len(self.enterprise_cum) - 1,
        )
        outcome = yield from self.mediate(case, ENTERPRISE, unit, CH["in_firm"])
        if outcome in RESOLVED:
            return self.conclude(case, "resolved")
        if outcome == "petitioned":
            return
        yield from self.handover(case, case.u[U_LEVEL_BASE + U_HANDOVER])
        target = self.sc.enterprise.escalate_to
        yield from self.climb(case, LEVELS.index(target), self.channel(case))


# Functions of the discovery object rather than methods, to keep the class small: the sweep
# schedule, and the race of docs/model.md "Discovery: a race between the sweep and the party's
# own report" (mechanisms.discovery_race) and the entry choice.
def _sweep_finds(d: _Discovery, case: _Case, t0: float) -> float:
    """When the sweeps of the dispute's grid find it, if it waits for them from ``t0``.

    The next sweep after ``t0``, then one sweep interval per miss: the number of misses is
    geometric, by inversion of the case's ``detect`` uniform.
    """
    offset = d.sweep_offset[case.grid]
    k = math.floor((t0 - offset) / d.sweep_interval) + 1
    found = offset + k * d.sweep_interval
    misses = _sweep_misses(d, case)
    if misses:  # added apart, not folded into k: other arithmetic would move the goldens
        found += misses * d.sweep_interval
    return found


def _sweep_misses(d: _Discovery, case: _Case) -> int:
    """Sweeps that miss the dispute before one finds it: geometric, by inversion of the case's
    ``detect`` uniform (0 when sweeps always detect)."""
    p = d.sc.discovery.detect_probability
    if p >= 1.0:
        return 0
    return math.floor(math.log1p(-case.u[U_DETECT]) / math.log1p(-p))


def _first_of(env: simpy.Environment, a: simpy.Event, b: simpy.Event) -> simpy.Event:
    """An event that succeeds when ``a`` or ``b`` is processed, whichever first: ``env.any_of``
    without the condition's bookkeeping (its value is not needed). It is scheduled where
    ``AnyOf`` would be (by the first of the two, at normal priority), so the order of events
    is the same."""
    first = env.event()

    def won(_event: simpy.Event) -> None:
        if not first.triggered:
            first.succeed()

    a.callbacks.append(won)
    b.callbacks.append(won)
    return first


def _discover(d: _Discovery, case: _Case):
    """A dispute's discovery and entry with the race or the entry choice on (else ``journey``).

    **The race** (``mechanisms.discovery_race``): the party reports after its own delay
    (``self_report_delay_days``, by inversion of the case's ``report_delay`` uniform; 0 without
    ``mechanisms.self_report_delays``), unless it never reports (``never_self_report_share``,
    read off the case's ``channel`` uniform, which the race frees from ``sweep_share``); the
    sweeps of its grid find it at :func:`_sweep_finds`. Whichever comes first wins; a tie goes
    to the sweep. Without ``mechanisms.sweeps`` every party reports (nobody else could find it).
    Without the race, ``sweep_share`` decides as in ``journey``.

    **The entry choice** (``mechanisms.entry_choice``): a reporting party's level is chosen by
    :class:`sim.model.entry._EntryChoice` from the row of stream ``entry`` drawn here, one per
    dispute as it arises (in-firm ones too), so that a dispute keeps its row in every variant.
    """
    env, mech, disc = d.env, d.mech, d.sc.discovery  # rows read through the case: see journey
    erow = detached(d.entry_rows.next()) if d.entry_on else None  # this frame keeps it
    if case.p[P_ENTERPRISE] < d.enterprise_share[case.category]:
        yield from d._in_firm(case)
        return
    t0 = env.now
    found = math.inf
    delay = (
        disc.self_report_delay_days.ppf(case.u[U_REPORT_DELAY]) if mech.self_report_delays else 0.0
    )
    if d.race:
        channel = d.race_channel
        if mech.sweeps:
            if case.u[U_CHANNEL] < disc.never_self_report_share:
                delay = math.inf
            found = _sweep_finds(d, case, t0)
    else:
        channel = d.report_channel
        if mech.sweeps and case.u[U_CHANNEL] < disc.sweep_share:
            found, delay = _sweep_finds(d, case, t0), math.inf  # the sweep's, whenever it comes
    if d.sweep_work is not None and found < math.inf:
        # Sweeps are work (sim.model.sweeps): the sweep that finds the dispute is an event,
        # raced against the party's own report.
        swept = d.sweep_work.found(case.grid, _sweep_misses(d, case) + 1)
        if delay < math.inf:
            yield _first_of(env, swept, env.timeout(delay))
        else:
            yield swept
        found = env.now if swept.processed or swept.triggered else math.inf
        if found < math.inf:
            neglect(case, found - t0)
        else:
            delay = 0.0  # the report came first and its time has passed already
            neglect(case, env.now - t0)
            t0 = env.now
    elif found - t0 <= delay:
        yield env.timeout(found - t0)
        neglect(case, found - t0)
    if found < math.inf and (d.sweep_work is not None or found - t0 <= delay):
        if mech.on_the_spot and case.u[U_ON_THE_SPOT] < disc.on_the_spot.of(case.severity):
            # 当场调处: settled during the sweep, a zero-length grid step.
            now = env.now
            step = _Step(GRID, case.grid, CH["sweep"], now, case.severity, 0.0)
            step.started = now
            d.record_step(case, step, "resolved_on_the_spot", 0.0)
            return d.conclude(case, "resolved")
        yield from d.climb(case, GRID, CH["sweep"])
        return
    if mech.self_report_delays:
        yield env.timeout(delay)
        neglect(case, delay)
    # Residents of some sectors go straight to that sector's committee.
    sector = d.sector_of_category[case.category]
    if sector >= 0 and case.p[P_SECTOR_DIRECT] < d.sector_specs[sector].direct_share:
        yield from d.final(case, SECTOR, sector, CH["direct"])
        return
    if d.entry_on:
        level = d.entry_choice.choose(d.district.grid_village[case.grid], case.u[U_ENTRY], erow)
    else:
        level = min(bisect.bisect_right(d.entry_cum, case.u[U_ENTRY]), DISTRICT)
    yield from d.climb(case, level, channel)
