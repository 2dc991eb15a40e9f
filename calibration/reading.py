"""Reading a case register (登记表) from CSV or Excel, checking every row, quarantining bad ones.

A register an office keeps by hand has typos, impossible dates and villages that were merged
years ago. Fitting such rows would bias the fit silently, and dropping them silently would hide
how much of the register was unusable. So every row is checked against the rules below and the
base scenario's places and categories; a bad row is reported with its row number, column, value
and what was expected, and kept aside in a quarantine table (written to a file by the CLI). In
strict mode the first problem stops the read.

Row numbers are those a person sees in Excel or a text editor: the header is row 1, the first
case row is row 2.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.experiments.files import safe_cells, write_atomic
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.messages import EFFORT_HOURS_LIMIT
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import SEVERITIES

from .columns import (
    CHANNEL_VALUES,
    GRADE_VALUES,
    KIND_VALUES,
    LEVEL_VALUES,
    OUTCOME_VALUES,
    QUALITY_FIELDS,
    REQUIRED_COLUMNS,
    SEVERITY_VALUES,
    TRUTH_VALUES,
    VENUES,
    canonical_column,
    normalise,
)
from .dates import DATE_FORMATS, parse_date
from .register_files import formula_problems, read_raw

__all__ = [
    "CONCLUDING_OUTCOMES",
    "MAX_STEP",
    "Register",
    "file_sha256",
    "read_register",
    "write_quarantine",
]

_MISSING = InputProblem.MISSING
CONCLUDING_OUTCOMES = frozenset({"resolved", "resolved_on_the_spot", "unresolved"})
_LIST_LIMIT = 6  # how many allowed values a message lists before "…"
MAX_STEP = 1000
"""Highest step number (调处步骤) a row may have. [EST] A dispute climbs four levels in a few
steps; a number beyond this is a slip (and one beyond 2**63 cannot even be stored)."""


@dataclass
class Register:
    """A register read and checked: its good rows in canonical form and what was set aside."""

    source: str
    sha256: str
    table: pd.DataFrame  # good rows; canonical columns + "row" (row number in the file)
    quarantine: pd.DataFrame  # bad rows as read; "row", "problems", then the file's columns
    problems: list[InputProblem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # canonical column → file's header
    rows_read: int = 0

    @property
    def bad_rows(self) -> int:
        """Number of rows set aside in the quarantine for problems."""
        return len(self.quarantine)


def file_sha256(path: str | Path) -> str:
    """Hash of the register file, written into the calibrated scenario's provenance header."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _map_headers(raw: pd.DataFrame, shown: str) -> dict[str, str]:
    """Canonical column → header in the file; every required column must be found once."""
    found: dict[str, list[str]] = {}
    for header in raw.columns:
        canon = canonical_column(header)
        if canon is not None:
            found.setdefault(canon, []).append(str(header))
    problems = [
        InputProblem(
            shown,
            "columns",
            headers,
            f"one column for {canon}; {len(headers)} headers mean the same thing",
        )
        for canon, headers in found.items()
        if len(headers) > 1
    ]
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        from .columns import COLUMN_LABELS

        wanted = ", ".join(f"{c} ({COLUMN_LABELS[c]})" for c in missing)
        problems.append(
            InputProblem(
                shown,
                "columns",
                [str(c) for c in raw.columns],
                f"required columns missing: {wanted} (see docs/calibration.md)",
            )
        )
    if problems:
        raise ScenarioError(problems)
    return {canon: headers[0] for canon, headers in found.items()}


# --- Cells ---------------------------------------------------------------------------------


def _text(value: object) -> str:
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))  # Excel stores 1001 as 1001.0
    return str(value).strip()


def _choices(values: list[str] | tuple[str, ...]) -> str:
    shown = list(values)[:_LIST_LIMIT]
    more = ", …" if len(values) > _LIST_LIMIT else ""
    return ", ".join(shown) + more


class _Places:
    """The base scenario's townships (by name or pinyin), villages and categories."""

    def __init__(self, scenario: Scenario):
        self.township: dict[str, str] = {}
        self.villages: dict[str, list[str]] = {}
        for t in scenario.townships:
            for key in (t.name, t.pinyin):
                self.township[normalise(key)] = t.name
            self.villages[t.name] = t.village_ids()
        self.category: dict[str, str] = {}
        for key, cat in scenario.categories.items():
            self.category[normalise(key)] = key
            if cat.label:
                self.category[normalise(cat.label)] = key
        self.township_names = [t.name for t in scenario.townships]
        self.category_names = list(scenario.categories)


