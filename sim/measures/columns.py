"""The columns the KPIs read, as plain NumPy arrays: from a replication's records or its tables.

The KPIs (:mod:`sim.measures.kpis`) need a few columns of the case table and of the register.
Read straight from the model's typed record logs (:class:`sim.model.records.RecordLog`), they
need neither pandas nor a table of every row: the cases are gathered once (a few bytes a
dispute) and the steps stream by, one chunk at a time, so that a province run spooled to Parquet
is measured without building its register. A case table and register given as DataFrames (the
tables' API, :mod:`sim.measures.register`) give the same columns, so that both are measured by
one code. Codes index the vocabularies: venues :data:`~sim.scenario.vocabulary.VENUES`,
outcomes :data:`~sim.scenario.vocabulary.OUTCOMES`, severities, statuses, origins, channels
and grades of :mod:`sim.model.layout`; -1 is none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sim.model.layout import CHANNELS, GRADES, ORIGINS, STATUSES
from sim.scenario.vocabulary import OUTCOMES, SEVERITIES, VENUES

if TYPE_CHECKING:  # pandas only when tables are given
    import pandas as pd

    from sim.model.records import RecordLog
    from sim.model.replication import Replication

__all__ = [
    "CaseColumns",
    "StepChunk",
    "gather",
    "record_cases",
    "record_steps",
    "table_cases",
    "table_steps",
]

StepChunk = dict[str, np.ndarray]
"""Some steps (register rows), one array per column: ``case_id``, ``step``, ``level``,
``channel``, ``entered``, ``started``, ``ended``, ``outcome``, ``expert``, the ``arisen`` and
``initial`` of their case, ``pos`` (the case's index in the :class:`CaseColumns`, -1 if not
there) and, when asked, ``grade``."""

_CASE_FIELDS = (
    "case_id",
    "arisen",
    "initial",
    "origin_i",
    "status_i",
    "concluded",
    "severity_initial_i",
)
_STEP_FIELDS = (
    "case_id",
    "step",
    "level_i",
    "channel_i",
    "entered",
    "started",
    "ended",
    "outcome_i",
    "expert",
)


@dataclass(frozen=True)
class CaseColumns:
    """Every case, one entry per case in the order of the case table (by case id)."""

    case_id: np.ndarray
    arisen: np.ndarray
    initial: np.ndarray
    origin: np.ndarray
    """Codes of ``ORIGINS``."""
    status: np.ndarray
    """Codes of ``STATUSES``."""
    concluded: np.ndarray
    """When the case concluded (NaN while open)."""
    severity_initial: np.ndarray
    """Codes of ``SEVERITIES``, as it arose."""

    def __len__(self) -> int:
        return len(self.case_id)

    @cached_property
    def _lookup(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``None`` when the ids are 0, 1, … in order (the model's); else (sorter, sorted ids)."""
        ids = self.case_id
        if np.array_equal(ids, np.arange(len(ids))):
            return None
        sorter = np.argsort(ids, kind="stable")
        return sorter, ids[sorter]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """The index of each case id in these columns; -1 where it is not one of them."""
        ids = np.asarray(ids, dtype=np.int64)
        n = len(self.case_id)
        lookup = self._lookup
        if lookup is None:
            return np.where((ids >= 0) & (ids < n), ids, -1)
        sorter, ordered = lookup
        at = np.minimum(np.searchsorted(ordered, ids), max(n - 1, 0))
        if n == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        return np.where(ordered[at] == ids, sorter[at], -1)


