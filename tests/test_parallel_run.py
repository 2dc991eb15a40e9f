"""Replications in parallel (issue 19, item 2): ``sim.simulate(executor=, workers=)`` and
``sim run --executor/--workers`` give the numbers of a serial run, to the bit."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.experiments.executors import ProcessExecutor, SerialExecutor
from sim.experiments.experiment import _executor_for
from tests.scenarios import SMALL

# Three replications on two workers: one worker runs two, so order of completion and
# assignment both differ from the serial run.
REPS, SEED = 3, 11


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    return sim.load_scenario(SMALL, ["run.horizon_days=120", "run.warmup_days=30"])


@pytest.fixture(scope="module")
def serial(scenario: sim.Scenario) -> sim.Results:
    return sim.simulate(scenario, REPS, SEED, keep_tables=True, executor="serial")


def _assert_same(a: sim.Results, b: sim.Results) -> None:
    pd.testing.assert_frame_equal(a.per_replication, b.per_replication, check_exact=True)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    assert a.events == b.events
    for name in ("registers", "cases", "timeseries", "petitions", "costs"):
        mine, theirs = getattr(a, name), getattr(b, name)
        assert len(mine) == len(theirs) == REPS, name
        for x, y in zip(mine, theirs, strict=True):
            pd.testing.assert_frame_equal(x, y, check_exact=True)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_parallel_replications_equal_serial_to_the_bit(scenario, serial, executor):
    parallel = sim.simulate(scenario, REPS, SEED, keep_tables=True, executor=executor, workers=2)
    assert len(serial.registers[0]) > 0  # the comparison below compares something
    _assert_same(serial, parallel)


def test_default_is_serial_and_workers_alone_mean_processes(scenario, serial):
    # Results cannot tell executors apart (they are identical by design): ask which is chosen.
    with _executor_for(None, None, None, REPS) as ex:
        assert isinstance(ex, SerialExecutor)
    with _executor_for(None, 2, None, REPS) as ex:
        assert isinstance(ex, ProcessExecutor) and ex.workers == 2
    with _executor_for("processes", 8, None, 1) as ex:  # never more workers than replications
        assert isinstance(ex, SerialExecutor)
    two = sim.simulate(scenario, REPS, SEED, keep_tables=True, workers=2)
    _assert_same(serial, two)


def test_a_callers_executor_is_used_and_left_open(scenario, serial):
    ex = SerialExecutor()
    seen: list[int] = []
    original = ex.map_unordered

    def counting(fn, tasks):
        for key, result in original(fn, tasks):
            seen.append(key)
            yield key, result

    ex.map_unordered = counting  # type: ignore[method-assign]
    res = sim.simulate(scenario, REPS, SEED, executor=ex)
    assert seen == [0, 1, 2]
    pd.testing.assert_frame_equal(res.per_replication, serial.per_replication, check_exact=True)


def test_on_tables_gets_every_replication_once_in_parallel(scenario, serial):
    got: dict[int, pd.DataFrame] = {}

    def sink(k: int, tables: dict[str, pd.DataFrame]) -> None:
        assert k not in got
        got[k] = tables["registers"]

    res = sim.simulate(scenario, REPS, SEED, on_tables=sink, executor="processes", workers=2)
    assert sorted(got) == [0, 1, 2]
    for k, register in got.items():
        pd.testing.assert_frame_equal(register, serial.registers[k], check_exact=True)
    assert res.registers == []  # not kept without keep_tables


def test_first_replication_offsets_the_keys(scenario, serial):
    tail = sim.simulate(scenario, 2, SEED, first_replication=1, executor="processes", workers=2)
    # The index counts rows (0, 1), as it always has; the values are replications 1 and 2.
    expected = serial.per_replication.iloc[1:].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        tail.per_replication.reset_index(drop=True), expected, check_exact=True
    )


def _run_json(capsys, *args: str) -> dict:
    assert main(["run", str(SMALL), "--json", "-", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_workers_and_executors_agree(tmp_path, capsys):
    common = ["-r", "3", "--seed", "5", "--set", "run.horizon_days=120"]
    serial = _run_json(capsys, *common, "--executor", "serial")
    two = _run_json(capsys, *common, "--workers", "2")
    dask = _run_json(capsys, *common, "--executor", "dask", "-j", "2")
    assert serial == two == dask
    spooled = _run_json(
        capsys,
        *common,
        "-j",
        "2",
        "--spool",
        str(tmp_path / "records"),
        "--out",
        str(tmp_path / "o"),
    )
    assert spooled == serial
    for k in range(3):
        assert (tmp_path / "records" / f"replication_{k}").is_dir()
    back = sim.load_results(tmp_path / "o")
    assert len(back.registers) == 3
    assert back.per_replication.shape[0] == 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--workers", "0"], "--workers = 0"),
        (["--scheduler", "tcp://127.0.0.1:1"], "only used with --executor dask"),
        (["--executor", "dask", "--scheduler-timeout", "-1"], "--scheduler-timeout = -1"),
    ],
)
def test_cli_bad_executor_options_exit_2(capsys, args, named):
    assert main(["run", str(SMALL), "-r", "1", *args]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "Traceback" not in err
