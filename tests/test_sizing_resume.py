"""Durable sizing (issue 14, item 3): ``sim size --out DIR`` keeps each replication as it
finishes, and ``--resume`` continues a killed run to exactly the same answer, simulating only
what is missing.

Every claim here is exact, not statistical: common random numbers make replication k of a key
a deterministic function of (scenario, key, seed, k), the search is deterministic given its
replications, and the store gives floats back bit-identical. So a resumed run must walk the
same path and produce equal tables, and the number of replications it simulates must be the
number that were missing — equalities, with no tolerance to choose.

The sized district is the one of tests/test_sizing.py (scenarios/small.toml with more demand
and a short horizon; targets between what the floors and a generous staffing reach), so the
search has real work to do (tens of replications over a dozen staffings).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.experiments.executors import SerialExecutor
from sim.scenario.loading import load_scenario
from sim.sizing.levers import base_table, levers
from sim.sizing.replications import Replications, run_replication
from sim.sizing.size import size
from sim.sizing.store import EVALUATIONS, EvaluationStore, _decode, _encode

from .scenarios import ROOT, SMALL

SEED = 7
REPLICATIONS = 4
SIZED = [
    "arrivals.rate_per_1000_per_year=80",
    "run.horizon_days=120",
    "run.warmup_days=20",
    "run.drain_limit_days=150",
    "targets={minor_kept_in_village={at_least=0.68}, major_kept_in_township={at_least=0.715},"
    ' "days_to_resolution.p90"={at_most=21.3}}',
]
# The same run through the command line (the API defaults: one worker, quotas as floors).
CLI = ["size", str(SMALL), "--seed", str(SEED), "-r", str(REPLICATIONS)]
for _o in SIZED:
    CLI += ["--set", _o]
# Easy targets: met at the floors, a run of a few replications (for the refusals).
EASY = [
    "run.horizon_days=60",
    "run.warmup_days=10",
    "targets={minor_kept_in_village={at_least=0.3}}",
]
EASY_CLI = ["size", str(SMALL), "--seed", str(SEED), "-r", "2", "--quiet"]
for _o in EASY:
    EASY_CLI += ["--set", _o]

ANSWER = ("staffing", "budget", "targets")


def _size(store: EvaluationStore | None = None, workers: int = 1):
    return size(
        SMALL, SIZED, replications=REPLICATIONS, seed=SEED, workers=workers, store=store
    )  # fmt: skip


def _stored(folder: Path) -> list[Path]:
    # Not the hidden temporary a killed writer may leave (".<name>.tmp-<pid>.eval", same
    # suffix): counting it made the SIGKILL test expect one stored replication too many.
    return sorted(p for p in folder.glob("*/*.eval") if not p.name.startswith("."))


def _same_answer(a, b) -> None:
    for name in (*ANSWER, "frontier", "minimality"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """An uninterrupted run with a store: its result and folder (every replication on disk).

    It is the reference answer of the tests below. That a store changes no number is shown
    outcome by outcome: what is read back is bit-identical to what was simulated
    (test_stored_outcomes_round_trip_bit_for_bit, test_parallel_results_...), and the search
    sees nothing else of a replication.
    """
    folder = tmp_path_factory.mktemp("complete") / EVALUATIONS
    result = _size(EvaluationStore(folder))
    return result, folder


@pytest.fixture(scope="module")
def reference(complete):
    """The answer of the uninterrupted run."""
    return complete[0]


def test_every_replication_is_on_disk_with_the_runs_fingerprint(complete):
    result, folder = complete
    assert result.replications_simulated > 20  # the search had real work to do
    assert len(_stored(folder)) == result.replications_simulated
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["fingerprint"]["seed"] == SEED
    assert manifest["fingerprint"]["replications"] == REPLICATIONS
    assert manifest["fingerprint"]["demand"] == [1.0]


def test_stored_outcomes_round_trip_bit_for_bit():
    scenario = load_scenario(SMALL, EASY)
    outcome = run_replication(scenario, 1, SEED)
    outcome.kpis["nan_kpi"] = math.nan  # KPIs of an empty group are NaN: they must survive too
    back = _decode(_encode(outcome, "ctx", (3, 1, 4), 1), "ctx", (3, 1, 4), 1)
    assert list(back.kpis) == list(outcome.kpis)  # the order is the column order downstream
    for name, value in outcome.kpis.items():
        same = back.kpis[name] == value or (math.isnan(value) and math.isnan(back.kpis[name]))
        assert same and type(back.kpis[name]) is type(value), name
    for mine, theirs in ((outcome.townships, back.townships), (outcome.costs, back.costs)):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)
        assert (mine.dtypes == theirs.dtypes).all()


def test_killed_run_resumes_to_the_same_answer_simulating_only_the_missing(
    reference, tmp_path, monkeypatch
):
    """Killed (an exception) after K replications were stored; resumed with two workers."""
    folder = tmp_path / EVALUATIONS
    killed_after = reference.replications_simulated // 2
    save = EvaluationStore.save

    def save_then_die(self, *args):
        save(self, *args)
        if self.saved == killed_after:
            raise KeyboardInterrupt  # what Ctrl-C raises; nothing after it is written

    monkeypatch.setattr(EvaluationStore, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _size(EvaluationStore(folder))
    monkeypatch.undo()
    assert len(_stored(folder)) == killed_after

    store = EvaluationStore(folder, resume=True)
    resumed = _size(store, workers=2)
    _same_answer(reference, resumed)
    assert store.loaded == killed_after
    assert resumed.replications_simulated == reference.replications_simulated - killed_after
    assert len(_stored(folder)) == reference.replications_simulated


def test_sigkilled_command_resumes_to_the_same_answer(reference, tmp_path):
    """A real ``sim size --out`` process, SIGKILLed once it has stored a third of its work."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys; from sim.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *CLI, "--quiet", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    target = reference.replications_simulated // 3
    try:
        # A guard against a hang, not a speed test: a loaded CI machine (the suite on 2 cores)
        # can take minutes to store a third of the work.
        deadline = time.monotonic() + 600
        while len(_stored(out / EVALUATIONS)) < target:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run stored too little in 600 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    on_disk = len(_stored(out / EVALUATIONS))
    assert target <= on_disk < reference.replications_simulated

    resumed = tmp_path / "resumed.json"
    assert main([*CLI, "--quiet", "--out", str(out), "--resume", "--json", str(resumed)]) == 0
    data = json.loads(resumed.read_text(encoding="utf-8"))
    assert data["replications_simulated"] == reference.replications_simulated - on_disk
    expected = reference.to_dict()
    for name in ANSWER:
        assert data[name] == expected[name], name
    assert (out / "staffing.csv").is_file()
    # No half-written file of the killed writer is left behind (the resumed run removed it).
    assert not list((out / EVALUATIONS).glob("*/.*"))