@dataclass
class _Row:
    """One row being checked: its cells by canonical column, the good values, the problems."""

    number: int
    cells: dict[str, object]
    shown: str
    values: dict[str, object] = field(default_factory=dict)
    problems: list[InputProblem] = field(default_factory=list)

    def bad(self, column: str, value: object, expected: str) -> None:
        self.problems.append(
            InputProblem(self.shown, f"row {self.number}, column {column}", value, expected)
        )

    def label(
        self,
        column: str,
        table: dict[str, str],
        allowed: tuple[str, ...] | list[str],
        required: bool = True,
    ) -> None:
        raw = _text(self.cells.get(column))
        if not raw:
            if required:
                self.bad(column, _MISSING, f"a value: one of {_choices(allowed)}")
            else:
                self.values[column] = None
            return
        canon = table.get(normalise(raw))
        if canon is None:
            self.bad(column, raw, f"one of {_choices(allowed)}")
        else:
            self.values[column] = canon

    def date(self, column: str, required: bool) -> None:
        cell = self.cells.get(column)
        stamp = parse_date(cell)
        if stamp is None:
            self.bad(column, _text(cell), f"a date ({DATE_FORMATS})")
        elif stamp is pd.NaT and required:
            self.bad(column, _MISSING, f"a date ({DATE_FORMATS})")
        else:
            self.values[column] = stamp


def _check_row(row: _Row, places: _Places, has: Callable[[str], bool]) -> None:
    """The per-row rules; the rules across rows of a case are in :func:`_check_cases`."""
    case_id = _text(row.cells.get("case_id"))
    if case_id:
        row.values["case_id"] = case_id
    else:
        row.bad("case_id", _MISSING, "a case number (案件编号)")
    if has("step"):
        raw = _text(row.cells.get("step"))
        try:
            step = int(raw)
            if not 0 <= step <= MAX_STEP or str(step) != raw.lstrip("+"):
                raise ValueError
            row.values["step"] = step
        except ValueError:
            row.bad("step", raw or _MISSING, f"a whole number from 0 to {MAX_STEP:,} (调处步骤)")
    row.label("level", LEVEL_VALUES, VENUES)
    row.label("outcome", OUTCOME_VALUES, sorted(set(OUTCOME_VALUES.values())))
    row.label("severity", SEVERITY_VALUES, SEVERITIES)
    if has("severity_initial"):
        row.label("severity_initial", SEVERITY_VALUES, SEVERITIES, required=False)
    row.label("category", places.category, places.category_names)
    if has("channel"):
        row.label("channel", CHANNEL_VALUES, sorted(set(CHANNEL_VALUES.values())), False)
    if has("mediator_kind"):
        row.label("mediator_kind", KIND_VALUES, ("full_time", "part_time"), required=False)
    for column in ("sensitive", "initial"):
        if has(column):
            raw = _text(row.cells.get(column))
            flag = TRUTH_VALUES.get(normalise(raw))
            if flag is None:
                row.bad(column, raw, "yes or no (是/否, true/false, 1/0)")
            else:
                row.values[column] = flag
    for column, what in _NUMBERS.items():
        if not has(column):
            continue
        raw = _text(row.cells.get(column))
        try:
            hours = float(raw) if raw else math.nan
            if not (0 <= hours <= EFFORT_HOURS_LIMIT or math.isnan(hours)):
                raise ValueError
            row.values[column] = hours
        except ValueError:
            row.bad(column, raw, f"a number from 0 to {EFFORT_HOURS_LIMIT:,} ({what}), or empty")
    if has("mediator_grade"):
        row.label("mediator_grade", GRADE_VALUES, ("standard", "gold_medal"), required=False)
    if has("expert"):
        flag = TRUTH_VALUES.get(normalise(_text(row.cells.get("expert"))))
        if flag is None:
            row.bad("expert", _text(row.cells.get("expert")), "yes or no (是/否), or empty")
        else:
            row.values["expert"] = flag

    # Places: the township first, then the village inside it.
    raw_t = _text(row.cells.get("township"))
    township = places.township.get(normalise(raw_t)) if raw_t else None
    if township is None:
        row.bad(
            "township",
            raw_t or _MISSING,
            f"a township of the base scenario: {_choices(places.township_names)}",
        )
    else:
        row.values["township"] = township
        raw_v = _text(row.cells.get("village"))
        villages = places.villages[township]
        if raw_v in villages:
            row.values["village"] = raw_v
        else:
            row.bad("village", raw_v or _MISSING, f"a village of {township}: {_choices(villages)}")
    if has("grid"):
        row.values["grid"] = _text(row.cells.get("grid")) or None

    # Dates and the order of events.
    outcome = row.values.get("outcome")
    row.date("entered_date", required=True)
    row.date("ended_date", required=False)
    if has("arisen_date"):
        row.date("arisen_date", required=False)
    entered = _timestamp(row.values.get("entered_date"))
    ended = _timestamp(row.values.get("ended_date"))
    arisen = _timestamp(row.values.get("arisen_date"))
    if outcome == "open" and ended is not None:
        row.bad("ended_date", _text(row.cells.get("ended_date")), "empty: the step is open (在办)")
    if outcome not in (None, "open") and row.values.get("ended_date") is pd.NaT:
        row.bad("ended_date", _MISSING, f"the date the step ended (outcome {outcome})")
    if entered is not None and ended is not None and ended < entered:
        row.bad(
            "ended_date",
            _text(row.cells.get("ended_date")),
            f"not before the step was received ({entered}): closed before received",
        )
    if arisen is not None and entered is not None and entered < arisen:
        row.bad(
            "entered_date",
            _text(row.cells.get("entered_date")),
            f"not before the dispute arose ({arisen})",
        )
    if outcome == "resolved_on_the_spot" and row.values.get("level") not in (None, "grid"):
        row.bad(
            "outcome",
            _text(row.cells.get("outcome")),
            "resolved_on_the_spot (当场调处) only at level grid, during a sweep",
        )


