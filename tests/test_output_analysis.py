"""Warm-up detection (MSER-5) and the replications advisor, from Python and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.cli.main import main
from sim.experiments.output_analysis import detect_warmup, mser, replications_needed

from .scenarios import SMALL


def test_mser5_finds_an_exponential_transient():
    # y_t = 10 exp(-t/50) + N(0, 1): the bias falls below the noise's standard error of the
    # mean of ~2,000 points (1/sqrt(2000) ≈ 0.02) after ~50 ln(10/0.02) ≈ 310 steps, and is
    # under one noise std (1) after 50 ln 10 ≈ 115. MSER should cut somewhere between.
    rng = np.random.default_rng(1)
    t = np.arange(2000)
    y = 10 * np.exp(-t / 50) + rng.normal(0, 1, len(t))
    found = mser(y)
    assert found.reliable
    assert 100 <= found.truncation <= 400
    assert found.truncation % 5 == 0


def test_mser5_keeps_a_stationary_series():
    rng = np.random.default_rng(2)
    found = mser(rng.normal(5, 1, 1000))
    assert found.truncation <= 100  # a stationary series needs (almost) no truncation


def test_mser_flags_a_run_too_short_for_its_transient():
    y = np.linspace(100, 0, 200)  # still falling at the end: no steady state to find
    assert not mser(y).reliable


def test_mser_rejects_tiny_series():
    with pytest.raises(ValueError, match="too short"):
        mser([1.0, 2.0, 3.0])


def test_warmup_on_a_scenario_that_starts_empty():
    scenario = sim.load_scenario(SMALL, ["run.horizon_days=200", "run.warmup_days=0"])
    result = detect_warmup(scenario, replications=3, seed=1)
    assert set(result.table.index) >= {"grid", "village", "township", "district"}
    assert 0 <= result.suggested_days <= 100  # within the first half of the 200 days
    assert result.scenario_warmup_days == 0
    assert "suggested run.warmup_days" in result.describe()


def test_replications_needed_is_the_smallest_n_that_meets_the_precision():
    # A pilot with mean exactly 10 and sample std exactly 2: need t(n-1)·2/√n ≤ 0.05·10.
    z = np.array([-1.0, 1.0] * 5)
    values = 10 + 2 * z / z.std(ddof=1)
    n = replications_needed(values, 0.05, 0.95)
    assert stats.t.ppf(0.975, n - 1) * 2 / math.sqrt(n) <= 0.5
    assert stats.t.ppf(0.975, n - 2) * 2 / math.sqrt(n - 1) > 0.5
    assert 62 <= n <= 66  # (1.96 · 2 / 0.5)² = 61.5, a little more for Student's t
    assert replications_needed([3.0, 3.0, 3.0]) == 2  # no variation: any interval will do
    assert replications_needed([1.0]) is None
    assert replications_needed([-1.0, 1.0]) is None  # mean 0: a relative precision is undefined


def test_advised_replications_deliver_the_precision():
    # Pilot of 10 from N(50, 10²); ask for ±5%. Running the advised n should give a relative
    # half-width near 5%: the pilot's std is itself uncertain (±~30% with 9 d.f.), so we
    # accept 2.5%–8% — the advisor's promise is approximate, the check is that it is calibrated.
    rng = np.random.default_rng(3)
    n = replications_needed(rng.normal(50, 10, 10), 0.05)
    run = rng.normal(50, 10, n)
    half = stats.t.ppf(0.975, n - 1) * run.std(ddof=1) / math.sqrt(n)
    assert 0.025 <= half / run.mean() <= 0.08


def test_advise_and_warmup_commands(capsys):
    args = ["--set", "run.horizon_days=120", "--seed", "2"]
    assert main(["advise", str(SMALL), "--pilot", "4", "--kpi", "minor_kept_in_village", *args,
                 "--json", "-"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    (row,) = out["kpis"]
    assert row["kpi"] == "minor_kept_in_village"
    assert row["replications_needed"] >= 2
    assert main(["advise", str(SMALL), "--pilot", "3", "--precision", "0.1", *args]) == 0
    assert "replications needed" in capsys.readouterr().out
    assert main(["warmup", str(SMALL), "-r", "2", *args, "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["suggested_warmup_days"] >= 0
    assert {r["level"] for r in out["levels"]} >= {"grid", "village"}


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["advise", str(SMALL), "--precision", "0"], ["--precision", "positive"]),
        (["advise", str(SMALL), "--pilot", "1"], ["--pilot", "at least 2"]),
        (["advise", str(SMALL), "--kpi", "minor_kept"], ["--kpi", "unknown KPI"]),
        (["warmup", str(SMALL), "-r", "0"], ["--replications", "positive"]),
        (["warmup", str(SMALL), "--set", "run.horizon_dayz=3"], ["--set", "horizon_days"]),
    ],
)
def test_bad_arguments_exit_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err


def test_warmup_ignores_the_seasons_the_kpis_count():
    """issue 17: MSER read Qujiang's busy January as a start-up transient and called the
    bundled 60 days too short. The diagnosis runs with seasonality and growth off, so a
    scenario's seasons do not change its warm-up, and only levels where MSER found a warm-up
    set the suggestion."""
    months = "[" + ", ".join(["1.6"] * 2 + ["0.88"] * 10) + "]"
    base = ["run.horizon_days=200", "run.warmup_days=0", f"arrivals.seasonality={months}"]
    seasonal = detect_warmup(sim.load_scenario(SMALL, base), replications=2, seed=1)
    flat = sim.load_scenario(SMALL, [*base, "mechanisms.seasonality=false"])
    pd.testing.assert_frame_equal(seasonal.table, detect_warmup(flat, 2, seed=1).table)
    reliable = seasonal.table[seasonal.table["reliable"]]
    assert seasonal.suggested_days == np.ceil(reliable["truncation_days"].max())
    raw = detect_warmup(sim.load_scenario(SMALL, base), 2, seed=1, steady_load=False)
    assert not raw.table.equals(seasonal.table)  # the seasons did move the series
