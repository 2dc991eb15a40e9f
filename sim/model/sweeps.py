"""Sweeps as work (排查): each sweep of a grid takes its grid worker's time.

Implements docs/model.md "Mediators' time" for ``discovery.sweep_hours_per_grid > 0``: at each
sweep time a grid's sweep takes a member of the grid's pool (the grid workers, who also mediate
网格调), holds them ``sweep_hours_per_grid`` hours of mediation time in their calendar, and only
then finds the disputes waiting for that sweep. A grid whose worker is busy sweeps late: the
sweep queues for the pool like a new case, and finds every dispute that arose before it began.
The next sweep is due at the first sweep time of the grid's schedule after this one ends.

Rounds are lazy: while nobody waits for a grid's sweep and no case touches the grid's pool, the
pool does not change, so every round due finds a worker free and occupies [due, end] exactly;
such rounds need no event. The grid's schedule is caught up (:meth:`_Sweeps.catch_up`) when
something touches the grid: a dispute asks for a round (:meth:`_Sweeps.found`), a case asks for,
waits for, gives back or cancels a grid worker, or reads the queue (:class:`_SweptPool`), the
time series samples the mediators busy, or the measured window ends. A round still under way at
the touch holds its worker until its end without an event either: the grid remembers the end
and gives the worker back at the first touch after it (the pool had no queue meanwhile, since a
case that queues is a touch). Only when an event is needed at the end (a case queues for the
pool, or a dispute waits for the grid's next round) does the round become real: one event for
its end; a round a dispute waits for is real from its start. A round due while every worker was
busy queues at the touch, which keeps its place in the FIFO: no case queued between its due
time and the touch (that would have been a touch). The sampler of the time series reads a
caught-up pool, so the busy counts are those of the process-per-grid model. When rounds
repeat (the interval a whole number of the calendars' periods) and each ends before the next is
due, the sampler catches nothing up: it counts the rounds under way of the idle grids from their
next due times (:class:`sim.model.sweep_count._LazyCount`), and a touch goes straight to the last
round due (:func:`sim.model.sweep_count.skip_rounds`).

With the hours at 0 nothing here is built: discovery computes the next sweep time of a grid as
it always did (no process per grid, docs/design.md).
"""

from __future__ import annotations

import functools
import heapq
import math
from typing import TYPE_CHECKING, cast

import simpy
from simpy.events import NORMAL, URGENT

from sim.model.layout import GRID
from sim.model.pools import _Pool
from sim.model.processes import _Process
from sim.model.recorder import _Recorder
from sim.model.sweep_count import lazy_count, plan_round, skip_rounds, touch_plan
from sim.model.venues import _Venues
from sim.scenario.calendar import WorkingCalendar

if TYPE_CHECKING:
    from sim.model.cases import _Case

__all__: list[str] = []  # the model's own machinery; nothing public

# The grid pool's methods take the case that asks; a sweep is no case, and _Pool never reads it.
_NO_CASE = cast("_Case", None)


class _SweptPool(_Pool):
    """A grid's pool whose sweeps are caught up before anything reads or changes it.

    Only grids of a run where sweeps are work get one, so every other pool keeps the plain
    methods of :class:`_Pool` (the hot path of the reduced model is untouched).
    """

    __slots__ = ("grid", "sweeps")

    def __init__(self, pool: _Pool, sweeps: _Sweeps, grid: int) -> None:
        super().__init__(pool.env, pool.free[0], pool.free[1])
        self.sweeps = sweeps
        self.grid = grid

    def acquire_now(self, case: _Case) -> int:
        self.sweeps.catch_up(self.grid)
        return _Pool.acquire_now(self, case)

    def wait(self, priority: int, case: _Case) -> simpy.Event:
        self.sweeps.catch_up(self.grid)
        # The case will be handed the worker of a round under way: its end needs an event.
        self.sweeps.make_real(self.grid)
        return _Pool.wait(self, priority, case)

    def cancel(self, event: simpy.Event) -> None:
        self.sweeps.catch_up(self.grid)
        _Pool.cancel(self, event)

    def release(self, kind: int, case: _Case) -> None:
        self.sweeps.catch_up(self.grid)
        _Pool.release(self, kind, case)

    def queue_length(self) -> int:
        self.sweeps.catch_up(self.grid, False)  # a read: the pool does not change
        return self.waiting


