"""KPIs of one replication per township (乡镇): the district-wide definitions of sim.kpis, by place.

The quota verdict (``sim size --check-quotas``) asks "are the quotas enough *here*?" for each
township, not only for the district. The definitions are those of :func:`sim.measures.kpis.kpis`
(and docs/model.md), restricted to disputes that arose in the township's villages: 小事不出村 is the
share of concluded disputes that arose minor and were resolved at grid, village or enterprise
level; 大事不出镇 the share of concluded major/serious ones resolved at or below the township. The
KPIs that explain them (ceiling and retention, major and serious apart, 基层化解率, 排查发现率)
are those of :func:`sim.measures.kpis.explaining_kpis`, on the township's disputes.
Kept here rather than in sim.kpis so that the district-wide code stays as it is; if the two ever
disagree on the whole district, this module is wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.measures.kpis import EXPLAINING_KPIS, explaining_kpis, time_limit_days
from sim.measures.outcomes import share, window_outcomes
from sim.model.layout import STATUSES
from sim.model.replication import Replication
from sim.scenario.vocabulary import OUTCOMES

__all__ = ["TOWNSHIP_KPIS", "township_kpis"]

TOWNSHIP_KPIS: tuple[str, ...] = (
    "disputes",
    "minor_kept_in_village",
    "major_kept_in_township",
    "on_the_spot_share",
    "unresolved_share",
    "days_to_resolution.mean",
    "days_to_resolution.p90",
    "resolved_within_limit",
    *EXPLAINING_KPIS,
)
"""KPIs that have a meaning per township; the others (utilisation of the district…) do not."""


def township_kpis(
    rep: Replication,
    cases: pd.DataFrame,
    register: pd.DataFrame,
    time_limits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """One row per township (index: township name), one column per name in TOWNSHIP_KPIS.

    ``time_limits`` maps a venue to its time limit in days (for ``resolved_within_limit``);
    by default the ladder's limits when the mechanism is on.
    """
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    w = window_outcomes(rep, cases, register)
    resolved, concluded, days = w.resolved, w.concluded, w.days
    # By default the district KPIs' own limits; a dispute with no step has none.
    within = w.took <= time_limit_days(rep, w.final_level, time_limits) + 1e-9
    township = cases["township"].astype(str).to_numpy()[w.rows]
    unresolved = w.status == STATUSES.index("unresolved")
    on_the_spot = w.final_outcome == OUTCOMES.index("resolved_on_the_spot")

    rows = {}
    for name in rep.district.township_names:
        here = township == name
        res_here = resolved & here
        rows[name] = {
            "disputes": here.sum() / years,
            "minor_kept_in_village": share(
                res_here & w.village_or_below, w.minor & concluded & here
            ),
            "major_kept_in_township": share(
                res_here & w.township_or_below, w.major & concluded & here
            ),
            "on_the_spot_share": share(on_the_spot, here),
            "unresolved_share": share(unresolved, here),
            "days_to_resolution.mean": float(days[res_here].mean()) if res_here.any() else math.nan,
            "days_to_resolution.p90": (
                float(np.quantile(days[res_here], 0.9)) if res_here.any() else math.nan
            ),
            "resolved_within_limit": share(within, res_here),
            **explaining_kpis(w, here),
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(TOWNSHIP_KPIS))
    out.index.name = "township"
    return out
