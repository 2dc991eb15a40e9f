"""The cheapest package of measures (最低成本措施组合): headcount when only headcount binds, the
binding measure when entry binds, confirmation with fresh seeds and minimality, cost monotone in
demand, unreachable targets answered (exit 0) and the budget ceiling respected.

Short runs of scenarios/small.toml (only the sweeps lever is active besides headcount) and of
scenarios/small_full.toml with the entry choice of tests/test_explain.py (most self-reports go to
the township and district; village petition agents move parties to the village). With common
random numbers every verdict is a deterministic statement about these replications, judged by
the sizing rule (one-sided Student-t bound at run.confidence), so the assertions are exact.
"""

from __future__ import annotations

import json

import pytest

import sim
from sim.cli.main import main
from sim.scenario.loading import validate_table
from sim.sizing import package_jump
from sim.sizing.confirmation import judge
from sim.sizing.levers import base_table
from sim.sizing.package_level import FRESH_SEED_OFFSET
from sim.sizing.size import size

from .scenarios import ROOT, SMALL
from .test_sizing import SIZED

FULL = ROOT / "scenarios" / "small_full.toml"
SEED = 11
# ENTRY's replications (the SE argument is next to its target); HEADCOUNT uses its own effort.
N, N_SEARCH = 8, 4
# Headcount binds: small.toml's sized variant, sweeps made dear (a million yuan an hour) so that
# headcount is the cheaper way to every target.
HEADCOUNT = [*SIZED, "levers.sweeps.unit_cost_yuan=1000000"]
# Entry binds (tests/test_explain.py's ENTRY): only villages' petition agents lift the ceiling
# of 小事不出村; the other measures are switched off to keep the run short.
ENTRY = [
    "run.horizon_days=240",
    "run.warmup_days=10",
    "run.drain_limit_days=120",
    "mechanisms.entry_choice=true",
    "entry.petition_agent=3.0",
    "petition_agents.coverage=0",
    "levers.petition_agents.step=0.25",
    "levers.training.enabled=false",
    "levers.gold_medal.enabled=false",
    "levers.experts.enabled=false",
    "levers.sweeps.enabled=false",
    "levers.mediation_share.enabled=false",
    "discovery.sweep_share=0.2",
    "discovery.self_report_entry={grid=0.05, village=0.05, township=0.6, district=0.3}",
    # Measured at seed 11 over 8 replications: no agents 0.28, half the villages 0.47, every
    # village 0.59, the replications' SD 0.05-0.07 (it hardly shrinks with a longer horizon:
    # most of it is between replications). With N = 8 the 95% one-sided bound lies
    # t(0.95, 7) * 0.067 / sqrt(8) ≈ 0.045 below the mean, so agents everywhere are judged
    # ≈ 0.545, 0.145 (six standard errors of the mean) above the target: a fresh seed missing
    # it with every agent bought is not a coin toss. No agents are judged ≈ 0.25, far below.
    "targets={minor_kept_in_village={at_least=0.40}}",
]
EFFORT = {"replications": N, "search_replications": N_SEARCH, "seed": SEED}


def _chosen_cost(result, demand: float = 1.0) -> float:
    f = result.frontier
    return float(f[(f["demand"] == demand) & f["chosen"]]["annual_cost_yuan"].iloc[-1])


@pytest.fixture(scope="module")
def entry():
    return size(FULL, ENTRY, demand=[1.0, 1.5], **EFFORT)


def test_only_headcount_binds_package_is_the_least_cost_staffing():
    # tests/test_sizing.py's effort: its targets are reachable by headcount at 4 replications.
    effort = {"replications": 4, "search_replications": 2, "seed": 7}
    package = size(SMALL, HEADCOUNT, allow_below_quota=True, **effort)
    staffing = size(SMALL, HEADCOUNT, allow_below_quota=True, package=False, **effort)
    assert package.mode == "package" and staffing.mode == "headcount"
    assert set(package.measures["lever"]) == {"sweeps"}
    assert (package.measures["steps"] == 0).all()
    # Before the confirmation with fresh seeds the package is today's least-cost staffing
    # (same seeds, same search); the fresh seeds may only add what they need.
    path = package.frontier
    searched = path[~path["step"].str.contains("confirmation")]["staffing"].iloc[-1]
    today = ";".join(f"{r.lever}={r.value}" for r in staffing.staffing.itertuples())
    assert searched == today
    assert (package.staffing["value"] >= staffing.staffing["value"]).all()


