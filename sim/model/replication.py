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

import gc
import math
from dataclasses import dataclass, field
from pathlib import Path

import simpy

from sim.model.centre import _Centre
from sim.model.court import _Court, court_room
from sim.model.discovery import _Discovery
from sim.model.ladder import _Ladder
from sim.model.layout import (
    CASE_FIELDS,
    CHANNELS,
    ORIGINS,
    P_WIDTH,
    PETITION_FIELDS,
    PETITION_OUTCOMES,
    SAMPLE_FIELDS,
    STATUSES,
    STEP_FIELDS,
)
from sim.model.mediation import _Mediation
from sim.model.petitions import _Petitions
from sim.model.processes import _Process
from sim.model.recorder import _Recorder
from sim.model.records import CHUNK_ROWS, RecordLog
from sim.model.streams import UniformRows, Uniforms, stream
from sim.model.sweeps import _Sweeps
from sim.model.venues import _Venues
from sim.scenario.calendar import WorkingCalendar
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import VENUES

__all__ = [
    "CASE_FIELDS",
    "CHANNELS",
    "CHUNK_ROWS",
    "ORIGINS",
    "PETITION_FIELDS",
    "PETITION_OUTCOMES",
    "SAMPLE_FIELDS",
    "STATUSES",
    "STEP_FIELDS",
    "Replication",
    "simulate_replication",
]


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
    effort_hours: dict[str, float]  # per venue: work (effort, travel, sweeps) in the window
    available_hours: dict[str, float]  # per venue, mediation hours offered in the window
    staffing: dict[str, list[tuple[int, int]]]  # per venue: (full-time, part-time) per unit
    backlog_at_start: int  # backlog cases open when the window opens
    events: int
    # Counts the tables do not show (mechanisms.court_linkage): court filings and 诉前委派
    # of ladder cases in the window; empty when the mechanism is off.
    counts: dict[str, int] = field(default_factory=dict)


