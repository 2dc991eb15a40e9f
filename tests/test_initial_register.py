"""A starting register (initial_state.register_file) is opened like calibration's registers
(sim.scenario.register_files): a GB18030 CSV or an .xlsx workbook gives the same open cases as
the UTF-8 CSV, and its open cases are held to the same size cap as the scenario's counts. The
file faults (Big5, folders, misnamed, damaged or formula-only workbooks) are in the hostile
corpus (tests/hostile/cases.toml, ids initial-register-*)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.model.initial_state import open_cases
from sim.scenario import limits
from sim.scenario.errors import ScenarioError

from .test_hostile import INITIAL_ROWS, MAKERS, _initial_csv


def _cases(tmp: Path, *overrides: str) -> list:
    return open_cases(sim.load_scenario(tmp / "initial.toml", list(overrides)))


def test_utf8_csv_gives_the_register_s_open_cases(tmp_path):
    _initial_csv(tmp_path, "initial.csv", "utf-8", INITIAL_ROWS)
    cases = _cases(tmp_path)
    assert [(c.level, c.township, c.village, c.category, c.severity) for c in cases] == [
        ("village", "甲镇", "Jiazhen-V01", "neighbour", "minor"),
        ("township", "乙乡", None, "land", "major"),
    ]


@pytest.mark.parametrize("maker", ["initial_gb18030", "initial_xlsx"])
def test_gb18030_and_workbooks_read_as_the_utf8_csv(maker, tmp_path):
    utf8 = tmp_path / "utf8"
    utf8.mkdir()
    _initial_csv(utf8, "initial.csv", "utf-8", INITIAL_ROWS)
    MAKERS[maker](tmp_path)  # the .xlsx holds case_id as numbers: read back as "1", not "1.0"
    assert _cases(tmp_path) == _cases(utf8)


def test_open_cases_of_a_register_are_held_to_the_size_cap(tmp_path, monkeypatch):
    """Two open cases against a cap of one (the real cap, a million, would need a file of
    tens of megabytes): refused naming the file and the count; run.allow_large lifts it."""
    _initial_csv(tmp_path, "initial.csv", "utf-8", INITIAL_ROWS)
    monkeypatch.setattr(limits, "MAX_INITIAL_CASES", 1)
    with pytest.raises(ScenarioError) as err:
        _cases(tmp_path)
    (line,) = err.value.shown_lines()
    assert "initial.csv: outcome = open = '2 cases'" in line
    assert "at most 1 initial open cases" in line and "run.allow_large" in line
    assert len(_cases(tmp_path, "run.allow_large=true")) == 2


@pytest.mark.parametrize("again", ["outcome ", "outcome"])
def test_a_column_given_twice_is_named_not_a_traceback(tmp_path, again):
    """'outcome' twice ('outcome ' is the same name once spaces are stripped; an exact repeat
    pandas renames 'outcome.1'): refused naming it, not a traceback nor the first silently."""
    rows = [[*INITIAL_ROWS[0], again]] + [[*r, "open"] for r in INITIAL_ROWS[1:]]
    _initial_csv(tmp_path, "initial.csv", "utf-8", rows)
    with pytest.raises(ScenarioError) as err:
        _cases(tmp_path)
    (line,) = err.value.shown_lines()
    assert "initial.csv: columns" in line and "each of ['outcome'] once" in line


def test_a_workbook_is_closed_once_read(tmp_path):
    """The model reads the register in each replication with garbage collection paused: an
    unclosed workbook kept a file descriptor per replication."""
    import gc
    import os

    MAKERS["initial_xlsx"](tmp_path)
    fds = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    if fds is None:
        pytest.skip("no /proc to count file descriptors")
    gc.disable()
    try:
        for _ in range(5):
            _cases(tmp_path)
        assert len(os.listdir("/proc/self/fd")) == fds
    finally:
        gc.enable()


def test_every_replication_starts_from_one_read_of_the_register(tmp_path, monkeypatch):
    """The model asks for the open cases in each replication: the file is parsed once per
    scenario and file version (an edit, a new size or mtime, is read again)."""
    from sim.model import initial_state

    reads = []
    real = initial_state.read_register
    monkeypatch.setattr(
        initial_state, "read_register", lambda *a, **k: reads.append(1) or real(*a, **k)
    )
    _initial_csv(tmp_path, "initial.csv", "utf-8", INITIAL_ROWS)
    scenario = sim.load_scenario(tmp_path / "initial.toml")
    first = open_cases(scenario)
    assert open_cases(scenario) == first and len(reads) == 1
    sim.simulate(scenario, replications=2, seed=1)  # two replications, no further read
    assert len(reads) == 1
    _initial_csv(tmp_path, "initial.csv", "utf-8", INITIAL_ROWS[:2])  # one open case less
    assert len(open_cases(scenario)) == len(first) - 1 and len(reads) == 2