def test_entry_binds_package_buys_petition_agents_not_headcount(entry):
    m = entry.measures[entry.measures["demand"] == 1.0].set_index("lever")
    assert m.loc["petition_agents", "steps"] >= 1
    at_one = entry.staffing[entry.staffing["demand"] == 1.0]
    assert (at_one["value"] == at_one["floor"]).all()  # no mediator above the quotas
    assert (entry.targets["verdict"] == "met").all()


def test_jumps_reach_the_greedys_package(entry, monkeypatch):
    """The linearised jumps (sim/sizing/package_jump.py) end where the one-step greedy alone
    ends: the same petition-agent steps and staffing at demand 1.0 (the first level, so a run
    of it alone starts from the same floors)."""
    path = entry.frontier[entry.frontier["demand"] == 1.0]["step"]
    assert path.str.startswith("jump").any()  # the jump was taken, not left to the greedy
    monkeypatch.setattr(package_jump, "MAX_JUMPS", 0)
    greedy = size(FULL, ENTRY, demand=[1.0], **EFFORT)
    assert not greedy.frontier["step"].str.startswith("jump").any()
    at_one = entry.measures[entry.measures["demand"] == 1.0]
    assert greedy.measures["steps"].tolist() == at_one["steps"].tolist()
    staffing = entry.staffing[entry.staffing["demand"] == 1.0]
    assert greedy.staffing["value"].tolist() == staffing["value"].tolist()


def test_package_meets_targets_with_fresh_seeds_and_is_minimal(entry):
    """Confirmation: simulated anew (the public API) with the confirmation's fresh seed, the
    package meets every target; one step less of petition agents breaks a target."""
    m = entry.measures[entry.measures["demand"] == 1.0].set_index("lever")
    coverage = float(m.loc["petition_agents", "value"])
    fresh = SEED + FRESH_SEED_OFFSET

    def verdict(cov: float):
        # The package as sized (its staffing too), with the agents' coverage set anew.
        table, source = base_table(entry.scenario, [f"petition_agents.coverage={cov}"])
        scenario = validate_table(table, source)
        runs = sim.simulate(scenario, replications=N, seed=fresh)
        return judge(scenario.targets, runs.per_replication, scenario.run.confidence)

    assert verdict(coverage)["met"].all()
    assert not verdict(coverage - 0.25)["met"].all()
    minimal = entry.minimality[entry.minimality["demand"] == 1.0]
    assert len(minimal) and minimal["minimal"].all()


def test_cost_is_monotone_in_demand(entry):
    assert _chosen_cost(entry, 1.5) >= _chosen_cost(entry, 1.0)
    m = entry.measures.pivot_table(index="lever", columns="demand", values="steps")
    assert (m[1.5] >= m[1.0]).all()


def test_budget_ceiling_respected(entry):
    start = float(entry.frontier[entry.frontier["demand"] == 1.0]["annual_cost_yuan"].iloc[0])
    ceiling = (start + _chosen_cost(entry)) / 2
    capped = size(FULL, ENTRY, budget=ceiling, **EFFORT)
    assert _chosen_cost(capped) <= ceiling
    assert (capped.frontier["annual_cost_yuan"] <= ceiling).all()
    assert (capped.targets["verdict"] == "not_met").any()


def test_unreachable_target_is_an_answer(capsys):
    """小事不出村 ≥ 0.99: no package within the bounds reaches it: exit 0, verdict 不可达, the
    best attainable value with its interval, and the package that buys most of the gain."""
    # 3/2 replications: 0.99 is far above every agent bought (≈ 0.59), so the verdict does not
    # hinge on the standard error and the short run keeps the test quick.
    args = ["size", str(FULL), "-r", "3", "--search-replications", "2",
            "--seed", str(SEED), "--json", "-"]  # fmt: skip
    for o in [*ENTRY, "targets={minor_kept_in_village={at_least=0.99}}"]:
        args += ["--set", o]
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    # The progress lines judge "best so far" by the aim of the unreachable target, and say so
    # (by the target itself, nothing would ever be met and the line would read "none met").
    progress = [line for line in out.err.splitlines() if line.startswith("sim size: [")]
    assert "best meeting the aims so far" in progress[-1], progress[-1]
    data = json.loads(out.out)
    assert data["mode"] == "package"
    (target,) = data["targets"]
    assert target["verdict"] == "unreachable" and not target["met"]
    assert target["best_ci_low"] <= target["best_mean"] <= target["best_ci_high"] < 0.99
    assert "不可达" in target["verdict_label"] and "limits it" in target["note"]
    assert any(m["steps"] > 0 for m in data["measures"])


