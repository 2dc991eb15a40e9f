"""Mediator pools and the gauges kept beside them.

Implements the queueing of docs/model.md "Mediation at a venue" (a case queues for a mediator of
its unit, continuing sessions first, full-time mediators taken first) and of "Joint mediation"
(a joint case holds one member of each department it names at once), and the counts behind the
time series of "KPIs" (cases present, waiting, mediators busy).
"""

from __future__ import annotations

import bisect
import heapq
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from sim.model.cases import _Case

__all__: list[str] = []  # the model's own machinery; nothing public


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
