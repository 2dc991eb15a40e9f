"""KPIs of the notice's petition and court measures (docs/model.md "Petition agents, 访调对接,
visits and counselling" and "Court linkage (诉调衔接)").

Kept apart from :mod:`sim.measures.kpis` so that each mechanism's numbers are read in one place:

* ``backlog_open_at_start`` / ``backlog_open_at_end``: backlog cases (积案) open when the window
  opens and when it ends, so that "1减" is read as a change from a start (with a stock from
  ``initial_state.backlog_cases``); both counts, never negative;
* ``petitions_closed_by_mediation_per_year``: petitions routed into mediation (访调对接) and
  settled there, closed in the window (``mechanisms.petition_mediation``);
* ``court_filings_per_year`` / ``court_delegations_per_year``: ladder cases ending unresolved in
  the window that go to court, and of them those the court delegates back to its stationed room
  (诉前委派) (``mechanisms.court_linkage``).

Each is NaN (null in JSON, listed under ``not_modelled``) when its mechanism is off.
"""

from __future__ import annotations

import math

import numpy as np

from sim.measures.columns import gather
from sim.model.layout import PETITION_OUTCOMES
from sim.model.replication import Replication
from sim.scenario.schema import Scenario

__all__ = ["NOTICE_KPIS", "notice_kpis", "notice_not_modelled", "petition_columns"]

BACKLOG_KPIS = ("backlog_open_at_start", "backlog_open_at_end")
MEDIATION_KPIS = ("petitions_closed_by_mediation_per_year",)
COURT_KPIS = ("court_filings_per_year", "court_delegations_per_year")
NOTICE_KPIS = (*BACKLOG_KPIS, *MEDIATION_KPIS, *COURT_KPIS)


def notice_not_modelled(sc: Scenario) -> list[str]:
    """The KPIs of this module that ``sc`` leaves out (their mechanism is off)."""
    petitions = sc.petitions is not None and sc.mechanisms.petitions
    out: list[str] = []
    if not petitions:
        out += [*BACKLOG_KPIS, *MEDIATION_KPIS]
    elif not sc.mechanisms.petition_mediation:
        out += list(MEDIATION_KPIS)
    if not sc.mechanisms.court_linkage:
        out += list(COURT_KPIS)
    return out


def notice_kpis(rep: Replication) -> dict[str, float]:
    """The values of :data:`NOTICE_KPIS` for one replication (NaN where not modelled)."""
    sc = rep.scenario
    out = dict.fromkeys(NOTICE_KPIS, math.nan)
    lo, hi = rep.window
    years = (hi - lo) / 365.0
    skipped = set(notice_not_modelled(sc))
    if "backlog_open_at_start" not in skipped:
        pets = petition_columns(rep)
        entered, closed = pets["backlog_entered"], pets["closed"]
        for name, t in (("backlog_open_at_start", lo), ("backlog_open_at_end", hi)):
            # Entered by t and not closed by t (a NaN closing time is still open).
            out[name] = float(np.count_nonzero((entered <= t) & ~(closed <= t)))
        if "petitions_closed_by_mediation_per_year" not in skipped:
            by_mediation = (pets["outcome_i"] == _BY_MEDIATION) & (closed >= lo) & (closed < hi)
            out["petitions_closed_by_mediation_per_year"] = (
                float(np.count_nonzero(by_mediation)) / years
            )
    if "court_filings_per_year" not in skipped:
        out["court_filings_per_year"] = rep.counts.get("court_filings", 0) / years
        out["court_delegations_per_year"] = rep.counts.get("court_delegations", 0) / years
    return out


_BY_MEDIATION = PETITION_OUTCOMES.index("closed_by_mediation")
_PETITION_COLUMNS = ("filed", "skip_level", "repeat", "backlog_entered", "closed", "outcome_i")


def petition_columns(rep: Replication) -> dict[str, np.ndarray]:
    """The petition records' columns the KPIs count over (``filed``, ``skip_level``,
    ``repeat``, ``backlog_entered``, ``closed``, ``outcome_i``), in the order recorded."""
    return gather(rep.petitions, _PETITION_COLUMNS)