def _timestamp(value: object) -> pd.Timestamp | None:
    """``value`` if it is a date, None if it is missing (``NaT``) or was not read as a date."""
    if isinstance(value, pd.Timestamp) and value is not pd.NaT:
        return value
    return None


def _check_cases(rows: list[_Row], has_step: bool) -> None:
    """Rules across the rows of one case: steps are unique, nothing follows a conclusion."""
    by_case: dict[str, list[_Row]] = {}
    for row in rows:
        cid = row.values.get("case_id")
        if cid is not None:
            by_case.setdefault(str(cid), []).append(row)
    for cid, group in by_case.items():
        if has_step:
            seen: dict[int, int] = {}
            for row in group:
                step = row.values.get("step")
                if not isinstance(step, int):
                    continue  # no step, or one not a whole number (reported with the row)
                if step in seen:
                    row.bad(
                        "step",
                        step,
                        f"a step not already in case {cid} (step {step} is row {seen[step]})",
                    )
                else:
                    seen[step] = row.number
            ordered = sorted(
                (r for r in group if r.values.get("step") is not None),
                key=lambda r: (r.values["step"], r.number),
            )
        else:
            ordered = sorted(
                (r for r in group if isinstance(r.values.get("entered_date"), pd.Timestamp)),
                key=lambda r: (r.values["entered_date"], r.number),
            )
        concluded: _Row | None = None
        for row in ordered:
            if row.problems:
                # A row set aside (a repeated step, a bad date …) is no step of the case: it
                # neither concludes it nor is judged against its conclusion. Counting it would
                # quarantine the case's real later steps with it.
                continue
            if concluded is not None:
                row.bad(
                    "outcome" if not has_step else "step",
                    row.values.get("step", _text(row.cells.get("outcome"))),
                    f"no later step: case {cid} was concluded at row {concluded.number} "
                    f"({concluded.values.get('outcome')})",
                )
            elif row.values.get("outcome") in CONCLUDING_OUTCOMES and concluded is None:
                concluded = row


# --- The register --------------------------------------------------------------------------


