"""Fits: the round trip recovers known parameters at the intervals' nominal rate; censoring
matters; small villages are shrunk toward their township, large ones are not."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from calibration.durations import fit_durations
from calibration.shrinkage import KAPPA_MAX, jeffreys_interval, shrink_hierarchy
from tests.calibration import roundtrip

LEVEL = 0.9
SEEDS = range(10)


@pytest.fixture(scope="module")
def round_trip() -> pd.DataFrame:
    """Every fitted key's interval against the truth, over several simulated registers."""
    sc = roundtrip.scenario()
    truth = roundtrip.truth(sc)
    rows = []
    for seed in SEEDS:
        iv = roundtrip.intervals(roundtrip.fit(sc, seed, LEVEL))
        iv = iv[iv["key"].isin(truth)].copy()
        iv["truth"] = iv["key"].map(truth)
        iv["covered"] = (iv["ci_low"] <= iv["truth"]) & (iv["truth"] <= iv["ci_high"])
        iv["seed"] = seed
        rows.append(iv)
    return pd.concat(rows, ignore_index=True)


def test_round_trip_fits_every_kind_of_parameter(round_trip: pd.DataFrame) -> None:
    keys = set(round_trip["key"])
    for must in (
        "arrivals.rate_per_1000_per_year",
        "arrivals.seasonality.Feb",
        "categories.land.share",
        "categories.family.sensitive_share",
        "severity.major",
        "discovery.sweep_share",
        "discovery.on_the_spot.minor",
        "discovery.self_report_entry.township",
        "ladder.village.resolve.full_time.minor",
        "ladder.village.resolve.part_time.major",
        "ladder.township.resolve.full_time.serious",
        "ladder.district.effort_hours.median",
        "ladder.grid.effort_hours.p90",
        "channels.online_delay_days.mean",
        "channels.offline_delay_days.mean",
        "discovery.self_report_delay_days.mean",
    ):
        assert must in keys, must
    # Point estimates land near the truth: the rate within 4 standard errors of a Poisson
    # count of ~540 disputes a year (sd ≈ 60/√540 ≈ 2.6 per 1000), averaged over seeds.
    rate = round_trip[round_trip["key"] == "arrivals.rate_per_1000_per_year"]["estimate"]
    assert abs(rate.mean() - 60) < 4 * 60 / math.sqrt(540) / math.sqrt(len(rate))


def test_round_trip_intervals_cover_the_truth_at_their_nominal_rate(
    round_trip: pd.DataFrame,
) -> None:
    per_seed = round_trip.groupby("seed")["covered"].mean()
    coverage = float(round_trip["covered"].mean())
    # Checks within one register are correlated (shares sum to one, seasonality is relative),
    # so the standard error is taken from the spread between seeds, and never below the
    # binomial one of independent checks.
    se = max(
        float(per_seed.std(ddof=1)) / math.sqrt(len(per_seed)),
        math.sqrt(LEVEL * (1 - LEVEL) / len(round_trip)),
    )
    assert abs(coverage - LEVEL) < 3.5 * se, (coverage, se)
    # No group of parameters is systematically off: each group's coverage stays within 3.5
    # binomial standard errors of nominal (0.71 for the 30 checks of a small group).
    by_group = round_trip.groupby("group")["covered"].agg(["mean", "count"])
    floor = LEVEL - 3.5 * np.sqrt(LEVEL * (1 - LEVEL) / by_group["count"])
    assert (by_group["mean"] >= floor).all(), by_group
    # And no single parameter: missing in ≥ 6 of 10 seeds has probability 1.5e-4 at 90%.
    misses = (~round_trip["covered"]).groupby(round_trip["key"]).sum()
    assert misses.max() <= 5, misses.sort_values().tail()


# --- Censoring -----------------------------------------------------------------------------

MEDIAN_H, P90_H = 240.0, 960.0  # village effort: 10 days median, 40 days p90


