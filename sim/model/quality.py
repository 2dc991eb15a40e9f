"""Quality of mediation (调解质量): who mediates, how trained, with how much time.

Implements docs/model.md "Quality of mediation": with ``mechanisms.quality`` on, the chance that
a step settles is a logistic model on the log-odds scale,

    logit p = logit resolve.<kind>.<severity>
              + full_time · [full-time mediator]
              + experience_per_doubling · log2(cases a year / experience_reference_cases)
              + training_per_10_hours · training hours a year / 10
              + gold_medal · [gold-medal mediator] + expert · [an expert joined]
              + effort_ratio · log(effort given / effort needed),

and a mediator facing a queue gives ``needed / (1 + rush_per_waiting_case · cases waiting per
mediator)`` of the effort a case needs. With every effect 0 the logit transform is skipped and
the chance is today's (expert bonus, overload), bit for bit.

Everything here runs once per step, and only with the mechanism on: the hot loop of
:mod:`sim.model.mediation` tests one attribute for None when it is off.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from sim.model.layout import N_BASE_VENUES, TOWNSHIP, TOWNSHIP_JOINT
from sim.model.pools import _JointPool, _Pool
from sim.model.venues import _Desk, _Venues
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import VENUES

__all__ = ["logistic", "logit"]

_BLOCK_ROWS = 1024  # rows of grade uniforms drawn at a time (one row per case id)


def logit(p: float) -> float:
    """The log-odds of a probability strictly between 0 and 1."""
    return math.log(p / (1.0 - p))


def logistic(z: float) -> float:
    """The probability of log-odds ``z`` (the inverse of :func:`logit`), without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class _Quality:
    """The state and settings of the quality mechanism for one replication.

    ``started[venue][unit][kind]`` counts the steps a mediator of that kind of that unit took
    (first sessions) so far: the experience measure. The grade of the mediator who takes a case
    is drawn from stream ``quality``: one row of uniforms per case id, one per venue, so that a
    dispute meets a mediator of the same grade at the same venue in every variant of a scenario
    (common random numbers), whatever the order the draws are asked for.
    """

    __slots__ = (
        "_rng",
        "_u",
        "effects_on",
        "effort",
        "expert",
        "expert_bonus",
        "full_time",
        "gold",
        "mediators",
        "overload",
        "per_doubling",
        "prior_cases",
        "prior_days",
        "reference",
        "rush",
        "started",
        "training",
    )

    def __init__(self, sc: Scenario, venues: _Venues, rng: np.random.Generator) -> None:
        q = sc.quality
        self.effects_on = q.effects_on
        self.full_time = q.full_time
        self.per_doubling = q.experience_per_doubling
        self.training = q.training_per_10_hours / 10.0  # per hour of training a year
        self.gold = q.gold_medal
        self.expert = q.expert
        self.effort = q.effort_ratio
        self.rush = q.rush_per_waiting_case
        self.reference = q.experience_reference_cases
        self.prior_days = q.experience_prior_days
        # Each mediator is taken to have mediated at the reference rate for prior_days before
        # the run: the measure starts at the reference instead of at 0 or infinity.
        self.prior_cases = q.experience_reference_cases * q.experience_prior_days / 365.0
        # The legacy outcome (every effect 0): today's expert bonus and overload multiplier.
        self.expert_bonus = sc.experts.resolve_bonus
        self.overload = venues.overload
        self.mediators = [venues.staffing[v] for v in VENUES]
        self.started = [[[0, 0] for _ in pools] for pools in venues.pools]
        self._rng = rng
        # Every uniform drawn so far, as doubles (8 bytes each; a list of Python floats took 32,
        # nearly a gigabyte for ten years of a province, ×85 Qujiang).
        self._u = array("d")

    def grade_u(self, case_id: int, venue: int) -> float:
        """The uniform that decides the grade of the mediator of ``case_id`` at ``venue``."""
        # One uniform per venue before the township centres (the row's width since it was
        # laid out); township joint mediation stands in for the township step and reads its.
        i = case_id * N_BASE_VENUES + (TOWNSHIP if venue == TOWNSHIP_JOINT else venue)
        table = self._u
        # The stream is read in order, so table[i] never depends on who asks first.
        while i >= len(table):
            table.frombytes(self._rng.random(_BLOCK_ROWS * N_BASE_VENUES).data.cast("B"))
        return table[i]

    def begin(
        self,
        case_id: int,
        venue: int,
        unit: int,
        kind: int,
        pool: _Pool | _JointPool,
        now: float,
        desk: _Desk,
    ) -> tuple[int, float, float]:
        """A mediator of ``kind`` takes the case's first session now.

        Returns the mediator's grade (1 gold-medal, 0 standard), their cases a year (this unit's
        first sessions by mediators of that kind so far, per mediator, annualised over the run
        and the prior days), and the share of the needed effort they give (the rush factor).
        """
        counts = self.started[venue][unit]
        staff = self.mediators[venue][unit][kind]  # ≥ 1: a mediator of this kind took the case
        cases_a_year = 365.0 * (counts[kind] / staff + self.prior_cases) / (now + self.prior_days)
        counts[kind] += 1
        gold = 1 if self.grade_u(case_id, venue) < desk.gold_share else 0
        factor = 1.0
        if self.rush:
            factor = 1.0 / (1.0 + self.rush * pool.queue_length() / pool.servers)
        return gold, cases_a_year, factor

    def probability(
        self,
        p: float,
        kind: int,
        gold: int,
        cases_a_year: float,
        factor: float,
        expert: bool,
        desk: _Desk,
        pool: _Pool | _JointPool,
    ) -> float:
        """The chance that the step settles, from the venue's ``p`` for the kind and severity."""
        if not self.effects_on:
            # Skip the transform: a logit round trip would move the last bits of p.
            if expert:
                p = min(1.0, p + self.expert_bonus)
            if self.overload is not None:
                penalty, floor = self.overload
                p *= max(floor, 1.0 - penalty * pool.queue_length() / pool.servers)
            return p
        if p <= 0.0 or p >= 1.0:
            return p  # certain either way: no finite effect moves it
        z = logit(p)
        if kind == 0:
            z += self.full_time
        z += self.per_doubling * math.log2(cases_a_year / self.reference)
        z += self.training * desk.training_hours
        if gold:
            z += self.gold
        if expert:
            z += self.expert
        if factor != 1.0:
            z += self.effort * math.log(factor)
        return logistic(z)
