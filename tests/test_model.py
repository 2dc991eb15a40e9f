"""Model behaviour: conservation, Little's law, reproducibility, and the direction of effects."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import sim
from sim.model.replication import STATUSES

from .scenarios import ALL_OFF, SMALL

ESCALATIONS = {"escalated_failed", "escalated_time_limit", "escalated_no_mediator"}


@pytest.fixture(scope="module")
def small():
    return sim.load_scenario(SMALL)


@pytest.fixture(scope="module")
def small_runs(small):
    """Three replications of the small district with every mechanism on."""
    out = []
    for k in range(3):
        rep = sim.simulate_replication(small, replication=k, seed=5)
        cases = sim.case_table(rep)
        out.append((rep, cases, sim.register_table(rep, cases)))
    return out


# --------------------------------------------------------------------------- conservation
def test_every_case_is_accounted_for(small_runs):
    for _rep, cases, register in small_runs:
        assert cases["case_id"].is_unique
        assert set(cases["status"].astype(str)) <= set(STATUSES)
        # Ids run 0..n-1: no case created without a row, none recorded twice.
        assert sorted(cases["case_id"]) == list(range(len(cases)))
        assert len(cases) > 200
        steps = register.groupby("case_id")["step"].agg(["min", "max", "count"])
        assert (steps["min"] == 0).all()
        assert (steps["max"] + 1 == steps["count"]).all(), "steps are numbered 0..k"
        last = register.drop_duplicates("case_id", keep="last").set_index("case_id")
        earlier = register[register.duplicated("case_id", keep="last")]
        assert set(earlier["outcome"].astype(str)) <= ESCALATIONS
        status = cases.set_index("case_id")["status"].astype(str)
        outcome = last["outcome"].astype(str)
        expected = {
            "resolved": {"resolved", "resolved_on_the_spot"},
            "unresolved": {"unresolved"},
            "open": {"open"},
            "pending": ESCALATIONS,  # in transit between levels (or not yet found: no row)
        }
        for cid, out in outcome.items():
            assert out in expected[status[cid]], (cid, status[cid], out)
        no_rows = set(cases["case_id"]) - set(last.index)
        assert (status[list(no_rows)] == "pending").all()
        # Times run forwards within each step.
        started = register["started"].fillna(register["entered"])
        ended = register["ended"].fillna(np.inf)
        assert (register["entered"] <= started + 1e-9).all()
        assert (started <= ended + 1e-9).all()
        assert (register["entered"] >= register["arisen"] - 1e-9).all()


def test_littles_law_per_level(small_runs):
    for rep, _, register in small_runs:
        lo, hi = rep.window
        end = rep.end_time
        for level in sim.LEVELS:
            steps = register[register["level"] == level]
            ended = steps["ended"].fillna(end).clip(upper=end)
            # Sample path over the whole run: the gauge's integral is the time cases spent here.
            assert rep.areas_total[level] == pytest.approx(
                (ended - steps["entered"]).sum(), rel=1e-9
            )
            # Over the measurement window: L·T = λ·T·W up to the steps straddling its edges,
            # whose durations bound the difference exactly.
            inside = steps[(steps["entered"] >= lo) & (steps["entered"] < hi)]
            duration = steps["ended"].fillna(end) - steps["entered"]
            lam_w_t = (inside["ended"].fillna(end) - inside["entered"]).sum()
            l_t = rep.areas[level]["present"]
            straddling = ((steps["entered"] < lo) & (steps["ended"].fillna(end) > lo)) | (
                (steps["entered"] < hi) & (steps["ended"].fillna(end) > hi)
            )
            bound = duration[straddling].sum()
            assert abs(l_t - lam_w_t) <= bound + 1e-6, level
            if level != "grid":  # grids see few cases; the upper levels must carry load
                assert l_t > 0


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_same_register(small):
    a = sim.register_table(sim.simulate_replication(small, 1, seed=99))
    b = sim.register_table(sim.simulate_replication(small, 1, seed=99))
    pd.testing.assert_frame_equal(a, b)


def test_other_seed_or_replication_differs(small):
    a = sim.register_table(sim.simulate_replication(small, 1, seed=99))
    b = sim.register_table(sim.simulate_replication(small, 1, seed=100))
    c = sim.register_table(sim.simulate_replication(small, 2, seed=99))
    assert not a.equals(b)
    assert not a.equals(c)


def test_streams_are_independent_of_each_other():
    from sim.model.streams import stream

    before = stream(3, 0, "case").random(5)
    stream(3, 0, "a_new_mechanism").random(1000)
    assert np.array_equal(before, stream(3, 0, "case").random(5))
    assert not np.array_equal(before, stream(3, 0, "arrivals").random(5))


@pytest.mark.parametrize(
    "change",
    ["mechanisms.party_delays=false", "mechanisms.worsening=false", "ladder.township.full_time=5"],
)
def test_common_random_numbers_share_the_disputes(small, change):
    """Changing a mechanism or staffing leaves the disputes themselves unchanged."""
    variant = sim.load_scenario(SMALL, [change])
    cols = ["case_id", "arisen", "grid", "category", "severity_initial", "sensitive"]
    a = sim.case_table(sim.simulate_replication(small, 0, seed=4))[cols]
    b = sim.case_table(sim.simulate_replication(variant, 0, seed=4))[cols]
    pd.testing.assert_frame_equal(a, b)


def test_simulate_is_split_invariant(small):
    """Replication k gives the same numbers whether run alone or among others."""
    both = sim.simulate(small, replications=2, seed=8)
    second = sim.simulate(small, replications=1, seed=8, first_replication=1)
    pd.testing.assert_series_equal(
        both.per_replication.iloc[1], second.per_replication.iloc[0], check_names=False
    )


# --------------------------------------------------------------------------- behaviour
def _loaded(*extra: str) -> sim.Scenario:
    # A busier small district: township pools carry real queues.
    return sim.load_scenario(
        SMALL,
        [
            "arrivals.rate_per_1000_per_year=90",
            "ladder.township.part_time=0",
            "discovery.self_report_entry={village=0.3, township=0.7}",
            *extra,
        ],
    )


def test_more_township_mediators_never_worsen_township_waits():
    waits = []
    for n in (1, 2, 3, 4):
        res = sim.simulate(_loaded(f"ladder.township.full_time={n}"), replications=4, seed=21)
        waits.append(res.summary.loc["waiting_days.township", "mean"])
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(waits)), waits
    assert waits[0] > 2 * waits[-1], "the effect must be visible, not flat"


def test_shorter_time_limits_raise_escalation():
    long = sim.simulate(
        _loaded("ladder.township.full_time=1", "ladder.township.time_limit_days=60"), 3, seed=2
    )
    short = sim.simulate(
        _loaded("ladder.township.full_time=1", "ladder.township.time_limit_days=10"), 3, seed=2
    )
    key = "escalations_by_time_limit"
    assert short.summary.loc[key, "mean"] > long.summary.loc[key, "mean"]
    # Escalated cases go up: the district resolves more.
    assert (
        short.summary.loc["resolved_share.district", "mean"]
        > long.summary.loc["resolved_share.district", "mean"]
    )


def _discovery_delay(scenario: sim.Scenario) -> float:
    delays = []
    for k in range(2):
        reg = sim.register_table(sim.simulate_replication(scenario, k, seed=6))
        first = reg[(reg["step"] == 0) & (reg["channel"] == "sweep")]
        delays.extend((first["entered"] - first["arisen"]).tolist())
    return float(np.mean(delays))


def test_sweeping_every_3_days_finds_disputes_sooner_than_every_7():
    every_7 = _discovery_delay(sim.load_scenario(SMALL, ["discovery.sweep_interval_days=7"]))
    every_3 = _discovery_delay(sim.load_scenario(SMALL, ["discovery.sweep_interval_days=3"]))
    assert every_3 < every_7
    # With detection probability p the wait is interval × (1/2 + (1-p)/p): 1.83 and 4.28 days.
    assert every_3 == pytest.approx(3 * (0.5 + 0.1 / 0.9), rel=0.15)
    assert every_7 == pytest.approx(7 * (0.5 + 0.1 / 0.9), rel=0.15)


def test_unlimited_staff_and_fixed_durations_sum_the_steps():
    """No queues, fixed effort, certain failure below the district: time = sum of the steps."""
    overrides = [
        *ALL_OFF,
        "mechanisms.handover_delays=true",
        "discovery.self_report_entry={grid=1.0}",
    ]
    efforts = {"grid": 6.0, "village": 12.0, "township": 24.0, "district": 48.0}
    for level, hours in efforts.items():
        p = 1.0 if level == "district" else 0.0
        probs = f"{{minor={p}, major={p}, serious={p}}}"
        overrides += [
            f"ladder.{level}.part_time=200",
            f'ladder.{level}.effort_hours={{dist="fixed", value={hours}}}',
            f"ladder.{level}.resolve.full_time={probs}",
            f"ladder.{level}.resolve.part_time={probs}",
        ]
    overrides += [
        'channels.online_delay_days={dist="fixed", value=0.5}',
        "categories.neighbour.sensitive_share=0",
        "categories.family.sensitive_share=0",
        "categories.land.sensitive_share=0",
    ]
    scenario = sim.load_scenario(SMALL, overrides)
    rep = sim.simulate_replication(scenario, 0, seed=1)
    cases = sim.case_table(rep)
    expected = sum(efforts.values()) / 24 + 3 * 0.5
    days = cases["concluded"] - cases["arisen"]
    assert len(cases) > 100
    assert (cases["status"] == "resolved").all()
    assert np.allclose(days, expected), (days.min(), days.max(), expected)


def test_level_without_mediators_passes_cases_up(small):
    scenario = sim.load_scenario(
        SMALL, ["ladder.village.full_time=0", "ladder.village.part_time=0"]
    )
    res = sim.simulate(scenario, replications=1, seed=3, keep_tables=True)
    reg = res.registers[0]
    village = reg[reg["level"] == "village"]
    assert len(village) > 0
    assert (village["outcome"] == "escalated_no_mediator").all()
    assert res.summary.loc["resolved_share.village", "mean"] == 0


def test_initial_state_counts_enter_at_their_level(small):
    scenario = sim.load_scenario(
        SMALL,
        [
            'initial_state.open_cases=[{level="township", township="甲镇", count=12, '
            'severity="major"}, {level="village", township="Yixiang", village="Yixiang-V02", '
            "count=3}]"
        ],
    )
    rep = sim.simulate_replication(scenario, 0, seed=1)
    cases = sim.case_table(rep)
    reg = sim.register_table(rep, cases)
    initial = cases[cases["initial"]]
    assert len(initial) == 15
    first = reg[reg["initial"] & (reg["step"] == 0)]
    assert (first["channel"] == "initial").all()
    assert (first[first["level"] == "township"]["township"] == "甲镇").sum() == 12
    assert (first[first["level"] == "village"]["village"] == "Yixiang-V02").sum() == 3
    # They are served, but they are not counted in the KPIs of disputes arising in the window.
    assert set(initial["status"].astype(str)) <= {"resolved", "unresolved"}
    baseline = sim.kpis(sim.simulate_replication(small, 0, seed=1))
    assert sim.kpis(rep)["disputes"] == baseline["disputes"]


def test_initial_state_from_register_file(small, tmp_path):
    rep = sim.simulate_replication(sim.load_scenario(SMALL, ["run.drain=false"]), 0, seed=2)
    reg = sim.register_table(rep)
    reg.to_csv(tmp_path / "today.csv", index=False)
    n_open = int((reg["outcome"] == "open").sum())
    assert n_open > 0
    import shutil

    shutil.copy(SMALL, tmp_path / "small.toml")
    (tmp_path / "today.toml").write_text(
        'extends = "small.toml"\n[initial_state]\nregister_file = "today.csv"\n', encoding="utf-8"
    )
    scenario = sim.load_scenario(tmp_path / "today.toml")
    cases = sim.case_table(sim.simulate_replication(scenario, 0, seed=3))
    assert int(cases["initial"].sum()) == n_open
