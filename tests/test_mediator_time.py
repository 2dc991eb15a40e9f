"""Mediators' time (issue 13, item 1): mediation shares, travel, and sweeps as work.

docs/model.md "Mediators' time (调解时间)". Each test runs the small scenarios for a few
simulated years at most, with fixed seeds; the statistical checks state their tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.cli.main import main
from sim.measures.kpis import kpis
from sim.measures.register import case_table, register_table
from sim.model.replication import simulate_replication
from sim.scenario.errors import ScenarioError
from tests.scenarios import ALL_OFF, SMALL

ROOT = Path(__file__).resolve().parents[1]
SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
LEVELS4 = ("grid", "village", "township", "district")

# The new keys at their neutral values, written out.
NEUTRAL = [
    "calendars.full_time.mediation_share=1.0",
    "calendars.part_time.mediation_share=1.0",
    "experts.calendar.mediation_share=1.0",
    *(f"ladder.{lv}.travel_hours=0" for lv in LEVELS4),
    "sectors.labour.travel_hours=0",
    "stationed_rooms.court.travel_hours=0",
    "district_centre.joint.travel_hours=0",
    "townships.Jiazhen.travel_factor=1.0",
    "townships.Yixiang.travel_factor=1.0",
    "discovery.sweep_hours_per_grid=0",
]


def _tables(path: Path, sets: list[str], replication: int = 0):
    rep = simulate_replication(sim.load_scenario(path, sets), replication)
    cases = case_table(rep)
    return rep, cases, register_table(rep, cases)


# ----------------------------------------------------------------------------- neutral


def test_neutral_values_give_todays_registers():
    """The keys at their neutral values, or the switch off, change nothing at all."""
    _, cases0, reg0 = _tables(SMALL_FULL, [])
    for sets in (NEUTRAL, ["mechanisms.mediator_time=false"]):
        _, cases, reg = _tables(SMALL_FULL, sets)
        pd.testing.assert_frame_equal(reg, reg0)
        pd.testing.assert_frame_equal(cases, cases0)


@pytest.mark.parametrize(
    "sets",
    [
        ["calendars.part_time.mediation_share=0.5"],
        ["ladder.village.travel_hours=1.5"],
        ["discovery.sweep_hours_per_grid=1.0"],
    ],
)
def test_each_key_acts_and_the_switch_silences_it(sets):
    _, _, reg0 = _tables(SMALL_FULL, [])
    _, _, reg = _tables(SMALL_FULL, sets)
    assert not reg.equals(reg0), f"{sets} changed nothing"
    _, _, off = _tables(SMALL_FULL, [*sets, "mechanisms.mediator_time=false"])
    pd.testing.assert_frame_equal(off, reg0)


# ----------------------------------------------------------------------------- closed form


def test_utilisation_matches_offered_work_over_mediation_time():
    """Round the clock, exponential effort, low load: utilisation of the grid pool is
    λ·(E[S] + E[travel]) + sweeps, over c · share · 24 h.

    The estimate sums the work of the steps entered in the window, a compound Poisson sum:
    its variance is λ·H·E[(S + T)²] (S exponential, T the travel of the dispute's township). The
    sweep work is deterministic but for one round per grid at either edge of the window. The
    tolerance is 4 standard errors plus that edge.
    """
    share, travel, sweep_hours, interval = 0.5, 2.0, 0.5, 7.0
    factors = {"Jiazhen": 1.0, "Yixiang": 1.5}  # 6,000 and 3,000 residents
    horizon = 2000.0
    sets = [
        *(s for s in ALL_OFF if s != "mechanisms.mediator_time=false"),
        "mechanisms.sweeps=true",
        "discovery.sweep_share=1.0",
        f"discovery.sweep_interval_days={interval}",
        "discovery.detect_probability=1.0",
        f"discovery.sweep_hours_per_grid={sweep_hours}",
        f"run.horizon_days={horizon}",
        "run.warmup_days=50",
        "ladder.grid.part_time=1",
        "ladder.grid.full_time=0",
        'ladder.grid.effort_hours={dist="exponential", mean=12.0}',
        f"ladder.grid.travel_hours={travel}",
        f"calendars.part_time.mediation_share={share}",
        *(f"townships.{t}.travel_factor={f}" for t, f in factors.items()),
    ]
    sc = sim.load_scenario(SMALL, sets)
    k = kpis(simulate_replication(sc, 0))
    grids = 9
    lam = sc.population * sc.arrivals.rate_per_1000_per_year / 1000.0 / 365.0  # per day
    t_mean = travel * (6000 * 1.0 + 3000 * 1.5) / 9000
    t_sq = travel**2 * (6000 * 1.0 + 3000 * 1.5**2) / 9000
    s_mean = 12.0
    work_per_day = lam * (s_mean + t_mean) + grids * sweep_hours / interval
    capacity_per_day = grids * share * 24.0
    expected = work_per_day / capacity_per_day
    # E[(S+T)^2] = 2 s^2 + 2 s E[T] + E[T^2]
    var = lam * horizon * (2 * s_mean**2 + 2 * s_mean * t_mean + t_sq)
    se = math.sqrt(var) / (capacity_per_day * horizon)
    edge = 2 * grids * sweep_hours / (capacity_per_day * horizon)
    assert expected < 0.2  # low load, as the closed form wants
    assert abs(k["utilization.grid"] - expected) < 4 * se + edge, (k["utilization.grid"], expected)


def test_mediation_share_is_a_slower_server_in_erlang_c():
    """Round the clock, share s: each pool is M/M/c with service E[S]/s (the mediator is held
    1/s as long), so the grid worker's mean wait is the M/M/1 one, ρ/(1 − ρ)·E[S]/s.

    The mean wait over n steps has a standard error we do not know in closed form (waits are
    correlated); 8 independent replications give it empirically, and the check is 4 of them.
    """
    share = 0.25
    sets = [
        *(s for s in ALL_OFF if s != "mechanisms.mediator_time=false"),
        "run.horizon_days=1500",
        "run.warmup_days=100",
        "ladder.grid.part_time=1",
        "ladder.grid.full_time=0",
        'ladder.grid.effort_hours={dist="exponential", mean=12.0}',
        f"calendars.part_time.mediation_share={share}",
        "discovery.self_report_entry={grid=1.0}",
    ]
    sc = sim.load_scenario(SMALL, sets)
    waits = [kpis(simulate_replication(sc, r))["waiting_days.grid"] for r in range(8)]
    service = 12.0 / share / 24.0  # days
    # Grids are equal in population here only by township: 5 grids share 6,000, 4 share 3,000.
    lam_total = sc.population * sc.arrivals.rate_per_1000_per_year / 1000.0 / 365.0
    rates = [lam_total * 6000 / 9000 / 5] * 5 + [lam_total * 3000 / 9000 / 4] * 4
    expected = sum(r * (r * service / (1 - r * service)) * service for r in rates) / sum(rates)
    mean = float(np.mean(waits))
    se = float(np.std(waits, ddof=1)) / math.sqrt(len(waits))
    assert abs(mean - expected) < 4 * se, (mean, expected, se)


# ----------------------------------------------------------------------------- behaviour


def _resolved_by_level(reg: pd.DataFrame) -> pd.DataFrame:
    """Per case: resolved at or below each ladder level (booleans), from its register rows."""
    res = reg[reg["outcome"].astype(str).str.startswith("resolved")]
    out = pd.DataFrame(index=pd.Index(sorted(reg["case_id"].unique()), name="case_id"))
    rank = {lv: i for i, lv in enumerate(LEVELS4)}
    level = res.set_index("case_id")["level"].astype(str).map(lambda v: rank.get(v, 9))
    for i, lv in enumerate(LEVELS4):
        out[lv] = out.index.isin(level[level <= i].index)
    return out


@pytest.mark.parametrize("replication", [0, 1])
def test_more_mediation_time_never_lowers_settlement(replication):
    """With common random numbers, raising the part-timers' mediation share never lowers, for
    any dispute, whether it is settled at or below each level (its chance at each step: the
    outcome uniform is the dispute's own, and more time only lets the step finish in time).

    Kind and severity must not move with the share for this to be exact: resolution chances
    equal for both kinds, no worsening, no overload, no petitions, one session per step.
    """
    base = [
        "mechanisms.worsening=false",
        "mechanisms.overload=false",
        "mechanisms.party_delays=false",
        "arrivals.rate_per_1000_per_year=10",
    ]
    for lv in LEVELS4:
        base.append(
            f"ladder.{lv}.resolve.part_time={{minor=0.6, major=0.5, serious=0.4}}",
        )
        base.append(
            f"ladder.{lv}.resolve.full_time={{minor=0.6, major=0.5, serious=0.4}}",
        )
    previous = None
    for share in (0.05, 0.2, 1.0):
        _, _, reg = _tables(
            SMALL, [*base, f"calendars.part_time.mediation_share={share}"], replication
        )
        now = _resolved_by_level(reg)
        if previous is not None:
            assert now.index.equals(previous.index)
            worse = (previous & ~now).any(axis=1)
            assert not worse.any(), f"share {share}: cases {list(now.index[worse])[:5]}"
            assert (now.to_numpy().sum() > previous.to_numpy().sum()) or share == 1.0
        previous = now


def test_headcount_changes_only_waiting_times_at_low_load():
    """Quality effects off (resolution by level only), round the clock, no time limits: one
    more township mediator leaves every register outcome as it was and no township wait longer
    (first come, first served with the same arrivals and efforts)."""
    sets = [
        "mechanisms.working_calendar=false",
        "mechanisms.time_limits=false",
        "mechanisms.worsening=false",
        "mechanisms.overload=false",
        "mechanisms.party_delays=false",
        "ladder.township.resolve.part_time={minor=0.8, major=0.7, serious=0.5}",
        "calendars.part_time.mediation_share=0.3",
        "ladder.township.travel_hours=1.0",
        "ladder.township.part_time=1",
    ]
    _, cases0, reg0 = _tables(SMALL, [*sets, "ladder.township.full_time=0"])
    _, cases1, reg1 = _tables(SMALL, [*sets, "ladder.township.full_time=2"])
    key = ["case_id", "step"]
    a, b = reg0.set_index(key).sort_index(), reg1.set_index(key).sort_index()
    assert a.index.equals(b.index)
    for col in ("level", "unit", "outcome", "severity"):
        assert (a[col].astype(str) == b[col].astype(str)).all(), col
    assert (cases0.set_index("case_id")["status"] == cases1.set_index("case_id")["status"]).all()
    town = a["level"].astype(str) == "township"
    wait0 = (a["started"] - a["entered"])[town]
    wait1 = (b["started"] - b["entered"])[town]
    assert (wait1 <= wait0 + 1e-9).all()
    assert wait1.sum() < wait0.sum()  # and the extra mediators do shorten some waits


def test_full_time_township_mediators_raise_major_kept_when_part_timers_have_no_time():
    """Part-timers give 5% of their time to mediation and demand is three times as high:
    adding township full-time mediators raises 大事不出镇 (paired over replications).

    Why it works (docs/model.md): a free full-time mediator is taken before a part-timer, and a
    part-timer at 5% holds a 6-hour case for 120 of their evening hours, past the 30-day limit
    and the parties' patience; more full-time mediators take the cases the part-timers took.
    """
    base = ["calendars.part_time.mediation_share=0.05", "arrivals.rate_per_1000_per_year=90"]
    reps = 4
    diffs = []
    for r in range(reps):
        kept = []
        for full_time in (2, 4):
            sc = sim.load_scenario(SMALL_FULL, [*base, f"ladder.township.full_time={full_time}"])
            kept.append(kpis(simulate_replication(sc, r))["major_kept_in_township"])
        diffs.append(kept[1] - kept[0])
    d = np.asarray(diffs)
    half = stats.t.ppf(0.975, reps - 1) * d.std(ddof=1) / math.sqrt(reps)
    assert d.mean() - half > 0, (d, half)


def test_sweeps_as_work_take_the_grid_workers_time():
    """Sweeps cost the grid pool's time: more hours per sweep, later sweeps and more work."""
    sets = ["mechanisms.worsening=false"]
    rep0, _, reg0 = _tables(SMALL, sets)
    rep1, _, reg1 = _tables(SMALL, [*sets, "discovery.sweep_hours_per_grid=3.0"])
    swept = reg0["channel"].astype(str) == "sweep"
    first0 = reg0[swept & (reg0["step"] == 0)].set_index("case_id")["entered"]
    swept1 = reg1["channel"].astype(str) == "sweep"
    first1 = reg1[swept1 & (reg1["step"] == 0)].set_index("case_id")["entered"]
    both = first0.index.intersection(first1.index)
    assert len(both) > 50
    # A sweep ends its hours after it was due, or later when the worker is busy: never earlier.
    assert (first1[both] >= first0[both] - 1e-9).all()
    assert (first1[both] > first0[both] + 1e-9).mean() > 0.9
    assert rep1.effort_hours["grid"] > rep0.effort_hours["grid"]


def test_conservation_with_mediator_time_on():
    """Every dispute that arose is concluded or still open, and each has its steps, with every
    part of mediators' time on."""
    sets = [
        "calendars.part_time.mediation_share=0.2",
        "ladder.village.travel_hours=1.0",
        "ladder.township.travel_hours=2.0",
        "townships.Yixiang.travel_factor=2.0",
        "discovery.sweep_hours_per_grid=1.0",
    ]
    rep, cases, reg = _tables(SMALL_FULL, sets)
    assert cases["case_id"].is_unique
    assert set(reg["case_id"]) <= set(cases["case_id"])
    counts = reg.groupby("case_id").size()
    steps = cases.set_index("case_id")["steps"]
    assert (counts.reindex(steps.index, fill_value=0) == steps).all()
    assert set(cases["status"].astype(str)) <= {
        "resolved",
        "unresolved",
        "open",
        "pending",
        "petitioned",
    }
    assert rep.effort_hours["grid"] > 0


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("calendars.part_time.mediation_share", "0"),
        ("calendars.full_time.mediation_share", "1.5"),
        ("ladder.village.travel_hours", "-1"),
        ("townships.Jiazhen.travel_factor", "-0.5"),
        ("discovery.sweep_hours_per_grid", "-2"),
    ],
)
def test_bad_values_exit_2_naming_the_key(key, value, capsys):
    with pytest.raises(ScenarioError):
        sim.load_scenario(SMALL, [f"{key}={value}"])
    status = main(["validate", str(SMALL), "--set", f"{key}={value}"])
    assert status == 2
    err = capsys.readouterr().err
    assert key.split(".")[-1] in err and value in err
    assert "Traceback" not in err
