"""Sizing (编制测算): the least-cost staffing meets every target and is minimal; headcount grows
with demand; an impossible request exits 2; the quota verdict and the outputs.

The sized district is scenarios/small.toml with more demand (so that staffing matters) and a
short horizon (so that the suite stays fast). Its targets are set between what the quota-free
floors and a generous staffing reach, so the search has work to do. Every claim is checked by
simulation through the public API (``sim.load_scenario`` with ``--set`` overrides and
``sim.simulate``) with the same seed and replications as the search: common random numbers make
the verdicts deterministic, so "removing one mediator breaks a target" is an exact statement
about these replications, judged by the same one-sided confidence rule the search uses.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.measures.township_kpis import TOWNSHIP_KPIS
from sim.sizing.confirmation import check_quotas, judge
from sim.sizing.feasibility import on_the_spot_ceiling
from sim.sizing.output import format_sizing
from sim.sizing.replications import run_replication
from sim.sizing.size import size

from .scenarios import SMALL

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


def _overrides(staffing) -> list[str]:
    """The sized staffing as --set overrides (an independent route to the same scenario)."""
    out = []
    for row in staffing.itertuples():
        kind, _, key = row.lever.partition(":")
        if kind == "district":
            out.append(f"ladder.district.full_time={row.value}")
        elif kind == "township":
            out.append(f"townships.{key}.full_time={row.value}")
        elif kind == "village":
            out.append(f"townships.{key}.villages_with_full_time={row.value}")
    return out


def _verdict(overrides: list[str]):
    scenario = sim.load_scenario(SMALL, [*SIZED, *overrides])
    results = sim.simulate(scenario, replications=REPLICATIONS, seed=SEED)
    return judge(scenario.targets, results.per_replication, scenario.run.confidence)


@pytest.fixture(scope="module")
def sized():
    return size(
        SMALL,
        SIZED,
        demand=[1.0, 1.4],
        allow_below_quota=True,
        replications=REPLICATIONS,
        search_replications=2,
        seed=SEED,
        package=False,  # headcount alone: the staffing search these tests are about
    )


def test_result_meets_every_target(sized):
    at_one = sized.staffing[sized.staffing["demand"] == 1.0]
    verdict = _verdict(_overrides(at_one))
    assert verdict["met"].all(), verdict
    mine = sized.targets[sized.targets["demand"] == 1.0].set_index("kpi")
    assert mine["met"].all()
    # The search had work to do: it is not simply the floors.
    assert (at_one["value"] > at_one["floor"]).any()


def test_removing_any_mediator_breaks_a_target(sized):
    at_one = sized.staffing[sized.staffing["demand"] == 1.0].reset_index(drop=True)
    checked = 0
    for i, row in at_one.iterrows():
        if row["value"] <= row["floor"]:
            continue  # the district keeps one mediator: nothing above it takes its cases
        fewer = at_one.copy()
        fewer.loc[i, "value"] = row["value"] - 1
        verdict = _verdict(_overrides(fewer))
        assert not verdict["met"].all(), f"without one of {row['lever']} every target holds"
        checked += 1
    assert checked >= 3


def test_headcount_never_decreases_with_demand(sized):
    low = sized.staffing[sized.staffing["demand"] == 1.0].set_index("lever")["full_time"]
    high = sized.staffing[sized.staffing["demand"] == 1.4].set_index("lever")["full_time"]
    assert (high >= low).all()
    assert sized.headcount(1.4) >= sized.headcount(1.0)
    assert not sized.infeasible


def test_budget_table_adds_up(sized):
    budget = sized.budget[sized.budget["demand"] == 1.0]
    total = budget[budget["item"] == "total"]["yuan_per_year"].iloc[0]
    parts = budget[budget["item"] != "total"]["yuan_per_year"].sum()
    assert total == pytest.approx(parts)
    salaries = budget[budget["item"] == "salary"]["yuan_per_year"].sum()
    staffing = sized.staffing[sized.staffing["demand"] == 1.0]
    # Salaries of the sized levers; the district committee's salary is one of them.
    assert salaries == pytest.approx(staffing["yuan_per_year"].sum())
    assert {"case_reward", "allowance"} <= set(budget["item"])
    frontier = sized.frontier
    assert frontier["chosen"].sum() == 2  # one per demand level
    assert sized.replications_simulated > 0


def test_infeasible_target_exits_2_without_searching(capsys):
    """An on-the-spot share above what sweeps can find: said at once, exit 2."""
    scenario = sim.load_scenario(SMALL)
    ceiling = on_the_spot_ceiling(scenario)
    code = main(
        ["size", str(SMALL), "--quiet", "--set", "targets.on_the_spot_share={at_least=0.5}"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "on_the_spot_share" in err and f"{ceiling:.3f}" in err
    assert "Traceback" not in err


def test_target_no_staffing_reaches_exits_2(capsys):
    """small.toml's own targets (小事不出村 ≥ 0.80) fail even with every village staffed.

    With --headcount-only (today's search) that is exit 2; the default package search answers
    it instead (tests/test_package.py: exit 0, verdict 不可达 unreachable).
    """
    code = main(
        ["size", str(SMALL), "--quiet", "--headcount-only", "-r", "3",
         "--set", "run.horizon_days=120"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "minor_kept_in_village" in err and "generous staffing" in err
    assert all(line.startswith("sim: error:") for line in err.strip().splitlines())


def test_the_answer_is_judged_in_every_township(sized):
    """townships: each township × each target with a per-township meaning, judged by the same
    rule over the same replications as the district; recomputed here from the sized scenario's
    own replications (run_replication, the sizing's unit of work), so equal to the bit."""
    at_one = sized.townships[sized.townships["demand"] == 1.0]
    scenario = sim.load_scenario(
        SMALL, [*SIZED, *_overrides(sized.staffing[sized.staffing["demand"] == 1.0])]
    )
    kpis = [k for k in scenario.targets if k in TOWNSHIP_KPIS]
    assert {"minor_kept_in_village", "major_kept_in_township"} <= set(kpis)
    assert sorted(at_one["kpi"].unique()) == sorted(kpis)
    assert set(at_one["township"]) == {"甲镇", "乙乡"} and len(at_one) == 2 * len(kpis)
    by_town = [run_replication(scenario, k, SEED).townships for k in range(REPLICATIONS)]
    for row in at_one.itertuples():
        values = pd.DataFrame({row.kpi: [t.loc[row.township, row.kpi] for t in by_town]})
        expected = judge({row.kpi: scenario.targets[row.kpi]}, values, scenario.run.confidence)
        assert row.mean == expected["mean"].iloc[0] and row.met == expected["met"].iloc[0]
        assert row.n == REPLICATIONS
    # The printout names the townships that miss, or says all meet.
    text = format_sizing(sized)
    assert "per township 分乡镇" in text and "met 达标 in " in text


def test_check_quotas_verdict(capsys):
    code = main(
        ["size", str(SMALL), "--check-quotas", "-r", "3", "--set", "run.horizon_days=120",
         "--json", "-"]
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["targets"][0]) >= {"kpi", "mean", "ci_low", "ci_high", "p_meet", "met"}
    townships = {row["township"] for row in data["townships"]}
    assert townships == {"甲镇", "乙乡"}
    # Quota staffing: township committees at 2 (the seed notice's quota).
    township_rows = [r for r in data["staffing"] if r["level"] == "township"]
    assert {r["value"] for r in township_rows} == {2}


def test_outputs_written(tmp_path, capsys):
    """Easy targets: met at the floors, so the search is short; every output is written."""
    out = tmp_path / "size"
    code = main(
        ["size", str(SMALL), "--quiet", "-r", "3", "--out", str(out),
         "--set", "run.horizon_days=90",
         "--set", 'targets={minor_kept_in_village={at_least=0.5}}']
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    for name in ("budget.csv", "staffing.csv", "targets.csv", "frontier.csv", "sizing.json"):
        assert (out / name).is_file(), name
    towns = pd.read_csv(out / "townships.csv", encoding="utf-8-sig")
    assert {"township 乡镇", "kpi 指标", "met 达标"} <= set(towns.columns) and len(towns) == 2
    assert (out / "frontier.png").stat().st_size > 1000
    header = (out / "budget.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    for word in ("层级", "专职人数", "年度成本(元)"):
        assert word in header
    data = json.loads((out / "sizing.json").read_text(encoding="utf-8"))
    assert data["replications_simulated"] > 0
    assert {r["kpi"] for r in data["townships"]} == {"minor_kept_in_village"}
    assert "年度成本(元)" in text


def test_same_numbers_serially_and_in_processes():
    """Common random numbers: replication k depends on (seed, k) only, not on the executor.

    The quota check's KPIs of every replication and its per-township verdicts, with one worker
    (this process) and with two worker processes, are bit-identical.
    """
    args = (SMALL, ["run.horizon_days=60", "run.warmup_days=10"])
    serial = check_quotas(*args, replications=3, seed=SEED, workers=1)
    parallel = check_quotas(*args, replications=3, seed=SEED, workers=2)
    pd.testing.assert_frame_equal(serial.targets, parallel.targets, check_exact=True)
    pd.testing.assert_frame_equal(serial.townships, parallel.townships, check_exact=True)
    assert serial.targets["n"].eq(3).all()


def test_bad_workers_exit_2(capsys):
    code = main(["size", str(SMALL), "--check-quotas", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--workers" in err and "Traceback" not in err
    with pytest.raises(sim.ScenarioError, match="--workers"):
        check_quotas(SMALL, replications=2, workers=0)


def test_township_kpis_use_the_district_definitions():
    """Relabel every dispute to one township: its row must equal the district-wide KPIs."""
    from sim.measures.kpis import kpis
    from sim.measures.township_kpis import TOWNSHIP_KPIS, township_kpis

    scenario = sim.load_scenario(SMALL, ["run.horizon_days=120"])
    rep = sim.simulate_replication(scenario, replication=0, seed=SEED)
    cases = sim.case_table(rep)
    register = sim.register_table(rep, cases)
    whole = kpis(rep, cases, register)
    first = rep.district.township_names[0]
    one = cases.assign(township=first)
    row = township_kpis(rep, one, register).loc[first]
    for name in TOWNSHIP_KPIS:
        assert row[name] == pytest.approx(whole[name], rel=1e-9, nan_ok=True), name
    both = township_kpis(rep, cases, register)
    assert both["disputes"].sum() == pytest.approx(whole["disputes"])
