"""KPIs of one replication, computed from its case table, register and petitions (docs/model.md).

Case KPIs count disputes that arose inside the measurement window (after the warm-up, before
arrivals stop) and came up the ladder (court referrals to stationed rooms are their own stream);
cases given as the initial state are excluded. Time averages (utilization) use the same window.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.measures.costs import cost_table
from sim.measures.notice_kpis import notice_kpis
from sim.measures.outcomes import WindowOutcomes, share, window_outcomes
from sim.measures.register import case_table, petition_table, register_table
from sim.model.replication import Replication
from sim.scenario.vocabulary import (
    EXPLAINING_KPIS,
    KPI_NAMES,
    LEVELS,
    PETITION_KPIS,
    RESOLVED,
    VENUES,
)

__all__ = ["EXPLAINING_KPIS", "PETITION_KPIS", "explaining_kpis", "kpis", "venue_time_limits"]


def kpis(
    rep: Replication,
    cases: pd.DataFrame | None = None,
    register: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The KPI values of one replication, keyed by the names in
    ``sim.scenario.vocabulary.KPI_NAMES``."""
    sc = rep.scenario
    cases = case_table(rep) if cases is None else cases
    register = register_table(rep, cases) if register is None else register
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    w = window_outcomes(rep, cases, register)
    c, r, last = w.cases, w.steps, w.last
    status, resolved, concluded = w.status, w.resolved, w.concluded

    out: dict[str, float] = dict.fromkeys(KPI_NAMES, math.nan)
    everyone = np.ones(len(c), dtype=bool)
    out["disputes"] = len(c) / years
    # 小事不出村 / 大事不出镇: enterprise committees sit inside the village's ground.
    out["minor_kept_in_village"] = share(resolved & w.village_or_below, w.minor & concluded)
    out["major_kept_in_township"] = share(resolved & w.township_or_below, w.major & concluded)
    out.update(explaining_kpis(w))
    for venue in VENUES:
        out[f"resolved_share.{venue}"] = share(resolved & (w.final_level == venue), everyone)
    # Court referrals (诉调衔接) are their own stream: the room's share is over referrals.
    referrals = cases[
        (cases["origin"] == "court_referral") & (cases["arisen"] >= lo) & (cases["arisen"] < hi)
    ]
    if len(referrals):
        out["resolved_share.stationed_room"] = float((referrals["status"] == "resolved").mean())
    elif not rep.staffing["stationed_room"]:
        out["resolved_share.stationed_room"] = 0.0
    out["unresolved_share"] = share(status == "unresolved", everyone)
    out["open_share"] = share(~concluded, everyone)
    out["on_the_spot_share"] = share(w.final_outcome == "resolved_on_the_spot", everyone)

    days = (c["concluded"] - c["arisen"]).to_numpy()[resolved]
    out["days_to_resolution.mean"] = float(days.mean()) if len(days) else math.nan
    out["days_to_resolution.p90"] = float(np.quantile(days, 0.9)) if len(days) else math.nan

    # Resolved within the time limit of the venue that resolved it (no limit: within).
    limits = venue_time_limits(rep)
    res_last = last[last["outcome"].isin(RESOLVED) & last.index.isin(c["case_id"])]
    if len(res_last):
        limit = res_last["level"].astype(object).map(limits).astype(float).fillna(np.inf)
        took = res_last["ended"] - res_last["entered"]
        out["resolved_within_limit"] = float((took <= limit + 1e-9).mean())
    out["escalations_by_time_limit"] = float((r["outcome"] == "escalated_time_limit").sum()) / years

    window_steps = register[
        (register["entered"] >= lo) & (register["entered"] < hi) & ~register["initial"]
    ]
    for venue in VENUES:
        avail = rep.available_hours[venue]
        out[f"utilization.{venue}"] = rep.effort_hours[venue] / avail if avail > 0 else math.nan
        steps = window_steps[(window_steps["level"] == venue) & window_steps["started"].notna()]
        waits = (steps["started"] - steps["entered"]).to_numpy()
        out[f"waiting_days.{venue}"] = float(waits.mean()) if len(waits) else math.nan

    if sc.petitions is not None and sc.mechanisms.petitions:
        out.update(_petition_kpis(rep, status, years))
    out.update(notice_kpis(rep))
    # Counted as the expert fees are (sim.costs): steps of disputes arising in the window.
    arising = register[
        (register["arisen"] >= lo) & (register["arisen"] < hi) & ~register["initial"]
    ]
    out["expert_cases_per_year"] = float(arising["expert"].sum()) / years

    out["annual_cost_yuan"] = float(cost_table(rep, register)["yuan_per_year"].sum())
    out["full_time_mediators"] = float(
        sum(
            f
            for venue in VENUES
            if venue not in ("joint", "township_joint")  # department staff
            for f, _ in rep.staffing[venue]
        )
    )
    return out


