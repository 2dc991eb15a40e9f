"""Township centres (乡镇矛调中心) and assigning back down (交办属地): two measures of the notice.

Implements docs/model.md "Township centres (乡镇矛调中心)" (a share of the cases reaching the
township, by severity, is mediated jointly by staff of several stationed departments at once
instead of by the township committee; a failure goes on up as a township failure does, 区乡联动)
and "Assigning back down (交办属地)" (the district centre hands a share of the cases reaching it
from the ladder back to their township, after a hand-over delay, for a second township step; if
that fails too, the case returns to the centre's triage, which does not assign it down again).

The draws are counter-based: the ``j``-th uniform of a case is a hash of (the key of stream
``township_centre``, case id, ``j``), so a case's draws do not depend on the order in which
cases ask for them, and every variant of a scenario gives the same case the same numbers
(common random numbers), with nothing drawn when both mechanisms are off.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.model.cases import _Case, neglect
from sim.model.centre import pick_departments
from sim.model.layout import (
    CH_OFFLINE,
    CH_ONLINE,
    TOWNSHIP,
    TOWNSHIP_JOINT,
    U_EFFORT,
    U_HANDOVER,
    U_LEVEL_BASE,
    U_OUTCOME,
    U_PER_LEVEL,
)
from sim.model.streams import writable_copy
from sim.model.venues import _Venues
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import RESOLVED

__all__: list[str] = []  # the model's own machinery; nothing public

_MASK = (1 << 64) - 1
# The uniforms of a case, by index j (append only: a new use takes the next number).
_J_JOINT = 0  # township joint mediation or the committee
_J_DEPARTMENTS = 1  # 1, 2, 3: the departments beyond those the category names
_J_ASSIGN = 4  # assigned back down or not
_J_ASSIGN_DELAY = 5  # the hand-over delay down
_J_SECOND = 6  # 6, 7, 8: effort, outcome and hand-over back up of the second township step
_J_PER_CASE = 16


def case_uniform(key: int, case_id: int, j: int) -> float:
    """The ``j``-th uniform of case ``case_id`` under ``key``: SplitMix64 of the counter."""
    z = (key + (case_id * _J_PER_CASE + j + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


class _TownshipCentre:
    """Joint mediation at the township and the district centre's assignments back down."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        venues: _Venues,
        grid_units: list,
        mediate: Callable,
        triage: Callable,
        petition: Callable,
        conclude: Callable[[_Case, str], None],
        handover: Callable,
        key: int,
    ) -> None:
        self.env = env
        self.key = key
        self.mediate = mediate  # generator function (case, venue, unit, channel) -> outcome
        self.centre_triage = triage  # the district centre's one window, without assignment
        self.petition = petition
        self.conclude = conclude
        self.handover = handover  # the ladder's reporting delay of a hand-over
        self.grid_township = [units[TOWNSHIP] for units in grid_units]
        tc = sc.township_centre
        self.joint_on = venues.township_joint_on
        self.joint_share = (tc.joint_share.minor, tc.joint_share.major, tc.joint_share.serious)
        self.per_case = tc.departments_per_case
        self.staff = [d.staff for d in tc.departments.values()]
        names = venues.township_departments
        # The departments a category names first, those of them stationed in the township.
        self.category_departments = [
            tuple(names.index(x) for x in c.departments if x in names)[: self.per_case]
            for c in sc.categories.values()
        ]
        dc = sc.district_centre
        share = dc.assign_down_share
        self.down_share = (share.minor, share.major, share.serious)
        self.down_on = sc.mechanisms.assign_down and max(self.down_share) > 0
        delay = dc.assign_down_delay_days
        self.down_delay: Callable[[float], float] | None = delay.ppf if delay is not None else None

    def u(self, case: _Case, j: int) -> float:
        """The case's ``j``-th uniform of this module (see :func:`case_uniform`)."""
        return case_uniform(self.key, case.id, j)

    # ------------------------------------------------------------------ township centres
    def takes(self, case: _Case) -> bool:
        """Whether the township centre mediates the case jointly instead of its committee."""
        return self.u(case, _J_JOINT) < self.joint_share[case.severity]

    def joint_step(self, case: _Case, unit: int, channel: int):
        """A joint step at township ``unit``: one member of each chosen department at once.

        Returns its outcome; ``escalated_failed`` or ``escalated_time_limit`` go up as a
        township committee's would.
        """
        case.departments = self.pick_departments(case)
        outcome = yield from self.mediate(case, TOWNSHIP_JOINT, unit, channel)
        # The departments held are released within the step; later steps hold none.
        case.departments = ()
        return outcome

    def pick_departments(self, case: _Case) -> tuple[int, ...]:
        """The category's named departments stationed here, the rest by staff weight."""

        def uniform(draw: int) -> float:  # three draws; past them the last is used again
            return self.u(case, _J_DEPARTMENTS + min(draw, 2))

        named = self.category_departments[case.category]
        return pick_departments(named, self.staff, self.per_case, uniform)

    # ------------------------------------------------------------------ assigning down
    def triage(self, case: _Case, channel: int, summoned: bool):
        """The district centre's window with 交办属地: hand back down, or triage as today.

        A summoned case (点将约访) was sent up by its township for the departments: it is not
        handed back.
        """
        if summoned or self.u(case, _J_ASSIGN) >= self.down_share[case.severity]:
            yield from self.centre_triage(case, channel, summoned)
            return
        if self.down_delay is not None:
            delay = self.down_delay(self.u(case, _J_ASSIGN_DELAY))
            if delay > 0:
                yield self.env.timeout(delay)
                neglect(case, delay)
        yield from self.second_step(case)

    def second_step(self, case: _Case):
        """The township mediates the assigned case again, with its own draws; a failure goes
        back to the centre's triage, which does not assign it down again (no loop)."""
        # The step reads the township block of the case row: fresh numbers for this step.
        base = U_LEVEL_BASE + U_PER_LEVEL * TOWNSHIP
        row = case.u = writable_copy(case.u)  # the stream's rows are read-only views
        row[base + U_EFFORT] = self.u(case, _J_SECOND)
        row[base + U_OUTCOME] = self.u(case, _J_SECOND + 1)
        row[base + U_HANDOVER] = self.u(case, _J_SECOND + 2)
        channel = CH_OFFLINE if case.sensitive else CH_ONLINE
        unit = self.grid_township[case.grid]
        outcome = yield from self.mediate(case, TOWNSHIP, unit, channel)
        if outcome in RESOLVED:
            self.conclude(case, "resolved")
            return
        if outcome == "petitioned":
            return
        if self.env.now >= case.patience_at:  # gives up after a failed step
            yield from self.petition(case, TOWNSHIP)
            return
        yield from self.handover(case, row[base + U_HANDOVER])
        yield from self.centre_triage(case, channel, False)
