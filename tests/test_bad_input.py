"""Bad input gives exit status 2 and one plain line per problem, never a traceback.

Each case breaks a copy of scenarios/small.toml in one way (or passes a bad command-line
argument) and checks that ``sim`` names the file (or ``--set`` / ``--replications``), the key or
row, and the bad value. Most cases run the CLI in-process for speed; a few run a real process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import sim
from sim.cli.main import main
from sim.scenario.errors import InputProblem, ScenarioError

SMALL = Path(__file__).resolve().parents[1] / "scenarios" / "small.toml"
BASE = SMALL.read_text(encoding="utf-8")

Setup = Callable[[Path], list[str]]  # writes files into tmp_path, returns the sim arguments


# --- Building broken scenarios -------------------------------------------------------------


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once in small.toml"
    return text.replace(old, new)


def edited(*pairs: tuple[str, str]) -> Setup:
    """small.toml with each ``old`` text replaced by ``new``, validated as scenario.toml."""

    def setup(tmp: Path) -> list[str]:
        text = BASE
        for old, new in pairs:
            text = _replace(text, old, new)
        (tmp / "scenario.toml").write_text(text, encoding="utf-8")
        return ["validate", str(tmp / "scenario.toml")]

    return setup


def appended(tables: str) -> Setup:
    """small.toml with TOML tables added at the end."""
    return written(BASE + "\n" + tables)


def written(text: str, name: str = "scenario.toml") -> Setup:
    """A file with exactly ``text``."""

    def setup(tmp: Path) -> list[str]:
        (tmp / name).write_text(text, encoding="utf-8")
        return ["validate", str(tmp / name)]

    return setup


def child(text: str) -> Setup:
    """child.toml that ``extends`` a copy of small.toml and adds ``text``."""

    def setup(tmp: Path) -> list[str]:
        shutil.copy(SMALL, tmp / "small.toml")
        (tmp / "child.toml").write_text(f'extends = "small.toml"\n{text}\n', encoding="utf-8")
        return ["validate", str(tmp / "child.toml")]

    return setup


def with_args(*args: str, command: str = "validate") -> Setup:
    """A valid copy of small.toml with extra command-line arguments."""

    def setup(tmp: Path) -> list[str]:
        shutil.copy(SMALL, tmp / "small.toml")
        return [command, str(tmp / "small.toml"), *args]

    return setup


def spool_on_a_file(tmp: Path) -> list[str]:
    shutil.copy(SMALL, tmp / "small.toml")
    (tmp / "taken.txt").write_text("not a folder\n", encoding="utf-8")
    return ["run", str(tmp / "small.toml"), "--spool", str(tmp / "taken.txt")]


def out_under_a_file(tmp: Path) -> list[str]:
    shutil.copy(SMALL, tmp / "small.toml")
    (tmp / "taken.txt").write_text("not a folder\n", encoding="utf-8")
    return ["run", str(tmp / "small.toml"), "--out", str(tmp / "taken.txt" / "run")]


def out_is_a_file(tmp: Path) -> list[str]:
    shutil.copy(SMALL, tmp / "small.toml")
    (tmp / "taken.txt").write_text("not a folder\n", encoding="utf-8")
    return ["run", str(tmp / "small.toml"), "--out", str(tmp / "taken.txt")]


def missing_file(tmp: Path) -> list[str]:
    return ["validate", str(tmp / "nope.toml")]


def folder_as_file(tmp: Path) -> list[str]:
    (tmp / "folder.toml").mkdir()
    return ["validate", str(tmp / "folder.toml")]


def not_utf8(tmp: Path) -> list[str]:
    (tmp / "scenario.toml").write_bytes(b'name = "\xff\xfe"\n')
    return ["validate", str(tmp / "scenario.toml")]


def extends_cycle(tmp: Path) -> list[str]:
    (tmp / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    return ["validate", str(tmp / "a.toml")]


def broken_parent(tmp: Path) -> list[str]:
    """The bad key is in the parent file; the message must name the parent, not the child."""
    (tmp / "base.toml").write_text(
        _replace(BASE, "population = 6000", "population = -1"), encoding="utf-8"
    )
    (tmp / "child.toml").write_text('extends = "base.toml"\nname = "child"\n', encoding="utf-8")
    return ["validate", str(tmp / "child.toml")]


REGISTER_HEADER = "case_id,level,township,village,category,severity,outcome\n"


def register(rows: str) -> Setup:
    """small.toml whose initial state is read from register.csv."""

    def setup(tmp: Path) -> list[str]:
        (tmp / "register.csv").write_text(REGISTER_HEADER + rows, encoding="utf-8")
        text = BASE + '\n[initial_state]\nregister_file = "register.csv"\n'
        (tmp / "scenario.toml").write_text(text, encoding="utf-8")
        return ["validate", str(tmp / "scenario.toml")]

    return setup


NAME_LINE = BASE.splitlines().index('name = "small"') + 1
LOGNORMAL_GRID = 'effort_hours = { dist = "lognormal", median = 1.0, p90 = 3.0 }'

# id, how to break it, substrings the single error line must contain (file, key, value, ...)
CASES: list[tuple[str, Setup, list[str]]] = [
    # Files and TOML
    (
        "toml-syntax",
        edited(('name = "small"', 'name = "small')),
        ["scenario.toml", f"line {NAME_LINE}", "TOML syntax error"],
    ),
    (
        "toml-duplicate-key",
        edited(("seed = 7", "seed = 7\nseed = 8")),
        ["scenario.toml", "line ", "TOML syntax error"],
    ),
    ("missing-file", missing_file, ["nope.toml", "file not found"]),
    ("folder-not-file", folder_as_file, ["folder.toml", "folder"]),
    ("not-utf8", not_utf8, ["scenario.toml", "UTF-8"]),
    (
        "extends-missing",
        written('extends = "nope.toml"\n', "child.toml"),
        ["child.toml", "extends = 'nope.toml'", "not found"],
    ),
    ("extends-cycle", extends_cycle, ["extends", "a.toml → b.toml → a.toml", "cycle"]),
    ("extends-not-string", written("extends = 3\n", "child.toml"), ["child.toml", "extends = 3"]),
    # Unknown keys
    (
        "unknown-top-level-key",
        edited(('name = "small"', 'name = "small"\nhorizon_days = 365')),
        ["scenario.toml", "horizon_days = 365", "unknown key", "allowed here"],
    ),
    (
        "unknown-nested-key",
        edited(("[ladder.township]\nfull_time = 2", "[ladder.township]\nfull_tme = 2")),
        ["scenario.toml", "ladder.township.full_tme = 2", "did you mean 'full_time'"],
    ),
    (
        "unknown-key-in-child",
        child("[ladder.township]\nfull_tme = 3"),
        ["child.toml", "ladder.township.full_tme = 3", "unknown key"],
    ),
    (
        "unknown-severity-key",
        edited(("minor = 0.01\n", "minor = 0.01\nserious = 0.1\n")),
        ["scenario.toml", "worsening.rate_per_day.serious", "unknown key", "'major'"],
    ),
    (
        "unknown-kpi-target",
        edited(("minor_kept_in_village = {", "minor_kept_in_vilage = {")),
        ["scenario.toml", "targets", "'minor_kept_in_vilage'", "minor_kept_in_village"],
    ),
    # Types and required keys
    (
        "bad-type",
        edited(("population = 6000", 'population = "many"')),
        ["scenario.toml", "townships[0] (甲镇).population = 'many'", "integer"],
    ),
    (
        "bad-date",
        edited(("start_date = 2020-01-01", 'start_date = "yesterday"')),
        ["scenario.toml", "run.start_date = 'yesterday'", "date"],
    ),
    (
        "missing-required-key",
        edited(("[severity]\nminor = 0.70\n", "[severity]\n")),
        ["scenario.toml", "severity.minor", "required key is missing"],
    ),
    (
        "number-for-table",
        edited((LOGNORMAL_GRID, "effort_hours = 3")),
        ["scenario.toml", "ladder.grid.effort_hours = 3", "expected a table"],
    ),
    (
        "nan",
        edited(("seasonality = [0.8, ", "seasonality = [nan, ")),
        ["scenario.toml", "arrivals.seasonality[0] = nan", "finite number"],
    ),
    (
        "unknown-distribution",
        edited((LOGNORMAL_GRID, LOGNORMAL_GRID.replace("lognormal", "weibull"))),
        ["scenario.toml", "ladder.grid.effort_hours.dist = 'weibull'", "lognormal"],
    ),
    (
        "distribution-without-dist",
        edited((LOGNORMAL_GRID, "effort_hours = { median = 1.0, p90 = 3.0 }")),
        ["scenario.toml", "ladder.grid.effort_hours.dist", "required key is missing"],
    ),
    # Values out of range
    (
        "negative-population",
        edited(("population = 6000", "population = -6000")),
        ["scenario.toml", "townships[0] (甲镇).population = -6000", "greater than 0"],
    ),
    (
        "zero-villages",
        edited(("villages = 3", "villages = 0")),
        ["scenario.toml", "townships[0] (甲镇).villages = 0", "greater than or equal to 1"],
    ),
    (
        "negative-warmup",
        edited(("warmup_days = 30 ", "warmup_days = -30 ")),
        ["scenario.toml", "run.warmup_days = -30", "greater than or equal to 0"],
    ),
    (
        "probability-above-1",
        edited(("resolve.full_time = { minor = 0.6,", "resolve.full_time = { minor = 1.5,")),
        ["scenario.toml", "ladder.grid.resolve.full_time.minor = 1.5", "less than or equal to 1"],
    ),
    (
        "seasonality-11-values",
        edited(("seasonality = [0.8, ", "seasonality = [")),
        ["scenario.toml", "arrivals.seasonality = [1.3", "12 monthly", "got 11"],
    ),
    (
        "seasonality-negative",
        edited(("seasonality = [0.8, ", "seasonality = [-0.8, ")),
        ["scenario.toml", "arrivals.seasonality = [-0.8", "non-negative"],
    ),
    # Checks across keys
    (
        "grids-below-villages",
        edited(("grids = 5", "grids = 2")),
        ["scenario.toml", "townships[0] (甲镇).grids = 2", "at least villages (3)"],
    ),
    (
        "category-shares",
        edited(("share = 0.2\n", "share = 0.3\n")),
        ["scenario.toml", "categories", "must sum to 1", "1.1"],
    ),
    (
        "severity-shares",
        edited(("minor = 0.70", "minor = 0.80")),
        ["scenario.toml", "severity = {'minor': 0.8", "must sum to 1"],
    ),
    (
        "self-report-entry-shares",
        edited(("self_report_entry = { grid = 0.2,", "self_report_entry = { grid = 0.3,")),
        ["scenario.toml", "discovery.self_report_entry", "must sum to 1", "1.1"],
    ),
    (
        "lognormal-p90-below-median",
        edited((LOGNORMAL_GRID, LOGNORMAL_GRID.replace("median = 1.0", "median = 4.0"))),
        ["scenario.toml", "ladder.grid.effort_hours.p90 = 3.0", "must exceed median (4.0)"],
    ),
    (
        "calendar-past-midnight",
        edited(("day_start_hour = 18", "day_start_hour = 23")),
        ["scenario.toml", "calendars.part_time.day_start_hour = 23", "midnight"],
    ),
    (
        "target-both-bounds",
        edited(("{ at_least = 0.80,", "{ at_least = 0.80, at_most = 0.9,")),
        ["scenario.toml", "targets.minor_kept_in_village", "exactly one of at_least or at_most"],
    ),
    (
        "district-without-mediators",
        edited(("[ladder.district]\nfull_time = 3", "[ladder.district]\nfull_time = 0")),
        ["scenario.toml", "ladder.district", "at least one mediator"],
    ),
    (
        "duplicate-township-names",
        edited(('name = "乙乡"', 'name = "甲镇"')),
        ["scenario.toml", "township names", "甲镇"],
    ),
    (
        "open-case-in-unknown-township",
        appended(
            '[[initial_state.open_cases]]\nlevel = "township"\ntownship = "Nowhere"\ncount = 3'
        ),
        ["scenario.toml", "initial_state.open_cases[0].township = 'Nowhere'", "no such township"],
    ),
    (
        "key-in-parent-file",
        broken_parent,
        ["base.toml", "townships[0] (甲镇).population = -1", "greater than 0"],
    ),
    # Register files as initial state
    (
        "register-file-missing",
        appended('[initial_state]\nregister_file = "missing.csv"'),
        ["missing.csv", "initial_state.register_file", "file not found"],
    ),
    (
        "register-bad-row",
        register(
            "1,village,甲镇,Jiazhen-V01,neighbour,minor,open\n2,county,甲镇,,land,minor,open\n"
        ),
        ["register.csv", "row 3, column level = 'county'", "district"],
    ),
    # Command-line arguments
    (
        "set-unknown-key",
        with_args("--set", "run.horizon_dayz=5"),
        ["--set", "run.horizon_dayz = 5", "did you mean 'horizon_days'"],
    ),
    (
        "set-bad-value",
        with_args("--set", "run.horizon_days=-5"),
        ["--set", "run.horizon_days = -5", "greater than 0"],
    ),
    (
        "set-without-equals",
        with_args("--set", "run.horizon_days"),
        ["--set", "run.horizon_days", "KEY=VALUE"],
    ),
    (
        "set-bad-index",
        with_args("--set", "townships.9.population=1"),
        ["--set", "townships.9.population = 1", "no element '9'", "index 0..1"],
    ),
    (
        "set-inside-single-value",
        with_args("--set", "name.x=1"),
        ["--set", "name.x = 1", "single value ('small')"],
    ),
    (
        "set-by-township-name",
        with_args("--set", "townships.Jiazhen.population=-1"),
        ["--set", "townships[0] (甲镇).population = -1", "greater than 0"],
    ),
    (
        "set-bad-distribution",
        with_args("--set", "ladder.grid.effort_hours.dist=weibull"),
        ["--set", "ladder.grid.effort_hours.dist = 'weibull'", "lognormal"],
    ),
    (
        "replications-zero",
        with_args("--replications", "0", command="run"),
        ["--replications = 0", "positive integer"],
    ),
    (
        "seed-negative",
        with_args("--seed", "-1", command="run"),
        ["--seed = -1", "non-negative"],
    ),
    ("spool-is-a-file", spool_on_a_file, ["--spool", "taken.txt", "writable folder"]),
    ("out-under-a-file", out_under_a_file, ["--out", "taken.txt/run", "writable folder"]),
    ("out-is-a-file", out_is_a_file, ["--out", "taken.txt", "a folder, not a file"]),
]


def problem_lines(stderr: str) -> list[str]:
    """Lines of stderr that report a problem; anything else must be a warning."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in lines:
        assert line.startswith(("sim: error: ", "sim: warning: ")), f"stray stderr line: {line!r}"
    return [line for line in lines if line.startswith("sim: error: ")]