def explaining_kpis(w: WindowOutcomes, here: np.ndarray | None = None) -> dict[str, float]:
    """The KPIs that explain 小事不出村 and 大事不出镇 (names in :data:`EXPLAINING_KPIS`).

    ``w`` are the counted disputes of a replication; ``here`` restricts them (one township's
    disputes), by default all. 小事不出村 is a ceiling times a retention: a minor dispute kept in
    the village must have come within its reach first, so per replication
    ``minor_kept_in_village == minor_reached_village * minor_retained_in_village``.
    """
    among = np.ones(len(w.cases), dtype=bool) if here is None else here
    minor = w.minor & w.concluded & among
    kept_in_village = w.resolved & w.village_or_below
    kept_in_township = w.resolved & w.township_or_below
    return {
        "minor_reached_village": share(w.reached_village, minor),
        "minor_retained_in_village": share(kept_in_village, minor & w.reached_village),
        "major_only_kept_in_township": share(kept_in_township, w.major_only & w.concluded & among),
        "serious_kept_in_township": share(kept_in_township, w.serious & w.concluded & among),
        # 近80%化解在基层: over all disputes, as resolved_share.<venue> (which it sums).
        "resolved_at_or_below_township": share(kept_in_township, among),
        "found_by_sweep": share(w.found_by_sweep, w.discovered & among),
    }


def venue_time_limits(rep: Replication) -> dict[str, float]:
    """Time limit in days of each venue that has one (none when the mechanism is off)."""
    sc = rep.scenario
    if not sc.mechanisms.time_limits:
        return {}
    limits = {lv: sc.ladder.level(lv).time_limit_days for lv in LEVELS}
    limits["enterprise"] = sc.enterprise.time_limit_days
    if sc.district_centre.joint is not None:
        limits["joint"] = sc.district_centre.joint.time_limit_days
    if sc.township_centre.joint is not None:
        limits["township_joint"] = sc.township_centre.joint.time_limit_days
    # Sector committees and rooms may differ by unit: take the most lenient as the bound.
    for venue, table in (("sector", sc.sectors), ("stationed_room", sc.stationed_rooms)):
        given = [c.time_limit_days for c in table.values() if c.time_limit_days is not None]
        if given:
            limits[venue] = max(given)
    return {k: v for k, v in limits.items() if v is not None}


def _petition_kpis(rep: Replication, status: np.ndarray, years: float) -> dict[str, float]:
    """The "1减2降1升" indicators over the measurement window."""
    lo, hi = rep.window
    pets = petition_table(rep)
    filed = pets[(pets["filed"] >= lo) & (pets["filed"] < hi)]
    backlog_in = pets["backlog_entered"]
    new_backlog = int(((backlog_in >= lo) & (backlog_in < hi)).sum())
    closed_backlog = int(
        (pets["backlog_entered"].notna() & (pets["closed"] >= lo) & (pets["closed"] < hi)).sum()
    )
    at_risk = rep.backlog_at_start + new_backlog
    return {
        "petitions_per_year": len(filed) / years,
        "skip_level_petitions_per_year": float(filed["skip_level"].sum()) / years,
        "repeat_petitions_per_year": float(filed["repeat"].sum()) / years,
        "new_backlog_rate": new_backlog / len(filed) if len(filed) else math.nan,
        "backlog_resolution_rate": closed_backlog / at_risk if at_risk else math.nan,
        "petitioned_share": float((status == "petitioned").mean()) if len(status) else math.nan,
    }
