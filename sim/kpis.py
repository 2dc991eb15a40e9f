"""KPIs of one replication, computed from its case table and register (see docs/model.md).

Case KPIs count disputes that arose inside the measurement window (after the warm-up, before
arrivals stop); cases given as the initial state are excluded. Time averages (utilization) use
the same window.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .model import Replication
from .register import case_table, register_table
from .vocabulary import KPI_NAMES, LEVELS

__all__ = ["NOT_MODELLED", "kpis"]

# KPIs whose mechanism is not in the model yet: reported as NaN (null in JSON), never as 0.
NOT_MODELLED = (
    "petitions_per_year",
    "skip_level_petitions_per_year",
    "repeat_petitions_per_year",
    "backlog_resolution_rate",
)


def _share(mask: pd.Series | np.ndarray, among: pd.Series | np.ndarray) -> float:
    among = np.asarray(among, dtype=bool)
    n = int(among.sum())
    return float(np.asarray(mask, dtype=bool)[among].sum() / n) if n else math.nan


def kpis(
    rep: Replication,
    cases: pd.DataFrame | None = None,
    register: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The KPI values of one replication, keyed by the names in ``sim.vocabulary.KPI_NAMES``."""
    sc = rep.scenario
    cases = case_table(rep) if cases is None else cases
    register = register_table(rep, cases) if register is None else register
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    in_window = (~cases["initial"]) & (cases["arisen"] >= lo) & (cases["arisen"] < hi)
    c = cases[in_window]
    r = register[register["case_id"].isin(c["case_id"])]

    # Where each dispute was resolved: the level of its last step.
    last = r.drop_duplicates("case_id", keep="last").set_index("case_id")
    final_level = last["level"].reindex(c["case_id"]).to_numpy()
    final_outcome = last["outcome"].reindex(c["case_id"]).to_numpy()
    resolved = (c["status"] == "resolved").to_numpy()
    concluded = c["status"].isin(["resolved", "unresolved"]).to_numpy()
    minor = (c["severity_initial"] == "minor").to_numpy()
    major = c["severity_initial"].isin(["major", "serious"]).to_numpy()
    level_rank = {lv: i for i, lv in enumerate(LEVELS)}
    rank = np.array([level_rank.get(x, 99) if isinstance(x, str) else 99 for x in final_level])

    out: dict[str, float] = dict.fromkeys(KPI_NAMES, math.nan)
    out["disputes"] = len(c) / years
    out["minor_kept_in_village"] = _share(resolved & (rank <= 1), minor & concluded)
    out["major_kept_in_township"] = _share(resolved & (rank <= 2), major & concluded)
    everyone = np.ones(len(c), dtype=bool)
    for lv in LEVELS:
        out[f"resolved_share.{lv}"] = _share(resolved & (final_level == lv), everyone)
    out["resolved_share.sector"] = 0.0 if len(c) else math.nan  # no sector committees yet
    out["unresolved_share"] = _share((c["status"] == "unresolved").to_numpy(), everyone)
    out["open_share"] = _share(~concluded, everyone)
    out["on_the_spot_share"] = _share(final_outcome == "resolved_on_the_spot", everyone)

    days = (c["concluded"] - c["arisen"]).to_numpy()[resolved]
    out["days_to_resolution.mean"] = float(days.mean()) if len(days) else math.nan
    out["days_to_resolution.p90"] = float(np.quantile(days, 0.9)) if len(days) else math.nan

    # Resolved within the time limit of the level that resolved it (no limit: within).
    limits = {
        lv: (sc.ladder.level(lv).time_limit_days if sc.mechanisms.time_limits else None)
        for lv in LEVELS
    }
    res_last = last.loc[c["case_id"][resolved]] if resolved.any() else last.iloc[:0]
    within = []
    for lv, entered, ended in zip(
        res_last["level"], res_last["entered"], res_last["ended"], strict=True
    ):
        limit = limits.get(lv)
        within.append(limit is None or ended - entered <= limit + 1e-9)
    out["resolved_within_limit"] = float(np.mean(within)) if within else math.nan
    out["escalations_by_time_limit"] = float((r["outcome"] == "escalated_time_limit").sum()) / years

    for li, lv in enumerate(LEVELS):
        avail = rep.available_hours[li]
        out[f"utilization.{lv}"] = rep.effort_hours[li] / avail if avail > 0 else math.nan
        steps = register[
            (register["level"] == lv)
            & (register["entered"] >= lo)
            & (register["entered"] < hi)
            & register["started"].notna()
            & ~register["initial"]
        ]
        waits = (steps["started"] - steps["entered"]).to_numpy()
        out[f"waiting_days.{lv}"] = float(waits.mean()) if len(waits) else math.nan

    # Cost per year: salaries and allowances of the staff, rewards for cases resolved.
    costs = sc.costs
    full = rep.district.full_time_mediators()
    part = rep.district.part_time_mediators()
    salaries = sum(full[lv] * costs.full_time_salary_yuan.of(lv) for lv in LEVELS)
    allowances = sum(part[lv] * costs.part_time_allowance_yuan.of(lv) for lv in LEVELS)
    resolved_at = pd.Series(final_level[resolved]).value_counts()
    rewards = sum(resolved_at.get(lv, 0) * costs.case_reward_yuan.of(lv) for lv in LEVELS) / years
    out["annual_cost_yuan"] = float(salaries + allowances + rewards + costs.purchased_services_yuan)
    out["full_time_mediators"] = float(sum(full.values()))
    return out
