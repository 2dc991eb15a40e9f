"""Yearly cost of a replication (经费保障): salaries, allowances, rewards, experts, services."""

from __future__ import annotations

import pandas as pd

from sim.model.replication import Replication
from sim.scenario.vocabulary import VENUES

__all__ = ["cost_table"]


def cost_table(rep: Replication, register: pd.DataFrame) -> pd.DataFrame:
    """One row per cost item and place, in yuan per year.

    Salaries (专职, paid from the district budget) and allowances (兼职) per level and committee;
    per-case rewards (以奖代补) for cases resolved at each venue in the measurement window,
    times the mean grade multiplier (等级评定); expert fees per case an expert joined; purchased
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
        if venue == "joint":
            continue  # department staff are paid by their departments
        rows.append(("salary", venue, full, full * costs.full_time_salary_yuan.of(venue)))
        rows.append(("allowance", venue, part, part * costs.part_time_allowance_yuan.of(venue)))
    in_window = register[
        (register["arisen"] >= lo) & (register["arisen"] < hi) & ~register["initial"]
    ]
    resolved = in_window[in_window["outcome"].isin(["resolved", "resolved_on_the_spot"])]
    counts = resolved["level"].value_counts()
    grade = costs.grades.mean_multiplier
    for venue in VENUES:
        n = int(counts.get(venue, 0))
        rows.append(
            ("case_reward", venue, n / years, n * costs.case_reward_yuan.of(venue) * grade / years)
        )
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
