"""One step of a case at a venue: queueing, sessions, experts, the time limit and the outcome.

Implements docs/model.md "Mediation at a venue" (a case queues for a mediator of its unit, gets
``sessions`` sessions of effort in the mediator's working hours with the parties' time between
them, and is resolved with the venue's probability), "Time limits" (a case still queueing, or
whose parties are still apart, when the limit passes is escalated), the patience of
"Petitions" (a party who waits too long petitions instead), "Experts" (an expert joins the
session after the mediator), the overload effect on the chance of success, and "Quality of
mediation" (with ``mechanisms.quality``, :mod:`sim.model.quality` gives the chance and the effort
given, and :meth:`_Mediation._settle` ends the step).

The step's happy path (a mediator, sessions, an outcome) stays in :meth:`_Mediation.mediate`,
the hot loop of the model; the ways a step ends early each have their own method.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import cast

import numpy as np
import simpy

from sim.model.cases import _Case, _Step, neglect
from sim.model.layout import OUT, P_EXPERT
from sim.model.pools import _JointPool, _Pool
from sim.model.processes import _Process
from sim.model.quality import _Quality
from sim.model.recorder import _Recorder
from sim.model.streams import Uniforms
from sim.model.venues import _Desk, _Venues
from sim.scenario.calendar import WorkingCalendar
from sim.scenario.schema import Scenario

__all__: list[str] = []  # the model's own machinery; nothing public

_NAN = math.nan  # a global, one opcode in the hot loop


class _Mediation:
    """Runs the steps at every venue; the settings it reads are bound once, for the hot loop."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        venues: _Venues,
        recorder: _Recorder,
        petition: Callable,
        calendars: list[WorkingCalendar],
        expert_calendar: WorkingCalendar,
        session_u: Uniforms,
        window: tuple[float, float],
        quality_rng: np.random.Generator | None = None,
    ) -> None:
        self.env = env
        self.desks = venues.desks
        self.pools = venues.pools
        self.overload = venues.overload
        self.expert_pool = venues.expert_pool
        self.expert_bonus = sc.experts.resolve_bonus
        self.gauges = recorder.gauges
        self.present = recorder.present
        self.step_records = recorder.step_records
        self.record_step = recorder.record_step
        self.petition = petition  # generator function (case, venue) of the petition system
        self.calendars = calendars
        self.expert_calendar = expert_calendar
        # Round-the-clock calendars (working_calendar off): a session ends effort / 24 days on.
        self.always_open = all(c.always_open for c in calendars)
        self.session_u = session_u  # the parties' time between sessions
        self.window_start, self.window_end = window
        self.effort_factor = [
            c.effort_factor if sc.mechanisms.effort_factors else 1.0 for c in sc.categories.values()
        ]
        self.effort_in_window = [0.0] * len(self.desks)  # per venue, of steps entered in it
        # Mediators' time: the share of working time given to mediation, by mediator kind,
        # and each grid's travel factor (its township's).
        self.shares = venues.shares
        self.expert_share = venues.expert_share
        self.grid_travel_factor = venues.grid_travel_factor
        # mechanisms.quality: None when off, which is all the hot loop tests.
        self.quality = (
            _Quality(sc, venues, quality_rng)
            if sc.mechanisms.quality and quality_rng is not None
            else None
        )

    def mediate(self, case: _Case, venue: int, unit: int, channel: int):
        """One step at one venue and unit; returns its outcome name."""
        env = self.env
        desk = self.desks[venue][unit]
        pool = self.pools[venue][unit]
        entered = env.now
        if pool is None:
            return self._no_mediator(case, venue, unit, channel, desk)
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
        step = case.open_step = _Step(venue, unit, channel, entered, severity, effort)
        started = math.nan
        first_kind = -1
        in_window = self.window_start <= entered < self.window_end
        always_open, calendars = self.always_open, self.calendars
        timer_armed = False
        for s in range(sessions):
            now = env.now
            kind = pool.acquire_now(case)
            if kind < 0:
                # Every mediator is busy: the case queues, unless it is past its time.
                if now >= give_up:
                    # Past the time limit or patience, the party does not queue (again).
                    return self._give_up(case, step, deadline, effort if s else 0.0)
                req = pool.wait(1 if s == 0 else 0, case)
                waiting.value += 1
                if give_up < math.inf and not timer_armed:
                    self._arm_timer(case, give_up - now)
                    timer_armed = True
                case.waiting_req = req
                try:
                    kind = yield req
                except simpy.Interrupt:
                    return self._interrupted(case, step, deadline, req, s, now)
                case.waiting_req = None
                waiting.value -= 1
                if s == 0:
                    neglect(case, env.now - now)
            now = env.now
            busy.value += 1
            if s == 0:
                # The mediator who takes the case answers for it.
                started = step.started = now
                first_kind = step.kind = kind
                if self.quality is not None:
                    # Who took it (grade, experience) and how much of the effort they give.
                    grade, cases_a_year, factor = self.quality.begin(
                        case.id, venue, unit, kind, pool, now, desk
                    )
                    per_session *= factor
            # Work offered (effort and travel) and working hours the mediator is held.
            if desk.timed:
                work, hold = self._session_time(desk, case, per_session, kind)
            else:
                work = hold = per_session
            if in_window:
                # A joint session occupies one member of each department it names.
                self.effort_in_window[venue] += work * (len(case.departments) or 1)
            if expert:
                yield from self._with_expert(kind, hold, work)
            else:
                end = now + hold / 24.0 if always_open else calendars[kind].finish(now, hold)
                yield env.timeout(end - now)
            pool.release(kind, case)
            busy.value -= 1
            if s < sessions - 1:
                gap = desk.party_ppf(self.session_u.next())
                if env.now + gap >= deadline:
                    return (yield from self._parties_apart(case, step, deadline))
                yield env.timeout(gap)

        # All sessions took place: resolved with the venue's chance, else failed onward.
        if self.quality is not None:
            return self._settle(
                case, step, desk, pool, u_outcome, expert, grade, cases_a_year, factor
            )
        p = desk.resolve[first_kind][severity]
        if expert:
            p = min(1.0, p + self.expert_bonus)
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
        # recorder.record_step, inlined on the path every step takes.
        self.step_records.append(
            (case.id, case.step, venue, unit, channel, entered, started, now, OUT[outcome],
             first_kind, effort, severity, case.severity, expert, -1, _NAN, effort)
        )  # fmt: skip
        case.step += 1
        case.open_step = None
        return outcome

    def _settle(
        self,
        case: _Case,
        step: _Step,
        desk: _Desk,
        pool: _Pool | _JointPool,
        u_outcome: float,
        expert: bool,
        grade: int,
        cases_a_year: float,
        factor: float,
    ) -> str:
        """The end of a mediated step with mechanisms.quality on: the outcome and its row.

        As the end of :meth:`mediate`, with the chance from :meth:`_Quality.probability` and the
        row's quality fields (grade, the mediator's cases a year, the effort given).
        """
        assert self.quality is not None
        severity = step.severity
        p = self.quality.probability(
            desk.resolve[step.kind][severity],
            step.kind,
            grade,
            cases_a_year,
            factor,
            expert,
            desk,
            pool,
        )
        outcome = "resolved" if u_outcome < p else desk.failed()
        now = self.env.now
        self.present[step.venue].change(now, -1)
        self.step_records.append(
            (case.id, case.step, step.venue, step.unit, step.channel, step.entered, step.started,
             now, OUT[outcome], step.kind, step.effort, severity, case.severity, expert, grade,
             cases_a_year, step.effort * factor)
        )  # fmt: skip
        case.step += 1
        case.open_step = None
        return outcome

    def _no_mediator(self, case: _Case, venue: int, unit: int, channel: int, desk: _Desk) -> str:
        """No mediator here: passed straight up, or, at the top, nobody can take it."""
        outcome = desk.over_time() if desk.top else "escalated_no_mediator"
        step = _Step(venue, unit, channel, self.env.now, case.severity, 0.0)
        self.record_step(case, step, outcome, 0.0)
        return outcome

    def _session_time(
        self, desk: _Desk, case: _Case, per_session: float, kind: int
    ) -> tuple[float, float]:
        """(work, hold) of one session: its effort plus the travel to it, in hours, and the
        working hours that holds a mediator of ``kind`` who gives only a share of them to
        mediation (docs/model.md "Mediators' time")."""
        work = per_session + desk.travel_hours * self.grid_travel_factor[case.grid]
        return work, work / self.shares[kind]

    def _with_expert(self, kind: int, hold: float, work: float):
        """A session with an expert beside the mediator, in both their working hours.

        The mediator is held ``hold`` hours, the expert ``work`` over the experts' own
        mediation share. Mediator first, then the expert: one order for all, so no cycle of
        waits.
        """
        env = self.env
        ereq = self.expert_pool.request()  # type: ignore[union-attr]
        yield ereq
        end = max(
            self.calendars[kind].finish(env.now, hold),
            self.expert_calendar.finish(env.now, work / self.expert_share),
        )
        yield env.timeout(end - env.now)
        self.expert_pool.release(ereq)  # type: ignore[union-attr]

    def _parties_apart(self, case: _Case, step: _Step, deadline: float):
        """The parties are still apart when the time limit passes: the step ends then."""
        env = self.env
        yield env.timeout(max(deadline - env.now, 0.0))
        self.present[step.venue].change(env.now, -1)
        outcome = self.desks[step.venue][step.unit].over_time()
        self.record_step(case, step, outcome, step.effort)
        return outcome

    def _arm_timer(self, case: _Case, delay: float) -> None:
        """One timer per step, armed only when the case has to queue: it interrupts the case if
        it is still queueing for this step when it fires (time limit or patience)."""
        proc = self.env.active_process  # the case's own process, which is queueing
        assert proc is not None
        # The step number goes with the timer: a timer left from an earlier step must not touch
        # a later one.
        self.env.timeout(delay).callbacks.append(partial(_interrupt_waiting, case, proc, case.step))

    def _interrupted(
        self,
        case: _Case,
        step: _Step,
        deadline: float,
        req: simpy.Event,
        s: int,
        queued_at: float,
    ) -> str:
        """The timer interrupted the case queueing for session ``s`` (since ``queued_at``)."""
        case.waiting_req = None
        pool = self.pools[step.venue][step.unit]
        assert pool is not None, "only a unit with mediators has a queue"
        if req.triggered:  # granted in the same instant: hand it on
            pool.release(cast(int, req.value), case)
        else:
            pool.cancel(req)
        self.gauges[step.venue][1].value -= 1
        if s == 0:
            neglect(case, self.env.now - queued_at)
        return self._give_up(case, step, deadline, step.effort if s else 0.0)

    def _give_up(self, case: _Case, step: _Step, deadline: float, done: float) -> str:
        """The step ends while waiting: patience ran out (petition) or the time limit did.

        ``done`` is the effort recorded for the step (none if its first session never began).
        """
        env = self.env
        self.present[step.venue].change(env.now, -1)
        if env.now >= case.patience_at and case.patience_at <= deadline:
            self.record_step(case, step, "petitioned", done)
            _Process(env, self.petition(case, step.venue))
            return "petitioned"
        outcome = self.desks[step.venue][step.unit].over_time()
        self.record_step(case, step, outcome, done)
        return outcome


def _interrupt_waiting(case: _Case, proc: simpy.Process, step: int, _timer: simpy.Event) -> None:
    """The timer of ``step`` fired: interrupt the case if it still queues in that step."""
    req = case.waiting_req
    if req is not None and not req.triggered and case.step == step and proc.is_alive:
        proc.interrupt("time limit or patience")
