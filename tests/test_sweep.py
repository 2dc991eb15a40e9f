"""Sweeps: executors agree, SIGKILL + resume loses and repeats nothing, CRN pays, bad files exit 2.

All sweeps use scenarios/small.toml with a 120-day horizon and 2 replications so that a point
takes a fraction of a second.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.experiments.sweep_plan import plan_sweep
from sim.experiments.sweep_results import paired_differences, summarise_sweep
from sim.experiments.sweep_store import SweepStore

from .scenarios import SMALL

ROOT = Path(__file__).resolve().parents[1]


def _sweep_file(folder: Path, body: str = "", name: str = "s.toml") -> Path:
    """A small sweep file: 8 points (4 sweep intervals × 2 township staffing levels)."""
    header = {
        "base": f'"{SMALL.as_posix()}"',
        "replications": "2",
        "seed": "5",
        "set": "{ run.horizon_days = 120 }",
    }
    given = {line.split("=")[0].strip() for line in body.splitlines() if "=" in line}
    text = "".join(f"{k} = {v}\n" for k, v in header.items() if k not in given)
    text += (
        body
        or """
[axes]
"discovery.sweep_interval_days" = [3, 7, 14, 21]
ladder.township.full_time = [1, 2]
"""
    )
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["point", "replication"], ignore_index=True)


def _computed(folder: Path) -> list[dict]:
    return [r for r in SweepStore(folder).read_log() if r["event"] == "computed"]


# --- Executors -----------------------------------------------------------------------------


def test_serial_processes_and_dask_give_identical_results(tmp_path):
    spec = _sweep_file(
        tmp_path,
        """
