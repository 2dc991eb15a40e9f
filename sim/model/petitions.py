"""Petitions (信访), the backlog (积案) and repeat petitions.

Implements docs/model.md "Petitions (信访) and the backlog (积案)": a party whose patience runs out
leaves the ladder and petitions, possibly skipping a level (越级); a petition not settled in time
becomes a backlog case that a district leader takes (包案) when one is free, reviews until it is
closed or ended by a hearing (听证终结), and strikes off at the next monthly evaluation; a closed
case may come back as a repeat petition (重复信访).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from sim.model.cases import _Case
from sim.model.layout import (
    DISTRICT,
    ENTERPRISE,
    N_LEVELS,
    P_HEARING,
    P_PETITION_OUTCOME,
    P_PETITION_TIME,
    P_REPEAT,
    P_REPEAT_DELAY,
    P_SKIP,
    PETITION_OUTCOMES,
    VILLAGE,
)
from sim.model.records import RecordLog
from sim.model.streams import Uniforms
from sim.scenario.schema import Scenario

__all__: list[str] = []  # the model's own machinery; nothing public


class _Petitions:
    """The petition system beside the ladder: open petitions, the backlog and its leaders."""

    def __init__(
        self,
        sc: Scenario,
        env: simpy.Environment,
        log: RecordLog,
        conclude: Callable[[_Case, str], None],
        backlog_u: Uniforms,
        end_time: float,
    ) -> None:
        self.sc = sc
        self.env = env
        self.log = log
        self.conclude = conclude
        self.backlog_u = backlog_u  # draws of repeat petitions and backlog reviews
        self.end_time = end_time
        self.on = sc.mechanisms.petitions and sc.petitions is not None
        pet = sc.petitions
        self.leaders = (
            simpy.Resource(env, pet.leader_cases)
            if self.on and pet is not None and pet.leader_cases > 0
            else None
        )
        self.open: dict[int, list] = {}  # PETITION_FIELDS rows not yet closed, by id
        self.backlog_open = 0
        self.next_id = 0

    def petition(self, case: _Case, venue: int, repeat: bool = False):
        """The party leaves the ladder and petitions; unresolved petitions become backlog."""
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        env = self.env
        if not repeat:
            self.conclude(case, "petitioned")
        # 越级: a petition skipping the level where the dispute stood.
        skip = (
            case.p[P_SKIP] < pet.skip_level_share
            if not repeat
            else self.backlog_u.next() < pet.skip_level_share
        )
        pid = self.next_id
        self.next_id += 1
        # Petitions are filed with the ladder: an enterprise dispute on the village's ground,
        # committees of the district centre at the district.
        level = venue if venue < N_LEVELS else (VILLAGE if venue == ENTERPRISE else DISTRICT)
        record = [pid, case.id, env.now, level, skip, repeat, math.nan, math.nan, -1]
        self.open[pid] = record
        u_time = case.p[P_PETITION_TIME] if not repeat else self.backlog_u.next()
        u_out = case.p[P_PETITION_OUTCOME] if not repeat else self.backlog_u.next()
        handling = pet.handling_days.ppf(u_time)
        if handling <= pet.backlog_after_days and u_out < pet.resolve_probability:
            yield env.timeout(handling)
            return self._close(case, record, "closed")
        yield env.timeout(pet.backlog_after_days)
        # 积案: into the registry; a district leader takes it (包案) when one is free.
        record[6] = env.now
        self.backlog_open += 1
        hearing = (
            case.p[P_HEARING] < pet.hearing_share
            if not repeat
            else self.backlog_u.next() < pet.hearing_share
        )
        leaders = self.leaders
        if leaders is None:
            return  # no leader cases: the backlog case stays open
        leader = leaders.request()
        yield leader
        reviews = 0
        how = ""
        while not how:
            yield env.timeout(pet.review_interval_days)
            reviews += 1
            if self.backlog_u.next() < pet.review_resolve_probability:
                how = "closed"
            elif (
                hearing
                and reviews >= pet.hearing_after_reviews
                and self.backlog_u.next() < pet.hearing_finality
            ):
                how = "closed_by_hearing"  # 听证终结
        # 每月评估: struck off (销号) at the next monthly evaluation.
        every = pet.evaluation_interval_days
        yield env.timeout(math.ceil(env.now / every) * every - env.now)
        leaders.release(leader)
        self.backlog_open -= 1
        self._close(case, record, how)

    def _close(self, case: _Case, record: list, how: str) -> None:
        record[7] = self.env.now
        record[8] = PETITION_OUTCOMES.index(how)
        del self.open[record[0]]
        self.log.rows.append(tuple(record))
        self.log.pack_if_full()
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        u_repeat = case.p[P_REPEAT] if not record[5] else self.backlog_u.next()
        if u_repeat < pet.repeat_probability:  # 重复信访: the closed case comes back
            self.env.process(self._repeat(case, record[3], first=not record[5]))

    def _repeat(self, case: _Case, venue: int, first: bool):
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        u = case.p[P_REPEAT_DELAY] if first else self.backlog_u.next()
        yield self.env.timeout(pet.repeat_delay_days.ppf(u))
        if self.env.now < self.end_time:
            yield from self.petition(case, venue, repeat=True)
