"""Which disputes the KPIs count, and how each one ended: the masks both KPI tables share.

The district-wide KPIs (:mod:`sim.measures.kpis`) and the per-township ones
(:mod:`sim.measures.township_kpis`) judge the same disputes by the same rules (docs/model.md);
computing the masks here once keeps the two from drifting apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model.replication import Replication

__all__ = [
    "DISCOVERY_CHANNELS",
    "TOWNSHIP_GROUND",
    "VILLAGE_GROUND",
    "WindowOutcomes",
    "share",
    "window_disputes",
    "window_outcomes",
]

# 小事不出村: enterprise committees sit inside the village's ground, so a dispute settled by one
# has not left the village (docs/model.md, KPIs).
VILLAGE_GROUND: tuple[str, ...] = ("grid", "village", "enterprise")
# 大事不出镇 and 化解在基层: the village's ground and the township, its centre's joint mediation
# (乡镇联合调处, mechanisms.township_centres) included.
TOWNSHIP_GROUND: tuple[str, ...] = (*VILLAGE_GROUND, "township", "township_joint")
# How a dispute reaches its first step when it goes through discovery (found by a sweep, or
# reported by its party); in-firm disputes go to their committee at once and never face a sweep.
DISCOVERY_CHANNELS: tuple[str, ...] = ("sweep", "self_report", "direct")


def window_disputes(
    rep: Replication, cases: pd.DataFrame, register: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The disputes the case KPIs count, their register rows, and each one's last step.

    Counted: disputes that arose on the ladder inside the measurement window (not initial
    state, not court referrals). ``last`` is indexed by case id.
    """
    lo, hi = rep.window
    counted = (
        (~cases["initial"])
        & (cases["arisen"] >= lo)
        & (cases["arisen"] < hi)
        & (cases["origin"] == "ladder")
    )
    c = cases[counted]
    r = register[register["case_id"].isin(c["case_id"])]
    last = r.drop_duplicates("case_id", keep="last").set_index("case_id")
    return c, r, last


@dataclass(frozen=True)
class WindowOutcomes:
    """The counted disputes (:func:`window_disputes`) and, aligned with their rows, how each
    ended: one array entry per row of ``cases``."""

    cases: pd.DataFrame
    """The counted disputes (rows of the case table)."""
    steps: pd.DataFrame
    """Their register rows."""
    last: pd.DataFrame
    """Each one's last step, indexed by case id."""
    final_level: np.ndarray
    """Venue of the last step."""
    final_outcome: np.ndarray
    """Outcome of the last step."""
    status: np.ndarray
    """Case status as text."""
    resolved: np.ndarray
    concluded: np.ndarray
    """Resolved, unresolved or petitioned: no longer open."""
    minor: np.ndarray
    """Arose minor (小事)."""
    major: np.ndarray
    """Arose major or serious (大事)."""
    village_or_below: np.ndarray
    """Last step at grid, village or enterprise level: enterprise committees sit inside the
    village's ground (小事不出村)."""
    township_or_below: np.ndarray
    """Last step at the township or below (大事不出镇)."""
    major_only: np.ndarray
    """Arose major, not serious (大事 without 重大疑难)."""
    serious: np.ndarray
    """Arose serious (重大疑难)."""
    reached_village: np.ndarray
    """Had a step, any step, at grid, village or enterprise level: the dispute came within
    reach of the village (the ceiling of 小事不出村)."""
    discovered: np.ndarray
    """Its first step came through discovery: found by a sweep or reported by its party
    (channel ``sweep``, ``self_report`` or ``direct``)."""
    found_by_sweep: np.ndarray
    """Its first step came from a sweep (channel ``sweep``): the sweep found it first."""


def window_outcomes(
    rep: Replication, cases: pd.DataFrame, register: pd.DataFrame
) -> WindowOutcomes:
    """The disputes the case KPIs count, with the outcome masks both KPI tables use."""
    c, r, last = window_disputes(rep, cases, register)
    ids = c["case_id"]
    final_level = last["level"].astype(object).reindex(ids).to_numpy()
    final_outcome = last["outcome"].astype(object).reindex(ids).to_numpy()
    status = c["status"].astype(str).to_numpy()
    village_or_below = np.isin(final_level, VILLAGE_GROUND)
    # Any step in the village's ground, not only the last: a case may climb from it.
    in_village = r.loc[r["level"].isin(VILLAGE_GROUND), "case_id"].to_numpy()
    first = r[r["step"] == 0].set_index("case_id")["channel"].astype(object)
    channel = first.reindex(ids)
    severity = c["severity_initial"]
    return WindowOutcomes(
        cases=c,
        steps=r,
        last=last,
        final_level=final_level,
        final_outcome=final_outcome,
        status=status,
        resolved=status == "resolved",
        concluded=np.isin(status, ["resolved", "unresolved", "petitioned"]),
        minor=(severity == "minor").to_numpy(),
        major=severity.isin(["major", "serious"]).to_numpy(),
        village_or_below=village_or_below,
        township_or_below=np.isin(final_level, TOWNSHIP_GROUND),
        major_only=(severity == "major").to_numpy(),
        serious=(severity == "serious").to_numpy(),
        reached_village=np.isin(ids.to_numpy(), in_village),
        discovered=channel.isin(DISCOVERY_CHANNELS).to_numpy(),
        found_by_sweep=(channel == "sweep").to_numpy(),
    )


def share(mask: np.ndarray, among: np.ndarray) -> float:
    """The share of ``among`` where ``mask`` holds; NaN when ``among`` is empty."""
    n = int(among.sum())
    return float(mask[among].sum() / n) if n else math.nan