[axes]
"discovery.sweep_interval_days" = [3, 7]
ladder.township.full_time = [1, 2]
""",
    )
    serial = sim.sweep(spec, tmp_path / "serial", executor="serial")  # one worker
    two = sim.sweep(spec, tmp_path / "proc2", executor="processes", workers=2)
    # A Dask LocalCluster of 2 single-threaded worker processes, closed by the executor.
    dask = sim.sweep(spec, tmp_path / "dask", executor="dask", workers=2)
    assert len(serial) == 4 * 2
    for other in (two, dask):
        pd.testing.assert_frame_equal(_sorted(serial), _sorted(other), check_exact=True)


def test_one_replication_anywhere_matches_the_sweep(tmp_path):
    """Replication k of a point is simulate(scenario, 1, seed, first_replication=k)."""
    df = sim.sweep(_sweep_file(tmp_path), tmp_path / "out", executor="serial")
    plan = plan_sweep(tmp_path / "s.toml")
    row = df[(df["point"] == "p0005") & (df["replication"] == 1)].iloc[0]
    alone = sim.simulate(plan.scenarios[5], 1, 5, first_replication=1).per_replication.iloc[0]
    assert row["minor_kept_in_village"] == alone["minor_kept_in_village"]
    assert row["ladder.township.full_time"] == 2
    assert row["discovery.sweep_interval_days"] == 14


# --- Durability ----------------------------------------------------------------------------


def _sim_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from sim.cli.main import main; sys.exit(main())",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _wait_for_points(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((folder / "points").glob("*.json"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before {n} points: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("sweep made no progress")


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    spec = _sweep_file(tmp_path)
    out = tmp_path / "killed"
    proc = _sim_process("sweep", str(spec), "--out", str(out), "--executor", "processes", "-j", "2")
    _wait_for_points(out, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {r["point"] for r in _computed(out)}
    assert 2 <= len(first) < 8, "the kill must land mid-sweep for this test to mean anything"

    assert main(["sweep", str(spec), "--out", str(out), "--resume", "-j", "2"]) == 0
    reference = sim.sweep(spec, tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(_sorted(sim.load_sweep(out)), _sorted(reference))

    # Every point was computed exactly once over both runs: the resumed run redid none of
    # the points the killed run had finished.
    log = _computed(out)
    assert Counter(r["point"] for r in log) == Counter({f"p{i:04d}": 1 for i in range(8)})
    runs = {r["run_id"] for r in log}
    assert len(runs) == 2
    assert not any(f.name.endswith(".tmp") for f in (out / "points").iterdir())


def test_ctrl_c_stops_cleanly_and_keeps_finished_points(tmp_path):
    # Eight points, so that under a loaded CI machine the sweep is still running when the
    # interrupt arrives (with four, it sometimes finished first and exited 0).
    axis = '"discovery.sweep_interval_days" = [3, 5, 7, 10, 14, 17, 21, 28]'
    spec = _sweep_file(tmp_path, f"[axes]\n{axis}\n")
    out = tmp_path / "interrupted"
    proc = _sim_process("sweep", str(spec), "--out", str(out), "--executor", "serial")
    _wait_for_points(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in err
    kept = sim.load_sweep(out)
    assert kept.attrs["sweep"]["points_done"] >= 1
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--executor", "serial"]) == 0
    assert sim.load_sweep(out).attrs["sweep"]["points_done"] == 8


def test_resume_refuses_a_changed_spec(tmp_path, capsys):
    spec = _sweep_file(tmp_path, '[axes]\n"ladder.township.full_time" = [1, 2]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--executor", "serial"]) == 0
    assert main(["sweep", str(spec), "--out", str(out), "--executor", "serial"]) == 2
    assert "already holds a sweep" in capsys.readouterr().err
    spec.write_text(spec.read_text().replace("seed = 5", "seed = 6"))
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--executor", "serial"]) == 2
    assert "changed since this sweep started" in capsys.readouterr().err


def test_unfinished_write_is_redone(tmp_path):
    """A Parquet file without its sidecar (killed between the two renames) is not 'done'."""
    spec = _sweep_file(tmp_path, '[axes]\n"ladder.township.full_time" = [1, 2]\n')
    out = tmp_path / "out"
    whole = sim.sweep(spec, out, executor="serial")
    (out / "points" / "p0001.json").unlink()
    assert sim.load_sweep(out).attrs["sweep"]["points_done"] == 1
    again = sim.sweep(spec, out, executor="serial", resume=True)
    pd.testing.assert_frame_equal(whole, again)
    assert [r["point"] for r in _computed(out)] == ["p0000", "p0001", "p0001"]


# --- Common random numbers -----------------------------------------------------------------


def test_crn_paired_differences_have_much_smaller_variance(tmp_path):
    # Two nearly identical points: the sweep finds 90% vs 85% of waiting disputes. With common
    # random numbers both face the same disputes, so the paired differences vary far less than
    # two independent runs would (var_a + var_b). Measured ratio ≈ 0.01 for 小事不出村 (20
    # replications); the ratio of two sample variances with 11 degrees of freedom each is
    # within a factor ~3.5 of the truth 95% of the time, so 0.1 leaves a wide margin while
    # still demanding a 10× gain.
    spec = {
        "base": str(SMALL),
        "replications": 12,
        "seed": 11,
        "set": {"run.horizon_days": 120},
        "kpis": ["minor_kept_in_village", "days_to_resolution.mean"],
        "axes": {"discovery.detect_probability": [0.9, 0.85]},
    }
    df = sim.sweep(spec, tmp_path / "crn", executor="serial")
    diffs = paired_differences(df).set_index("kpi")
    for kpi in ("minor_kept_in_village", "days_to_resolution.mean"):
        assert diffs.loc[kpi, "variance_ratio"] < 0.1, diffs.loc[kpi]
        # The paired CI is correspondingly narrower than the unpaired one would be.
        half = (diffs.loc[kpi, "ci_high"] - diffs.loc[kpi, "ci_low"]) / 2
        assert half < 0.4 * diffs.loc[kpi, "half_width_unpaired"]


def test_paired_differences_against_the_chosen_baseline(tmp_path):
    spec = _sweep_file(
        tmp_path,
        """
baseline = { ladder.township.full_time = 2 }
[axes]
"ladder.township.full_time" = [1, 2, 3]
""",
    )
    df = sim.sweep(spec, tmp_path / "out", executor="serial")
    assert df.attrs["sweep"]["baseline"] == "p0001"
    diffs = paired_differences(df, kpis=["full_time_mediators"])
    assert list(diffs["point"]) == ["p0000", "p0002"]
    # Two townships: one township mediator fewer / more each.
    assert list(diffs["difference"]) == [-2.0, 2.0]
    summary = summarise_sweep(df, ["full_time_mediators"])
    assert list(summary["mean"]) == [7.0, 9.0, 11.0]


# --- Sweep files ---------------------------------------------------------------------------


def test_ranges_scale_axes_and_variants_expand_to_the_full_grid(tmp_path):
    spec = _sweep_file(
        tmp_path,
        """
[baseline]
variant = "more demand"
ladder.township.full_time = 1
"discovery.detect_probability" = 0.5
"arrivals.rate_per_1000_per_year" = 1.0

[axes]
ladder.township.full_time = { from = 1, to = 4 }
"discovery.detect_probability" = { from = 0.5, to = 0.9, num = 3 }
"arrivals.rate_per_1000_per_year" = { scale = [1.0, 1.2] }

[[variants]]
name = "as is"

