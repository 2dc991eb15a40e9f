"""The notice's measures around petitions and the court (issue 15, items 3–5).

Each is switched in ``[mechanisms]`` and off by default: ``petition_agent_effect`` (信访代办员:
变群众跑为干部跑), ``petition_history`` (skip-level and repeat shares by the case's history),
``petition_mediation`` (访调对接), ``leader_visits`` (领导干部下访约访, 教育疏导), the backlog stock
``initial_state.backlog_cases`` (积案) and ``court_linkage`` (诉调衔接, 诉前委派). These tests
check that off, or on at neutral values, they leave today's tables untouched; that on they route
as docs/model.md says, each in a small case whose outcome is certain; that adding petition
agents never makes a dispute petition (common random numbers); and conservation and Little's law
with everything on.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy

import sim
from sim.measures.notice_kpis import notice_kpis
from sim.measures.register import petition_table
from sim.model.cases import H_FAILED, H_TIMED_OUT, _Case
from sim.model.layout import PETITION_FIELDS
from sim.model.petitions import _Petitions, _shift
from sim.model.records import RecordLog
from sim.model.streams import Uniforms, stream

from .scenarios import ROOT
from .test_notice_mechanisms import _digests, _run, _township_centre

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
BASE = ["run.horizon_days=300"]
SWITCHES = (
    "petition_agent_effect",
    "petition_history",
    "petition_mediation",
    "leader_visits",
    "court_linkage",
)
ALL_ON = [f"mechanisms.{m}=true" for m in SWITCHES]
ESCALATIONS = {"escalated_failed", "escalated_time_limit", "escalated_no_mediator"}


# --------------------------------------------------------------------------- off and neutral
def check_off_and_neutral(unusual: list[str], neutral: list[str]) -> None:
    """With ``unusual`` keys but their switches off, and with ``neutral`` (switches on at
    neutral values), the tables of SMALL_FULL are today's, digest for digest."""
    today = _digests(*_run(sim.load_scenario(SMALL_FULL, BASE)))
    # Off, the keys are ignored however set.
    assert _digests(*_run(sim.load_scenario(SMALL_FULL, [*BASE, *unusual]))) == today
    # On at neutral values, nothing moves either.
    assert _digests(*_run(sim.load_scenario(SMALL_FULL, [*BASE, *neutral]))) == today


def test_off_or_neutral_reproduces_todays_tables() -> None:
    unusual = [
        "petition_agents.coverage=1",
        "petitions.links.agent_give_up_factor=0.2",
        "petitions.links.agent_skip_level_factor=0",
        "petitions.links.mediation_share=1",
        "petitions.links.visit_review_log_odds=3",
        "petitions.links.counselling_repeat_factor=0",
        "petitions.history.failed=5",
        "court.litigation_share=1",
        "court.delegation_share=1",
    ]
    neutral = [
        *ALL_ON,
        "petition_agents.coverage=1",
        "petitions.links.agent_give_up_factor=1",
        "petitions.links.agent_skip_level_factor=1",
        "petitions.links.mediation_share=0",
        "petitions.links.visit_review_log_odds=0",
        "petitions.links.counselling_repeat_factor=1",
        "petitions.history={failed=0, timed_out=0, petitioned_before=0}",
        "court.litigation_share=0",
    ]
    check_off_and_neutral(unusual, neutral)


# --------------------------------------------------------------------------- 信访代办员
def _first_petitions(rep) -> pd.DataFrame:
    pets = petition_table(rep)
    return pets[~pets["repeat"]].set_index("case_id")


