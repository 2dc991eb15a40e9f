"""The climb up the ladder (三级四步): grid → village → township → district.

Implements docs/model.md "Routing: where a case goes next" (a case failed or timed out at a
level goes up one; at the district the centre's triage takes it; a party whose patience ran out
after a failed step petitions), "Hand-over delays (逐级报告登记移交)" (the reporting delay of each
hand-over, online or offline by the case's sensitivity) and the summons (点将约访) by which a
township hands a case to the district centre's departments. With ``mechanisms.township_centres``
the township step of a share of the cases is joint mediation at the township centre, and with
``mechanisms.assign_down`` the centre may hand a case back down (:mod:`sim.model.township_centre`).
Two routing rules of the notice start a climb higher ("Cross-village disputes", "Major-difficult
disputes"): ``mechanisms.cross_village_routing`` at the township, and
``mechanisms.major_difficult_to_district`` at the district centre, as a case needing joint handling.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.model.cases import H_FAILED, H_FAILED_AGAIN, H_TIMED_OUT, _Case, neglect
from sim.model.centre import _Centre
from sim.model.layout import (
    CH_OFFLINE,
    CH_ONLINE,
    DISTRICT,
    TOWNSHIP,
    U_HANDOVER,
    U_LEVEL_BASE,
    U_PER_LEVEL,
)
from sim.model.township_centre import _TownshipCentre, case_uniform
from sim.model.venues import _Venues
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import RESOLVED

__all__: list[str] = []  # the model's own machinery; nothing public


class _Ladder:
    """Moves a case up the ladder from the level it entered at."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        grid_units: list,
        mediate: Callable,
        centre: _Centre,
        petition: Callable,
        conclude: Callable[[_Case, str], None],
        venues: _Venues | None = None,
        key: int = 0,
        routing_key: int = 0,
    ) -> None:
        self.env = env
        self.channels = sc.channels
        self.handover_delays = sc.mechanisms.handover_delays
        self.grid_units = grid_units  # per grid, its unit at each level (looked up once a step)
        self.mediate = mediate  # generator function (case, venue, unit, channel) -> outcome
        self.triage = centre.triage
        self.summons = centre.summons
        self.petition = petition  # generator function (case, venue) of the petition system
        self.conclude = conclude
        # 乡镇调 takes cross-village disputes directly, 区级调 重大疑难 ones (``routing_key``: of
        # stream "routing").
        self.routing_key = routing_key
        self.cross_village = (
            sc.routing.cross_village_share if sc.mechanisms.cross_village_routing else 0.0
        )
        md = sc.routing.major_difficult_share
        self.major_difficult: tuple[float, float, float] | None = (
            (md.minor, md.major, md.serious)
            if sc.mechanisms.major_difficult_to_district and max(md.minor, md.major, md.serious) > 0
            else None
        )
        # The notice's township centres and 交办属地 (``key``: of stream "township_centre");
        # None when off, which is all the climb tests.
        self.township_centre: _TownshipCentre | None = None
        if venues is not None and (venues.township_joint_on or sc.mechanisms.assign_down):
            tc = _TownshipCentre(
                sc,
                env,
                venues,
                grid_units,
                mediate,
                centre.triage,
                petition,
                conclude,
                self.handover,
                key,
            )
            if tc.down_on:
                self.triage = tc.triage
            self.township_centre = tc if tc.joint_on else None

    def climb(self, case: _Case, level: int, channel: int):
        """Mediate at ``level`` and above until resolved, failed at the top or petitioned."""
        if self.major_difficult is not None and level < DISTRICT and self.is_major_difficult(case):
            # 重大疑难: the district centre's, as a case needing joint handling (not handed down).
            yield from self.triage(case, channel, summoned=True)
            return
        if self.cross_village and level < TOWNSHIP and self.crosses_villages(case):
            level = TOWNSHIP  # 跨村、毗邻乡镇: the township's, without a grid or village step
        while True:
            if level == DISTRICT:
                yield from self.triage(case, channel, summoned=False)
                return
            unit = self.grid_units[case.grid][level]
            if level == TOWNSHIP and self.township_centre is not None:
                outcome = yield from self.at_township(case, unit, channel)
            else:
                outcome = yield from self.mediate(case, level, unit, channel)
            if outcome in RESOLVED:
                return self.conclude(case, "resolved")
            if outcome == "petitioned":
                return
            # What happened, for petitions that depend on the case's history.
            if outcome == "escalated_failed" or outcome == "escalated_time_limit":
                if case.history:  # an earlier step failed or timed out too
                    case.history |= H_FAILED_AGAIN
                case.history |= H_FAILED if outcome == "escalated_failed" else H_TIMED_OUT
            if self.env.now >= case.patience_at:  # gives up after a failed step
                yield from self.petition(case, level)
                return
            if self.handover_delays:
                u = case.u[U_LEVEL_BASE + U_PER_LEVEL * level + U_HANDOVER]
                yield from self.handover(case, u)
            channel = self.channel(case)
            if level == TOWNSHIP and self.summons(case):
                yield from self.triage(case, channel, summoned=True)
                return
            level += 1

    def crosses_villages(self, case: _Case) -> bool:
        """Whether the dispute spans villages (a counter-based draw of stream "routing"); a
        case of the starting state stays at the level it was given."""
        return not case.initial and case_uniform(self.routing_key, case.id, 0) < (
            self.cross_village
        )

    def is_major_difficult(self, case: _Case) -> bool:
        """Whether the dispute is 重大疑难 (draw 1 of stream "routing", against the share of its
        severity as the climb begins); a case of the starting state keeps its level."""
        assert self.major_difficult is not None
        return (
            not case.initial
            and case_uniform(self.routing_key, case.id, 1) < (self.major_difficult[case.severity])
        )

    def at_township(self, case: _Case, unit: int, channel: int):
        """The township step with township centres on: joint mediation or the committee."""
        tc = self.township_centre
        assert tc is not None
        if tc.takes(case):
            return (yield from tc.joint_step(case, unit, channel))
        return (yield from self.mediate(case, TOWNSHIP, unit, channel))

    def route_petition(self, case: _Case, level: int):
        """访调对接: a petition routed into one mediation step at the case's township or at
        the district committee; returns the step's outcome (the petition system goes on)."""
        channel = self.channel(case)
        if level == DISTRICT:
            return (yield from self.mediate(case, DISTRICT, 0, channel))
        unit = self.grid_units[case.grid][TOWNSHIP]
        return (yield from self.mediate(case, TOWNSHIP, unit, channel))

    @staticmethod
    def channel(case: _Case) -> int:
        """The channel a case is reported on: offline (电话、钉钉) if sensitive, else online."""
        return CH_OFFLINE if case.sensitive else CH_ONLINE

    def handover(self, case: _Case, u: float):
        """The reporting delay of a hand-over (逐级报告移交), by channel."""
        if self.handover_delays:
            ch = self.channels
            dist = ch.offline_delay_days if case.sensitive else ch.online_delay_days
            delay = dist.ppf(u)
            if delay > 0:
                yield self.env.timeout(delay)
                neglect(case, delay)
