"""The interfaces DESIGN.md fixes: `sim run --json -`, `--set`, KPI names, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import sim
from sim.cli.main import main

from .scenarios import SMALL

REQUIRED_KPIS = [
    "minor_kept_in_village",
    "major_kept_in_township",
    *(f"resolved_share.{lv}" for lv in ("grid", "village", "township", "district", "sector")),
    "days_to_resolution.mean",
    "days_to_resolution.p90",
    "resolved_within_limit",
    *(f"utilization.{lv}" for lv in ("grid", "village", "township", "district")),
    "petitions_per_year",
    "skip_level_petitions_per_year",
    "repeat_petitions_per_year",
    "backlog_resolution_rate",
    "annual_cost_yuan",
    "full_time_mediators",
]


def _run_json(capsys, *args: str) -> dict:
    assert main(["run", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_json_shape(capsys):
    out = _run_json(capsys, str(SMALL), "--replications", "2", "--seed", "3")
    assert out["scenario"] == "small"
    assert out["replications"] == 2
    assert out["seed"] == 3
    for name in REQUIRED_KPIS:
        assert set(out["kpis"][name]) == {"mean", "ci_low", "ci_high"}, name
    share = out["kpis"]["minor_kept_in_village"]
    assert share["ci_low"] <= share["mean"] <= share["ci_high"]
    for name, target in out["targets"].items():
        assert name in out["kpis"]
        assert isinstance(target["target"], float)
        assert isinstance(target["met"], bool)


def test_spool_writes_the_records_and_changes_no_number(capsys, tmp_path):
    args = (str(SMALL), "-r", "2", "--seed", "5")
    plain = _run_json(capsys, *args)
    spooled = _run_json(capsys, *args, "--spool", str(tmp_path / "records"))
    assert spooled == plain
    for k in (0, 1):
        steps = pd.read_parquet(tmp_path / "records" / f"replication_{k}" / "steps.parquet")
        assert len(steps) > 0 and {"case_id", "entered", "ended"} <= set(steps.columns)


def test_set_changes_the_run(capsys):
    base = _run_json(capsys, str(SMALL), "-r", "1")
    more = _run_json(capsys, str(SMALL), "-r", "1", "--set", "ladder.township.full_time=6")
    assert (
        more["kpis"]["full_time_mediators"]["mean"]
        == base["kpis"]["full_time_mediators"]["mean"] + 8
    )


def test_seed_reproduces_and_changes(capsys):
    a = _run_json(capsys, str(SMALL), "-r", "2", "--seed", "5")
    b = _run_json(capsys, str(SMALL), "-r", "2", "--seed", "5")
    c = _run_json(capsys, str(SMALL), "-r", "2", "--seed", "6")
    assert a == b
    assert a["kpis"]["days_to_resolution.mean"] != c["kpis"]["days_to_resolution.mean"]


def test_text_table_lists_kpis_and_targets(capsys):
    assert main(["run", str(SMALL), "-r", "2"]) == 0
    out = capsys.readouterr().out
    assert "minor_kept_in_village" in out and "小事不出村" in out
    assert "95% CI" in out
    assert ("met 达标" in out) or ("NOT met 未达标" in out)


def test_default_scenario_is_qujiang_in_a_real_process(tmp_path):
    """The Quick start command, as a user types it (one replication to keep it quick)."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli.main", "run", "--replications", "1", "--json", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["scenario"] == "qujiang"
    assert out["kpis"]["full_time_mediators"]["mean"] >= 20 * 2
    assert 2000 < out["kpis"]["disputes"]["mean"] < 5000  # ≈ 9.4 per 1,000 of 373,920


def test_register_written(tmp_path, capsys):
    path = tmp_path / "register.parquet"
    assert main(["run", str(SMALL), "-r", "2", "--seed", "6", "--register", str(path)]) == 0
    reg = pd.read_parquet(path)
    assert list(reg.columns) == list(sim.measures.register.REGISTER_COLUMNS)
    assert len(reg) > 100
    # Replication 0's register, written as soon as it was done.
    fresh = sim.simulate(sim.load_scenario(SMALL), replications=2, seed=6, keep_tables=True)
    pd.testing.assert_frame_equal(reg, fresh.registers[0])
    assert main(["run", str(SMALL), "-r", "1", "--register", str(tmp_path / "r.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "r.csv").columns) == list(
        sim.measures.register.REGISTER_COLUMNS
    )


@pytest.mark.parametrize(
    "args", [["run", str(SMALL), "-r", "0"], ["run", str(SMALL), "--seed", "-1"]]
)
def test_bad_run_options_exit_2(args, capsys):
    assert main(args) == 2
    assert "sim: error:" in capsys.readouterr().err


def test_validate_ok(capsys):
    assert main(["validate", str(SMALL)]) == 0
    assert "valid scenario" in capsys.readouterr().out


def test_out_folder_round_trips(tmp_path, capsys):
    out = tmp_path / "run"
    # What a killed, longer run left behind must not pass for this run's tables.
    (tmp_path / "run.tmp" / "tables").mkdir(parents=True)
    (tmp_path / "run.tmp" / "tables" / "registers_9.parquet").write_bytes(b"stale")
    assert main(["run", str(SMALL), "-r", "2", "--seed", "4", "--out", str(out)]) == 0
    back = sim.load_results(out)
    fresh = sim.simulate(sim.load_scenario(SMALL), replications=2, seed=4, keep_tables=True)
    pd.testing.assert_frame_equal(back.summary, fresh.summary, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(back.registers[1], fresh.registers[1])
    assert back.scenario == fresh.scenario
    assert list(back.targets.index) == list(fresh.targets.index)
    for name in ("registers", "cases", "timeseries", "petitions", "costs"):
        assert len(getattr(back, name)) == 2, name
    assert not (tmp_path / "run.tmp").exists()  # the staging folder was renamed into place