def gather(log: RecordLog, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns ``names`` of every row of ``log``, each joined into one array, in the order
    recorded."""
    parts = list(log.chunks(names))
    return {
        name: (
            np.concatenate([p[name] for p in parts])
            if parts
            else np.empty(0, dtype=log.dtypes[log.fields.index(name)])
        )
        for name in names
    }


def record_cases(rep: Replication) -> CaseColumns:
    """The cases of ``rep`` from its case records, ordered by case id as the case table is."""
    cols = _by_dense_id(rep.cases, _CASE_FIELDS)
    if cols is None:  # ids other than 0, 1, … (not the model's): join, then sort
        cols = gather(rep.cases, _CASE_FIELDS)
        ids = cols["case_id"]
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            cols = {name: col[order] for name, col in cols.items()}
    return CaseColumns(
        case_id=cols["case_id"].astype(np.int64, copy=False),
        arisen=cols["arisen"].astype(float, copy=False),
        initial=cols["initial"].astype(bool, copy=False),
        origin=cols["origin_i"],
        status=cols["status_i"],
        concluded=cols["concluded"].astype(float, copy=False),
        severity_initial=cols["severity_initial_i"],
    )


def _by_dense_id(log: RecordLog, names: Sequence[str]) -> dict[str, np.ndarray] | None:
    """Columns ``names`` of ``log`` with each row put at the index of its ``case_id``, when the
    ids are 0 … n−1, each once (the model numbers its cases so); else None. Chunk by chunk into
    arrays of the final size: no joined copy, no sort (a province's cases are recorded as
    they conclude, out of order)."""
    n = len(log)
    out = {name: np.empty(n, dtype=log.dtypes[log.fields.index(name)]) for name in names}
    seen = np.zeros(n, dtype=bool)
    for chunk in log.chunks(names):
        ids = chunk["case_id"]
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= n):
            return None
        for name in names:
            out[name][ids] = chunk[name]
        seen[ids] = True
    return out if bool(seen.all()) else None


def record_steps(rep: Replication, cases: CaseColumns, grades: bool = False) -> Iterator[StepChunk]:
    """The steps of ``rep`` from its step records, a chunk at a time in the order recorded
    (by when each step ended, not by case); ``grades`` adds the mediator's grade."""
    fields = (*_STEP_FIELDS, "grade_i") if grades else _STEP_FIELDS
    for part in rep.steps.chunks(fields):
        pos = cases.positions(part["case_id"])
        if len(pos) and int(pos.min()) < 0:  # the model writes a case row for each case it made
            raise ValueError("step records of a case without a case record")
        chunk: StepChunk = {
            "case_id": part["case_id"].astype(np.int64, copy=False),
            "step": part["step"],
            "level": part["level_i"],
            "channel": part["channel_i"],
            "entered": part["entered"],
            "started": part["started"],
            "ended": part["ended"],
            "outcome": part["outcome_i"],
            "expert": part["expert"].astype(bool, copy=False),
            "arisen": cases.arisen[pos],
            "initial": cases.initial[pos],
            "pos": pos,
        }
        if grades:
            chunk["grade"] = part["grade_i"]
        yield chunk


def _codes(column: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Codes of ``names`` for a column of names (categorical or text); -1 for anything else."""
    import pandas as pd

    return np.asarray(pd.Categorical(column, categories=list(names)).codes, dtype=np.int16)


def table_cases(cases: pd.DataFrame) -> CaseColumns:
    """The columns of a case table (:func:`sim.measures.register.case_table`), in its order."""
    return CaseColumns(
        case_id=cases["case_id"].to_numpy(dtype=np.int64),
        arisen=cases["arisen"].to_numpy(dtype=float),
        initial=cases["initial"].to_numpy(dtype=bool),
        origin=_codes(cases["origin"], ORIGINS),
        status=_codes(cases["status"], STATUSES),
        concluded=(
            cases["concluded"].to_numpy(dtype=float)
            if "concluded" in cases
            else np.full(len(cases), np.nan)
        ),
        severity_initial=_codes(cases["severity_initial"], SEVERITIES),
    )


def table_steps(
    register: pd.DataFrame, cases: CaseColumns | None = None, grades: bool = False
) -> StepChunk:
    """The columns of a register (:func:`sim.measures.register.register_table`) as one chunk;
    ``pos`` refers to ``cases`` (all -1 without them)."""
    ids = register["case_id"].to_numpy(dtype=np.int64)
    n = len(register)

    def floats(name: str) -> np.ndarray:
        return register[name].to_numpy(dtype=float) if name in register else np.full(n, np.nan)

    def flags(name: str) -> np.ndarray:
        return register[name].to_numpy(dtype=bool) if name in register else np.zeros(n, bool)

    chunk: StepChunk = {
        "case_id": ids,
        "step": register["step"].to_numpy(dtype=np.int64),
        "level": _codes(register["level"], VENUES),
        "channel": _codes(register["channel"], CHANNELS),
        "entered": floats("entered"),
        "started": floats("started"),
        "ended": floats("ended"),
        "outcome": _codes(register["outcome"], OUTCOMES),
        "expert": flags("expert"),
        "arisen": floats("arisen"),
        "initial": flags("initial"),
        "pos": cases.positions(ids) if cases is not None else np.full(n, -1, dtype=np.int64),
    }
    if grades:
        chunk["grade"] = _codes(register["mediator_grade"], GRADES)
    return chunk