class _Model:
    """One replication: builds the mechanisms, wires them together, runs and collects.

    The mechanisms are objects of their own modules, built in the order they depend on each
    other: the venues (pools and settings) and the recorder, the petition system, mediation (a
    step at a venue), the district centre, the ladder, and discovery (where cases come from).
    Each binds what it calls of the others once, so the hot loop reads plain attributes.
    """

    def __init__(
        self, scenario: Scenario, replication: int, seed: int, spool: str | Path | None = None
    ):
        sc = self.sc = scenario
        self.district = District.from_scenario(scenario)
        env = self.env = simpy.Environment()
        self.seed = seed
        self.replication = replication
        run = scenario.run
        self.window = (run.warmup_days, run.warmup_days + run.horizon_days)
        self.end_time = self.window[1] + (run.drain_limit_days if run.drain else 0.0)

        weekday = run.start_date.weekday()
        cals = scenario.calendars
        if scenario.mechanisms.working_calendar:
            self.calendars = [
                WorkingCalendar(cals.full_time, weekday),
                WorkingCalendar(cals.part_time, weekday),
            ]
            expert_calendar = WorkingCalendar(scenario.experts.calendar, weekday)
        else:
            self.calendars = [WorkingCalendar.round_the_clock()] * 2
            expert_calendar = WorkingCalendar.round_the_clock()

        folder = Path(spool) if spool is not None else None
        logs = [
            RecordLog(
                fields,
                chunk_rows=CHUNK_ROWS,
                spool=folder / f"{name}.parquet" if folder is not None else None,
            )
            for name, fields in (
                ("cases", CASE_FIELDS),
                ("steps", STEP_FIELDS),
                ("petitions", PETITION_FIELDS),
                ("timeseries", SAMPLE_FIELDS),
            )
        ]
        self.venues = _Venues(sc, self.district, env)
        self.recorder = recorder = _Recorder(env, *logs)
        recorder.sampled_venues = self.venues.sampled_venues
        self.petitions = _Petitions(
            sc,
            env,
            recorder.petitions,
            recorder.conclude,
            Uniforms(stream(seed, replication, "backlog")),
            self.end_time,
            self.district,
            self._key(seed, replication, "petition_links"),
            Uniforms(stream(seed, replication, "special_team"))
            if sc.mechanisms.special_teams
            else None,
        )
        self.mediation = _Mediation(
            sc,
            env,
            self.venues,
            recorder,
            self.petitions.petition,
            self.calendars,
            expert_calendar,
            Uniforms(stream(seed, replication, "party_delay")),
            self.window,
            stream(seed, replication, "quality"),
        )
        mediate = self.mediation.mediate
        self.court: _Court | None = None
        conclude = recorder.conclude
        if sc.mechanisms.court_linkage:
            room = court_room(sc, self.venues.unit_names.get("stationed_room", []))
            self.court = _Court(
                sc, env, conclude, room, self._key(seed, replication, "court"), self.window
            )
            conclude = self.court.conclude
        centre = _Centre(sc, self.venues, mediate, conclude)
        if self.court is not None:
            self.court.at_room = centre.at_room
        ladder = _Ladder(
            sc,
            env,
            self.district.grid_units(),
            mediate,
            centre,
            self.petitions.petition,
            recorder.conclude,
            self.venues,
            self._township_centre_key(seed, replication),
            self._key(seed, replication, "routing"),
        )
        self.discovery = _Discovery(
            sc,
            env,
            self.district,
            seed,
            replication,
            self.end_time,
            self.venues,
            recorder,
            mediate,
            ladder,
            centre,
            self.petitions.on,
        )
        # The notice's petition measures need the ladder and discovery (wiring only).
        self.petitions.route = ladder.route_petition
        self.discovery.patience_scale = self.petitions.patience_scale
        self.sweeps = self._sweeps(seed)
        self.snapshots: dict[str, list[float]] = {}
        self.backlog_at_start = 0

    def _key(self, seed: int, replication: int, name: str) -> int:
        """The key of a stream of counter-based draws (one integer; other streams untouched)."""
        return int(stream(seed, replication, name).integers(1 << 62))

    def _township_centre_key(self, seed: int, replication: int) -> int:
        """The key of stream "township_centre" (counter-based draws per case), if it is used."""
        mech = self.sc.mechanisms
        if not (mech.township_centres or mech.assign_down):
            return 0
        return int(stream(seed, replication, "township_centre").integers(1 << 62))

    def _sweeps(self, seed: int) -> _Sweeps | None:
        """Sweeps as the grid workers' work, only when they cost time (docs/model.md
        "Mediators' time"); otherwise discovery computes sweep times, with no process."""
        sc = self.sc
        hours = sc.discovery.sweep_hours_per_grid
        if not (
            sc.mechanisms.mediator_time
            and sc.mechanisms.sweeps
            and sc.discovery.sweep_share > 0
            and hours > 0
        ):
            return None
        d = self.discovery
        sweeps = _Sweeps(
            self.env,
            hours,
            self.venues,
            self.recorder,
            self.calendars,
            d.sweep_offset,
            d.sweep_interval,
            d.stop,
            self.window,
            self.mediation.effort_in_window,
            sc.run.sample_interval_days,
        )
        d.sweep_work = sweeps
        return sweeps

    def snapshot(self, at: float, name: str):
        """The venue gauges' integrals (and the backlog) when the window opens or ends."""
        yield self.env.timeout(at)
        now = self.env.now
        self.snapshots[name] = [g.integral(now) for g in self.recorder.present]
        if name == "start":
            self.backlog_at_start = self.petitions.backlog_open

    def run(self) -> Replication:
        env = self.env
        self.petitions.start_backlog(
            self.district,
            UniformRows(stream(self.seed, self.replication, "initial_backlog"), P_WIDTH),
        )
        self.discovery.start()
        if self.sweeps is not None:
            self.sweeps.start()
        _Process(env, self.recorder.sampler(self.sc.run.sample_interval_days, self.window[1]))
        _Process(env, self.snapshot(self.window[0], "start"))
        _Process(env, self.snapshot(self.window[1], "end"))
        step = env.step
        end = self.end_time
        # Events processed: those scheduled meanwhile (SimPy numbers each one it schedules) less
        # those still queued; the loop itself then only steps (no peek() call, no count).
        queue, ids = env._queue, env._eid
        first, queued = next(ids), len(queue)
        while queue and queue[0][0] <= end:
            step()
        events = next(ids) - first - 1 - (len(queue) - queued)
        finish = end if env.peek() < math.inf else min(env.now, end)
        self.recorder.close(self.petitions.open)
        return self._result(finish, events)

    def _result(self, finish: float, events: int) -> Replication:
        start, end = self.snapshots["start"], self.snapshots["end"]
        present = self.recorder.present
        areas = {venue: {"present": end[vi] - start[vi]} for vi, venue in enumerate(VENUES)}
        areas_total = {venue: present[vi].integral(finish) for vi, venue in enumerate(VENUES)}
        span_weeks = (self.window[1] - self.window[0]) / 7.0
        staffing = self.venues.staffing
        # Mediation time: working hours times the share of them given to mediation.
        full_week, part_week = (
            cal.hours_per_week * share
            for cal, share in zip(self.calendars, self.venues.shares, strict=True)
        )
        available = {}
        for venue in VENUES:
            hours = 0.0
            for full, part in staffing[venue]:
                hours += full * full_week
                hours += part * part_week
            available[venue] = hours * span_weeks
        rec = self.recorder
        return Replication(
            scenario=self.sc,
            district=self.district,
            replication=self.replication,
            seed=self.seed,
            window=self.window,
            end_time=finish,
            cases=rec.cases,
            steps=rec.steps,
            petitions=rec.petitions,
            timeseries=rec.series,
            unit_names=self.venues.unit_names,
            areas=areas,
            areas_total=areas_total,
            effort_hours=dict(zip(VENUES, self.mediation.effort_in_window, strict=True)),
            available_hours=available,
            staffing=staffing,
            backlog_at_start=self.backlog_at_start,
            events=events,
            counts=self._counts(),
        )

    def _counts(self) -> dict[str, int]:
        court = self.court
        if court is None:
            return {}
        return {"court_filings": court.filings, "court_delegations": court.delegations}


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
