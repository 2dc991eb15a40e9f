"""What binds (sim explain): the lever catalogue, paired effects with common random numbers, the
ceiling/retention verdict, the quota check's wording, the CLI, and serial == processes.

Two variants of scenarios/small_full.toml, short runs, fixed seeds. With common random numbers
the paired differences are deterministic for a seed, so "ranks first" and "the interval excludes
0" are exact statements about these replications.

* HEADCOUNT: one full-time township mediator per township, no part-timers there, long township
  sessions (median 60 h), quality off: the township desk is the bottleneck, and headcount at its
  upper bounds meets 大事不出镇 ≥ 0.6 while the base misses it.
* ENTRY: the entry choice on, most self-reports entering at the township and district (60%/30%),
  sweeps find only 20%, a strong petition-agent effect and no agents yet, light load: the
  ceiling (minor disputes that ever reach the village) is far below 小事不出村 ≥ 0.8.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sim
import sim.cli.main as cli_main
from sim.scenario.loading import load_scenario
from sim.sizing.catalogue import catalogue
from sim.sizing.confirmation import check_quotas
from sim.sizing.explain import explain, paired_effect
from sim.sizing.explain_output import format_explanation
from sim.sizing.levers import levers
from sim.sizing.output import format_quotas

from .scenarios import ROOT

FULL = ROOT / "scenarios" / "small_full.toml"
SEED = 11
N = 4
SHORT = ["run.horizon_days=120", "run.warmup_days=10", "run.drain_limit_days=120"]
HEADCOUNT = [
    *SHORT,
    "ladder.township.full_time=1",
    "ladder.township.part_time=0",
    'ladder.township.effort_hours={dist="lognormal", median=60.0, p90=120.0}',
    "targets={major_kept_in_township={at_least=0.6}}",
]
ENTRY = [
    *SHORT,
    "mechanisms.entry_choice=true",
    "entry.petition_agent=2.0",
    "petition_agents.coverage=0",
    "levers.petition_agents.step=1",
    "discovery.sweep_share=0.2",
    "discovery.self_report_entry={grid=0.05, village=0.05, township=0.6, district=0.3}",
    "targets={minor_kept_in_village={at_least=0.8}}",
]


@pytest.fixture
def cli():
    """``sim`` as installed: the explain command comes from pyproject's entry points."""
    return cli_main.main


# ----------------------------------------------------------------------------- unit


def test_paired_effect_is_the_mean_of_the_differences():
    base = np.array([0.5, 0.6, 0.7, np.nan])
    moved = np.array([0.6, 0.8, 0.7, 0.9])
    mean, lo, hi, n = paired_effect(base, moved)
    assert n == 3 and mean == pytest.approx(0.1)
    assert lo < 0.1 < hi
    # identical runs: no effect, and an interval [0, 0] that includes 0
    assert paired_effect(base[:3], base[:3])[:3] == (0.0, 0.0, 0.0)


def test_catalogue_costs_and_inactive_levers():
    sc = load_scenario(FULL, [*ENTRY, "costs.petition_agent_allowance_yuan=3000"])
    table = sc.model_dump(by_alias=True)
    lv = levers(sc, allow_below_quota=True)
    cat = {c.id: c for c in catalogue(table, sc.source_file, lv, tuple(x.start for x in lv))}
    # coverage 0 → 1: every one of the 5 villages gains an agent at 3,000 yuan a year
    agents = cat["petition_agents"]
    assert agents.active and agents.yuan_per_step == 5 * 3000
    assert agents.table is not None and agents.table["petition_agents"]["coverage"] == 1.0
    # township headcount: +1 in each of the 2 townships at the township salary
    town = cat["headcount.township"]
    assert town.yuan_per_step == 2 * sc.costs.full_time_salary_yuan.township
    # sweeps: 26 more a grid-year over 9 grids, 1 hour each [EST], 30 yuan an hour
    assert cat["sweeps"].yuan_per_step == pytest.approx(26 * 9 * 1.0 * 30.0)
    assert cat["sweeps"].table["discovery"]["sweep_interval_days"] == pytest.approx(
        365 / (365 / 7 + 26)
    )
    # quality off: training and grades cannot move an outcome; the reward never does
    assert not cat["training"].active and "quality" in cat["training"].note
    assert not cat["case_reward"].active


def test_levers_table_changes_no_simulation():
    """[levers] is read by sizing only: the registers with it set equal those without."""
    plain = sim.load_scenario(FULL, SHORT)
    tuned = sim.load_scenario(FULL, [*SHORT, "levers.training.step=4", "levers.sweeps.step=52"])
    a = sim.simulate(plain, replications=1, seed=SEED)
    b = sim.simulate(tuned, replications=1, seed=SEED)
    pd.testing.assert_frame_equal(a.per_replication, b.per_replication, check_exact=True)


