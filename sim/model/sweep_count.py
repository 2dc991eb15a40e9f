"""Sweep rounds that repeat: counted for the time series and skipped at a touch, not caught up.

Used by :mod:`sim.model.sweeps` (docs/model.md "Mediators' time") when a round's length (end −
due) is the same for every round of a grid and kind, and shorter than the sweep interval: then
an idle grid's rounds need no work until something touches the grid.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
import simpy
from simpy.events import NORMAL

from sim.model.layout import GRID
from sim.model.pools import _Pool
from sim.scenario.calendar import WorkingCalendar

if TYPE_CHECKING:
    from sim.model.sweeps import _Sweeps

__all__: list[str] = []  # the model's own machinery; nothing public


def lazy_count(
    end_of: Callable[[float, int], float],
    calendars: list[WorkingCalendar],
    offsets: list[float],
    interval: float,
    stop: float,
) -> _LazyCount | None:
    """The sampler's count of rounds under way, when rounds repeat; else None.

    A round's length (``end_of(due, kind) − due``) is the same for every round of a grid and
    kind when the interval is a whole number of the calendars' periods (a week; a day when every
    day is a working day; any time round the clock). If every such length is shorter than the
    interval, a round always ends before the next is due, and the rounds under way can be
    counted from each grid's next due time alone; else the sampler catches every due grid up.
    """
    for cal in calendars:
        period = 0.0 if cal.always_open else 1.0 if cal.days_per_week == 7 else 7.0
        if period and interval % period:
            return None
    lengths = [[end_of(o, kind) - o for kind in range(len(calendars))] for o in offsets]
    if not all(length < interval - 1e-6 for row in lengths for length in row):
        return None
    return _LazyCount(offsets, lengths, interval, stop)


def skip_rounds(sweeps: _Sweeps, grid: int, due: float, now: float, kind: int) -> float:
    """The first round of an idle ``grid`` from ``due`` on that may not be over by ``now``.

    Every round due by ``now`` (and before the stop) takes a free worker of ``kind`` at its due
    time and gives it back before the next is due (:func:`lazy_count`), so the pool is as it
    was: those over by ``now`` (all but maybe the last, whose length tells) are skipped, their
    hours in the window added one by one, as ``_Sweeps._rounds`` would. Due times are ``offset +
    k × interval``, the arithmetic of ``_Sweeps._ended``, so they are the same to the bit.
    """
    offset, interval, stop = sweeps.offsets[grid], sweeps.interval, sweeps.stop
    first = round((due - offset) / interval)
    # The last round due by now and before the stop; the float quotient may be one off.
    k = math.floor((min(now, stop) - offset) / interval)
    last = offset + k * interval
    if last > now or last >= stop:
        k -= 1
        last = offset + k * interval
    elif offset + (k + 1) * interval <= now and offset + (k + 1) * interval < stop:
        k += 1
        last = offset + k * interval
    if k < first:
        k, last = first, due
    # The last one is over too when its length has passed (with room for the float slack).
    if now > last + cast(_LazyCount, sweeps.lazy).lengths[grid][kind] + 1e-6:
        k += 1
    if k == first:
        return due
    lo, hi = sweeps.window
    work, hours = sweeps.work_in_window, sweeps.hours
    if lo <= due and offset + (k - 1) * interval < hi:  # all in the window (most of a run)
        total = work[GRID]
        for _ in range(k - first):
            total += hours
        work[GRID] = total
    else:
        for j in range(first, k):
            if lo <= offset + j * interval < hi:
                work[GRID] += hours
    return offset + k * interval


# The states of a planned round (sweeps.plans[grid] = [due, kind, done, state]).
_PLANNED, _BEGUN, _DROPPED = 0, 1, 2


def plan_round(sweeps: _Sweeps, grid: int) -> bool:
    """Plan the awaited round due next: one event at its end instead of a wake-up at its due time.

    A dispute waits for the round; the grid is idle and its pool has a free worker. If nothing
    touches the pool before the due time, the round takes that worker then and ends when the
    calendar says, so the end can be scheduled now. A touch before the due time drops the plan
    for the wake-up of ``_Sweeps._wake`` (the pool may change); a touch after it begins the
    round as ``_Sweeps._rounds`` would have at its due time (:func:`touch_plan`).
    """
    pool = sweeps.pools[grid]
    if pool is None:
        return False
    free = pool.free
    kind = 0 if free[0] else 1 if free[1] else -1
    if kind < 0:
        return False
    due = sweeps.due[grid]
    plan = [due, kind, sweeps.pending[grid][0], _PLANNED]
    sweeps.plans[grid] = plan
    sweeps.dirty.append(grid)
    env = sweeps.env
    # The times of the wake-up and of the end to the bit, as _wake and _hold would schedule
    # them (now + delay, then the wake-up's now + delay): SimPy's own arithmetic of schedule().
    woken = env.now + (due - env.now)
    end = woken + max(sweeps._end_of(due, kind) - woken, 0.0)
    ev = simpy.Event(env)
    ev._ok = True
    ev._value = None
    ev.callbacks.append(functools.partial(_planned_end, sweeps, grid, plan))
    heapq.heappush(env._queue, (end, NORMAL, next(env._eid), ev))
    return True


def touch_plan(sweeps: _Sweeps, grid: int, pool_changes: bool) -> None:
    """Something touches a grid with a planned round: begin it if due, else maybe drop it."""
    plan = sweeps.plans[grid]
    assert plan is not None
    if sweeps.env.now >= plan[0]:
        sweeps.plans[grid] = None
        _begin(sweeps, grid, plan)
    elif pool_changes:
        sweeps.plans[grid] = None
        plan[3] = _DROPPED
        sweeps._wake(grid, plan=False)


def _begin(sweeps: _Sweeps, grid: int, plan: list) -> None:
    """The planned round began at its due time: as ``_Sweeps._rounds`` and ``_hold`` then."""
    due = plan[0]
    plan[3] = _BEGUN
    cast(_Pool, sweeps.pools[grid]).free[plan[1]] -= 1
    lo, hi = sweeps.window
    if lo <= due < hi:
        sweeps.work_in_window[GRID] += sweeps.hours
    sweeps.pending[grid].pop(0)  # the plan's done-event (a plan is dropped if it changes)
    sweeps.busy.value += 1
    sweeps.active[grid] = True
    sweeps.touch[grid] = math.inf
    sweeps.dirty.append(grid)


def _planned_end(sweeps: _Sweeps, grid: int, plan: list, _event: object) -> None:
    """The end of a planned round: its done-event is processed now (``_Sweeps._ended_awaited``)."""
    if plan[3] == _DROPPED:
        return
    if plan[3] == _PLANNED:  # nothing touched the grid since the plan: it began at its due time
        sweeps.plans[grid] = None
        _begin(sweeps, grid, plan)
    done = plan[2]
    callbacks = done.callbacks
    done.callbacks = None
    done._ok = True
    done._value = None
    # As _ended_awaited: a case handed the worker goes first, the disputes found after it.
    handed = cast(_Pool, sweeps.pools[grid]).waiting > 0
    sweeps._ended(grid, plan[1], None)
    if handed:
        later = sweeps.env.event()
        later.callbacks = callbacks
        later.succeed()
    else:
        for callback in callbacks:
            callback(done)


class _LazyCount:
    """Rounds under way at a sample time, counted from each idle grid's next due time.

    An idle grid (no round held, queued or awaited) whose pool has a free worker of ``kind``
    sweeps at every due time ``offset + k × interval`` from ``due`` (before the stop) and holds a
    worker for the round's length (the same for each round: :func:`lazy_count`). At
    time ``s`` the last round due began ``r = (s − offset) mod interval`` ago; it is under way
    when ``r < length`` and it is not earlier than ``due`` (due times are ``interval`` apart, so
    half an interval tells them apart whatever the rounding). Counted over all grids at once
    with numpy; a grid that is not idle has length −inf (never counted).
    """

    def __init__(
        self, offsets: list[float], lengths: list[list[float]], interval: float, stop: float
    ) -> None:
        self.offsets = np.asarray(offsets, dtype=float)
        self.lengths = lengths
        self.interval = interval
        self.stop = stop
        self.after = self.offsets - interval / 2.0  # a round due after this is not earlier than due
        self.length = np.full(len(offsets), -math.inf)  # set by the first refresh of each grid
        self.counted = 0  # rounds counted here and added to the busy gauge at the last sample

    def sample(self, sweeps: _Sweeps) -> None:
        """Before a sample: the busy gauge counts the rounds under way without catching up.

        Rounds held without an event that ended by now give their worker back (as at a touch);
        the rounds that began since each idle grid's last touch are counted here and added to
        the gauge until the next sample (only the sampler reads it).
        """
        now = sweeps.env.now
        heap, touch, held_kind = sweeps.heap, sweeps.touch, sweeps.held_kind
        while heap and heap[0][0] <= now:
            t, grid = heapq.heappop(heap)
            if touch[grid] == t and held_kind[grid] >= 0:
                sweeps._give_back(grid, now)
        if sweeps.dirty:
            for grid in set(sweeps.dirty):
                self.refresh(sweeps, grid)
            sweeps.dirty.clear()
        count = self.under_way(now)
        sweeps.busy.value += count - self.counted
        self.counted = count

    def refresh(self, sweeps: _Sweeps, grid: int) -> None:
        """This count's view of ``grid``: idle from its next due time with a free worker of
        some kind (whose round length it takes), or not counted (length −inf)."""
        pool = sweeps.pools[grid]
        length = -math.inf
        waits = sweeps.pending[grid] and sweeps.plans[grid] is None  # a planned round is counted
        if pool is not None and not (sweeps.active[grid] or sweeps.held_kind[grid] >= 0 or waits):
            free = pool.free
            if free[0]:
                length = self.lengths[grid][0]
            elif free[1]:
                length = self.lengths[grid][1]
        self.after[grid] = sweeps.due[grid] - self.interval / 2.0
        self.length[grid] = length

    def under_way(self, s: float) -> int:
        """How many idle grids have a round under way at time ``s``."""
        r = np.mod(s - self.offsets, self.interval)
        began = s - r
        under_way = (r < self.length) & (began > self.after)
        if s >= self.stop:  # no round is due from the stop on (the samples end before it)
            under_way &= began < self.stop
        return int(np.count_nonzero(under_way))