def test_agents_never_make_a_dispute_petition_or_skip_with_crn() -> None:
    """Same seed, agents in no village vs every village: a dispute that petitions with agents
    petitions without them too, and skips a level only if it did without them.

    A party with an agent gives up later (its patience is stretched) and skips with a smaller
    share of the same uniform, so per dispute this holds exactly when its own path does not
    depend on the others'; the ladder is given staff enough that nobody waits for a mediator.
    """
    roomy = [
        *BASE,
        "mechanisms.petition_agent_effect=true",
        "ladder.grid.part_time=20",
        "ladder.village.part_time=20",
        "ladder.township.full_time=20",
        "ladder.district.full_time=30",
        "stationed_rooms.court.full_time=20",
        "sectors.labour.full_time=20",
        "sectors.traffic.full_time=20",
    ]
    without = _first_petitions(
        sim.simulate_replication(sim.load_scenario(SMALL_FULL, roomy), 0, 11)
    )
    with_agents = _first_petitions(
        sim.simulate_replication(
            sim.load_scenario(SMALL_FULL, [*roomy, "petition_agents.coverage=1"]), 0, 11
        )
    )
    assert len(without) > 20, "the test needs petitions to compare"
    assert set(with_agents.index) <= set(without.index)
    assert len(with_agents) < len(without)  # and agents do keep some disputes local
    both = with_agents.index
    assert not (with_agents["skip_level"] & ~without.loc[both, "skip_level"]).any()


# --------------------------------------------------------------------------- shares by history
def _petitions(overrides: list[str]) -> _Petitions:
    sc = sim.load_scenario(SMALL_FULL, overrides)
    env = simpy.Environment()
    return _Petitions(
        sc,
        env,
        RecordLog(PETITION_FIELDS),
        lambda case, status: None,
        Uniforms(stream(1, 0, "backlog")),
        365.0,
    )


def test_skip_and_repeat_shares_follow_the_history_log_odds() -> None:
    on = _petitions([*ALL_ON, "petition_agents.coverage=0"])
    pet = on.sc.petitions
    assert pet is not None
    h, links = pet.history, pet.links
    case = _Case(0, 0.0, 0, 0, 0)
    assert on.skip_share(case, repeat=False) == pytest.approx(pet.skip_level_share)
    case.history = H_FAILED | H_TIMED_OUT
    expected = _shift(pet.skip_level_share, h.failed + h.timed_out + h.petitioned_before)
    assert on.skip_share(case, repeat=True) == pytest.approx(expected)
    logit = math.log(expected / (1 - expected))
    assert logit == pytest.approx(math.log(pet.skip_level_share / (1 - pet.skip_level_share)) + 2.2)
    # 教育疏导 multiplies the repeat share after the history's shift.
    assert on.repeat_share(case, repeat=False) == pytest.approx(
        _shift(pet.repeat_probability, h.failed + h.timed_out) * links.counselling_repeat_factor
    )
    off = _petitions([])
    assert off.grid_agent is None and not off.history_on and not off.visits_on
    assert _shift(0.0, 5.0) == 0.0 and _shift(1.0, -5.0) == 1.0


# --------------------------------------------------------------------------- 访调对接
def test_routed_petitions_are_mediated_at_the_township_or_district() -> None:
    """Every first petition is routed (share 1) into a step that cannot fail (resolve 1, no
    time limits, no overload): each closes as closed_by_mediation, its case resolved."""
    certain = "{minor=1, major=1, serious=1}"
    sc = sim.load_scenario(
        SMALL_FULL,
        [
            *BASE,
            "mechanisms.petition_mediation=true",
            "mechanisms.time_limits=false",
            "mechanisms.overload=false",
            "petitions.links.mediation_share=1",
            f"ladder.township.resolve={{full_time={certain}, part_time={certain}}}",
            f"ladder.district.resolve={{full_time={certain}, part_time={certain}}}",
            "petitions.patience_days={minor=10, major=10, serious=10}",
        ],
    )
    rep, cases, register = _run(sc)
    first = petition_table(rep)
    first = first[~first["repeat"]]
    assert len(first) > 20
    closed = first[first["outcome"] == "closed_by_mediation"]
    still_open = first[first["outcome"] == "open"]
    assert len(closed) + len(still_open) == len(first)
    assert len(closed) > 0.9 * len(first)
    status = cases.set_index("case_id")["status"].astype(str)
    assert (status[closed["case_id"]] == "resolved").all()
    for _, p in closed.iterrows():
        # The routed step: the first after the filing (a party who gave up while queueing
        # left a "petitioned" step, entered at most when the petition was filed).
        steps = register[
            (register["case_id"] == p["case_id"])
            & (register["entered"] >= p["filed"])
            & (register["outcome"] != "petitioned")
        ]
        where = "township" if p["level"] in ("grid", "village", "township") else "district"
        assert str(steps.iloc[0]["level"]) == where
        assert steps.iloc[0]["entered"] == pytest.approx(p["filed"])
        assert str(steps.iloc[-1]["outcome"]) == "resolved"
        assert steps.iloc[-1]["ended"] == pytest.approx(p["closed"])
    kpi = notice_kpis(rep)
    lo, hi = rep.window
    in_window = ((closed["closed"] >= lo) & (closed["closed"] < hi)).sum()
    assert kpi["petitions_closed_by_mediation_per_year"] == pytest.approx(
        in_window / ((hi - lo) / 365.0)
    )


