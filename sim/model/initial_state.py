"""Today's caseload as a starting state: open cases given as counts or read from a register."""

from __future__ import annotations

import math
import re
from pathlib import Path

from sim.scenario import limits
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.register_files import formula_problems, read_register
from sim.scenario.schema import OpenCases, Scenario
from sim.scenario.vocabulary import LEVEL_LABELS, LEVELS, SEVERITIES, SEVERITY_LABELS

__all__ = ["open_cases", "open_cases_from_register"]


# The register's open cases of the last scenario read, with the file's identity: every
# replication of a run in this process starts from them without parsing the file again (the
# scenario object is kept, so its id cannot be another's; an edited file has another mtime or
# size). A process pool's task gets the scenario pickled, a new object: it parses the file.
_last_read: tuple[Scenario, tuple[str, int, int], list[OpenCases]] | None = None


def open_cases(scenario: Scenario) -> list[OpenCases]:
    """All open cases the run starts with: the scenario's counts, then the register's rows."""
    global _last_read
    out = list(scenario.initial_state.open_cases)
    if scenario.initial_state.register_file:
        path = _register_path(scenario)
        try:
            st = path.stat()
            stamp = (str(path), st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None  # not there: the read below says so
        if _last_read is not None and _last_read[0] is scenario and _last_read[1] == stamp:
            out.extend(_last_read[2])
        else:
            read = open_cases_from_register(scenario)
            if stamp is not None:
                _last_read = (scenario, stamp, read)
            out.extend(read)
    return out


def _register_path(scenario: Scenario) -> Path:
    path = Path(scenario.initial_state.register_file or "")
    if not path.is_absolute() and scenario.source_file:
        path = Path(scenario.source_file).resolve().parent / path
    return path


def _text(value: object) -> str:
    """A cell as the text a CSV would hold: Excel numbers without ``.0``, empty for no value;
    a :class:`Formula` stays one, for its row to name."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _scenario_characters(scenario: Scenario) -> frozenset[str]:
    """Chinese characters a starting register of ``scenario`` holds: its place and category
    names and the levels' and severities' words (for telling a Big5 file from GB18030)."""
    words = [t.name for t in scenario.townships]
    words += [c.label for c in scenario.categories.values()]
    words += [*LEVEL_LABELS.values(), *SEVERITY_LABELS.values()]
    return frozenset(c for w in words for c in w if "\u4e00" <= c <= "\u9fff")


def open_cases_from_register(scenario: Scenario) -> list[OpenCases]:
    """Rows with ``outcome = open`` of a register (docs/register.md), one case each.

    A case appears once, at the level of its last open row. Places must exist in the scenario.
    The file is opened as calibration opens its registers (:mod:`sim.scenario.register_files`:
    CSV in UTF-8 or GB18030, or an .xlsx workbook; Big5, folders, misnamed or damaged
    workbooks and formula cells without a value are named), and the number of open cases is
    held to :data:`~sim.scenario.limits.MAX_INITIAL_CASES` like the scenario's counts.
    """
    path = _register_path(scenario)
    shown = str(path)
    if not path.exists():
        raise ScenarioError(
            [InputProblem(shown, "initial_state.register_file", str(path), "file not found")]
        )
    raw = read_register(path, shown, None, _scenario_characters(scenario))
    raw.columns = [str(c).strip() for c in raw.columns]
    needed = ["case_id", "level", "township", "village", "category", "severity", "outcome"]
    # pandas renames a repeated header "outcome" to "outcome.1": that is a second one too.
    base = [re.sub(r"\.\d+$", "", c) if c not in needed else c for c in raw.columns]
    twice = sorted({c for c in needed if base.count(c) > 1})
    if twice:  # e.g. "outcome" and "outcome " (spaces are not part of a column's name)
        raise ScenarioError(
            [InputProblem(shown, "columns", list(raw.columns), f"each of {twice} once")]
        )
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise ScenarioError(
            [InputProblem(shown, "columns", list(raw.columns), f"columns {missing} are required")]
        )
    # Plain lists, not a frame: pandas 3 would store the texts as strings, losing Formula.
    columns = [[_text(v) for v in raw[c]] for c in needed]
    rows = [dict(zip(needed, cells, strict=True)) for cells in zip(*columns, strict=True)]
    _check_size(scenario, shown, rows)
    townships = {t.name: t for t in scenario.townships} | {t.pinyin: t for t in scenario.townships}
    problems: list[InputProblem] = []
    cases: dict[str, OpenCases] = {}
    for i, row in enumerate(rows):
        where = f"row {i + 2}"  # header is line 1
        formulas = formula_problems(row, i + 2, shown)
        if formulas and (row["outcome"] == "open" or "outcome" in formulas):
            problems.extend(formulas.values())
            continue
        if row["outcome"] != "open":
            continue
        if row["level"] not in LEVELS:
            problems.append(
                InputProblem(shown, f"{where}, column level", row["level"], f"one of {LEVELS}")
            )
            continue
        if row["township"] not in townships:
            problems.append(
                InputProblem(
                    shown,
                    f"{where}, column township",
                    row["township"],
                    "a township of the scenario",
                )
            )
            continue
        t = townships[row["township"]]
        if row["village"] and row["village"] not in t.village_ids():
            problems.append(
                InputProblem(
                    shown, f"{where}, column village", row["village"], f"a village of {t.name}"
                )
            )
            continue
        if row["category"] not in scenario.categories:
            problems.append(
                InputProblem(
                    shown,
                    f"{where}, column category",
                    row["category"],
                    "a category of the scenario",
                )
            )
            continue
        if row["severity"] not in SEVERITIES:
            problems.append(
                InputProblem(
                    shown, f"{where}, column severity", row["severity"], f"one of {SEVERITIES}"
                )
            )
            continue
        cases[row["case_id"]] = OpenCases(
            level=row["level"],
            township=t.name,
            village=row["village"] or None,
            count=1,
            category=row["category"],
            severity=row["severity"],
        )
    if problems:
        raise ScenarioError(problems)
    return list(cases.values())


def _check_size(scenario: Scenario, shown: str, rows: list[dict[str, str]]) -> None:
    """Refuse more open cases than a replication may start with (run.allow_large lifts it)."""
    if scenario.run.allow_large:
        return
    found = len({row["case_id"] for row in rows if row["outcome"] == "open"})
    total = found + sum(oc.count for oc in scenario.initial_state.open_cases)
    if total > limits.MAX_INITIAL_CASES:
        raise ScenarioError(
            [
                InputProblem(
                    shown,
                    "outcome = open",
                    f"{found:,} cases",
                    f"at most {limits.MAX_INITIAL_CASES:,} initial open cases per replication "
                    f"(with initial_state.open_cases); this would start {total:,} (set "
                    "run.allow_large = true (or sim run --force) if this is meant)",
                )
            ]
        )
