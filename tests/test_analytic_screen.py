"""The analytic screen of sizing: exact where queueing theory is, flagged where it is not.

Where every mechanism is off (the Jackson network of tests/test_theory.py) the screen must equal
``ladder_theory`` to rounding and lie inside the simulation's confidence interval. The interval
is the 99.9% Student-t interval over 10 independent replications (fixed seed, so the test is
deterministic; 99.9% so that a correct model does not fail by bad luck if the seed changes); each
comparison also asserts that the standard error is small enough for the check to bite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sim
from sim.sizing.analytic import ladder_theory, screen, screen_is_exact
from sim.sizing.confirmation import compare_screen

from .scenarios import SMALL, jackson

REPLICATIONS = 10
CONFIDENCE = 0.999


@pytest.fixture(scope="module")
def exact_case():
    scenario = jackson(horizon=1500.0)
    results = sim.simulate(scenario, replications=REPLICATIONS, seed=11)
    return scenario, results


def test_screen_equals_erlang_c_where_exact(exact_case):
    scenario, _ = exact_case
    assert screen_is_exact(scenario)
    result = screen(scenario)
    assert result.exact and not result.approximations
    pools, network_time = ladder_theory(scenario)
    for pool, (_, row) in zip(pools, result.pools.iterrows(), strict=True):
        assert row["waiting_days"] == pytest.approx(pool.waiting_time, rel=1e-9, abs=1e-12)
        assert row["utilization"] == pytest.approx(pool.utilization, rel=1e-9)
    assert result.kpis["days_to_resolution.mean"] == pytest.approx(network_time, rel=1e-9)


@pytest.mark.parametrize(
    ("switch", "words"),
    [
        ("major_difficult_to_district", "mechanisms.major_difficult_to_district"),
        ("special_teams", "mechanisms.special_teams"),
        ("quality", "mechanisms.quality"),
    ],
)
def test_a_mechanism_the_flows_leave_out_makes_the_screen_approximate(exact_case, switch, words):
    """Switched on, a mechanism the flows do not follow is named, and "exact" is not claimed
    (the exact case itself is exact: test above)."""
    scenario, _ = exact_case
    on = scenario.model_copy(
        update={"mechanisms": scenario.mechanisms.model_copy(update={switch: True})}
    )
    result = screen(on)
    assert not result.exact and not screen_is_exact(on)
    assert any(words in a for a in result.approximations)


@pytest.mark.parametrize(
    "kpi",
    [
        "resolved_share.grid",
        "resolved_share.village",
        "resolved_share.township",
        "resolved_share.district",
        "minor_kept_in_village",
        "major_kept_in_township",
        "utilization.village",
        "utilization.township",
        "utilization.district",
        "days_to_resolution.mean",
    ],
)
def test_screen_matches_simulation_where_exact(exact_case, kpi):
    """Shares, loads and the network's time in system against simulation.

    Per-pool waits are compared with simulation in tests/test_theory.py (they need a long
    horizon to narrow); here the screen equals that theory to rounding (test above).
    """
    scenario, results = exact_case
    expected = screen(scenario).kpis[kpi]
    x = results.per_replication[kpi].to_numpy(dtype=float)
    se = float(x.std(ddof=1)) / math.sqrt(len(x))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1)) * se
    assert abs(float(x.mean()) - expected) <= half, (
        f"{kpi}: simulated {x.mean():.4f} ± {half:.4f}, screen {expected:.4f}"
    )
    # Informative: the interval is narrower than 30% of the value (0.03 absolute for small
    # shares), so a screen off by that much would fail.
    assert half < 0.3 * abs(expected) + 0.03, f"{kpi}: interval ±{half:.4f} too wide"


def test_screen_is_fast_and_says_where_it_approximates():
    scenario = sim.load_scenario(SMALL)
    result = screen(scenario)
    assert not result.exact
    text = " ".join(result.approximations)
    for word in ("calendar", "time limits", "worsening", "Allen–Cunneen"):
        assert word in text
    # Milliseconds, not seconds: a hundred screens of the small district in well under 10 s.
    import time

    began = time.perf_counter()
    for _ in range(20):
        screen(scenario)
    assert (time.perf_counter() - began) / 20 < 0.5


def test_side_by_side_where_approximate():
    """On the small district (every mechanism on) the screen is shown beside simulation."""
    table = compare_screen(SMALL, replications=4, seed=3)
    assert not table.attrs["exact"]
    assert table.attrs["approximations"]
    for col in ("screen", "mean", "ci_low", "ci_high", "se", "z", "within"):
        assert col in table.columns
    # Routing shares are where the screen should be close even here (no congestion to speak
    # of at this load): within 0.05 of simulation.
    for kpi in ("resolved_share.grid", "resolved_share.village", "minor_kept_in_village"):
        assert abs(table.loc[kpi, "screen"] - table.loc[kpi, "mean"]) < 0.05, kpi
    assert np.isfinite(table["screen"]).all()