# --------------------------------------------------------------------------- 积案 stock, visits
def _stock(extra: list[str]) -> sim.Scenario:
    return sim.load_scenario(
        SMALL_FULL,
        [
            "run.horizon_days=200",
            "run.warmup_days=10",
            "arrivals.rate_per_1000_per_year=0",
            "stationed_rooms.court.referrals_per_year=0",
            "initial_state.backlog_cases=5",
            "petitions.leader_cases=2",
            "petitions.review_resolve_probability=1",
            "petitions.repeat_probability=0",
            *extra,
        ],
    )


def test_backlog_stock_is_worked_off_by_the_leaders_in_turn() -> None:
    """Five stock cases, two leaders, every review closes: struck off at 30, 30, 60, 60, 90."""
    rep = sim.simulate_replication(_stock([]), 0, 3)
    pets = petition_table(rep)
    assert len(pets) == 5 and (pets["case_id"] < 0).all()
    assert (pets["backlog_entered"] == -1.0).all()
    assert sorted(pets["closed"]) == [30.0, 30.0, 60.0, 60.0, 90.0]
    assert set(pets["outcome"].astype(str)) == {"closed"}
    kpi = notice_kpis(rep)
    assert kpi["backlog_open_at_start"] == 5 and kpi["backlog_open_at_end"] == 0
    assert rep.backlog_at_start == 5


def test_leader_visits_close_more_at_each_review() -> None:
    """Reviews that close half the time; with visits at a log-odds of +10 nearly always (a
    share of 0.99995): the stock is struck off at 30, 30, 60, 60, 90 as if every review closed,
    while without visits (same seed, no hearings) some reviews fail and it takes longer."""
    half = ["petitions.review_resolve_probability=0.5", "petitions.hearing_share=0"]
    slow = sorted(petition_table(sim.simulate_replication(_stock(half), 0, 3))["closed"])
    visits = [*half, "mechanisms.leader_visits=true", "petitions.links.visit_review_log_odds=10"]
    fast = sorted(petition_table(sim.simulate_replication(_stock(visits), 0, 3))["closed"])
    assert fast == [30.0, 30.0, 60.0, 60.0, 90.0]
    assert all(s >= f for s, f in zip(slow, fast, strict=True)) and slow != fast


# --------------------------------------------------------------------------- 诉调衔接
def _court(litigation: float, delegation: float) -> sim.Scenario:
    return sim.load_scenario(
        SMALL_FULL,
        [
            *BASE,
            "mechanisms.court_linkage=true",
            f"court.litigation_share={litigation}",
            f"court.delegation_share={delegation}",
        ],
    )


