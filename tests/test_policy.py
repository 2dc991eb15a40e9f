"""The mechanisms around the ladder (issue 3): off reproduces the core, on does what it should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.scenario.loading import read_scenario_table, validate_table

from .scenarios import ROOT, SMALL

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"

# Each switch with the scenario section that feeds it.
POLICY_MECHANISMS = {
    "sector_committees": "sectors",
    "enterprise_committees": "enterprise",
    "stationed_rooms": "stationed_rooms",
    "joint_mediation": "district_centre",
    "experts": "experts",
    "petitions": "petitions",
}
CORE_COLUMNS = [
    "case_id", "step", "level", "unit", "channel", "entered", "started", "ended", "outcome",
    "mediator_kind", "effort_hours", "severity",
]  # fmt: skip


def _register(scenario: sim.Scenario, seed: int = 3) -> pd.DataFrame:
    return sim.register_table(sim.simulate_replication(scenario, 0, seed=seed))


def _without(section: str) -> sim.Scenario:
    """small_full with one section removed (and category links to it cut)."""
    table = read_scenario_table(SMALL_FULL)
    del table[section]
    for cat in table["categories"].values():
        if section == "sectors":
            cat.pop("sector", None)
        if section == "enterprise":
            cat.pop("enterprise_share", None)
        if section == "district_centre":
            cat.pop("departments", None)
    return validate_table(table, str(SMALL_FULL))


@pytest.mark.parametrize("mechanism", list(POLICY_MECHANISMS))
def test_switching_a_mechanism_off_is_leaving_it_out(mechanism):
    off = sim.load_scenario(SMALL_FULL, [f"mechanisms.{mechanism}=false"])
    absent = _without(POLICY_MECHANISMS[mechanism])
    pd.testing.assert_frame_equal(_register(off)[CORE_COLUMNS], _register(absent)[CORE_COLUMNS])


def test_all_policy_mechanisms_off_reproduce_the_core_model():
    core = sim.load_scenario(SMALL)
    full_off = sim.load_scenario(SMALL_FULL, [f"mechanisms.{m}=false" for m in POLICY_MECHANISMS])
    # small_full changes the category mix; give the core the same mix to compare like with like.
    table = read_scenario_table(SMALL_FULL)
    for key in POLICY_MECHANISMS.values():
        del table[key]
    for cat in table["categories"].values():
        for k in ("sector", "enterprise_share", "departments"):
            cat.pop(k, None)
    table["costs"] = read_scenario_table(SMALL)["costs"]
    core_same_mix = validate_table(table, "core")
    a, b = _register(full_off), _register(core_same_mix)
    pd.testing.assert_frame_equal(a[CORE_COLUMNS], b[CORE_COLUMNS])
    assert not _register(core).equals(a), "the mix differs, so this must differ"


@pytest.fixture(scope="module")
def full_runs():
    scenario = sim.load_scenario(SMALL_FULL)
    return sim.simulate(scenario, replications=4, seed=9, keep_tables=True)


def test_each_mechanism_is_used(full_runs):
    s = full_runs.summary["mean"]
    for venue in ("sector", "enterprise", "joint", "stationed_room"):
        assert s[f"resolved_share.{venue}"] > 0, venue
    assert s["petitions_per_year"] > 0
    assert s["expert_cases_per_year"] > 0
    assert s["skip_level_petitions_per_year"] > 0
    reg = pd.concat(full_runs.registers)
    assert (reg["outcome"] == "returned_to_court").any()
    assert (reg["outcome"] == "petitioned").any()
    # Sector disputes never reach the district committee; they go to their committee.
    sector_rows = reg[reg["category"].isin(["labour", "traffic"])]
    assert not (sector_rows["level"] == "district").any()
    assert set(reg[reg["level"] == "sector"]["category"]) <= {"labour", "traffic"}


def test_conservation_with_everything_on(full_runs):
    for cases, reg in zip(full_runs.cases, full_runs.registers, strict=True):
        assert sorted(cases["case_id"]) == list(range(len(cases)))
        steps = reg.groupby("case_id")["step"].agg(["min", "max", "count"])
        assert (steps["min"] == 0).all() and (steps["max"] + 1 == steps["count"]).all()
        last = reg.drop_duplicates("case_id", keep="last").set_index("case_id")["outcome"]
        status = cases.set_index("case_id")["status"].astype(str)
        for cid, out in last.astype(str).items():
            expected = {
                "resolved": {"resolved", "resolved_on_the_spot"},
                "unresolved": {"unresolved", "returned_to_court"},
                "petitioned": {"petitioned", "escalated_failed", "escalated_time_limit"},
                "open": {"open"},
                "pending": {"escalated_failed", "escalated_time_limit", "escalated_no_mediator"},
            }[status[cid]]
            assert out in expected, (cid, status[cid], out)
        assert (
            cases["steps"]
            == reg.groupby("case_id").size().reindex(cases["case_id"]).fillna(0).to_numpy()
        ).all()


def test_littles_law_with_everything_on():
    scenario = sim.load_scenario(SMALL_FULL)
    rep = sim.simulate_replication(scenario, 0, seed=2)
    reg = sim.register_table(rep)
    for venue in sim.scenario.vocabulary.VENUES:
        steps = reg[reg["level"] == venue]
        ended = steps["ended"].fillna(rep.end_time).clip(upper=rep.end_time)
        assert rep.areas_total[venue] == pytest.approx(
            (ended - steps["entered"]).sum(), rel=1e-9, abs=1e-9
        )


def _mean_days(results: sim.Results, severity: str, level: str) -> float:
    days = []
    for cases, reg in zip(results.cases, results.registers, strict=True):
        last = reg.drop_duplicates("case_id", keep="last")
        ids = last[(last["level"] == level) & (last["outcome"] == "resolved")]["case_id"]
        c = cases[cases["case_id"].isin(ids) & (cases["severity_initial"] == severity)]
        days.extend((c["concluded"] - c["arisen"]).tolist())
    return float(np.mean(days))


def test_more_expert_capacity_shortens_major_cases():
    base = [
        "arrivals.rate_per_1000_per_year=90",
        "experts.required={minor=0.0, major=1.0, serious=1.0}",
        'experts.at=["district", "sector", "joint"]',
        "mechanisms.petitions=false",
    ]
    few = sim.simulate(
        sim.load_scenario(SMALL_FULL, [*base, "experts.members=1"]), 3, seed=4, keep_tables=True
    )
    many = sim.simulate(
        sim.load_scenario(SMALL_FULL, [*base, "experts.members=8"]), 3, seed=4, keep_tables=True
    )
    assert _mean_days(many, "major", "sector") < _mean_days(few, "major", "sector")


def test_lower_patience_raises_petitions():
    patient = sim.simulate(
        sim.load_scenario(
            SMALL_FULL, ["petitions.patience_days={minor=200.0, major=150.0, serious=100.0}"]
        ),
        3,
        seed=5,
    )
    impatient = sim.simulate(
        sim.load_scenario(
            SMALL_FULL, ["petitions.patience_days={minor=15.0, major=10.0, serious=7.0}"]
        ),
        3,
        seed=5,
    )
    key = "petitions_per_year"
    assert impatient.summary.loc[key, "mean"] > 2 * patient.summary.loc[key, "mean"]


def test_more_leader_cases_raise_backlog_resolution():
    heavy = [
        "petitions.patience_days={minor=10.0, major=7.0, serious=5.0}",
        "petitions.resolve_probability=0.1",
        "run.horizon_days=730",
    ]
    few = sim.simulate(
        sim.load_scenario(SMALL_FULL, [*heavy, "petitions.leader_cases=1"]), 3, seed=6
    )
    many = sim.simulate(
        sim.load_scenario(SMALL_FULL, [*heavy, "petitions.leader_cases=30"]), 3, seed=6
    )
    key = "backlog_resolution_rate"
    assert many.summary.loc[key, "mean"] > few.summary.loc[key, "mean"] + 0.1


def test_joint_mediation_under_heavy_load_does_not_deadlock():
    """Every district case needs three departments of single staff: the worst case for waits."""
    scenario = sim.load_scenario(
        SMALL_FULL,
        [
            "arrivals.rate_per_1000_per_year=200",
            "district_centre.joint_share={minor=1.0, major=1.0, serious=1.0}",
            "district_centre.summon_probability={minor=1.0, major=1.0, serious=1.0}",
            "district_centre.departments_per_case=3",
            "ladder.township.time_limit_days=5",
            "district_centre.joint.time_limit_days=1000",
            "mechanisms.petitions=false",
            "run.drain_limit_days=3650",
        ],
    )
    rep = sim.simulate_replication(scenario, 0, seed=7)
    cases = sim.case_table(rep)
    reg = sim.register_table(rep, cases)
    joint = reg[reg["level"] == "joint"]
    assert len(joint) > 200, "the joint desk must be loaded"
    assert joint["started"].notna().all()
    # Drained to the end: nothing is left waiting, every case is accounted for.
    assert set(cases["status"].astype(str)) <= {"resolved", "unresolved"}


def test_cost_table_adds_up_to_the_kpi(full_runs):
    from sim.measures.costs import cost_table

    scenario = sim.load_scenario(SMALL_FULL)
    rep = sim.simulate_replication(scenario, 0, seed=9)
    reg = sim.register_table(rep)
    table = cost_table(rep, reg)
    assert set(table["item"]) >= {"salary", "allowance", "case_reward", "expert_fee"}
    assert sim.kpis(rep)["annual_cost_yuan"] == pytest.approx(table["yuan_per_year"].sum())
    sector_salary = table[(table["item"] == "salary") & (table["where"] == "sector")]
    assert float(sector_salary["yuan_per_year"].iloc[0]) == 6 * 90000


def test_quota_warnings_cover_committees():
    from sim.measures.quotas import quota_warnings

    scenario = sim.load_scenario(
        SMALL_FULL, ["sectors.labour.full_time=2", "stationed_rooms.court.full_time=1"]
    )
    text = "\n".join(quota_warnings(scenario))
    assert "labour" in text and "court" in text


def test_patience_spent_during_a_session_stops_the_next_queue():
    """A party whose patience ran out during a session does not queue for the next one.

    One township mediator, two open cases at time 0, fixed effort of one day per session and a
    fixed 0.1-day gap. The impatient major case (patience ≈ 0.01 day) takes the mediator first;
    the patient minor case takes it at day 1. At day 1.1 the major case would have to queue for
    its second session: it petitions there and then instead of waiting until day 2.
    """
    off = [
        f"mechanisms.{m}=false"
        for m in sim.Scenario.model_fields["mechanisms"].annotation.model_fields
    ]
    scenario = sim.load_scenario(
        SMALL_FULL,
        [
            *off,
            "mechanisms.petitions=true",
            "mechanisms.party_delays=true",
            "arrivals.rate_per_1000_per_year=0",
            "petitions.patience_days={minor=1000000.0, major=0.01, serious=0.01}",
            "ladder.township.full_time=1",
            "ladder.township.part_time=0",
            'ladder.township.effort_hours={dist="fixed", value=48.0}',
            "ladder.township.sessions=2",
            'ladder.township.party_delay_days={dist="fixed", value=0.1}',
            'initial_state.open_cases=[{level="township", township="甲镇", count=1, '
            'severity="major"}, {level="township", township="甲镇", count=1, severity="minor"}]',
        ],
    )
    reg = _register(scenario, seed=1)
    major = reg[reg["case_id"] == 0].iloc[0]
    minor = reg[reg["case_id"] == 1].iloc[0]
    assert major["started"] == pytest.approx(0.0)
    assert minor["started"] == pytest.approx(1.0)
    assert major["outcome"] == "petitioned"
    assert major["ended"] == pytest.approx(1.1)


def test_time_limit_at_a_stationed_room_returns_the_case_to_court():
    scenario = sim.load_scenario(
        SMALL_FULL,
        ["stationed_rooms.court.time_limit_days=0.5", "stationed_rooms.court.full_time=1"],
    )
    reg = _register(scenario, seed=13)
    room = reg[reg["level"] == "stationed_room"]
    assert (room["outcome"] == "returned_to_court").any()
    assert not (room["outcome"] == "unresolved").any()
