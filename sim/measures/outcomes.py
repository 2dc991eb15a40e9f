"""Which disputes the KPIs count, how each one ended, and the register's totals: one pass.

The district-wide KPIs (:mod:`sim.measures.kpis`), the per-township ones
(:mod:`sim.measures.township_kpis`) and the cost table (:mod:`sim.measures.costs`) judge the
same disputes and steps by the same rules (docs/model.md); computing them here once keeps them
from drifting apart. The steps are read in chunks (:mod:`sim.measures.columns`), so that a
run's register never has to exist whole: what the KPIs keep of it is a few bytes a dispute
(its last step, whether it reached the village, its first channel) and the waits, which are
averaged in the register's order (by case, then step) so that every mean is the one the
register gives, to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.measures.columns import (
    CaseColumns,
    StepChunk,
    record_cases,
    record_steps,
    table_cases,
    table_steps,
)
from sim.model.layout import CHANNELS, GRADES, ORIGINS, STATUSES
from sim.scenario.vocabulary import OUTCOMES, RESOLVED, SEVERITIES, VENUES

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.replication import Replication

__all__ = [
    "DISCOVERY_CHANNELS",
    "TOWNSHIP_GROUND",
    "VILLAGE_GROUND",
    "Measured",
    "StepTotals",
    "WindowOutcomes",
    "measure_records",
    "measure_tables",
    "share",
    "step_totals",
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

_VILLAGE = [VENUES.index(v) for v in VILLAGE_GROUND]
_TOWNSHIP = [VENUES.index(v) for v in TOWNSHIP_GROUND]
_DISCOVERY = [CHANNELS.index(c) for c in DISCOVERY_CHANNELS]
_SWEEP = CHANNELS.index("sweep")
_RESOLVED = [OUTCOMES.index(o) for o in RESOLVED]
_BY_TIME_LIMIT = OUTCOMES.index("escalated_time_limit")
_GOLD = GRADES.index("gold_medal")
_LADDER = ORIGINS.index("ladder")
_CONCLUDED = [STATUSES.index(s) for s in ("resolved", "unresolved", "petitioned")]
_MINOR, _MAJOR, _SERIOUS = (SEVERITIES.index(s) for s in ("minor", "major", "serious"))


@dataclass(frozen=True)
class WindowOutcomes:
    """The disputes the case KPIs count and how each ended: one entry per counted dispute, in
    the order of the case table.

    Counted: disputes that arose on the ladder inside the measurement window (not initial state,
    not court referrals).
    """

    rows: np.ndarray
    """Index of each counted dispute in the case columns (the rows of the case table)."""
    case_id: np.ndarray
    days: np.ndarray
    """Days from arising to conclusion (NaN while open)."""
    final_level: np.ndarray
    """Venue of the last step (codes of ``VENUES``; -1: no step)."""
    final_outcome: np.ndarray
    """Outcome of the last step (codes of ``OUTCOMES``; -1: no step)."""
    took: np.ndarray
    """Days the last step took (ended − entered; NaN without one, or while open)."""
    status: np.ndarray
    """Case status (codes of ``STATUSES``)."""
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
    escalated_by_time_limit: int
    """Steps of these disputes that ended passed up at a time limit."""

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class StepTotals:
    """What the KPIs and the cost table read off the register as a whole."""

    waiting_days: dict[str, float]
    """Per venue, the mean wait (started − entered) of the steps entered in the window that
    started, of disputes not given as initial state; NaN where there is none."""
    experts: int
    """Steps an expert joined, of disputes arising in the window (not initial state)."""
    resolved: dict[str, int]
    """Per venue, steps that resolved a dispute arising in the window (not initial state)."""
    multiplied: dict[str, float] | None
    """With ``gold`` multipliers: per venue, those steps weighted by their mediator's grade
    (the gold multiplier for a gold-medal mediator, else the standard one)."""


@dataclass(frozen=True)
class Measured:
    """A replication's case columns, counted disputes and register totals."""

    cases: CaseColumns
    outcomes: WindowOutcomes
    totals: StepTotals