def test_court_takes_every_unresolved_ladder_case_and_delegates_it_back() -> None:
    today = _run(sim.load_scenario(SMALL_FULL, BASE))
    # All to court, none delegated: the tables are today's; the filings are the ladder's
    # unresolved cases concluded in the window.
    rep, cases, register = run = _run(_court(1.0, 0.0))
    assert _digests(*run) == _digests(*today)
    lo, hi = rep.window
    ladder = cases[cases["origin"] == "ladder"]
    unresolved = ladder[
        (ladder["status"] == "unresolved")
        & (ladder["concluded"] >= lo)
        & (ladder["concluded"] < hi)
    ]
    assert len(unresolved) > 5
    assert rep.counts == {"court_filings": len(unresolved), "court_delegations": 0}
    # All delegated: every ladder case that failed at the top gets one step at the court's room
    # after it, and only one (no loop).
    rep, cases, register = _run(_court(1.0, 1.0))
    assert rep.counts["court_delegations"] == rep.counts["court_filings"] > 5
    ladder_ids = set(cases.loc[cases["origin"] == "ladder", "case_id"])
    top_failed = register[
        (register["outcome"] == "unresolved") & register["case_id"].isin(ladder_ids)
    ]
    assert len(top_failed) > 5
    for cid, row in top_failed.set_index("case_id").iterrows():
        after = register[(register["case_id"] == cid) & (register["step"] > row["step"])]
        assert len(after) <= 1
        if len(after):
            assert str(after.iloc[0]["level"]) == "stationed_room"
            assert after.iloc[0]["entered"] >= row["ended"]
        else:  # still in the filing delay when the run ended
            status = cases.set_index("case_id").loc[cid, "status"]
            assert status == "open"
    kpi = sim.kpis(rep)
    years = (hi - lo) / 365.0
    assert kpi["court_delegations_per_year"] == pytest.approx(
        rep.counts["court_delegations"] / years
    )


# --------------------------------------------------------------------------- everything on
def _check_conservation(rep, cases: pd.DataFrame, register: pd.DataFrame) -> None:
    """Every dispute ends exactly once (one case row, a final status) or is open."""
    assert cases["case_id"].is_unique
    assert sorted(cases["case_id"]) == list(range(len(cases)))
    steps = register.groupby("case_id")["step"].agg(["min", "max", "count"])
    assert (steps["min"] == 0).all()
    assert (steps["max"] + 1 == steps["count"]).all()
    last = register.drop_duplicates("case_id", keep="last").set_index("case_id")
    status = cases.set_index("case_id")["status"].astype(str)
    finals = {
        "resolved": {"resolved", "resolved_on_the_spot"},
        "unresolved": {"unresolved", "returned_to_court"},
    }
    for cid, outcome in last["outcome"].astype(str).items():
        if status[cid] in finals:
            assert outcome in finals[status[cid]], (cid, status[cid], outcome)
    # Petitions belong to cases of the run, or to the starting stock (negative ids).
    pets = petition_table(rep)
    assert set(pets.loc[pets["case_id"] >= 0, "case_id"]) <= set(cases["case_id"])
    first = pets[~pets["repeat"] & (pets["case_id"] >= 0)]
    assert first["case_id"].is_unique, "a dispute petitions once; later ones are repeats"
    by_mediation = first[first["outcome"] == "closed_by_mediation"]
    assert (status[by_mediation["case_id"]] == "resolved").all()
    # Times run forwards within each step.
    started = register["started"].fillna(register["entered"])
    assert (register["entered"] <= started + 1e-9).all()
    assert (started <= register["ended"].fillna(np.inf) + 1e-9).all()


