"""The district centre (矛调中心) and the venues at the top of the ladder.

Implements docs/model.md "The district centre (一窗受理)" (triage of a case reaching the district:
its sector committee, joint mediation or the district committee), "Joint mediation (联合调处) and
summons (点将约访)" (the township may summon named departments; a joint case takes staff of several
departments, those its category names first, the rest by staff weight), "Sector committees" and
"Stationed rooms and court referrals" (venues at the top: a failure there leaves the case
unresolved or sends it back to court).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence

from sim.model.cases import _Case
from sim.model.layout import (
    CH,
    DEPARTMENT_DRAWS,
    DISTRICT,
    JOINT,
    P_DEPARTMENTS,
    P_JOINT,
    P_SUMMON,
    ROOM,
    SECTOR,
)
from sim.model.venues import _Venues
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import RESOLVED

__all__ = ["pick_departments"]  # the model's own machinery; shared with township_centre


def pick_departments(
    named: Sequence[int], staff: Sequence[int], k: int, uniform: Callable[[int], float]
) -> tuple[int, ...]:
    """The ``k`` departments of a joint case (district or township centre), sorted.

    First those its category names (``named``, in order), then the rest by staff weight without
    replacement, the ``d``-th of them by ``uniform(d)`` (each caller's own random numbers).
    """
    chosen = list(named[:k])
    draw = 0
    while len(chosen) < k:
        left = [i for i in range(len(staff)) if i not in chosen]
        weights = list(itertools.accumulate(staff[i] for i in left))
        u = uniform(draw) * weights[-1]
        chosen.append(left[min(bisect.bisect_right(weights, u), len(left) - 1)])
        draw += 1
    return tuple(sorted(chosen))


class _Centre:
    """Routing at the district: triage, summons, departments, and the top venues' end."""

    def __init__(
        self,
        sc: Scenario,
        venues: _Venues,
        mediate: Callable,
        conclude: Callable[[_Case, str], None],
    ) -> None:
        self.sc = sc
        self.centre = sc.district_centre
        self.mediate = mediate  # generator function (case, venue, unit, channel) -> outcome
        self.conclude = conclude
        self.joint_on = venues.joint_on
        self.sector_of_category = venues.sector_of_category
        self.sector_pools = venues.pools[SECTOR]
        self.category_departments = [
            tuple(venues.departments.index(x) for x in c.departments)
            for c in sc.categories.values()
        ]
        self.staff = [d.staff for d in self.centre.departments.values()]

    def summons(self, case: _Case) -> bool:
        """点将约访: the township asks the district centre for named departments."""
        if not self.joint_on:
            return False
        prob = self.centre.summon_probability.of(case.severity)
        return case.p[P_SUMMON] < prob

    def triage(self, case: _Case, channel: int, summoned: bool):
        """One window (一窗受理): sector committee, joint mediation or the district committee."""
        sector = self.sector_of_category[case.category]
        if sector >= 0 and self.sector_pools[sector] is not None:
            yield from self.final(case, SECTOR, sector, channel)
            return
        centre = self.centre
        if self.joint_on and (summoned or case.p[P_JOINT] < centre.joint_share.of(case.severity)):
            case.departments = self._pick_departments(case)
            yield from self.final(case, JOINT, 0, channel)
            return
        yield from self.final(case, DISTRICT, 0, channel)

    def _pick_departments(self, case: _Case) -> tuple[int, ...]:
        last = len(DEPARTMENT_DRAWS) - 1

        def uniform(draw: int) -> float:  # the case's carried draws
            u = case.p[P_DEPARTMENTS + min(draw, last)]
            # Past the carried draws, the last one is stretched to give more.
            return (u * (draw + 1)) % 1.0 if draw > last else u

        named = self.category_departments[case.category]
        return pick_departments(named, self.staff, self.centre.departments_per_case, uniform)

    def final(self, case: _Case, venue: int, unit: int, channel: int):
        """A venue at the top: failure leaves the case unresolved."""
        outcome = yield from self.mediate(case, venue, unit, channel)
        if outcome in RESOLVED:
            self.conclude(case, "resolved")
        elif outcome != "petitioned":
            self.conclude(case, "unresolved")

    def at_room(self, case: _Case, room: int):
        """A court referral at a stationed room (派驻调解工作室); failure goes back to court.

        The register says so (``returned_to_court``); the case itself ends unresolved.
        """
        yield from self.final(case, ROOM, room, CH["referral"])
