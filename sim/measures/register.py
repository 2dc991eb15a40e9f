"""Tables of one replication: the register (登记表, one row per step), cases and time series.

The register schema is docs/register.md; calibration reads real registers in the same schema.
With ``mechanisms.quality`` on, the register gains the columns of :data:`QUALITY_COLUMNS` at its
end (the mediator's training, grade and cases a year, and the effort given); off, it is as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.measures.costs import unit_specs
from sim.model.layout import GRADES
from sim.model.replication import CHANNELS, ORIGINS, PETITION_OUTCOMES, STATUSES, Replication
from sim.scenario.vocabulary import KINDS, LEVELS, OUTCOMES, SEVERITIES, VENUES

__all__ = [
    "QUALITY_COLUMNS",
    "REGISTER_COLUMNS",
    "case_table",
    "petition_table",
    "register_table",
    "timeseries_table",
    "unit_specs",
]

REGISTER_COLUMNS = (
    "case_id",
    "step",
    "level",
    "township",
    "village",
    "grid",
    "category",
    "severity_initial",
    "severity",
    "sensitive",
    "channel",
    "arisen",
    "entered",
    "started",
    "ended",
    "outcome",
    "mediator_kind",
    "effort_hours",
    "initial",
    "arisen_date",
    "entered_date",
    "ended_date",
    "unit",
    "expert",
    "origin",
)
# With mechanisms.quality on, after REGISTER_COLUMNS: what a fit of the quality effects needs.
QUALITY_COLUMNS = (
    "training_hours",
    "mediator_grade",
    "mediator_cases_per_year",
    "effort_given_hours",
)


def _cat(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=int), categories=list(names))


def _kind(codes: np.ndarray) -> pd.Categorical:
    # -1 (no mediator) becomes a missing value.
    return pd.Categorical.from_codes(np.asarray(codes, dtype=int), categories=list(KINDS))


def _dates(rep: Replication, days: pd.Series) -> pd.Series:
    start = pd.Timestamp(rep.scenario.run.start_date)
    return start + pd.to_timedelta(days, unit="D")


def case_table(rep: Replication) -> pd.DataFrame:
    """One row per dispute: where and when it arose, and how it ended (status)."""
    raw = rep.cases.frame()
    d = rep.district
    grid = raw["grid_i"].to_numpy()
    village = np.asarray(d.grid_village, dtype=int)[grid] if len(grid) else grid
    township = np.asarray(d.village_township, dtype=int)[village] if len(grid) else grid
    out = pd.DataFrame(
        {
            "case_id": raw["case_id"].astype("int64"),
            "arisen": raw["arisen"].astype(float),
            "township": _cat(township, d.township_names),
            "village": _cat(village, d.village_names),
            "grid": _cat(grid, d.grid_names),
            "category": _cat(raw["category_i"], list(rep.scenario.categories)),
            "severity_initial": _cat(raw["severity_initial_i"], SEVERITIES),
            "severity": _cat(raw["severity_i"], SEVERITIES),
            "sensitive": raw["sensitive"].astype(bool),
            "initial": raw["initial"].astype(bool),
            "status": _cat(raw["status_i"], STATUSES),
            "concluded": raw["concluded"].astype(float),
            "steps": raw["steps"].astype("int64"),
            "origin": _cat(raw["origin_i"], ORIGINS),
        }
    )
    return out.sort_values("case_id", ignore_index=True)


def register_table(rep: Replication, cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per step a case spent at a level, in the schema of docs/register.md."""
    cases = case_table(rep) if cases is None else cases
    raw = rep.steps.frame()
    by_id = cases.set_index("case_id")
    ids = raw["case_id"].to_numpy()
    info = by_id.loc[ids] if len(ids) else by_id.iloc[:0]
    out = pd.DataFrame(
        {
            "case_id": raw["case_id"].astype("int64"),
            "step": raw["step"].astype("int64"),
            "level": _cat(raw["level_i"], VENUES),
            "township": info["township"].to_numpy(),
            "village": info["village"].to_numpy(),
            "grid": info["grid"].to_numpy(),
            "category": info["category"].to_numpy(),
            "severity_initial": info["severity_initial"].to_numpy(),
            "severity": _cat(raw["severity_entered_i"], SEVERITIES),
            "sensitive": info["sensitive"].to_numpy(),
            "channel": _cat(raw["channel_i"], CHANNELS),
            "arisen": info["arisen"].to_numpy(),
            "entered": raw["entered"].astype(float),
            "started": raw["started"].astype(float),
            "ended": raw["ended"].astype(float),
            "outcome": _cat(raw["outcome_i"], OUTCOMES),
            "mediator_kind": _kind(raw["kind_i"]),
            "effort_hours": raw["effort_hours"].astype(float),
            "initial": info["initial"].to_numpy(),
            "unit": _unit_names(rep, raw),
            "expert": raw["expert"].astype(bool),
            "origin": info["origin"].to_numpy(),
        }
    )
    for col in ("arisen", "entered", "ended"):
        out[f"{col}_date"] = _dates(rep, out[col])
    columns = list(REGISTER_COLUMNS)
    if rep.scenario.mechanisms.quality:
        out["training_hours"] = _training_hours(rep, raw)
        out["mediator_grade"] = _cat(raw["grade_i"], GRADES)
        out["mediator_cases_per_year"] = raw["mediator_cases_per_year"].astype(float)
        out["effort_given_hours"] = raw["effort_given_hours"].astype(float)
        columns += QUALITY_COLUMNS
    out = out.sort_values(["case_id", "step"], ignore_index=True)
    return out[columns]