def test_conservation_and_littles_law_with_everything_on() -> None:
    from .test_model import test_littles_law_per_level

    sc = sim.load_scenario(
        SMALL_FULL,
        [
            *BASE,
            *ALL_ON,
            "mechanisms.cross_village_routing=true",
            # Issue 15's first and last rounds: 交办, township centres, the circuit team,
            # 重大疑难 to the district and 专案经营.
            *_township_centre(0.5),
            "mechanisms.township_centres=true",
            "mechanisms.assign_down=true",
            "district_centre.assign_down_share={minor=0.5, major=0.3, serious=0}",
            "mechanisms.circuit_team=true",
            "mechanisms.major_difficult_to_district=true",
            "mechanisms.special_teams=true",
            "petitions.special_team.cases=1",
            "petition_agents.coverage=0.5",
            "initial_state.backlog_cases=8",
            # A tiny district fails few cases at the top: more of them to court, so that the
            # court's room is used in a 300-day run.
            "court.litigation_share=0.8",
            "court.delegation_share=0.8",
        ],
    )
    rep, cases, register = run = _run(sc)
    _check_conservation(rep, cases, register)
    test_littles_law_per_level([run])
    levels = register["level"].astype(str)
    assert (levels == "township_joint").sum() > 0
    assert register.loc[levels == "village", "expert"].any()  # the circuit team at work
    for venue in ("stationed_room", "district", "township_joint", "joint"):
        steps = register[register["level"] == venue]
        ended = steps["ended"].fillna(rep.end_time).clip(upper=rep.end_time)
        assert rep.areas_total[venue] == pytest.approx((ended - steps["entered"]).sum(), rel=1e-9)
    kpi = sim.kpis(rep)
    for name in ("court_filings_per_year", "petitions_closed_by_mediation_per_year"):
        assert kpi[name] > 0, name
    assert kpi["backlog_open_at_start"] >= 1
    # Same seed, same numbers.
    again = _run(sc)
    assert _digests(*again) == _digests(*run)


# --------------------------------------------------------------------------- 跨村 → 乡镇调
def test_cross_village_disputes_go_to_the_township_directly() -> None:
    """Share 1: no case of the run has a village step, and none climbs from the grid by
    mediation (a grid row is only an on-the-spot settlement during the sweep); share 0 or the
    switch off: today's tables."""
    today = _digests(*_run(sim.load_scenario(SMALL_FULL, BASE)))
    neutral = [*BASE, "mechanisms.cross_village_routing=true", "routing.cross_village_share=0"]
    assert _digests(*_run(sim.load_scenario(SMALL_FULL, neutral))) == today
    off = [*BASE, "routing.cross_village_share=1"]
    assert _digests(*_run(sim.load_scenario(SMALL_FULL, off))) == today
    on = [*BASE, "mechanisms.cross_village_routing=true", "routing.cross_village_share=1"]
    rep, cases, register = _run(sim.load_scenario(SMALL_FULL, on))
    run_cases = register[~register["initial"]]
    assert not (run_cases["level"] == "village").any()
    grid = run_cases[run_cases["level"] == "grid"]
    assert set(grid["outcome"].astype(str)) <= {"resolved_on_the_spot"}
    assert (run_cases["level"] == "township").sum() > 50
    _check_conservation(rep, cases, register)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("court.room=nowhere", "court.room"),
        ("court.litigation_share=1.5", "court.litigation_share"),
        ("petitions.links.agent_give_up_factor=0", "petitions.links.agent_give_up_factor"),
        ("initial_state.backlog_cases=-1", "initial_state.backlog_cases"),
        ("routing.cross_village_share=2", "routing.cross_village_share"),
        # The last round: 重大疑难, the circuit team, 专案经营 (tests/test_notice_mechanisms3.py).
        ("routing.major_difficult_share.serious=2", "routing.major_difficult_share"),
        ('experts.circuit_at=["grid"]', "experts.circuit_at"),
        ("petitions.special_team.cases=-1", "petitions.special_team.cases"),
        (
            "petitions.special_team.review_resolve_probability=1.5",
            "petitions.special_team.review_resolve_probability",
        ),
        ("mechanisms.special_teams=maybe", "mechanisms.special_teams"),
    ],
)
def test_bad_input_exits_2_naming_the_key(
    setting: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli.main import main

    assert main(["validate", str(SMALL_FULL), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err