def test_censored_fit_recovers_the_mean_that_ignoring_open_cases_biases() -> None:
    """A short register of long mediations: many cases are still open when it is taken."""
    sc = roundtrip.scenario(
        "run.horizon_days=60",  # mediations of ~18 days mean: about a third still open
        "run.drain=false",
        "arrivals.rate_per_1000_per_year=400",
        "discovery.sweep_share=0",
        "discovery.self_report_entry={village=1.0}",
        "ladder.village.full_time=100",
        "ladder.village.full_time_coverage=1.0",
        "ladder.village.resolve.full_time={minor=1.0, major=1.0, serious=1.0}",
        f'ladder.village.effort_hours={{dist="lognormal", median={MEDIAN_H}, p90={P90_H}}}',
    )
    cal = roundtrip.calibrate_register(
        roundtrip.simulated_register(sc, seed=3), sc, level=0.99, durations="elapsed"
    )
    sigma = math.log(P90_H / MEDIAN_H) / 1.2815515655446004
    true_mean_days = MEDIAN_H / 24 * math.exp(sigma**2 / 2)  # ≈ 17.9 days

    at = cal.register.table[cal.register.table["level"] == "village"]
    assert (at["outcome"] == "open").mean() > 0.25  # the premise: censoring is heavy
    ended = at[at["outcome"] == "resolved"]
    naive_days = ((ended["ended_date"] - ended["entered_date"]) / pd.Timedelta(days=1)).to_numpy()

    fit = cal.elapsed["village"].fits["lognormal"]
    lo, hi = fit.ci["mean"]
    assert lo <= true_mean_days <= hi  # 99% interval of the censored fit covers the truth
    assert naive_days.mean() < lo  # dropping open cases biases the mean below that interval
    # The same law fitted to the ended steps only misses the truth by far.
    naive = fit_durations("naive", naive_days, None, level=0.99, families=("lognormal",))
    assert naive is not None
    assert naive.fits["lognormal"].ci["mean"][1] < true_mean_days


# --- Shrinkage -----------------------------------------------------------------------------


def _villages(rng: np.random.Generator) -> pd.DataFrame:
    """Two townships of 20 villages whose shares scatter around 0.7 and 0.45 (κ = 30)."""
    rows = []
    for town, mean in (("A", 0.7), ("B", 0.45)):
        for v in range(20):
            n = int(rng.integers(20, 60))
            p = rng.beta(30 * mean, 30 * (1 - mean))
            rows.append((f"{town}{v:02d}", town, int(rng.binomial(n, p)), n))
    rows += [("small", "A", 0, 3), ("big", "A", 150, 300)]  # both raw shares far below A's
    return pd.DataFrame(rows, columns=["village", "township", "k", "n"])


def test_small_village_is_pulled_toward_its_township_a_large_one_is_not() -> None:
    towns, villages = shrink_hierarchy(_villages(np.random.default_rng(5)), level=LEVEL)
    v = villages.set_index("village")
    township = float(towns.set_index("township").loc["A", "estimate"])
    kappa = float(v["kappa"].iloc[0])
    assert 5 < kappa < 200  # heterogeneity found (truth 30), not complete pooling

    def pulled(name: str) -> float:
        """Share of the way from the raw share to the township's estimate."""
        row = v.loc[name]
        return float((row["estimate"] - row["raw"]) / (township - row["raw"]))

    # Posterior mean (κ·m + k) / (κ + n): the pull is exactly κ / (κ + n).
    assert pulled("small") == pytest.approx(kappa / (kappa + 3))
    assert pulled("big") == pytest.approx(kappa / (kappa + 300))
    assert pulled("small") > 0.5  # 3 cases: mostly the township's share
    assert pulled("big") < 0.2  # 300 cases: mostly its own
    # The small village's interval is wide and contains the township; the big one's is not.
    assert v.loc["small", "ci_low"] < township < v.loc["small", "ci_high"]
    assert not v.loc["big", "ci_low"] < township < v.loc["big", "ci_high"]


def test_homogeneous_villages_are_pooled_completely() -> None:
    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        {
            "village": [f"V{i}" for i in range(30)],
            "township": ["A"] * 15 + ["B"] * 15,
            "n": 200,
        }
    )
    data["k"] = rng.binomial(200, 0.6, size=30)
    _, villages = shrink_hierarchy(data)
    # Binomial noise alone: the prior outweighs each village's 200 cases (κ > 200, up to
    # KAPPA_MAX = complete pooling), so the estimates spread far less than the raw shares.
    assert 200 < villages["kappa"].iloc[0] <= KAPPA_MAX
    assert villages["estimate"].std() < 0.5 * villages["raw"].std()


def test_jeffreys_interval_bounds_at_zero_and_n() -> None:
    lo, hi = jeffreys_interval(np.array([0, 5, 10]), np.array([10, 10, 10]), 0.9)
    assert lo[0] == 0 and hi[2] == 1 and 0 < lo[1] < 0.5 < hi[1] < 1
