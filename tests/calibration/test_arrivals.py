"""Arrivals (issue 16): the period a register covers, its growth trend, the date the rates
refer to, and monthly counts more variable than Poisson."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from calibration.scenario_out import write_scenario
from calibration.variants import restated_at
from tests.calibration import roundtrip
from tests.scenarios import SMALL

GROWTH = 0.12
RATE = 200.0  # per 1000 per year at the run's start: ~3,600 disputes in two years


@pytest.fixture(scope="module")
def two_years() -> roundtrip.Calibration:
    """Two calendar years (2023–2024) of a district growing 12% a year, taken at the end."""
    sc = roundtrip.scenario(
        "run.start_date=2023-01-01",
        "run.horizon_days=731",
        "run.drain=false",
        f"arrivals.rate_per_1000_per_year={RATE}",
        f"arrivals.growth_per_year={GROWTH}",
    )
    # Default period: what the register covers, not the dates of its first and last arrival.
    return roundtrip.calibrate_register(roundtrip.simulated_register(sc, seed=7), sc, seed=7)


def test_the_default_period_is_the_window_the_register_covers(
    two_years: roundtrip.Calibration,
) -> None:
    assert two_years.start == pd.Timestamp("2023-01-01")
    assert two_years.end == pd.Timestamp("2025-01-01")


def test_a_two_year_register_recovers_its_growth_trend(two_years: roundtrip.Calibration) -> None:
    row = two_years.parameter("arrivals.growth_per_year")
    assert row["ci_low"] <= GROWTH <= row["ci_high"]
    # With ~3,600 disputes the trend's 90% interval is about ±0.06 wide: a trend is found
    # (the interval excludes no growth), not just allowed.
    assert row["ci_low"] > 0
    assert two_years.settings["arrivals.growth_per_year"] == pytest.approx(row["estimate"], 1e-3)


def test_rates_are_written_as_at_the_scenario_start_date(
    two_years: roundtrip.Calibration, tmp_path: Path
) -> None:
    """The model applies arrivals.rate_per_1000_per_year at run.start_date and grows it from
    there; the fit states the rate at the end of the period, so the start date must be it."""
    written = write_scenario(two_years, SMALL, tmp_path / "fitted.toml")
    assert pd.Timestamp(written.run.start_date) == two_years.end
    # The truth at 2025-01-01: 731 days of 12% growth from 2023-01-01.
    truth_at_end = RATE * (1 + GROWTH) ** (731 / 365)
    row = two_years.parameter("arrivals.rate_per_1000_per_year")
    assert row["ci_low"] <= truth_at_end <= row["ci_high"]
    assert written.arrivals.rate_per_1000_per_year == pytest.approx(row["estimate"], 1e-4)


def test_moving_the_start_date_restates_the_rate_along_the_growth() -> None:
    sc = sim.load_scenario(
        SMALL,
        [
            "run.start_date=2025-01-01",
            "arrivals.rate_per_1000_per_year=100",
            "arrivals.growth_per_year=0.1",
        ],
    )
    earlier = restated_at(sc, pd.Timestamp("2024-01-01"))
    assert earlier.run.start_date.isoformat() == "2024-01-01"
    assert earlier.arrivals.rate_per_1000_per_year == pytest.approx(100 / 1.1 ** (366 / 365))
    flat = sim.load_scenario(SMALL, ["arrivals.growth_per_year=0"])
    moved = restated_at(flat, pd.Timestamp("2024-01-01"))
    assert moved.arrivals.rate_per_1000_per_year == flat.arrivals.rate_per_1000_per_year


# --- Overdispersion ------------------------------------------------------------------------


def _overdispersed_cases(rng: np.random.Generator, years: int, per_month: float, cv: float):
    """Disputes whose monthly rate varies (gamma, coefficient of variation ``cv``) around a
    constant level: counts are Poisson given the month, overdispersed across months."""
    times = []
    for m in pd.date_range("2020-01-01", periods=12 * years + 1, freq="MS")[:-1]:
        days = m.days_in_month
        rate = rng.gamma(1 / cv**2, per_month * cv**2) * days / 30.4375
        k = rng.poisson(rate)
        times.append(m + pd.to_timedelta(rng.random(k) * days, unit="D"))
    arisen = pd.DatetimeIndex(np.concatenate([t.to_numpy() for t in times]))
    return pd.DataFrame({"arisen": arisen, "township": "甲镇", "category": "neighbour"})


def test_overdispersed_monthly_counts_widen_the_rate_interval_to_nominal() -> None:
    """Months whose rate varies ±30% around 100 disputes: variance ≈ 100 + 900, ten times
    Poisson. A Poisson interval would cover the mean rate about a third of the time; the
    quasi-Poisson fall-back must cover it at about 90%."""
    from calibration.arrivals import fit_arrivals
    from calibration.params import Params

    base = sim.load_scenario(SMALL, ["arrivals.seasonality=[1,1,1,1,1,1,1,1,1,1,1,1]"])
    truth = 100 * 12 / (base.population / 1000)  # per 1000 per year
    rng = np.random.default_rng(11)
    t0, t1 = pd.Timestamp("2020-01-01"), pd.Timestamp("2024-01-01")
    covered, noted = [], []
    runs = 40
    for _ in range(runs):
        params, notes = Params(), []
        fit_arrivals(_overdispersed_cases(rng, 4, 100, 0.3), base, t0, t1, 0.9, params, notes)
        row = params.frame().set_index("key").loc["arrivals.rate_per_1000_per_year"]
        covered.append(row["ci_low"] <= truth <= row["ci_high"])
        noted.append(any("overdispers" in n for n in notes))
    # The dispersion test (Pearson χ² on 35 residual df) finds a tenfold variance always.
    assert all(noted)
    # The trend is fitted too (four years), so the rate at the end of the period is judged
    # against a constant truth. Binomial SE of 40 runs at 90%: √(0.9·0.1/40) ≈ 0.047; 3.5 SE
    # below nominal is 0.73, while Poisson intervals would cover ~0.35.
    coverage = float(np.mean(covered))
    assert coverage >= 0.9 - 3.5 * math.sqrt(0.09 / runs), coverage


def test_poisson_counts_keep_poisson_intervals() -> None:
    from calibration.arrivals import fit_arrivals
    from calibration.params import Params

    base = sim.load_scenario(SMALL, ["arrivals.seasonality=[1,1,1,1,1,1,1,1,1,1,1,1]"])
    rng = np.random.default_rng(3)
    flagged = 0
    runs = 20
    for _ in range(runs):
        params, notes = Params(), []
        cases = _overdispersed_cases(rng, 4, 100, 1e-4)  # cv ≈ 0: Poisson counts
        t0, t1 = pd.Timestamp("2020-01-01"), pd.Timestamp("2024-01-01")
        fit_arrivals(cases, base, t0, t1, 0.9, params, notes)
        flagged += any("overdispers" in n for n in notes)
    # The test is at 5%: 20 Poisson registers flag about 1; 5 or more has probability 0.003.
    assert flagged <= 4, flagged
