"""With every mechanism off the model is an open Jackson network: check it against Erlang C.

Each pool's mean wait in queue and the network's mean time in system are compared with theory.
The tolerance is derived from the standard error over independent replications: theory must lie
inside the 99.9% Student-t interval of the simulated mean (a fixed seed makes the test
deterministic; 99.9% keeps a correct model from failing by bad luck when seeds change). Each
check also asserts that the interval is narrow enough for the comparison to mean something.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sim
from sim.sizing.analytic import ladder_theory
from sim.sizing.queueing import erlang_c, mmc_waiting_time

from .scenarios import jackson

REPLICATIONS = 10
CONFIDENCE = 0.999


def _interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 99.9% t interval over replications."""
    x = np.asarray(values, dtype=float)
    se = x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1) * se)


def _standard_error(half: float, n: int = REPLICATIONS) -> float:
    return half / float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def test_erlang_c_known_values():
    # Textbook values: M/M/1 waits with probability rho; M/M/2 at a = 1 waits with 1/3.
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mmc_waiting_time(0.5, 1.0, 1) == pytest.approx(1.0)  # rho/(mu - lambda)
    assert mmc_waiting_time(3.0, 1.0, 2) == math.inf


@pytest.fixture(scope="module")
def jackson_run():
    """The whole ladder at moderate loads (utilisation 0.06 to 0.62)."""
    scenario = jackson()
    results = sim.simulate(scenario, replications=REPLICATIONS, seed=11, keep_tables=True)
    return scenario, results


@pytest.fixture(scope="module")
def heavy_run():
    """Disputes enter at the township: 甲镇's pool runs at 0.9, 乙乡's at 0.45.

    Short service and a long horizon give many service times per run, which near saturation is
    what narrows the interval (the relaxation time grows like 1/(1 - sqrt(rho))^2).
    """
    scenario = jackson(
        43.8,
        'ladder.district.effort_hours={dist="exponential", mean=48.0}',  # utilisation 0.44
        horizon=15000.0,
        entry="township",
    )
    results = sim.simulate(scenario, replications=REPLICATIONS, seed=12, keep_tables=True)
    return scenario, results


@pytest.mark.parametrize("run", ["jackson_run", "heavy_run"])
def test_each_pool_matches_erlang_c(run, request):
    scenario, results = request.getfixturevalue(run)
    pools, _ = ladder_theory(scenario)
    lo, hi = scenario.run.warmup_days, scenario.run.warmup_days + scenario.run.horizon_days
    district = sim.simulate_replication(scenario, 0).district
    loads = []
    for pool in (p for p in pools if p.arrival_rate > 0):
        name = district.unit_names(pool.level)[pool.unit]
        means = []
        for reg in results.registers:
            here = reg["level"] == pool.level
            if pool.level != "district":
                here &= reg[pool.level] == name
            steps = reg[here & (reg["entered"] >= lo) & (reg["entered"] < hi)]
            means.append(float((steps["started"] - steps["entered"]).mean()))
        mean, half = _interval(means)
        assert abs(mean - pool.waiting_time) <= half, (
            f"{pool.level} {name} (utilisation {pool.utilization:.2f}): simulated wait "
            f"{mean:.3f} ± {half:.3f} days, Erlang C {pool.waiting_time:.3f}"
        )
        # The interval must be informative: within 35% of the theoretical wait.
        # The check must be informative: a standard error within 20% of the wait (or, for a
        # nearly idle pool whose wait is tiny, 1% of the service time), so that an error of
        # half the wait would be caught.
        se = _standard_error(half)
        assert se < 0.2 * pool.waiting_time + 0.01 * pool.service_mean, f"{name}: SE {se:.3f}"
        loads.append(pool.utilization)
    if run == "heavy_run":
        assert max(loads) == pytest.approx(0.9, abs=0.01), "one pool must run near 0.9"
    assert min(loads) < 0.5, "and others at a lighter load"


def test_utilization_matches_offered_load(jackson_run):
    scenario, results = jackson_run
    pools, _ = ladder_theory(scenario)
    for level in ("village", "township", "district"):
        mine = [p for p in pools if p.level == level]
        theory = sum(p.arrival_rate * p.service_mean for p in mine) / sum(p.servers for p in mine)
        mean, half = _interval(results.per_replication[f"utilization.{level}"].tolist())
        assert abs(mean - theory) <= half, f"{level}: {mean:.3f} ± {half:.3f} vs {theory:.3f}"


def test_network_time_in_system(jackson_run):
    scenario, results = jackson_run
    _, expected = ladder_theory(scenario)
    mean, half = _interval(results.per_replication["days_to_resolution.mean"].tolist())
    assert abs(mean - expected) <= half, f"{mean:.2f} ± {half:.2f} vs Jackson {expected:.2f}"
    assert _standard_error(half) < 0.05 * expected
