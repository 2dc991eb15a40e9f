"""Sweeps as work (排查): each sweep of a grid takes its grid worker's time.

Implements docs/model.md "Mediators' time" for ``discovery.sweep_hours_per_grid > 0``: one process
per grid that, at each sweep time, takes a member of the grid's pool (the grid workers, who also
mediate 网格调), holds them ``sweep_hours_per_grid`` hours of mediation time in their calendar,
and only then finds the disputes waiting for that sweep. A grid whose worker is busy sweeps late:
the sweep queues for the pool like a new case, and finds every dispute that arose before it
began. The next sweep is due at the first sweep time of the grid's schedule after this one ends.

With the hours at 0 nothing here is built: discovery computes the next sweep time of a grid as
it always did (no process per grid, docs/design.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import simpy

from sim.model.layout import GRID
from sim.model.pools import _Pool
from sim.model.recorder import _Recorder
from sim.model.venues import _Venues
from sim.scenario.calendar import WorkingCalendar

if TYPE_CHECKING:
    from sim.model.cases import _Case

__all__: list[str] = []  # the model's own machinery; nothing public

# The grid pool's methods take the case that asks; a sweep is no case, and _Pool never reads it.
_NO_CASE = cast("_Case", None)


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
    ) -> None:
        self.env = env
        self.hours = hours
        self.pools = venues.pools[GRID]
        self.shares = venues.shares
        self.busy = recorder.busy[GRID]
        self.calendars = calendars
        self.offsets = offsets
        self.interval = interval
        self.stop = stop  # arrivals end: once nobody waits, the sweeps stop too
        self.window = window
        self.work_in_window = work_in_window  # per venue, the mediation module's own list
        # Per grid, the done-events of the rounds not yet begun that a dispute waits for.
        self.pending: list[list[simpy.Event]] = [[] for _ in offsets]
        self.rounds_in_window = 0

    def start(self) -> None:
        """One sweeping process per grid."""
        for grid in range(len(self.offsets)):
            self.env.process(self.sweeper(grid))

    def found(self, grid: int, rounds: int) -> simpy.Event:
        """The event that the ``rounds``-th sweep of ``grid`` not yet begun is done (≥ 1)."""
        pending = self.pending[grid]
        while len(pending) < rounds:
            pending.append(self.env.event())
        return pending[rounds - 1]

    def sweeper(self, grid: int):
        """The grid's sweeps: due every interval from its offset, late while its worker is busy."""
        env = self.env
        pool = cast("_Pool | None", self.pools[grid])
        pending = self.pending[grid]
        offset, interval = self.offsets[grid], self.interval
        due = offset
        while True:
            if due > env.now:
                yield env.timeout(due - env.now)
            if env.now >= self.stop and not pending:
                return
            if pool is not None:
                kind = pool.acquire_now(_NO_CASE)
                if kind < 0:
                    kind = yield pool.wait(1, _NO_CASE)
                yield from self._sweep(pool, kind, pending)
            elif pending:
                # No grid worker in the pool: nobody's time to count, the sweep is instant.
                pending.pop(0).succeed()
            # The next sweep: the first time of the grid's schedule after this one ended.
            due = offset + (int((env.now - offset) / interval) + 1) * interval

    def _sweep(self, pool: _Pool, kind: int, pending: list[simpy.Event]):
        """One round by a worker of ``kind``: it finds the disputes that arose before it began."""
        env = self.env
        done: Any = pending.pop(0) if pending else None
        self.busy.value += 1
        lo, hi = self.window
        if lo <= env.now < hi:
            self.work_in_window[GRID] += self.hours
            self.rounds_in_window += 1
        hold = self.hours / self.shares[kind]
        cal = self.calendars[kind]
        end = env.now + hold / 24.0 if cal.always_open else cal.finish(env.now, hold)
        yield env.timeout(end - env.now)
        pool.release(kind, _NO_CASE)
        self.busy.value -= 1
        if done is not None:
            done.succeed()
