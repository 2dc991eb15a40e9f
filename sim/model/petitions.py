"""Petitions (信访), the backlog (积案) and repeat petitions.

Implements docs/model.md "Petitions (信访) and the backlog (积案)": a party whose patience runs out
leaves the ladder and petitions, possibly skipping a level (越级); a petition not settled in time
becomes a backlog case that a district leader takes (包案) when one is free, reviews until it is
closed or ended by a hearing (听证终结), and strikes off at the next monthly evaluation; a closed
case may come back as a repeat petition (重复信访).

The notice's measures around petitions (docs/model.md "Petition agents, 访调对接, visits and
counselling"), each behind its switch: a village petition agent (信访代办员) makes its parties
slower to give up and less likely to skip levels (``petition_agent_effect``); the skip-level and
repeat shares depend on the case's history (``petition_history``); a share of first petitions is
routed into mediation (访调对接, ``petition_mediation``); leaders' visits and counselling make
backlog reviews likelier to succeed and repeats rarer (``leader_visits``); the hardest backlog
cases go to a special team (专案经营, ``special_teams``); and the run may start with a backlog
stock (``initial_state.backlog_cases``). Their draws are counter-based (stream
``petition_links``), so that nothing of today's draws moves when they are off.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from sim.model.cases import H_FAILED, H_FAILED_AGAIN, H_TIMED_OUT, _Case
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
    TOWNSHIP,
    VILLAGE,
)
from sim.model.processes import _Process
from sim.model.records import RecordLog
from sim.model.streams import UniformRows, Uniforms, detached
from sim.model.township_centre import case_uniform
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import RESOLVED

__all__: list[str] = []  # the model's own machinery; nothing public

# The counter-based uniforms of a case in stream "petition_links" (append only).
_J_ROUTE = 0  # 访调对接: routed into mediation or not
_J_STOCK = 1  # 1, 2: the grid and severity of a backlog-stock case


def _shift(p: float, log_odds: float) -> float:
    """``p`` moved by ``log_odds`` on the logit scale (0 and 1 stay where they are)."""
    if p <= 0.0 or p >= 1.0 or log_odds == 0.0:
        return p
    return 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + log_odds)))


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
        district: District | None = None,
        key: int = 0,
        special_u: Uniforms | None = None,
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
        # 专案经营 (mechanisms.special_teams): the special team's cases at once (None: the
        # mechanism is off) and its review draws (stream "special_team").
        self.special_u = special_u
        self.team: simpy.Resource | None = None
        self.team_on = self.on and sc.mechanisms.special_teams and special_u is not None
        if self.team_on and pet is not None and pet.special_team.cases > 0:
            self.team = simpy.Resource(env, pet.special_team.cases)
        self.open: dict[int, list] = {}  # PETITION_FIELDS rows not yet closed, by id
        self.backlog_open = 0
        self.next_id = 0
        mech = sc.mechanisms
        self.key = key  # of stream "petition_links"
        self.history_on = self.on and mech.petition_history
        self.routing_on = self.on and mech.petition_mediation
        self.visits_on = self.on and mech.leader_visits
        # Set by the coordinator: the ladder's mediation step for a routed petition (访调对接).
        self.route: Callable | None = None
        # 信访代办员: per grid, whether its village has an agent (None: the effect is off).
        self.grid_agent: list[bool] | None = None
        if self.on and mech.petition_agent_effect and district is not None:
            agents = district.village_petition_agents
            self.grid_agent = [agents[v] > 0 for v in district.grid_village]

    @property
    def patience_scale(self) -> list[float] | None:
        """Per grid, the factor on its parties' mean patience (None: 1 everywhere).

        An agent who runs for the party (变群众跑为干部跑) multiplies the hazard of giving up by
        ``links.agent_give_up_factor`` ≤ 1, i.e. divides the exponential patience's rate by it.
        """
        pet = self.sc.petitions
        if self.grid_agent is None or pet is None:
            return None
        f = 1.0 / pet.links.agent_give_up_factor
        return [f if a else 1.0 for a in self.grid_agent]

    def u(self, case: _Case, j: int) -> float:
        """The case's ``j``-th uniform of stream "petition_links" (counter-based)."""
        return case_uniform(self.key, case.id, j)

    def skip_share(self, case: _Case, repeat: bool) -> float:
        """The chance a petition of ``case`` skips a level, by its history and its village."""
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        share = pet.skip_level_share
        if self.history_on:
            share = _shift(share, self._history_log_odds(case, repeat))
        if self.grid_agent is not None and self.grid_agent[case.grid]:
            share *= pet.links.agent_skip_level_factor
        return share

    def repeat_share(self, case: _Case, repeat: bool) -> float:
        """The chance a closed petition of ``case`` comes back, by history and counselling."""
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        share = pet.repeat_probability
        if self.history_on:
            share = _shift(share, self._history_log_odds(case, repeat))
        if self.visits_on:  # 教育疏导: counselled parties come back less often
            share *= pet.links.counselling_repeat_factor
        return share

    def _history_log_odds(self, case: _Case, repeat: bool) -> float:
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        h = pet.history
        return (
            (h.failed if case.history & H_FAILED else 0.0)
            + (h.timed_out if case.history & H_TIMED_OUT else 0.0)
            + (h.petitioned_before if repeat else 0.0)
        )

    def start_backlog(self, district: District, seed_rows: UniformRows) -> None:
        """积案 open at the start (``initial_state.backlog_cases``), dated the day before.

        Each is a case of its own (negative ids: not disputes of the run, no case row) already
        in the backlog registry, waiting for a leader; its draws come from ``seed_rows``.
        """
        n = self.sc.initial_state.backlog_cases
        if not self.on or n == 0:
            return
        pet = self.sc.petitions
        assert pet is not None, "self.on implies a petitions section"
        n_grids = len(district.grid_village)
        for k in range(n):
            cid = -(k + 1)
            grid = min(int(case_uniform(self.key, cid, _J_STOCK) * n_grids), n_grids - 1)
            severity = min(int(case_uniform(self.key, cid, _J_STOCK + 1) * 3), 2)
            case = _Case(cid, -1.0, grid, 0, severity)
            case.p = seed_rows.next()
            pid = self.next_id
            self.next_id += 1
            record = [pid, cid, -1.0, DISTRICT, False, False, -1.0, math.nan, -1]
            self.open[pid] = record
            self.backlog_open += 1
            hearing = case.p[P_HEARING] < pet.hearing_share
            _Process(self.env, self._backlog(case, record, hearing))

    def petition(self, case: _Case, venue: int, repeat: bool = False):
        """The party leaves the ladder and petitions; unresolved petitions become backlog."""
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        env = self.env
        # A petitioner may stay for years (backlog, repeats): its rows must not keep the
        # blocks of the disputes around it alive.
        case.u, case.p = detached(case.u), detached(case.p)
        # Petitions are filed with the ladder: an enterprise dispute on the village's ground,
        # committees of the district centre at the district.
        level = venue if venue < N_LEVELS else (VILLAGE if venue == ENTERPRISE else DISTRICT)
        routed = (
            not repeat
            and self.routing_on
            and self.route is not None
            and self.u(case, _J_ROUTE) < pet.links.mediation_share
        )
        if not repeat and not routed:
            self.conclude(case, "petitioned")
        # 越级: a petition skipping the level where the dispute stood.
        u_skip = case.p[P_SKIP] if not repeat else self.backlog_u.next()
        skip = u_skip < (
            self.skip_share(case, repeat)
            if self.history_on or self.grid_agent is not None
            else pet.skip_level_share
        )
        pid = self.next_id
        self.next_id += 1
        record = [pid, case.id, env.now, level, skip, repeat, math.nan, math.nan, -1]
        self.open[pid] = record
        if routed:
            # 访调对接: the petition office hands the matter to mediation at the township (or
            # the district for a petition filed there); the party waits for it (no new give-up).
            assert self.route is not None
            case.patience_at = math.inf
            outcome = yield from self.route(case, TOWNSHIP if level <= TOWNSHIP else DISTRICT)
            if outcome in RESOLVED:
                self.conclude(case, "resolved")
                return self._close(case, record, "closed_by_mediation")
            self.conclude(case, "petitioned")
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
        yield from self._backlog(case, record, hearing)

    def special_case(self, case: _Case, record: list) -> bool:
        """专案经营 takes it: a repeat petition (缠访) or a case whose mediation failed at two or
        more ladder steps (多次调解不成功); never with the mechanism off."""
        return self.team_on and (bool(record[5]) or bool(case.history & H_FAILED_AGAIN))

    def _backlog(self, case: _Case, record: list, hearing: bool):
        """A backlog case: a leader takes it (包案), or with 专案经营 the special team (after the
        application's approval), reviews it until closed, strikes it off."""
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        env = self.env
        if self.special_case(case, record):
            team = pet.special_team
            assert self.special_u is not None, "team_on implies its draws"
            if team.approval_days > 0:  # 提出申请, 经区委分管领导同意
                yield env.timeout(team.approval_days)
            pool, draw = self.team, self.special_u.next
            resolve, interval = team.review_resolve_probability, team.review_interval_days
        else:
            pool, draw = self.leaders, self.backlog_u.next
            resolve, interval = pet.review_resolve_probability, pet.review_interval_days
            if self.visits_on:  # 领导干部下访、约访: a leader who visits closes more at a review
                resolve = _shift(resolve, pet.links.visit_review_log_odds)
        if pool is None:
            return  # no leader cases (or no team): the backlog case stays open
        taken = pool.request()
        yield taken
        reviews = 0
        how = ""
        while not how:
            yield env.timeout(interval)
            reviews += 1
            if draw() < resolve:
                how = "closed"
            elif hearing and reviews >= pet.hearing_after_reviews and draw() < pet.hearing_finality:
                how = "closed_by_hearing"  # 听证终结
        # 每月评估: struck off (销号) at the next monthly evaluation.
        every = pet.evaluation_interval_days
        yield env.timeout(math.ceil(env.now / every) * every - env.now)
        pool.release(taken)
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
        repeat = bool(record[5])
        u_repeat = case.p[P_REPEAT] if not repeat else self.backlog_u.next()
        share = (
            self.repeat_share(case, repeat)
            if self.history_on or self.visits_on
            else pet.repeat_probability
        )
        if u_repeat < share:  # 重复信访: the closed case comes back
            _Process(self.env, self._repeat(case, record[3], first=not record[5]))

    def _repeat(self, case: _Case, venue: int, first: bool):
        pet = self.sc.petitions
        assert pet is not None, "petitions run only when the scenario has them"
        u = case.p[P_REPEAT_DELAY] if first else self.backlog_u.next()
        yield self.env.timeout(pet.repeat_delay_days.ppf(u))
        if self.env.now < self.end_time:
            yield from self.petition(case, venue, repeat=True)