[[variants]]
name = "more demand"
set = { arrivals.growth_per_year = 0.1 }
""",
    )
    plan = plan_sweep(spec)
    assert [a.values for a in plan.axes] == [(1, 2, 3, 4), (0.5, 0.7, 0.9), (1.0, 1.2)]
    assert len(plan.points) == 2 * 4 * 3 * 2
    last = plan.points[-1]
    assert last.labels == {
        "variant": "more demand",
        "ladder.township.full_time": 4,
        "discovery.detect_probability": 0.9,
        "arrivals.rate_per_1000_per_year:scale": 1.2,
    }
    assert last.overrides["arrivals.rate_per_1000_per_year"] == pytest.approx(36.0)
    assert plan.scenarios[-1].arrivals.growth_per_year == 0.1
    assert plan.baseline == plan.points[24].id


def test_bundled_planner_sweeps_are_valid():
    folder = ROOT / "scenarios" / "sweeps"
    files = sorted(folder.glob("*.toml"))
    sweeps = [f for f in files if not f.name.startswith("sensitivity")]
    assert len(sweeps) >= 3
    for path in sweeps:
        plan = plan_sweep(path)
        assert len(plan.points) >= 2, path


BAD_SWEEPS = {
    "unknown top-level key": (
        'replicatons = 3\n[axes]\n"ladder.township.full_time" = [1, 2]\n',
        ["replicatons", "unknown key", "did you mean 'replications'"],
    ),
    "axis on an unknown scenario key": (
        '[axes]\n"ladder.township.fulltime" = [1, 2]\n',
        ["axes.ladder.township.fulltime", "unknown key", "full_time"],
    ),
    "empty axis": (
        '[axes]\n"ladder.township.full_time" = []\n',
        ["axes.ladder.township.full_time", "empty axis"],
    ),
    "wrong type of axis value": (
        '[axes]\n"ladder.township.full_time" = [1, "two"]\n',
        ["axes.ladder.township.full_time", "'two'", "integer"],
    ),
    "wrong type of a sweep setting": (
        'replications = "ten"\n',
        ["replications", "'ten'", "integer"],
    ),
    "list expected": (
        'kpis = "minor_kept_in_village"\n',
        ["kpis", "list"],
    ),
    "axis neither values nor range": (
        '[axes]\n"ladder.township.full_time" = 3\n',
        ["axes.ladder.township.full_time", "expected an array of values"],
    ),
    "unknown KPI": (
        'kpis = ["minor_kept_in_vilage"]\n',
        ["kpis[0]", "unknown KPI", "minor_kept_in_village"],
    ),
    "baseline matching no point": (
        'baseline = { "ladder.township.full_time" = 9 }\n'
        '[axes]\n"ladder.township.full_time" = [1, 2]\n',
        ["baseline", "matches no point"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SWEEPS), ids=list(BAD_SWEEPS))
def test_bad_sweep_files_exit_2_with_a_clear_message(tmp_path, capsys, case):
    body, words = BAD_SWEEPS[case]
    spec = _sweep_file(tmp_path, body)
    code = main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--executor", "serial"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("sim: error:")]
    assert len(lines) >= 1 and "Traceback" not in err
    assert str(spec) in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "out").exists()  # nothing was started


def test_bad_executor_options_exit_2(tmp_path, capsys):
    spec = _sweep_file(tmp_path, '[axes]\n"ladder.township.full_time" = [1, 2]\n')
    out = str(tmp_path / "o")
    assert main(["sweep", str(spec), "--out", out, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", out, "--scheduler", "tcp://x:1"]) == 2
    assert "only used with --executor dask" in capsys.readouterr().err


def test_load_sweep_of_a_folder_without_a_sweep_exits_2(tmp_path, capsys):
    with pytest.raises(sim.ScenarioError, match="holds no sweep"):
        sim.load_sweep(tmp_path)
    assert main(["sweep-plot", str(tmp_path), "--kpi", "disputes"]) == 2


def test_manifest_and_point_files(tmp_path):
    spec = _sweep_file(tmp_path, '[axes]\n"ladder.township.full_time" = [1, 2]\n')
    out = tmp_path / "out"
    sim.sweep(spec, out, executor="serial")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["id"] for p in manifest["points"]] == ["p0000", "p0001"]
    assert manifest["points"][1]["overrides"]["ladder.township.full_time"] == 2
    table = pd.read_parquet(out / "points" / "p0001.parquet")
    assert list(table["replication"]) == [0, 1]
    assert set(sim.KPI_NAMES) <= set(table.columns)  # no `kpis`: every KPI is kept
