"""KPIs of one replication, computed from its case table, register and petitions (docs/model.md).

Case KPIs count disputes that arose inside the measurement window (after the warm-up, before
arrivals stop) and came up the ladder (court referrals to stationed rooms are their own stream);
cases given as the initial state are excluded. Time averages (utilization) use the same window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.measures.costs import annual_cost, gold_multipliers
from sim.measures.notice_kpis import notice_kpis, petition_columns
from sim.measures.outcomes import (
    Measured,
    WindowOutcomes,
    measure_records,
    measure_tables,
    share,
)
from sim.model.layout import ORIGINS, STATUSES
from sim.model.replication import Replication
from sim.scenario.vocabulary import (
    EXPLAINING_KPIS,
    KPI_NAMES,
    LEVELS,
    OUTCOMES,
    PETITION_KPIS,
    RESOLVED,
    VENUES,
)

if TYPE_CHECKING:  # pandas only when tables are given
    import pandas as pd

__all__ = [
    "EXPLAINING_KPIS",
    "PETITION_KPIS",
    "explaining_kpis",
    "kpis",
    "time_limit_days",
    "venue_time_limits",
]

_RESOLVED = [OUTCOMES.index(o) for o in RESOLVED]
_ON_THE_SPOT = OUTCOMES.index("resolved_on_the_spot")
_COURT = ORIGINS.index("court_referral")
_ST_RESOLVED, _ST_UNRESOLVED, _ST_PETITIONED = (
    STATUSES.index(s) for s in ("resolved", "unresolved", "petitioned")
)


def kpis(
    rep: Replication,
    cases: pd.DataFrame | None = None,
    register: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The KPI values of one replication, keyed by the names in
    ``sim.scenario.vocabulary.KPI_NAMES``.

    Without tables they are read off the replication's records, streaming over its steps
    (:func:`sim.measures.outcomes.measure_records`: no pandas, and no register held whole);
    with ``cases`` (and ``register``, else made from ``rep``) off those tables. Both give the
    same numbers to the last bit.
    """
    gold = gold_multipliers(rep)
    if cases is None and register is None:
        measured = measure_records(rep, gold)
    else:
        from sim.measures.register import case_table, register_table

        cases = case_table(rep) if cases is None else cases
        register = register_table(rep, cases) if register is None else register
        measured = measure_tables(rep, cases, register, gold)
    return _kpis(rep, measured)


def _kpis(rep: Replication, measured: Measured) -> dict[str, float]:
    sc = rep.scenario
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    w, totals, every_case = measured.outcomes, measured.totals, measured.cases
    resolved, concluded = w.resolved, w.concluded

    out: dict[str, float] = dict.fromkeys(KPI_NAMES, math.nan)
    everyone = np.ones(len(w), dtype=bool)
    out["disputes"] = len(w) / years
    # 小事不出村 / 大事不出镇: enterprise committees sit inside the village's ground.
    out["minor_kept_in_village"] = share(resolved & w.village_or_below, w.minor & concluded)
    out["major_kept_in_township"] = share(resolved & w.township_or_below, w.major & concluded)
    out.update(explaining_kpis(w))
    for vi, venue in enumerate(VENUES):
        out[f"resolved_share.{venue}"] = share(resolved & (w.final_level == vi), everyone)
    # Court referrals (诉调衔接) are their own stream: the room's share is over referrals.
    arisen = every_case.arisen
    referrals = (every_case.origin == _COURT) & (arisen >= lo) & (arisen < hi)
    if referrals.any():
        out["resolved_share.stationed_room"] = float(
            np.mean(every_case.status[referrals] == _ST_RESOLVED)
        )
    elif not rep.staffing["stationed_room"]:
        out["resolved_share.stationed_room"] = 0.0
    out["unresolved_share"] = share(w.status == _ST_UNRESOLVED, everyone)
    out["open_share"] = share(~concluded, everyone)
    out["on_the_spot_share"] = share(w.final_outcome == _ON_THE_SPOT, everyone)

    days = w.days[resolved]
    out["days_to_resolution.mean"] = float(days.mean()) if len(days) else math.nan
    out["days_to_resolution.p90"] = float(np.quantile(days, 0.9)) if len(days) else math.nan

    # Resolved within the time limit of the venue that resolved it (no limit: within).
    res_last = np.isin(w.final_outcome, _RESOLVED)
    if res_last.any():
        limit = time_limit_days(rep, w.final_level[res_last])
        out["resolved_within_limit"] = float(np.mean(w.took[res_last] <= limit + 1e-9))
    out["escalations_by_time_limit"] = float(w.escalated_by_time_limit) / years

    for venue in VENUES:
        avail = rep.available_hours[venue]
        out[f"utilization.{venue}"] = rep.effort_hours[venue] / avail if avail > 0 else math.nan
        out[f"waiting_days.{venue}"] = totals.waiting_days[venue]

    if sc.petitions is not None and sc.mechanisms.petitions:
        out.update(_petition_kpis(rep, w.status, years))
    out.update(notice_kpis(rep))
    # Counted as the expert fees are (sim.costs): steps of disputes arising in the window.
    out["expert_cases_per_year"] = float(totals.experts) / years

    out["annual_cost_yuan"] = annual_cost(rep, totals)
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
    among = np.ones(len(w), dtype=bool) if here is None else here
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


def time_limit_days(
    rep: Replication, venues: np.ndarray, limits: dict[str, float] | None = None
) -> np.ndarray:
    """The time limit in days of each venue code of ``venues``: ``limits`` (by default
    :func:`venue_time_limits`), infinite where a venue has none or the code is -1 (no step)."""
    limits = venue_time_limits(rep) if limits is None else limits
    table = np.array([limits.get(v, math.inf) for v in VENUES], dtype=float)
    return np.where(venues >= 0, table[venues], math.inf)


def _petition_kpis(rep: Replication, status: np.ndarray, years: float) -> dict[str, float]:
    """The "1减2降1升" indicators over the measurement window."""
    lo, hi = rep.window
    pets = petition_columns(rep)
    filed = (pets["filed"] >= lo) & (pets["filed"] < hi)
    n_filed = int(np.count_nonzero(filed))
    backlog_in = pets["backlog_entered"]
    new_backlog = int(np.count_nonzero((backlog_in >= lo) & (backlog_in < hi)))
    closed = pets["closed"]
    closed_backlog = int(np.count_nonzero(~np.isnan(backlog_in) & (closed >= lo) & (closed < hi)))
    at_risk = rep.backlog_at_start + new_backlog
    return {
        "petitions_per_year": n_filed / years,
        "skip_level_petitions_per_year": float(np.count_nonzero(pets["skip_level"] & filed))
        / years,
        "repeat_petitions_per_year": float(np.count_nonzero(pets["repeat"] & filed)) / years,
        "new_backlog_rate": new_backlog / n_filed if n_filed else math.nan,
        "backlog_resolution_rate": closed_backlog / at_risk if at_risk else math.nan,
        "petitioned_share": (float(np.mean(status == _ST_PETITIONED)) if len(status) else math.nan),
    }