class _Sweeps:
    """The sweep rounds of every grid, and the events of the rounds disputes wait for."""

    def __init__(
        self,
        env: simpy.Environment,
        hours: float,
        venues: _Venues,
        recorder: _Recorder,
        calendars: list[WorkingCalendar],
        offsets: list[float],
        interval: float,
        stop: float,
        window: tuple[float, float],
        work_in_window: list[float],
        sample_interval: float = math.inf,
    ) -> None:
        self.env = env
        self.hours = hours
        pools = venues.pools[GRID]
        # The grid pools are swapped in place, before any case runs, for ones that catch up.
        for grid, pool in enumerate(pools):
            if pool is not None:
                pools[grid] = _SweptPool(cast(_Pool, pool), self, grid)
        self.pools = cast("list[_SweptPool | None]", pools)
        self.shares = venues.shares
        self.busy = recorder.busy[GRID]
        self.calendars = calendars
        self.offsets = offsets
        self.interval = interval
        self.stop = stop  # arrivals end: once nobody waits, the sweeps stop too
        self.window = window
        self.work_in_window = work_in_window  # per venue, the mediation module's own list
        self.sample_interval = sample_interval
        # Per grid, the done-events of the rounds not yet begun that a dispute waits for.
        self.pending: list[list[simpy.Event]] = [[] for _ in offsets]
        # Per grid, when its next round is due (not yet begun nor queued; inf: no more rounds),
        # whether a round is under way or queued as an event (its end moves the schedule on),
        # and the due time a wake-up event is set for (a dispute waits for that round).
        self.due: list[float] = list(offsets)
        self.active = [False] * len(offsets)
        self.wake_at = [math.nan] * len(offsets)
        # A round under way without an event (docstring): its end and its worker's kind, NaN
        # and -1 when there is none. ``touch``: the time from which a touch of the grid has
        # something to do: its due time when idle, the end of its round under way without an
        # event, inf while a real round (an event) or a queued one will move it on by itself.
        self.held_end = [math.nan] * len(offsets)
        self.held_kind = [-1] * len(offsets)
        self.touch: list[float] = list(offsets)
        # (touch, grid) for every finite touch time set, soonest first: the grids the sampler
        # must catch up, without scanning every grid each day. An entry whose time is no longer
        # the grid's touch is stale and skipped.
        self.heap: list[tuple[float, int]] = [(t, g) for g, t in enumerate(offsets)]
        heapq.heapify(self.heap)
        # Per mediator kind, what a round costs: the working hours it holds a worker, and
        # whether the calendar is round the clock (as _end_of, read once).
        self.holds = [hours / share for share in self.shares]
        self.finish = [cal.finish for cal in calendars]
        self.always_open = [cal.always_open for cal in calendars]
        self.lazy = lazy_count(self._end_of, calendars, offsets, interval, stop)
        # The grids whose state changed since the last sample (the lazy count refreshes them).
        self.dirty: list[int] = list(range(len(offsets)))
        # Per grid, the awaited round planned ahead of its due time (sweep_count.plan_round).
        self.plans: list[list | None] = [None] * len(offsets)

    def start(self) -> None:
        """Touch every grid when the time series samples it and when the window ends."""
        _Process(self.env, self._samples())
        self._tick(self.window[1]).callbacks.append(lambda _event: self.catch_up_all())

    def _tick(self, delay: float) -> simpy.Event:
        # Urgent: before the sampler's (and anyone's) events at the same time.
        tick = self.env.event()
        tick._ok = True
        tick._value = None
        self.env.schedule(tick, URGENT, delay)
        return tick

    def _samples(self):
        """At the sampler's times (same arithmetic: now + interval), before it samples."""
        env, until, interval = self.env, self.window[1], self.sample_interval
        lazy = self.lazy
        sample = self.catch_up_all if lazy is None else functools.partial(lazy.sample, self)
        while env.now <= until:
            sample()
            if interval == math.inf:
                return
            yield self._tick(interval)

    def catch_up_all(self) -> None:
        """Every grid's rounds due by now (before a sample of the time series is taken)."""
        if self.lazy is not None:  # idle grids are not in the heap: each is caught up
            for grid in range(len(self.touch)):
                self.catch_up(grid, False)
            return
        self.dirty.clear()  # only the lazy count reads it
        now = self.env.now
        heap, touch, held_kind, due = self.heap, self.touch, self.held_kind, self.due
        while heap and heap[0][0] <= now:
            t, grid = heapq.heappop(heap)
            if touch[grid] == t:  # else a stale entry: the grid moved on since
                # self._caught_up(grid, now), inlined
                if held_kind[grid] >= 0:
                    self._give_back(grid, now)
                if due[grid] <= now:
                    self._rounds(grid, now)

    def found(self, grid: int, rounds: int) -> simpy.Event:
        """The event that the ``rounds``-th sweep of ``grid`` not yet begun is done (≥ 1)."""
        self.catch_up(grid, False)
        self.dirty.append(grid)  # a dispute waits: the grid is no longer idle
        # The round under way must end by an event, which wakes the grid for the next one.
        self.make_real(grid)
        pending = self.pending[grid]
        while len(pending) < rounds:
            pending.append(self.env.event())
        self._wake(grid)
        return pending[rounds - 1]

    def catch_up(self, grid: int, pool_changes: bool = True) -> None:
        """The grid's rounds due by now, before its pool is read or changed."""
        if pool_changes:  # the free workers may change now, whether or not rounds are due
            self.dirty.append(grid)
        if self.plans[grid] is not None:
            touch_plan(self, grid, pool_changes)
        if self.touch[grid] <= self.env.now:
            self._caught_up(grid, self.env.now)

    def _caught_up(self, grid: int, now: float) -> None:
        if self.held_kind[grid] >= 0:
            self._give_back(grid, now)  # the round under way without an event ended by now
        if self.due[grid] <= now:
            self._rounds(grid, now)

    def _give_back(self, grid: int, now: float) -> None:
        """The end of a round held without an event, at a touch after it: as :meth:`_ended` at
        its end (no case queued meanwhile, nobody waits for the grid's sweeps)."""
        kind, end = self.held_kind[grid], self.held_end[grid]
        self.held_kind[grid] = -1
        self.held_end[grid] = math.nan
        self.pools[grid].free[kind] += 1  # type: ignore[union-attr]
        self.busy.value -= 1
        self.active[grid] = False
        offset, interval = self.offsets[grid], self.interval
        due = self.due[grid] = offset + (int((end - offset) / interval) + 1) * interval
        self.touch[grid] = due
        self.dirty.append(grid)
        if due > now and self.lazy is None:  # else _rounds, called next, sets the touch again
            heapq.heappush(self.heap, (due, grid))

    def make_real(self, grid: int) -> None:
        """The round under way without an event gets one at its end (someone waits for it)."""
        kind = self.held_kind[grid]
        if kind < 0:
            return
        end = self.held_end[grid]
        self.held_kind[grid] = -1
        self.held_end[grid] = math.nan
        self.touch[grid] = math.inf
        self.dirty.append(grid)
        ev = self.env.timeout(max(end - self.env.now, 0.0))
        ev.callbacks.append(lambda _event: self._ended(grid, kind, None))

    def _end_of(self, start: float, kind: int) -> float:
        hold = self.hours / self.shares[kind]
        cal = self.calendars[kind]
        return start + hold / 24.0 if cal.always_open else cal.finish(start, hold)

    def _begun(self, start: float) -> None:
        lo, hi = self.window
        if lo <= start < hi:
            self.work_in_window[GRID] += self.hours

    def _rounds(self, grid: int, now: float) -> None:
        """The rounds of ``grid`` due by ``now``, with the pool as it has been since they fell due.

        Each round finds a worker free (nothing touched the pool since its due time) and takes
        [due, end], or finds every worker busy and queues, now, for the next one free.
        """
        pool = self.pools[grid]
        pending = self.pending[grid]
        offset, interval, stop = self.offsets[grid], self.interval, self.stop
        due = self.due[grid]
        lo, hi = self.window
        while due <= now:
            if due >= stop and not pending:
                due = math.inf
                break
            if pool is None:
                # No grid worker in the pool: nobody's time to count, the sweep is instant.
                if pending:
                    pending.pop(0).succeed()
                due = offset + (int((due - offset) / interval) + 1) * interval
                continue
            free = pool.free  # _Pool.acquire_now, inlined: full-time first
            if self.lazy is not None and not pending and (free[0] or free[1]):
                # Rounds repeat and each ends before the next is due: skip those over by now.
                due = skip_rounds(self, grid, due, now, 0 if free[0] else 1)
                if due > now:
                    break
            if free[0]:
                free[0] -= 1
                kind = 0
            elif free[1]:
                free[1] -= 1
                kind = 1
            else:
                # Every worker busy since the due time: the round queues like a new case.
                req = _Pool.wait(pool, 1, _NO_CASE)
                req.callbacks.append(functools.partial(self._granted, grid))
                self.active[grid] = True
                break
            # self._end_of(due, kind) and self._begun(due), inlined (the same arithmetic)
            hold = self.holds[kind]
            end = due + hold / 24.0 if self.always_open[kind] else self.finish[kind](due, hold)
            if lo <= due < hi:
                self.work_in_window[GRID] += self.hours
            done = pending.pop(0) if pending else None
            if done is not None:
                # Awaited: the worker is held until one event at its end.
                self._hold(grid, kind, end, done)
                break
            if end > now:
                # Under way: held, without an event until someone needs one (make_real).
                self.busy.value += 1
                self.active[grid] = True
                self.held_kind[grid] = kind
                self.held_end[grid] = end
                self.due[grid] = due
                self.touch[grid] = end
                self.dirty.append(grid)
                heapq.heappush(self.heap, (end, grid))
                return
            free[kind] += 1  # over before now, and the pool had no queue meanwhile
            due = offset + (int((end - offset) / interval) + 1) * interval
        self.due[grid] = due
        self.dirty.append(grid)
        if self.active[grid] or due == math.inf:
            self.touch[grid] = math.inf
        else:
            self.touch[grid] = due
            if self.lazy is None:
                heapq.heappush(self.heap, (due, grid))

    def _hold(self, grid: int, kind: int, end: float, done: simpy.Event | None) -> None:
        self.busy.value += 1
        self.active[grid] = True
        self.touch[grid] = math.inf
        self.dirty.append(grid)
        delay = max(end - self.env.now, 0.0)
        if done is None:
            ev = self.env.timeout(delay)
            ev.callbacks.append(lambda _event: self._ended(grid, kind, None))
            return
        # Awaited: the done-event itself is scheduled at the end, as a timeout would be, and
        # ends the round first when it is processed (one event instead of a timeout and then
        # the done-event). It stays untriggered until then: a dispute whose own report came
        # first must not see its sweep as done.
        callbacks = done.callbacks
        assert callbacks is not None
        callbacks.insert(0, functools.partial(self._ended_awaited, grid, kind, callbacks))
        self.env.schedule(done, NORMAL, delay)

    def _ended_awaited(self, grid: int, kind: int, callbacks: list, done: simpy.Event) -> None:
        """The end of an awaited round, as the first callback of its done-event (:meth:`_hold`)."""
        done._ok = True
        done._value = None
        # A case waiting for the grid's pool is handed the worker by an event now; in the model
        # of a timeout and then the done-event, that case went first: keep that order by moving
        # the waiting disputes to an event after it.
        handed = cast(_Pool, self.pools[grid]).waiting > 0
        self._ended(grid, kind, None)
        if handed:
            later = self.env.event()
            later.callbacks = callbacks[1:]
            del callbacks[1:]  # SimPy's step iterates this very list: it stops here
            later.succeed()

    def _granted(self, grid: int, event: simpy.Event) -> None:
        """A queued round got a worker of the kind in ``event``: it begins now."""
        now = self.env.now
        kind = cast(int, event.value)
        pending = self.pending[grid]
        self._begun(now)
        self._hold(grid, kind, self._end_of(now, kind), pending.pop(0) if pending else None)

    def _ended(self, grid: int, kind: int, done: simpy.Event | None) -> None:
        """A round's end: the worker goes back, the disputes it found are found."""
        pool = cast(_Pool, self.pools[grid])
        _Pool.release(pool, kind, _NO_CASE)
        self.busy.value -= 1
        self.active[grid] = False
        if done is not None:
            done.succeed()
        # The next sweep: the first time of the grid's schedule after this one ended.
        offset, interval = self.offsets[grid], self.interval
        due = self.due[grid] = offset + (int((self.env.now - offset) / interval) + 1) * interval
        self.touch[grid] = due
        self.dirty.append(grid)
        if self.lazy is None:
            heapq.heappush(self.heap, (due, grid))
        self._wake(grid)

    def _wake(self, grid: int, plan: bool = True) -> None:
        """An event at the next due time while a dispute waits for the grid's sweep (or at
        the round's end, when it can be planned: :func:`sim.model.sweep_count.plan_round`)."""
        if not self.pending[grid] or self.active[grid] or self.plans[grid] is not None:
            return
        due = self.due[grid]
        if due == self.wake_at[grid] or due == math.inf:
            return
        if plan and self.lazy is not None and plan_round(self, grid):
            return
        self.wake_at[grid] = due
        ev = self.env.timeout(due - self.env.now)
        ev.callbacks.append(lambda _event: self._woken(grid))

    def _woken(self, grid: int) -> None:
        self.catch_up(grid)
        self._wake(grid)