def _training_hours(rep: Replication, raw: pd.DataFrame) -> np.ndarray:
    """The training hours a year of the mediators of each step's venue (0 where none is set)."""
    specs = unit_specs(rep)
    hours = np.zeros(len(raw), dtype=float)
    venue = raw["level_i"].to_numpy()
    unit = raw["unit_i"].to_numpy()
    for vi, v in enumerate(VENUES):
        here = venue == vi
        if here.any() and specs[v]:
            table = np.array([getattr(s, "training_hours_per_year", 0.0) for s in specs[v]])
            hours[here] = table[unit[here]]
    return hours


def _unit_names(rep: Replication, raw: pd.DataFrame) -> np.ndarray:
    """The name of the unit (grid, village, township, committee) of each step."""
    names = np.empty(len(raw), dtype=object)
    venue = raw["level_i"].to_numpy()
    unit = raw["unit_i"].to_numpy()
    for vi, v in enumerate(VENUES):
        here = venue == vi
        if here.any():
            table = np.asarray(rep.unit_names[v] or [v], dtype=object)
            names[here] = table[unit[here]]
    return names


def petition_table(rep: Replication) -> pd.DataFrame:
    """One row per petition (信访), first or repeat; backlog entry and closing when they happen."""
    raw = rep.petitions.frame()
    out = pd.DataFrame(
        {
            "petition_id": raw["petition_id"].astype("int64"),
            "case_id": raw["case_id"].astype("int64"),
            "filed": raw["filed"].astype(float),
            "level": _cat(raw["level_i"], LEVELS),
            "skip_level": raw["skip_level"].astype(bool),
            "repeat": raw["repeat"].astype(bool),
            "backlog_entered": raw["backlog_entered"].astype(float),
            "closed": raw["closed"].astype(float),
            "outcome": _cat(raw["outcome_i"], PETITION_OUTCOMES),
        }
    )
    return out.sort_values("petition_id", ignore_index=True)


def timeseries_table(rep: Replication) -> pd.DataFrame:
    """Per level, sampled every ``run.sample_interval_days``: cases present, waiting, busy."""
    raw = rep.timeseries.frame().astype({c: "int64" for c in ("present", "waiting", "busy")})
    raw.insert(1, "level", _cat(raw.pop("level_i"), VENUES))
    raw["date"] = _dates(rep, raw["time"])
    return raw
