"""Yearly cost of a replication (经费保障): salaries, allowances, training, rewards, experts,
services."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.measures.columns import table_steps
from sim.measures.outcomes import StepTotals, step_totals
from sim.model.replication import Replication
from sim.scenario.schema import Grades
from sim.scenario.vocabulary import LEVELS, VENUES

if TYPE_CHECKING:  # pandas only for the table
    import pandas as pd

__all__ = ["GOLD_GRADE", "CostRow", "annual_cost", "cost_rows", "cost_table", "gold_multipliers"]

# The grade of costs.grades that is the gold-medal mediator (金牌调解员) of mechanisms.quality.
GOLD_GRADE = "gold"

CostRow = tuple[str, str, float, float]
"""One cost item: item, where, count, yuan a year."""


def cost_table(rep: Replication, register: pd.DataFrame) -> pd.DataFrame:
    """One row per cost item and place, in yuan per year (the rows of :func:`cost_rows`, items
    of no count and no cost left out). ``register`` must be the register of ``rep``."""
    import pandas as pd

    gold = gold_multipliers(rep)
    totals = step_totals(rep.window, [table_steps(register, grades=gold is not None)], gold)
    out = pd.DataFrame(cost_rows(rep, totals), columns=["item", "where", "count", "yuan_per_year"])
    return out[(out["yuan_per_year"] != 0) | (out["count"].fillna(0) != 0)].reset_index(drop=True)


def annual_cost(rep: Replication, totals: StepTotals) -> float:
    """The yearly cost: the sum of the cost table's yuan, added in its order (as the table's
    own sum adds them, so that the two agree to the last bit)."""
    kept = [yuan for _, _, n, yuan in cost_rows(rep, totals) if yuan != 0 or _count(n) != 0]
    return float(np.sum(np.array(kept, dtype=float)))


def _count(n: float) -> float:
    return 0.0 if math.isnan(n) else n


def cost_rows(rep: Replication, totals: StepTotals) -> list[CostRow]:
    """The cost items of ``rep``, given its register's totals (with :func:`gold_multipliers`).

    Salaries (专职, paid from the district budget) and allowances (兼职) per level and committee;
    training (培训, with ``mechanisms.quality``): each mediator's training hours a year times
    ``training_yuan_per_hour``; per-case rewards (以奖代补) for cases resolved at each venue in
    the measurement window, times the mean grade multiplier (等级评定) — or, when the model
    draws gold-medal mediators (quality on and a ``gold_medal_share`` > 0), the multiplier of the
    grade of the mediator who settled it; expert fees per case an expert joined; purchased
    services and gold-mediator awards (金牌调解员) as given; village petition agents' allowances
    (信访代办员补贴) per agent. Every item, those with no count and no cost too.
    """
    costs = rep.scenario.costs
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    rows: list[CostRow] = []
    for venue in VENUES:
        staff = rep.staffing[venue]
        full = sum(f for f, _ in staff)
        part = sum(p for _, p in staff)
        if venue in ("joint", "township_joint"):
            continue  # department staff are paid by their departments
        rows.append(("salary", venue, full, full * costs.full_time_salary_yuan.of(venue)))
        rows.append(("allowance", venue, part, part * costs.part_time_allowance_yuan.of(venue)))
    if rep.scenario.mechanisms.quality and costs.training_yuan_per_hour > 0:
        for venue, hours in _training_hours_a_year(rep).items():
            rows.append(("training", venue, hours, hours * costs.training_yuan_per_hour))
    multiplied = totals.multiplied
    grade = costs.grades.mean_multiplier
    for venue in VENUES:
        n = totals.resolved[venue]
        reward = costs.case_reward_yuan.of(venue)
        if multiplied is None:
            yuan = n * reward * grade / years
        else:
            yuan = multiplied[venue] * reward / years
        rows.append(("case_reward", venue, n / years, yuan))
    experts = rep.scenario.experts
    n_expert = totals.experts
    rows.append(
        (
            "expert_fee",
            "expert_pool",
            n_expert / years,
            n_expert * experts.fee_per_case_yuan / years,
        )
    )
    rows.append(("purchased_services", "district", math.nan, costs.purchased_services_yuan))
    rows.append(("gold_mediator_awards", "district", math.nan, costs.gold_mediator_awards_yuan))
    # 信访代办员补贴: one allowance per agent-year, whether or not the entry choice is on.
    agents = rep.district.petition_agents()
    rows.append(
        (
            "petition_agent_allowance",
            "village",
            agents,
            agents * costs.petition_agent_allowance_yuan,
        )
    )
    return rows


def unit_specs(rep: Replication) -> dict[str, list]:
    """The settings of each unit of each venue, in unit order, as the model built its desks
    (sim.model.venues); the enterprise committees share ``[enterprise]``, which has no
    training or grade keys (read them with ``getattr(spec, key, 0.0)``)."""
    sc = rep.scenario
    names = rep.unit_names
    return {
        **{lv: [sc.ladder.level(lv)] * max(1, len(names[lv])) for lv in LEVELS},
        "sector": [sc.sectors[n] for n in names["sector"]],
        "enterprise": [sc.enterprise] * len(names["enterprise"]),
        "stationed_room": [sc.stationed_rooms[n] for n in names["stationed_room"]],
        "joint": [sc.district_centre.joint] if names["joint"] else [],
        "township_joint": [sc.township_centre.joint] * len(names["township_joint"]),
    }


def gold_multipliers(rep: Replication) -> tuple[float, float] | None:
    """(standard, gold) reward multipliers when the model draws each mediator's grade, so that
    each settled step earns its mediator's (costs.grades.shares then only split the non-gold
    grades: the gold share is the levels' gold_medal_share); None when it does not."""
    return _grade_multipliers(rep.scenario.costs.grades) if _gold_drawn(rep) else None


def _training_hours_a_year(rep: Replication) -> dict[str, float]:
    """Training hours a year of every mediator (full- and part-time) of each venue that trains
    (the joint venues' staff are their departments' members)."""
    out: dict[str, float] = {}
    for venue, specs in unit_specs(rep).items():
        hours = sum(
            (full + part) * getattr(spec, "training_hours_per_year", 0.0)
            # A level with no units has one spec (the register reads unit 0) and no staff.
            for spec, (full, part) in zip(specs, rep.staffing[venue], strict=False)
        )
        if hours:
            out[venue] = hours
    return out


def _gold_drawn(rep: Replication) -> bool:
    """Whether the model draws each mediator's grade (quality on and some gold-medal share at a
    venue whose desk draws it: the same units as the model built, sim.model.venues)."""
    if not rep.scenario.mechanisms.quality:
        return False
    return any(
        getattr(spec, "gold_medal_share", 0.0) > 0
        for specs in unit_specs(rep).values()
        for spec in specs
    )


def _grade_multipliers(grades: Grades) -> tuple[float, float]:
    """(standard, gold): the reward multiplier of a non-gold mediator — the share-weighted mean
    over the other grades, or the mean over all if no other grade has a share — and of a gold
    one (``GOLD_GRADE``'s, or 1 if it is not listed)."""
    gold = grades.reward_multiplier.get(GOLD_GRADE, 1.0)
    others = {g: s for g, s in grades.shares.items() if g != GOLD_GRADE and s > 0}
    total = sum(others.values())
    if total <= 0:
        return grades.mean_multiplier, gold
    standard = sum(s * grades.reward_multiplier[g] for g, s in others.items()) / total
    return standard, gold