def read_register(
    path: str | Path,
    scenario: Scenario,
    *,
    strict: bool = False,
    sheet: str | int | None = None,
) -> Register:
    """Read and check a register against the base ``scenario``'s places and categories.

    With ``strict`` the first bad row raises :class:`ScenarioError`; otherwise bad rows are set
    aside in ``Register.quarantine`` (exactly those rows) and listed in ``Register.problems``.
    File-level faults (no file, missing columns) always raise.
    """
    path = Path(path)
    shown = str(path)
    raw = read_raw(path, shown, sheet)
    headers = _map_headers(raw, shown)
    places = _Places(scenario)
    cells = pd.DataFrame({canon: raw[header] for canon, header in headers.items()})
    records = cells.to_dict("records")

    # An empty line or spreadsheet row is no case; it is skipped, not reported.
    empty = raw.map(_text).eq("").all(axis=1).to_numpy()
    rows: list[_Row] = []
    for i, rec in enumerate(records):
        if empty[i]:
            continue
        row = _Row(number=i + 2, cells=rec, shown=shown)
        _check_row(row, places, headers.__contains__)
        formulas = formula_problems(rec, row.number, shown)
        if formulas:  # what the checks said of a formula's column is beside the point
            row.problems = [
                p for p in row.problems if p.key.split("column ")[-1] not in formulas
            ] + list(formulas.values())
        rows.append(row)
    _check_cases(rows, "step" in headers)

    problems = [p for row in rows for p in row.problems]
    if strict and problems:
        raise ScenarioError([problems[0]])

    good = [r for r in rows if not r.problems]
    bad = [r for r in rows if r.problems]
    table = _canonical_table(good, headers)
    quarantine = raw.iloc[[r.number - 2 for r in bad]].copy()
    quarantine.insert(0, "problems", [" | ".join(str(p) for p in r.problems) for r in bad])
    quarantine.insert(0, "row", [r.number for r in bad])
    quarantine = quarantine.reset_index(drop=True)
    return Register(
        source=shown,
        sha256=file_sha256(path),
        table=table,
        quarantine=quarantine,
        problems=problems,
        headers=headers,
        rows_read=len(rows),
    )


_COLUMNS = (
    "row",
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
    "arisen_date",
    "entered_date",
    "ended_date",
    "outcome",
    "mediator_kind",
    "effort_hours",
    "initial",
    *QUALITY_FIELDS,
)
# Optional numeric columns: hours or counts ≥ 0, empty allowed (what each is, for the message).
_NUMBERS = {
    "effort_hours": "hours, 投入工时",
    "training_hours": "hours a year, 培训时数",
    "mediator_cases_per_year": "cases a year, 年办案数",
    "effort_given_hours": "hours, 实际投入工时",
}


def _canonical_table(rows: list[_Row], headers: dict[str, str]) -> pd.DataFrame:
    data = [{"row": r.number, **r.values} for r in rows]
    table = pd.DataFrame(data, columns=list(_COLUMNS))
    for col in ("arisen_date", "entered_date", "ended_date"):
        table[col] = pd.to_datetime(table[col])
    if "step" not in headers:
        # No step column: the order of a case's rows is the order they were received.
        table = table.sort_values(["case_id", "entered_date", "row"], kind="stable")
        table["step"] = table.groupby("case_id").cumcount()
    table["step"] = table["step"].astype("int64")
    for col in _NUMBERS:
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["mediator_grade"] = table["mediator_grade"].astype(object)
    table["expert"] = table["expert"].astype("boolean")
    table["initial"] = table["initial"].map(lambda v: v is True)  # absent or empty: not initial
    table["sensitive"] = table["sensitive"].astype("boolean")
    for col in ("grid", "channel", "mediator_kind", "severity_initial"):
        table[col] = table[col].astype(object).where(table[col].notna(), None)
    table = table.sort_values(["case_id", "step"], kind="stable", ignore_index=True)
    # The severity a case arose with: the column if given, else the severity at its first step.
    first = table.groupby("case_id", sort=False)["severity"].transform("first")
    table["severity_initial"] = table["severity_initial"].fillna(first)
    return table


def write_quarantine(register: Register, path: str | Path) -> Path:
    """Write the bad rows (with their row numbers and problems) as a UTF-8 CSV Excel opens."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = safe_cells(register.quarantine)
    # Whole or not at all: a quarantine cut mid-row would hide rows that were set aside.
    return write_atomic(path, lambda tmp: table.to_csv(tmp, index=False, encoding="utf-8-sig"))