def test_damaged_stored_outcomes_are_simulated_again_never_used(reference, complete, tmp_path):
    _, folder = complete
    copy = tmp_path / EVALUATIONS
    shutil.copytree(folder, copy)
    files = _stored(copy)
    cut, altered, swapped, swapped_from = files[0], files[5], files[9], files[10]
    cut.write_bytes(cut.read_bytes()[:-100])  # cut short
    data = bytearray(altered.read_bytes())
    at = data.index(b"0.", data.index(b'"kpis"')) + 2  # the first decimal of a share KPI
    data[at] = ord("7") if data[at] != ord("7") else ord("3")
    altered.write_bytes(bytes(data))
    shutil.copyfile(swapped_from, swapped)  # whole and valid, but another key's replication
    warnings: list[str] = []
    store = EvaluationStore(copy, resume=True, warn=warnings.append)
    resumed = _size(store)
    _same_answer(reference, resumed)
    assert store.damaged == 3 and resumed.replications_simulated == 3
    assert {Path(w.split(": ")[0]) for w in warnings} == {cut, altered, swapped}
    assert store.loaded == reference.replications_simulated - 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (["--seed", "8"], "seed"),
        (["--set", "run.horizon_days=59"], "scenario"),
        (["-r", "3"], "replications"),
    ],
)
def test_resuming_a_different_run_exits_2_naming_what_differs(tmp_path, capsys, change, field):
    out = tmp_path / "out"
    assert main([*EASY_CLI, "--out", str(out)]) == 0
    before = sorted(p.name for p in _stored(out / EVALUATIONS))
    capsys.readouterr()
    assert main([*EASY_CLI, *change, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"--resume: {field} = " in err and "cannot resume a different run" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in _stored(out / EVALUATIONS)) == before  # nothing touched


def test_without_resume_an_earlier_run_is_refused_as_the_sweep_does(tmp_path, capsys):
    """Its stored replications are work: a second run to the folder without --resume exits 2
    naming the folder and the two ways on, and touches nothing (sim sweep does the same)."""
    out = tmp_path / "out"
    assert main([*EASY_CLI, "--out", str(out)]) == 0
    capsys.readouterr()
    manifest = (out / EVALUATIONS / "manifest.json").read_bytes()
    stored = {p: p.read_bytes() for p in _stored(out / EVALUATIONS)}
    outputs = {p: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert stored
    assert main([*EASY_CLI, "--set", "run.horizon_days=59", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    # The folder's path as InputProblem shows a long value: its end, which names the folder.
    assert err.startswith("sim: error: --out = ") and "/out': already holds a sizing run" in err
    assert f"{len(stored)} replications stored" in err
    assert "add --resume to continue it, or choose another --out folder" in err
    assert (out / EVALUATIONS / "manifest.json").read_bytes() == manifest
    assert {p: p.read_bytes() for p in _stored(out / EVALUATIONS)} == stored
    assert {p: p.read_bytes() for p in out.iterdir() if p.is_file()} == outputs


_HOLD = """
import sys, time
from sim.sizing.store import EvaluationStore
with EvaluationStore(sys.argv[1]).locked():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_exits_2_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out / EVALUATIONS)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main([*EASY_CLI, "--out", str(out), "--resume"]) == 2
        err = capsys.readouterr().err
        assert f"another sizing run (pid {holder.pid})" in err and "--out" in err
        assert not _stored(out / EVALUATIONS)
    finally:
        holder.kill()
        holder.wait()
    assert main([*EASY_CLI, "--out", str(out), "--resume"]) == 0  # the lock died with it


def test_out_folder_safety(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's", encoding="utf-8")
    assert main([*EASY_CLI, "--out", str(mine)]) == 2
    assert "--out" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]  # nothing written

    scenario = tmp_path / "s.toml"
    shutil.copyfile(SMALL, scenario)
    args = [a if a != str(SMALL) else str(scenario) for a in EASY_CLI]
    assert main([*args, "--out", str(scenario)]) == 2
    assert "would be lost" in capsys.readouterr().err

    assert main([*EASY_CLI, "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*EASY_CLI, "--resume", "--check-quotas", "--out", str(tmp_path / "q")]) == 2
    capsys.readouterr()

    out = tmp_path / "out"
    assert main([*EASY_CLI, "--out", str(out)]) == 0
    assert (out / ".sim-result").is_file()  # marked: a run of ours, which --resume continues
    assert main([*EASY_CLI, "--out", str(out), "--resume"]) == 0


class _Checking(SerialExecutor):
    """An executor of two 'workers' that yields results in reverse order and checks, at each
    step, that every result yielded so far is already on disk."""

    workers = 2

    def __init__(self, folder: Path):
        self.folder = folder

    def map_unordered(self, fn, tasks):
        for i, (key, args) in enumerate(reversed(list(tasks))):
            yield key, fn(*args)
            assert len(_stored(self.folder)) == i + 1  # stored as yielded, not after the batch


def test_parallel_results_are_stored_as_they_arrive_and_kept_in_asked_order(tmp_path):
    table, source = base_table(SMALL, EASY)
    lv = levers(load_scenario(SMALL, EASY))
    folder = tmp_path / EVALUATIONS
    store = EvaluationStore(folder)
    with store.locked():
        store.begin({"test": 1})
        runs = Replications(table, source, lv, SEED, _Checking(folder), store=store)
        keys = [tuple(x.floor for x in lv), tuple(x.floor + 1 for x in lv)]
        runs.run(keys, 2)
    asked = [(k, r) for k in keys for r in range(2)]
    assert list(runs.outcomes) == asked
    assert runs.simulated == 4 and len(_stored(folder)) == 4

    again = Replications(table, source, lv, SEED, _Checking(folder), store=store)
    again.run(keys, 2)  # everything on disk: nothing simulated, same order
    assert again.simulated == 0 and list(again.outcomes) == asked
    for key in asked:
        pd.testing.assert_series_equal(
            pd.Series(again.outcomes[key].kpis),
            pd.Series(runs.outcomes[key].kpis),
            check_exact=True,
        )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="only a forking platform shares flocks")
def test_a_forked_child_does_not_keep_the_folder_locked(tmp_path):
    """A process-pool worker forked while a run holds the lock must not hold it after the run:
    flock belongs to the open file, which fork shares, so a worker outliving a killed run kept
    the folder locked and the --resume that followed was refused (the CI failure of stop 21)."""
    folder = tmp_path / EVALUATIONS
    ready, told = os.pipe()
    with EvaluationStore(folder).locked():
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only waits to be killed
            os.write(told, b"!")  # after fork's hooks ran, as a pool worker's first task is
            time.sleep(60)
            os._exit(0)
    assert os.read(ready, 1) == b"!"
    os.close(ready)
    os.close(told)
    try:
        with EvaluationStore(folder).locked():  # the holder left; the child must not block
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