# ----------------------------------------------------------------------------- behaviour


def test_headcount_binds_ranks_headcount_first():
    e = explain(FULL, HEADCOUNT, replications=N, seed=SEED)
    rows = e.effects[e.effects["kpi"] == "major_kept_in_township"].sort_values("rank")
    top = rows.iloc[0]
    assert top["lever"] == "headcount.township" and top["headcount"]
    assert top["gain"] > 0 and not top["includes_zero"]
    target = e.targets.loc["major_kept_in_township"]
    assert not target["met"] and target["generous_met"]
    assert target["binds"] == "headcount"
    assert e.headcount_short == ["major_kept_in_township"]


def test_entry_binds_ranks_entry_supply_above_headcount_and_quotas_not_blamed():
    e = explain(FULL, ENTRY, replications=N, seed=SEED)
    rows = e.effects[e.effects["kpi"] == "minor_kept_in_village"].set_index("lever")
    agents = rows.loc["petition_agents"]
    assert agents["gain"] > 0 and not agents["includes_zero"]
    heads = rows[rows["headcount"]]
    assert (heads["rank"] > agents["rank"]).all()
    assert (heads["per_10k_yuan"] < agents["per_10k_yuan"]).all()
    target = e.targets.loc["minor_kept_in_village"]
    assert target["binds"] == "ceiling"  # even keeping every case that reached the village
    assert target["part1_generous"] < 0.8
    assert "petition_agents" in target["best"]
    text = format_explanation(e)
    assert "petition_agents" in text and "ceiling" in text and "天花板" in text
    # The quota check: the target is missed, but not for want of headcount.
    verdict = check_quotas(FULL, ENTRY, replications=N, seed=SEED)
    assert not verdict.all_met
    assert verdict.headcount_short == [] and verdict.not_headcount == ["minor_kept_in_village"]
    printed = format_quotas(verdict)
    assert "NOT enough" not in printed and "定额不足" not in printed
    assert "ceiling" in printed and "petition_agents" in printed


def test_quota_check_says_not_enough_when_headcount_closes_the_gap():
    """At the quota staffing (township 2) the mean 0.59 misses 0.6; headcount at its ceiling
    meets it (one-sided bound above 0.6 in these replications)."""
    verdict = check_quotas(FULL, HEADCOUNT, replications=N, seed=SEED)
    assert not verdict.all_met
    assert verdict.headcount_short == ["major_kept_in_township"]
    assert "quotas NOT enough 定额不足" in format_quotas(verdict)


def test_same_numbers_serially_and_in_processes():
    args = (FULL, [*ENTRY, "run.horizon_days=60"])
    serial = explain(*args, replications=3, seed=SEED, workers=1)
    parallel = explain(*args, replications=3, seed=SEED, workers=2)
    pd.testing.assert_frame_equal(serial.effects, parallel.effects, check_exact=True)
    pd.testing.assert_frame_equal(serial.targets, parallel.targets, check_exact=True)


# ----------------------------------------------------------------------------- CLI


def test_cli_json_and_languages(cli, capsys):
    argv = ["explain", str(FULL), "-r", "2", "--seed", str(SEED)]
    argv += [x for o in [*ENTRY, "run.horizon_days=60"] for x in ("--set", o)]
    assert cli([*argv, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["replications"] == 2 and data["effect_confidence"] == 0.95
    assert {r["lever"] for r in data["catalogue"]} >= {"headcount.township", "petition_agents"}
    assert data["targets"][0]["binds"] == "ceiling"
    assert cli([*argv, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "what binds" in out and "制约" not in out
    assert cli([*argv, "--lang", "zh"]) == 0
    assert "制约因素分析" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--lang", "fr"], "--lang"),
        (["-r", "1"], "--replications"),
        (["--workers", "0"], "--workers"),
        (["--seed", "-1"], "--seed"),
        (["--set", "levers.training.step=-1"], "levers.training.step"),
        (["--set", "levers.nonsense.step=1"], "levers.nonsense"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_option(cli, capsys, extra, named):
    code = cli(["explain", str(FULL), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err and "Traceback" not in err


def test_cli_missing_file_exits_2(cli, capsys, tmp_path):
    code = cli(["explain", str(tmp_path / "nope.toml")])
    assert code == 2 and "nope.toml" in capsys.readouterr().err
