"""Backtest intervals carry the fit's uncertainty (issue 16.4): parameter draws spread as the
fitted intervals say, and a correctly specified model's backtest covers at the nominal rate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.backtest import backtest, prediction_interval, truncate
from calibration.fitting import calibrate_register
from calibration.scenario_out import write_scenario
from tests.calibration import roundtrip
from tests.scenarios import SMALL

LEVEL = 0.9


def test_prediction_interval_from_order_statistics_covers_a_new_draw_at_the_level() -> None:
    rng = np.random.default_rng(0)
    trials = 4000
    x = rng.random((trials, 19))
    new = rng.random(trials)
    inside = [lo <= v <= hi for row, v in zip(x, new, strict=True)
              for lo, hi in [prediction_interval(row, LEVEL)]]  # fmt: skip
    # 19 values at 90%: the smallest to the largest, which holds a new one 18/20 of the time
    # (empirical 5%/95% quantiles would hold ~81%). Binomial SE of 4000 trials ≈ 0.0047.
    assert abs(np.mean(inside) - 18 / 20) < 4 * math.sqrt(0.09 / trials)
    assert prediction_interval(np.arange(19.0), LEVEL) == (0.0, 18.0)
    assert prediction_interval(np.arange(59.0), LEVEL) == (2.0, 56.0)  # k = ⌊60·0.05⌋ = 3


def test_parameter_draws_spread_as_the_fitted_intervals_say() -> None:
    """Each written value drawn again (the parametric bootstrap): its 5% and 95% quantiles
    over the draws are the fit's 90% interval, up to the Monte Carlo error of 1,000 draws."""
    fit = roundtrip.fit(roundtrip.scenario(), seed=0, level=LEVEL)
    rng = np.random.default_rng(1)
    draws = [fit.draw_settings(rng) for _ in range(1000)]
    rows = fit.parameters.set_index("key")
    checked = 0
    for key in ("arrivals.rate_per_1000_per_year", "categories.land.share", "severity.major",
                "discovery.sweep_share", "ladder.village.resolve.full_time.minor",
                "ladder.village.resolve.part_time.minor"):  # fmt: skip
        values = np.array([d[key] for d in draws], dtype=float)
        lo, hi = np.quantile(values, [0.05, 0.95])
        width = rows.loc[key, "ci_high"] - rows.loc[key, "ci_low"]
        assert width > 0 and values.std() > 0, key
        # Quantiles of 1,000 draws: MC error ~3% of the width; rounding to 4 digits is less.
        assert abs(lo - rows.loc[key, "ci_low"]) < 0.1 * width, (key, lo, rows.loc[key])
        assert abs(hi - rows.loc[key, "ci_high"]) < 0.1 * width, (key, hi, rows.loc[key])
        checked += 1
    medians = np.array([d["ladder.village.effort_hours"]["median"] for d in draws])
    lo, hi = np.quantile(medians, [0.05, 0.95])
    ci = rows.loc["ladder.village.effort_hours.median"]
    assert abs(lo - ci["ci_low"]) < 0.1 * (ci["ci_high"] - ci["ci_low"])
    assert abs(hi - ci["ci_high"]) < 0.1 * (ci["ci_high"] - ci["ci_low"])
    assert checked == 6


HOLDOUT, AS_OF = pd.Timestamp("2020-03-01"), pd.Timestamp("2020-07-01")
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def backtests(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Fit on two months of a correctly specified register, predict the next four."""
    extra = ["run.horizon_days=182", "run.drain=false"]
    sc = roundtrip.scenario(*extra)
    folder: Path = tmp_path_factory.mktemp("backtest")
    tables = []
    for seed in SEEDS:
        register = roundtrip.simulated_register(sc, seed)
        full = register.table
        register.table = truncate(full, HOLDOUT)
        fit = calibrate_register(
            register, sc, end=HOLDOUT, as_of=HOLDOUT, durations="elapsed", seed=seed
        )
        written = write_scenario(
            fit, SMALL, folder / f"fit{seed}.toml", overrides=[*roundtrip.ROUND_TRIP, *extra]
        )
        test = backtest(
            written, full, HOLDOUT, AS_OF, replications=19, seed=100 + seed, level=LEVEL,
            calibration=fit,
        )  # fmt: skip
        tables.append(test.table.assign(seed=seed))
    return pd.concat(tables, ignore_index=True)


def test_backtest_of_a_correct_model_covers_at_the_nominal_rate(backtests: pd.DataFrame) -> None:
    """Four monthly volumes, four resolved shares and two day measures per register, three
    registers: 30 checks. Their binomial SE at 90% is √(0.9·0.1/30) ≈ 0.055 (as if independent;
    checks of one register are correlated, so the real SE is larger and the bound is lenient).
    The defect is under-coverage, so the check is one-sided: coverage ≥ 0.9 − 3 SE = 0.735 (an
    upper bound at 3 SE would be above 1 and could not fail). Without the parameters'
    uncertainty the resolved shares, estimated from two months and predicted over four, cover
    ~0.7 (measured over 8 seeds); with it ~0.94, as the volumes do."""
    covered = backtests["covered"].dropna()
    assert len(covered) == 30
    se = math.sqrt(LEVEL * (1 - LEVEL) / len(covered))
    assert covered.mean() >= LEVEL - 3 * se, backtests
