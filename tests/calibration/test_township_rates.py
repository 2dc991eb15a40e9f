"""Per-township dispute rates: the model's ``townships[].rate_multiplier`` and its calibration
(issue 16 item 5)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from calibration.params import Params
from calibration.scenario_out import calibrated_table
from calibration.township_rates import ALPHA_MAX, fit_shape, township_multipliers
from sim.measures.register import case_table
from tests.calibration.roundtrip import fit, scenario
from tests.scenarios import ROOT, SMALL

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"


def _tables(path, overrides, seed=3):
    rep = sim.simulate_replication(sim.load_scenario(path, overrides), 0, seed=seed)
    return case_table(rep), sim.register_table(rep)


def test_multipliers_of_one_are_the_model_without_them() -> None:
    plain = _tables(SMALL_FULL, [])
    ones = _tables(
        SMALL_FULL, ["townships.Jiazhen.rate_multiplier=1.0", "townships.Yixiang.rate_multiplier=1"]
    )
    for a, b in zip(plain, ones, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_a_township_with_twice_the_rate_gets_twice_the_disputes_per_resident() -> None:
    # 甲镇 has 6,000 residents, 乙乡 3,000; at multiplier 2 甲镇's per-capita rate doubles, so
    # 甲镇's disputes are 4× 乙乡's. Counted over 8 replications of a year at 30 per 1,000 the
    # counts are Poisson with means ~2,880 and ~720: the ratio's relative SE is
    # √(1/2880 + 1/720) ≈ 0.042; 3 SE is the tolerance.
    sc = sim.load_scenario(
        SMALL,
        ["townships.Jiazhen.rate_multiplier=2", "run.warmup_days=0", "run.drain=false"],
    )
    assert sc.arrival_population == pytest.approx(6000 * 2 + 3000)
    counts = {"甲镇": 0, "乙乡": 0}
    for r in range(8):
        cases = case_table(sim.simulate_replication(sc, r, seed=11))
        cases = cases[~cases["initial"]] if "initial" in cases else cases
        for name, n in cases.groupby("township").size().items():
            counts[name] += int(n)
    ratio = counts["甲镇"] / counts["乙乡"]
    se = ratio * math.sqrt(1 / counts["甲镇"] + 1 / counts["乙乡"])
    assert abs(ratio - 4.0) < 3 * se, (counts, ratio, se)


def test_bad_multiplier_is_bad_input() -> None:
    with pytest.raises(sim.ScenarioError, match="rate_multiplier"):
        sim.load_scenario(SMALL, ["townships.Jiazhen.rate_multiplier=0"])


def _table(cases: list[int], pops: list[int], years: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "township": [f"T{i}" for i in range(len(cases))],
            "population": pops,
            "cases": cases,
            "exposure": np.asarray(pops) / 1000.0 * years,
        }
    )


def test_alike_townships_are_pooled_and_nothing_is_written() -> None:
    # Counts drawn from one common rate: the shape runs to its ceiling, multipliers are 1.
    rng = np.random.default_rng(5)
    pops = [5000] * 12
    table = _table(list(rng.poisson(50, 12)), pops)
    params = Params()
    out = township_multipliers(table, 0.9, params)
    assert out["rate_multiplier"].to_numpy() == pytest.approx(np.ones(12), abs=0.02)
    assert not any(k.startswith("townships.") for k in params.settings)


def test_different_townships_keep_their_rates_and_a_small_one_is_pulled_in() -> None:
    # Eleven large townships at the district rate, one large at 2×, one tiny at 2×: the large
    # one keeps about its 2× (≈ 2 / weighted mean), the tiny one (3 expected cases) is shrunk
    # toward 1 more than the large one.
    pops = [20000] * 11 + [20000, 300]
    cases = [200] * 11 + [400, 6]
    params = Params()
    out = township_multipliers(_table(cases, pops), 0.9, params)
    weighted_mean = (11 * 20000 + 2 * 20300) / sum(pops)  # the truth's population mean
    big, tiny = out["rate_multiplier"].iloc[11], out["rate_multiplier"].iloc[12]
    assert big == pytest.approx(2 / weighted_mean, rel=0.1)
    assert 1 / weighted_mean < tiny < big
    assert out["rm_low"].iloc[11] < 2 / weighted_mean < out["rm_high"].iloc[11]
    assert params.settings["townships.T11.rate_multiplier"] == pytest.approx(big, rel=1e-3)
    # The written multipliers keep the district's per-capita rate: population mean 1.
    assert np.average(out["rate_multiplier"], weights=pops) == pytest.approx(1.0)


def test_shape_is_the_ceiling_with_one_township() -> None:
    assert fit_shape(np.array([10.0]), np.array([1.0]), 10.0) == ALPHA_MAX


def test_round_trip_writes_the_township_multiplier_into_the_scenario(tmp_path) -> None:
    # 甲镇 at 1.75× the rate of 乙乡: normalised to a population mean of 1 the truth is
    # 1.75 / 1.5 for 甲镇 and 1 / 1.5 for 乙乡 (the weighted mean (6000·1.75 + 3000) / 9000).
    sc = scenario("townships.Jiazhen.rate_multiplier=1.75")
    cal = fit(sc, seed=4)
    rows = cal.parameters.set_index("key")
    for name, truth in (("甲镇", 1.75 / 1.5), ("乙乡", 1 / 1.5)):
        row = rows.loc[f"townships.{name}.rate_multiplier"]
        assert row["ci_low"] < truth < row["ci_high"], (name, row.to_dict())
    table = calibrated_table(cal, SMALL, tmp_path / "fitted.toml")
    written = {t["name"]: t.get("rate_multiplier") for t in table["townships"]}
    assert written["甲镇"] == pytest.approx(1.75 / 1.5, rel=0.15)
    fitted = sim.load_scenario(SMALL, [f"townships.甲镇.rate_multiplier={written['甲镇']}"])
    assert fitted.township("甲镇").rate_multiplier == written["甲镇"]