class _Pass:
    """One pass over a replication's steps, chunk by chunk, in any order."""

    def __init__(
        self,
        window: tuple[float, float],
        cases: CaseColumns | None,
        gold: tuple[float, float] | None,
    ) -> None:
        self.window = window
        self.gold = gold
        n = len(cases) if cases is not None else 0
        self.counted = _counted(cases, window) if cases is not None else np.zeros(0, bool)
        self.last_step = np.full(n, -1, dtype=np.int64)
        self.last_level = np.full(n, -1, dtype=np.int16)
        self.last_outcome = np.full(n, -1, dtype=np.int16)
        self.last_took = np.full(n, np.nan)
        self.reached = np.zeros(n, dtype=bool)
        self.first_channel = np.full(n, -1, dtype=np.int16)
        self.escalated = 0
        self.waits: list[tuple[np.ndarray, ...]] = []
        self.graded: list[tuple[np.ndarray, ...]] = []
        self.experts = 0
        self.resolved = np.zeros(len(VENUES), dtype=np.int64)

    def add(self, chunk: StepChunk) -> None:
        if len(self.counted):
            self._cases(chunk)
        self._totals(chunk)

    def _cases(self, chunk: StepChunk) -> None:
        """The steps of counted disputes: each one's last step, village reach, first channel."""
        pos = chunk["pos"]
        sel = (pos >= 0) & self.counted[np.maximum(pos, 0)]
        if not sel.any():
            return
        p, step, level = pos[sel], chunk["step"][sel], chunk["level"][sel]
        outcome = chunk["outcome"][sel]
        self.escalated += int(np.count_nonzero(outcome == _BY_TIME_LIMIT))
        self.reached[p[np.isin(level, _VILLAGE)]] = True
        first = step == 0
        self.first_channel[p[first]] = chunk["channel"][sel][first]
        # The last step of a dispute: its highest step number in this chunk, kept if higher
        # than what earlier chunks gave (a dispute's steps may fall into several chunks).
        order = np.lexsort((step, p))
        ordered = p[order]
        at = order[np.append(ordered[1:] != ordered[:-1], True)]
        later = step[at] > self.last_step[p[at]]
        at = at[later]
        q = p[at]
        self.last_step[q] = step[at]
        self.last_level[q] = level[at]
        self.last_outcome[q] = outcome[at]
        self.last_took[q] = chunk["ended"][sel][at] - chunk["entered"][sel][at]

    def _totals(self, chunk: StepChunk) -> None:
        lo, hi = self.window
        entered, started, initial = chunk["entered"], chunk["started"], chunk["initial"]
        waited = (entered >= lo) & (entered < hi) & ~initial & ~np.isnan(started)
        if waited.any():
            self.waits.append(
                (
                    chunk["case_id"][waited],
                    chunk["step"][waited],
                    chunk["level"][waited],
                    started[waited] - entered[waited],
                )
            )
        arisen = chunk["arisen"]
        arising = (arisen >= lo) & (arisen < hi) & ~initial
        self.experts += int(np.count_nonzero(chunk["expert"] & arising))
        res = arising & np.isin(chunk["outcome"], _RESOLVED)
        self.resolved += np.bincount(chunk["level"][res], minlength=len(VENUES))[: len(VENUES)]
        if self.gold is not None:
            self.graded.append(
                (
                    chunk["case_id"][res],
                    chunk["step"][res],
                    chunk["level"][res],
                    chunk["grade"][res] == _GOLD,
                )
            )

    def totals(self) -> StepTotals:
        waiting = dict.fromkeys(VENUES, math.nan)
        if self.waits:
            level, wait = _in_register_order(self.waits)
            for vi, venue in enumerate(VENUES):
                here = wait[level == vi]
                if len(here):
                    waiting[venue] = float(here.mean())
        multiplied = None
        if self.gold is not None:
            standard, gold = self.gold
            multiplied = dict.fromkeys(VENUES, 0.0)
            if self.graded:
                level, is_gold = _in_register_order(self.graded)
                weight = np.where(is_gold, gold, standard)
                for vi, venue in enumerate(VENUES):
                    multiplied[venue] = _compensated_sum(weight[level == vi])
        return StepTotals(
            waiting_days=waiting,
            experts=self.experts,
            resolved={v: int(n) for v, n in zip(VENUES, self.resolved, strict=True)},
            multiplied=multiplied,
        )

    def outcomes(self, cases: CaseColumns) -> WindowOutcomes:
        rows = np.flatnonzero(self.counted)
        final_level = self.last_level[rows]
        status = cases.status[rows]
        severity = cases.severity_initial[rows]
        channel = self.first_channel[rows]
        return WindowOutcomes(
            rows=rows,
            case_id=cases.case_id[rows],
            days=cases.concluded[rows] - cases.arisen[rows],
            final_level=final_level,
            final_outcome=self.last_outcome[rows],
            took=self.last_took[rows],
            status=status,
            resolved=status == STATUSES.index("resolved"),
            concluded=np.isin(status, _CONCLUDED),
            minor=severity == _MINOR,
            major=(severity == _MAJOR) | (severity == _SERIOUS),
            village_or_below=np.isin(final_level, _VILLAGE),
            township_or_below=np.isin(final_level, _TOWNSHIP),
            major_only=severity == _MAJOR,
            serious=severity == _SERIOUS,
            reached_village=self.reached[rows],
            discovered=np.isin(channel, _DISCOVERY),
            found_by_sweep=channel == _SWEEP,
            escalated_by_time_limit=self.escalated,
        )