def test_enough_distinct_cases() -> None:
    ids = [case_id for case_id, _, _ in CASES]
    assert len(set(ids)) == len(ids) >= 20


@pytest.mark.parametrize(("setup", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(
    setup: Setup, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = setup(tmp_path)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, f"exit status {status}; stderr: {err}"
    assert "Traceback" not in err
    lines = problem_lines(err)
    assert len(lines) == 1, f"expected one problem line, got: {lines}"
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert "{'name':" not in err  # never a dump of the whole scenario
    assert "(top level)" not in err
    assert out == ""


def test_two_problems_in_one_file_give_two_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _replace(BASE, "population = 6000", "population = -1")
    text = _replace(text, "warmup_days = 30 ", "warmup_days = -30 ")
    (tmp_path / "two.toml").write_text(text, encoding="utf-8")
    assert main(["validate", str(tmp_path / "two.toml")]) == 2
    lines = problem_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert any("townships[0] (甲镇).population = -1" in line for line in lines)
    assert any("run.warmup_days = -30" in line for line in lines)
    assert all("two.toml" in line for line in lines)


def test_every_bad_set_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(SMALL, tmp_path / "small.toml")
    argv = ["validate", str(tmp_path / "small.toml"), "--set", "foo", "--set", "=3"]
    assert main(argv) == 2
    lines = problem_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert "--set: foo" in lines[0]
    assert "--set: =3" in lines[1]


def test_register_reports_every_bad_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "1,county,甲镇,,land,minor,open\n2,village,丙镇,,land,minor,open\n"
    argv = register(rows)(tmp_path)
    assert main(argv) == 2
    lines = problem_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert "row 2, column level = 'county'" in lines[0]
    assert "row 3, column township = '丙镇'" in lines[1]


def test_argparse_usage_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(SMALL, tmp_path / "small.toml")
    with pytest.raises(SystemExit) as exc:
        main(["run", str(tmp_path / "small.toml"), "--replications", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "sim: error: argument --replications" in err
    assert "'many'" in err


def test_valid_scenario_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SMALL)]) == 0
    out, err = capsys.readouterr()
    assert "valid scenario 'small'" in out
    assert "sim: error" not in err


def test_set_fills_a_table_the_file_leaves_out(tmp_path: Path) -> None:
    """--set on one key of an absent table keeps the schema's defaults for the others."""
    text = _replace(BASE, 'self_report_delay_days = { dist = "exponential", mean = 1.0 }\n', "")
    (tmp_path / "scenario.toml").write_text(text, encoding="utf-8")
    scenario = sim.load_scenario(
        tmp_path / "scenario.toml", ["discovery.self_report_delay_days.mean=3"]
    )
    assert scenario.discovery.self_report_delay_days.mean == 3


# --- Python API ----------------------------------------------------------------------------


def test_api_raises_scenario_error_with_problems(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(_replace(BASE, "population = 6000", "population = -1"), encoding="utf-8")
    with pytest.raises(sim.ScenarioError) as exc:
        sim.load_scenario(path)
    (problem,) = exc.value.problems
    assert isinstance(problem, sim.InputProblem)
    assert problem.source == str(path)
    assert problem.key == "townships[0] (甲镇).population"
    assert problem.value == -1
    assert "greater than 0" in problem.expected
    assert str(exc.value) == str(problem)


def test_api_reports_overrides_as_set(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as exc:
        sim.load_scenario(SMALL, ["run.replications=0", ("overload.floor", 2)])
    problems = exc.value.problems
    assert {p.key for p in problems} == {"run.replications", "overload.floor"}
    assert all(p.source == "--set" for p in problems)


def test_api_missing_file() -> None:
    with pytest.raises(ScenarioError) as exc:
        sim.load_scenario("does/not/exist.toml")
    (problem,) = exc.value.problems
    assert problem.value is InputProblem.MISSING
    assert str(problem) == "does/not/exist.toml: file not found"


@pytest.mark.parametrize(
    ("problem", "line"),
    [
        (
            InputProblem("a.toml", "run.seed", -1, "must be ≥ 0"),
            "a.toml: run.seed = -1: must be ≥ 0",
        ),
        (
            InputProblem("a.toml", "", InputProblem.MISSING, "file not found"),
            "a.toml: file not found",
        ),
        (InputProblem("--replications", "", 0, "positive"), "--replications = 0: positive"),
        (InputProblem("a.toml", "k", InputProblem.MISSING, "two\nlines"), "a.toml: k: two lines"),
    ],
)
def test_input_problem_is_one_line(problem: InputProblem, line: str) -> None:
    assert str(problem) == line


# --- Real processes: no traceback reaches the terminal --------------------------------------


@pytest.mark.parametrize(
    ("case_id", "needle"),
    [("toml-syntax", "TOML syntax error"), ("unknown-nested-key", "ladder.township.full_tme")],
)
def test_real_process_has_no_traceback(case_id: str, needle: str, tmp_path: Path) -> None:
    setup = next(setup for cid, setup, _ in CASES if cid == case_id)
    argv = setup(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli.main", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = problem_lines(proc.stderr)
    assert needle in line


@pytest.mark.skipif(shutil.which("sim") is None, reason="the sim entry point is not installed")
def test_entry_point_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["sim", "run", str(tmp_path / "nope.toml")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = problem_lines(proc.stderr)
    assert line == f"sim: error: {tmp_path / 'nope.toml'}: file not found"


def test_a_scenario_saved_with_a_utf8_bom_is_read(tmp_path) -> None:
    # Issue 18 item 13: Windows editors add a byte-order mark; it is no TOML syntax error.
    from tests.scenarios import SMALL

    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + SMALL.read_bytes())
    assert sim.load_scenario(bom).name == sim.load_scenario(SMALL).name


def test_a_sweep_file_with_a_utf8_bom_is_read_like_a_scenario(tmp_path) -> None:
    # The sweep, sensitivity and scenario readers are one reader (sim.scenario.loading.read_toml).
    from sim.experiments.sweep_spec import read_toml

    path = tmp_path / "bom_sweep.toml"
    path.write_bytes(b'\xef\xbb\xbfbase = "small.toml"\nreplications = 2\n')
    assert read_toml(path, str(path)) == {"base": "small.toml", "replications": 2}
    path.write_bytes(b"base = \n")
    with pytest.raises(sim.ScenarioError, match="line 1"):
        read_toml(path, str(path))
