"""Yearly cost of a replication (经费保障): salaries, allowances, training, rewards, experts,
services."""

from __future__ import annotations

import pandas as pd

from sim.measures.register import unit_specs
from sim.model.replication import Replication
from sim.scenario.schema import Grades
from sim.scenario.vocabulary import VENUES

__all__ = ["GOLD_GRADE", "cost_table"]

# The grade of costs.grades that is the gold-medal mediator (金牌调解员) of mechanisms.quality.
GOLD_GRADE = "gold"


def cost_table(rep: Replication, register: pd.DataFrame) -> pd.DataFrame:
    """One row per cost item and place, in yuan per year.

    Salaries (专职, paid from the district budget) and allowances (兼职) per level and committee;
    training (培训, with ``mechanisms.quality``): each mediator's training hours a year times
    ``training_yuan_per_hour``; per-case rewards (以奖代补) for cases resolved at each venue in
    the measurement window, times the mean grade multiplier (等级评定) — or, when the model
    draws gold-medal mediators (quality on and a ``gold_medal_share`` > 0), the multiplier of the
    grade of the mediator who settled it; expert fees per case an expert joined; purchased
    services and gold-mediator awards (金牌调解员) as given; village petition agents' allowances
    (信访代办员补贴) per agent. ``register`` must be the register
    of ``rep``.
    """
    costs = rep.scenario.costs
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    rows: list[tuple[str, str, float, float]] = []  # item, where, count, yuan a year
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
    in_window = register[
        (register["arisen"] >= lo) & (register["arisen"] < hi) & ~register["initial"]
    ]
    resolved = in_window[in_window["outcome"].isin(["resolved", "resolved_on_the_spot"])]
    counts = resolved["level"].value_counts()
    if _gold_drawn(rep):
        # Each settled step earns its mediator's grade multiplier; costs.grades.shares then
        # only split the non-gold grades (the gold share is the levels' gold_medal_share).
        standard, gold = _grade_multipliers(costs.grades)
        is_gold = (resolved["mediator_grade"] == "gold_medal").to_numpy()
        weight = resolved.assign(m=[gold if g else standard for g in is_gold])
        multiplied = weight.groupby("level", observed=False)["m"].sum()
    else:
        multiplied = None
    grade = costs.grades.mean_multiplier
    for venue in VENUES:
        n = int(counts.get(venue, 0))
        reward = costs.case_reward_yuan.of(venue)
        if multiplied is None:
            yuan = n * reward * grade / years
        else:
            yuan = float(multiplied.get(venue, 0.0)) * reward / years
        rows.append(("case_reward", venue, n / years, yuan))
    experts = rep.scenario.experts
    n_expert = int(in_window["expert"].sum())
    rows.append(
        (
            "expert_fee",
            "expert_pool",
            n_expert / years,
            n_expert * experts.fee_per_case_yuan / years,
        )
    )
    rows.append(("purchased_services", "district", float("nan"), costs.purchased_services_yuan))
    rows.append(("gold_mediator_awards", "district", float("nan"), costs.gold_mediator_awards_yuan))
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
    out = pd.DataFrame(rows, columns=["item", "where", "count", "yuan_per_year"])
    return out[(out["yuan_per_year"] != 0) | (out["count"].fillna(0) != 0)].reset_index(drop=True)


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
