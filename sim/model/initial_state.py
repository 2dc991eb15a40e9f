"""Today's caseload as a starting state: open cases given as counts or read from a register."""

from __future__ import annotations

from pathlib import Path

from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.schema import OpenCases, Scenario
from sim.scenario.vocabulary import LEVELS, SEVERITIES

__all__ = ["open_cases", "open_cases_from_register"]


def open_cases(scenario: Scenario) -> list[OpenCases]:
    """All open cases the run starts with: the scenario's counts, then the register's rows."""
    out = list(scenario.initial_state.open_cases)
    if scenario.initial_state.register_file:
        out.extend(open_cases_from_register(scenario))
    return out


def _register_path(scenario: Scenario) -> Path:
    path = Path(scenario.initial_state.register_file or "")
    if not path.is_absolute() and scenario.source_file:
        path = Path(scenario.source_file).resolve().parent / path
    return path


def open_cases_from_register(scenario: Scenario) -> list[OpenCases]:
    """Rows with ``outcome = open`` of a register CSV (docs/register.md), one case each.

    A case appears once, at the level of its last open row. Places must exist in the scenario.
    """
    path = _register_path(scenario)
    shown = str(path)
    if not path.is_file():
        raise ScenarioError(
            [InputProblem(shown, "initial_state.register_file", str(path), "file not found")]
        )
    import pandas as pd  # here: a scenario without a register file runs without pandas

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            [InputProblem(shown, "", InputProblem.MISSING, f"cannot read CSV: {exc}")]
        ) from None
    needed = ["case_id", "level", "township", "village", "category", "severity", "outcome"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ScenarioError(
            [InputProblem(shown, "columns", list(table.columns), f"columns {missing} are required")]
        )
    townships = {t.name: t for t in scenario.townships} | {t.pinyin: t for t in scenario.townships}
    problems: list[InputProblem] = []
    cases: dict[str, OpenCases] = {}
    for i, row in table.iterrows():
        if row["outcome"] != "open":
            continue
        where = f"row {int(i) + 2}"  # header is line 1
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
