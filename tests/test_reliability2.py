"""Issue 18 (reliability), items 2 and 9-12: absurd sizes, formula cells, concurrent writers,
outputs over inputs, verdicts on unfinished runs.

Each test here failed before its fix.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from calibration.reading import read_register, write_quarantine
from sim.cli.main import main
from sim.experiments import files
from sim.scenario import limits
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario

from .scenarios import ROOT, SMALL

CSV = ROOT / "calibration" / "examples" / "register.csv"

# --- 2. sizes that would exhaust memory are refused before the run -------------------------


@pytest.mark.parametrize(
    ("override", "key", "what"),
    [
        ("arrivals.rate_per_1000_per_year=1e308", "arrivals.rate_per_1000_per_year", "disputes"),
        ("townships.0.population=9223372036854775807", "population", "disputes"),
        ("townships.0.grids=1000000000", "grids", "grids"),
        ("run.sample_interval_days=1e-9", "run.sample_interval_days", "samples"),
        (
            "initial_state.open_cases=[{level='township', township='甲镇', count=1000000000}]",
            "initial_state.open_cases[0].count",
            "open cases",
        ),
    ],
)
def test_absurd_sizes_are_refused_naming_key_and_size(override, key, what, capsys):
    assert main(["validate", str(SMALL), "--set", override]) == 2
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if what in ln)
    assert key in line and "would have" in line and "allow_large" in line


def test_villages_past_the_limit_are_named():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["townships.0.villages=1000000", "townships.0.grids=1000000"])
    assert any("townships[0]" in str(p) and "villages" in str(p) for p in exc.value.problems)


def test_allow_large_accepts_the_deliberate_case():
    sc = load_scenario(SMALL, ["run.sample_interval_days=1e-4", "run.allow_large=true"])
    assert sc.run.allow_large
    with pytest.raises(ScenarioError):
        load_scenario(SMALL, ["run.sample_interval_days=1e-4"])


def test_run_force_lifts_the_limits(monkeypatch, capsys):
    monkeypatch.setattr(limits, "MAX_SAMPLES", 100)  # a small limit, for a quick run past it
    args = [
        "run",
        str(SMALL),
        "-r",
        "1",
        "--set",
        "run.horizon_days=30",
        "--set",
        "run.warmup_days=0",
    ]
    args += ["--set", "run.sample_interval_days=0.1"]
    assert main(args) == 2
    assert "sample_interval_days" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_real_scenarios_are_well_within_the_limits():
    sc = load_scenario(SMALL)
    assert 0 < limits.expected_disputes(sc) < limits.MAX_DISPUTES / 100


# --- 9. no cell we write runs as a spreadsheet formula -------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")', "+SUM(A1)", "@SUM(A1)", "\t=1+1"]


def test_safe_cells_neutralises_formulas_and_leaves_numbers():
    frame = pd.DataFrame(
        {
            "text": [*FORMULAS, "-2+3", "甲镇"],
            "number": [-1.5, 2.0, -3.0, 0.0, 1.0, -7.0, 8.0],
            "numeric_text": ["-1.5", "3", "-0", "x", "y", "-2e3", "z"],
            "=name": list("abcdefg"),
        },
        index=pd.Index(["+kpi", *"bcdefg"], name="kpi"),
    )
    safe = files.safe_cells(frame)
    assert list(safe["text"]) == ["'" + f for f in FORMULAS] + ["'-2+3", "甲镇"]
    # numbers, negative ones too, are untouched
    assert (safe["number"].to_numpy() == frame["number"].to_numpy()).all()
    assert list(safe["numeric_text"]) == list(frame["numeric_text"])
    assert "'=name" in safe.columns and safe.index[0] == "'+kpi"
    assert frame["text"].iloc[0] == FORMULAS[0]  # the caller's table is not changed


def test_safe_cells_keeps_categories_distinct():
    frame = pd.DataFrame({"c": pd.Categorical(["=a", "b", "=a"])})
    assert list(files.safe_cells(frame)["c"]) == ["'=a", "b", "'=a"]


def test_quarantine_csv_carries_no_formula(tmp_path):
    lines = CSV.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    bad = [r.split(",") for r in rows[: len(FORMULAS)]]
    for cells, formula in zip(bad, FORMULAS, strict=True):
        cells[6] = '"' + formula.replace('"', '""') + '"'  # 纠纷类型: an unknown category
    path = tmp_path / "reg.csv"
    path.write_text("\n".join([header, *(",".join(c) for c in bad), *rows[5:]]), encoding="utf-8")
    register = read_register(path, load_scenario(SMALL))
    written = write_quarantine(register, tmp_path / "quarantine.csv")
    cells = pd.read_csv(written, dtype=str, keep_default_na=False).to_numpy().ravel()
    assert not [c for c in cells if c.startswith(files.FORMULA_START)]
    assert {"'" + f for f in FORMULAS} <= set(cells)


# --- 10. one writer at a time in a sweep folder ---------------------------------------------

_HOLD = """
import sys, time
from sim.experiments.sweep_store import SweepStore
with SweepStore(sys.argv[1]).locked():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_sweep_writer_exits_2_naming_the_holder(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'base = "{SMALL.as_posix()}"\nreplications = 1\nseed = 5\n'
        "set = { run.horizon_days = 30 }\n[axes]\nladder.township.full_time = [1, 2]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        args = ["sweep", str(spec), "--out", str(out), "--executor", "serial"]
        assert main([*args, "--resume"]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "--out" in err
        assert not (out / "points").exists() or not any((out / "points").iterdir())
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (killed: the kernel dropped its lock): the folder is free again.
    assert main([*args, "--resume"]) == 0
    assert main(args) == 2  # a finished sweep is still refused without --resume
    assert "already holds a sweep" in capsys.readouterr().err