def test_headcount_only_keeps_exit_2(capsys):
    """--headcount-only is today's search: a target no staffing reaches is still exit 2."""
    args = ["size", str(FULL), "--quiet", "--headcount-only", "-r", str(N), "--seed", str(SEED)]
    for o in ENTRY:
        args += ["--set", o]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "minor_kept_in_village" in err and "generous staffing" in err


@pytest.mark.parametrize(
    ("path", "overrides", "active"),
    [
        (
            ROOT / "scenarios" / "qujiang.toml",
            [],
            {"training", "gold_medal", "experts", "sweeps", "mediation_share"},
        ),
        # The entry-binds district: petition agents active (inactive on Qujiang).
        (FULL, ["levers.training.enabled=false", *ENTRY[:6]], {"petition_agents"}),
    ],
)
def test_a_package_table_is_its_steps_table_with_its_staffing(path, overrides, active):
    """PackageSpace.table_of composes: the steps' table (stepped once) with the key's staffing
    applied. That holds because a measure's step writes only its own keys and apply_staffing
    only headcount keys; checked here against stepping each key from its own staffing, for
    keys that differ in both parts, with every measure builder active in one case or the
    other."""
    import random

    from sim.sizing.levers import levers
    from sim.sizing.package import PackageSpace, measures

    table, source = base_table(path, overrides)
    sc = validate_table(table, source)
    lv = levers(sc)
    ms = measures(table, source)
    assert {m.id for m in ms} >= active
    rng = random.Random(3)
    steps = [tuple(rng.randint(0, min(3, m.max_steps)) for m in ms) for _ in range(2)]
    composed = PackageSpace(table, source, lv, ms)
    for st in steps:
        staffings = [
            tuple(rng.randint(lever.floor, lever.ceiling) for lever in lv) for _ in range(3)
        ]
        keys = [composed.key(x, st) for x in staffings]
        composed.measure_yuan(keys[0])  # steps the first: the others are composed from it
        for key in keys[1:]:
            stepped = PackageSpace(table, source, lv, ms)._build(key)[0]
            assert composed.table_of(key) == stepped
            assert key not in composed._built  # it was composed, not stepped


def test_progress_prices_the_best_by_the_search_s_cost_and_reads_the_aims():
    """The progress line in package mode: 'best' is the cheapest met key by the cost callable
    (the search's yearly cost), keys it cannot price yet are left out, and a target replaced
    in place by its aim turns the wording to 'aims'. Three keys with known KPIs: A meets and
    costs 30 by the callable (10 simulated), B meets and costs 20 (40 simulated), C meets but
    is not priced."""
    import pandas as pd

    from sim.scenario.schema import Target
    from sim.sizing.progress import SizingProgress

    rows = {"A": 0.9, "B": 0.8, "C": 0.95}
    simulated = {"A": 10.0, "B": 40.0, "C": 1.0}

    class Runs:  # what the progress reads of Replications
        simulated, store = 0, None

        def staffings(self):
            return list(rows)

        def done(self, key):
            return 4

        def per_replication(self, key, n):
            kpi = [rows[key] + d for d in (-0.01, 0.0, 0.01, 0.0)]
            return pd.DataFrame({"kpi": kpi, "annual_cost_yuan": [simulated[key]] * 4})

    lines: list[str] = []
    targets = {"kpi": Target(at_least=0.99)}
    cost = {"A": 30.0, "B": 20.0, "C": None}
    log = SizingProgress(lines.append).watch(Runs(), targets, 0.9, 4, 4, (), cost.get)
    log("searching")
    assert "none met yet" in lines[-1]  # nothing reaches 0.99
    targets["kpi"] = Target(at_least=0.7)  # its aim, set in place as the package search does
    log("searching")
    assert "best meeting the aims so far: 20 yuan/yr (4 reps)" in lines[-1], lines[-1]