def _counted(cases: CaseColumns, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return ~cases.initial & (cases.arisen >= lo) & (cases.arisen < hi) & (cases.origin == _LADDER)


def _in_register_order(parts: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
    """The value columns of ``parts`` (each: case id, step, values…) joined in the register's
    order, by case then step. ``parts`` is emptied as it is read, so that a province run's
    steps are not held twice."""
    keys = _register_keys(parts)
    values = [np.concatenate(c) for c in zip(*(p[2:] for p in parts), strict=True)]
    parts.clear()
    if keys is None:  # already in order
        return values
    order = np.argsort(keys) if keys.ndim == 1 else np.lexsort(keys)  # keys are unique
    del keys
    return [v[order] for v in values]


def _register_keys(parts: list[tuple[np.ndarray, ...]]) -> np.ndarray | None:
    """One sort key per step of ``parts``, by (case id, step): an int64 where it fits, else
    both rows for :func:`numpy.lexsort`; None when the steps are in that order already."""
    if sum(len(p[0]) for p in parts) < 2:
        return None
    width = max(int(p[1].max()) for p in parts if len(p[1])) + 1
    low = min(int(p[0].min()) for p in parts if len(p[0]))
    high = max(int(p[0].max()) for p in parts if len(p[0]))
    if low >= 0 and high < (1 << 62) // width:
        keys = np.concatenate([p[0].astype(np.int64) * width + p[1] for p in parts])
        return None if bool(np.all(keys[1:] > keys[:-1])) else keys
    case_id = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
    step = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    return None if _ordered(case_id, step) else np.vstack((step, case_id))


def _ordered(case_id: np.ndarray, step: np.ndarray) -> bool:
    same = case_id[1:] == case_id[:-1]
    return bool(np.all((case_id[1:] > case_id[:-1]) | (same & (step[1:] > step[:-1]))))


def _compensated_sum(values: np.ndarray) -> float:
    """The sum of ``values`` in order, compensated (Kahan) as pandas' grouped sum does, so that
    a cost gives the same yuan as the register's ``groupby(...).sum()`` did."""
    total = compensation = 0.0
    for v in values.tolist():
        y = v - compensation
        t = total + y
        compensation = t - total - y
        total = t
    return total


def measure_records(rep: Replication, gold: tuple[float, float] | None = None) -> Measured:
    """Measure ``rep`` from its records, streaming over its steps (no tables, no pandas)."""
    cases = record_cases(rep)
    scan = _Pass(rep.window, cases, gold)
    for chunk in record_steps(rep, cases, grades=gold is not None):
        scan.add(chunk)
    totals = scan.totals()  # first: it lets go of the waits before the outcomes are made
    return Measured(cases, scan.outcomes(cases), totals)


def measure_tables(
    rep: Replication,
    cases: pd.DataFrame,
    register: pd.DataFrame,
    gold: tuple[float, float] | None = None,
) -> Measured:
    """Measure ``rep`` from a case table and register given (they may be edited or made by
    hand: only ``rep.window`` is read from ``rep``)."""
    columns = table_cases(cases)
    scan = _Pass(rep.window, columns, gold)
    scan.add(table_steps(register, columns, grades=gold is not None))
    totals = scan.totals()
    return Measured(columns, scan.outcomes(columns), totals)


def step_totals(
    window: tuple[float, float],
    chunks: Iterable[StepChunk],
    gold: tuple[float, float] | None = None,
) -> StepTotals:
    """The register totals of some steps (no dispute is counted: the cost table's needs)."""
    scan = _Pass(window, None, gold)
    for chunk in chunks:
        scan.add(chunk)
    return scan.totals()


def window_outcomes(
    rep: Replication, cases: pd.DataFrame, register: pd.DataFrame
) -> WindowOutcomes:
    """The disputes the case KPIs count in a case table and register, with their outcomes."""
    return measure_tables(rep, cases, register).outcomes


def share(mask: np.ndarray, among: np.ndarray) -> float:
    """The share of ``among`` where ``mask`` holds; NaN when ``among`` is empty."""
    n = int(among.sum())
    return float(mask[among].sum() / n) if n else math.nan
