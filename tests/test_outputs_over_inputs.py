"""Issue 18 item 11: an output path that is one of the command's inputs is refused (exit 2)
before any work, and the input is left as it was."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.experiments.files import output_overwrites_input
from tests.scenarios import SMALL


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    copy = tmp_path / "small.toml"
    shutil.copy(SMALL, copy)
    return copy


@pytest.mark.parametrize("option", ["--json", "--register"])
def test_run_refuses_to_write_over_its_scenario(scenario: Path, option: str, capsys) -> None:
    before = _digest(scenario)
    assert main(["run", str(scenario), "-r", "1", option, str(scenario)]) == 2
    err = capsys.readouterr().err
    assert option in err and "would be lost" in err and str(scenario) in err
    assert _digest(scenario) == before


def test_run_refuses_an_out_folder_that_holds_its_scenario(scenario: Path, capsys) -> None:
    before = _digest(scenario)
    assert main(["run", str(scenario), "-r", "1", "--out", str(scenario.parent)]) == 2
    assert "--out" in capsys.readouterr().err
    assert _digest(scenario) == before


def test_report_refuses_to_write_over_the_results_it_reads(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["run", str(SMALL), "-r", "1", "--out", str(run)]) == 0
    results = run / "results.json"
    before = _digest(results)
    assert main(["report", str(run), "--out", str(results)]) == 2
    assert "--out" in capsys.readouterr().err
    assert _digest(results) == before


def test_calibrate_refuses_a_quarantine_over_its_register(tmp_path: Path, capsys) -> None:
    register = tmp_path / "register.csv"
    assert main(["run", str(SMALL), "-r", "1", "--register", str(register)]) == 0
    before = _digest(register)
    code = main(
        ["calibrate", str(register), "--base", str(SMALL), "--out", str(tmp_path / "fit.toml"),
         "--quarantine", str(register)]
    )  # fmt: skip
    assert code == 2
    assert "--quarantine" in capsys.readouterr().err
    assert _digest(register) == before


def test_distinct_paths_and_stdout_are_fine(tmp_path: Path) -> None:
    inputs = [tmp_path / "a.toml"]
    assert output_overwrites_input({"--json": "-", "--out": tmp_path / "res"}, inputs) == []
    assert output_overwrites_input({"--json": tmp_path / "a.toml"}, inputs) == [
        ("--json", str(tmp_path / "a.toml"), str(tmp_path / "a.toml"))
    ]
