"""Two-way court linkage (诉调衔接): unresolved ladder cases to court, 诉前委派 back to a room.

Implements docs/model.md "Court linkage (诉调衔接)" (``mechanisms.court_linkage``). A dispute of
the ladder that ends unresolved at the top goes to court with ``court.litigation_share``; the
court delegates ``court.delegation_share`` of that intake back to its stationed room (诉前委派)
after ``court.filing_delay_days``, where the case gets one more step (a failure there returns it
to court: it ends unresolved). The rest are litigated: they end unresolved at once, as today.
The stationed room's own Poisson stream (``referrals_per_year``) stays: it is the court's intake
that never passed through the ladder.

The draws are counter-based (stream ``court``), so switching the linkage off leaves every other
number where it was; a case is delegated at most once (no loop).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.model.cases import _Case, neglect
from sim.model.layout import ORIGINS
from sim.model.processes import _Process
from sim.model.township_centre import case_uniform
from sim.scenario.schema import Scenario

__all__: list[str] = []  # the model's own machinery; nothing public

_J_COURT = 0  # to court or not
_J_DELEGATE = 1  # delegated back (诉前委派) or litigated
_J_DELAY = 2  # the filing delay
_LADDER = ORIGINS.index("ladder")


class _Court:
    """The court behind the stationed rooms: where unresolved ladder cases may go."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        conclude: Callable[[_Case, str], None],
        room: int,
        key: int,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.court = sc.court
        self.recorder_conclude = conclude
        self.room = room  # the court's stationed room (unit index), -1 if there is none
        self.key = key
        self.window = window
        # Set by the coordinator: the district centre's step at a stationed room.
        self.at_room: Callable | None = None
        self.delegated: set[int] = set()
        self.filings = 0  # ladder cases filed with the court in the window
        self.delegations = 0  # of them, delegated back to the room (诉前委派)

    def u(self, case: _Case, j: int) -> float:
        """The case's ``j``-th uniform of stream "court" (counter-based)."""
        return case_uniform(self.key, case.id, j)

    def conclude(self, case: _Case, status: str) -> None:
        """The recorder's conclude, with unresolved ladder cases sent to court first."""
        if (
            status != "unresolved"
            or case.origin != _LADDER
            or case.id in self.delegated
            or self.u(case, _J_COURT) >= self.court.litigation_share
        ):
            self.recorder_conclude(case, status)
            return
        lo, hi = self.window
        in_window = lo <= self.env.now < hi
        self.filings += in_window
        if (
            self.room < 0
            or self.at_room is None
            or (self.u(case, _J_DELEGATE) >= self.court.delegation_share)
        ):
            self.recorder_conclude(case, status)  # litigated: leaves mediation unresolved
            return
        self.delegations += in_window
        self.delegated.add(case.id)
        _Process(self.env, self._delegate(case))

    def _delegate(self, case: _Case):
        """诉前委派: after the filing delay, one step at the court's stationed room."""
        delay = self.court.filing_delay_days.ppf(self.u(case, _J_DELAY))
        if delay > 0:
            yield self.env.timeout(delay)
            neglect(case, delay)
        assert self.at_room is not None
        yield from self.at_room(case, self.room)


def court_room(sc: Scenario, room_names: list[str]) -> int:
    """The unit index of the court's stationed room: ``court.room``, else the first room that
    returns failures to court; -1 if there is none (then every court case is litigated)."""
    if sc.court.room is not None:
        return room_names.index(sc.court.room) if sc.court.room in room_names else -1
    for i, name in enumerate(room_names):
        room = sc.stationed_rooms.get(name)
        if room is not None and room.return_to_court:
            return i
    return -1
