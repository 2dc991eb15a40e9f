"""Quality of mediation (issue 13, item 2): who mediates, how trained, with how much time.

The chance that a step settles is ``logit p = logit resolve + effects`` (docs/model.md "Quality
of mediation"). These tests check the formula and its directions, that with common random
numbers every lever moves the chance of a given dispute at a given step one way only, that the
effects at 0 reproduce today's registers bit for bit, that a logistic regression on a simulated
register recovers the effects, the costs of training and grades, and bad input.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy

import sim
from sim.cli.main import main
from sim.measures.costs import cost_table
from sim.measures.register import (
    QUALITY_COLUMNS,
    REGISTER_COLUMNS,
    case_table,
    petition_table,
    register_table,
    timeseries_table,
)
from sim.model.quality import _Quality, logistic, logit
from sim.model.streams import stream
from sim.model.venues import _Venues
from sim.scenario.district import District

from .scenarios import ROOT, SMALL, jackson

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
EFFECTS = (
    "full_time",
    "experience_per_doubling",
    "training_per_10_hours",
    "gold_medal",
    "expert",
    "effort_ratio",
)
# The outcomes of a step that ran all its sessions (the only ones the chance decides).
MEDIATED = {"resolved", "escalated_failed", "unresolved", "returned_to_court"}


# --------------------------------------------------------------------------- the formula
def _quality(*overrides: str) -> tuple[_Quality, sim.Scenario]:
    sc = sim.load_scenario(SMALL, ["mechanisms.quality=true", *overrides])
    venues = _Venues(sc, District.from_scenario(sc), simpy.Environment())
    return _Quality(sc, venues, stream(1, 0, "quality")), sc


def test_logit_and_logistic_are_inverse_and_do_not_overflow() -> None:
    for p in (1e-9, 0.01, 0.3, 0.5, 0.77, 0.999):
        assert logistic(logit(p)) == pytest.approx(p, rel=1e-12)
    assert logistic(-800.0) == 0.0 and logistic(800.0) == 1.0


class _Pool:
    """A stand-in pool: only the queue per mediator matters to the outcome."""

    def __init__(self, waiting: int, servers: int) -> None:
        self.waiting, self.servers = waiting, servers

    def queue_length(self) -> int:
        return self.waiting


def test_the_chance_never_falls_with_any_lever() -> None:
    q, _ = _quality(*(f"quality.{k}=0.4" for k in EFFECTS))
    desk_lo = type("D", (), {"training_hours": 0.0})()
    desk_hi = type("D", (), {"training_hours": 20.0})()
    pool = _Pool(3, 2)
    for p, kind, gold, expert in itertools.product((0.2, 0.6, 0.95), (0, 1), (0, 1), (False, True)):
        base = q.probability(p, kind, gold, 12.0, 1.0, expert, desk_lo, pool)
        # More experience, more training, a gold-medal mediator, an expert, more effort.
        assert q.probability(p, kind, gold, 24.0, 1.0, expert, desk_lo, pool) > base
        assert q.probability(p, kind, gold, 12.0, 1.0, expert, desk_hi, pool) > base
        assert q.probability(p, kind, 1, 12.0, 1.0, expert, desk_lo, pool) >= base
        assert q.probability(p, kind, gold, 12.0, 1.0, True, desk_lo, pool) >= base
        assert q.probability(p, kind, gold, 12.0, 0.5, expert, desk_lo, pool) < base
    # One effect alone, on the log-odds: the reference experience adds nothing, a doubling adds
    # experience_per_doubling, 20 hours of training 2 × training_per_10_hours.
    got = q.probability(0.6, 1, 0, 48.0, 1.0, False, desk_hi, pool)
    assert logit(got) == pytest.approx(logit(0.6) + 0.4 * 2 + 0.4 * 2, rel=1e-12)
    got = q.probability(0.6, 0, 1, 12.0, 0.25, True, desk_lo, pool)
    assert logit(got) == pytest.approx(logit(0.6) + 0.4 * 3 + 0.4 * math.log(0.25), rel=1e-12)
    # A certain outcome stays certain.
    assert q.probability(1.0, 1, 0, 1.0, 0.1, False, desk_lo, pool) == 1.0
    assert q.probability(0.0, 0, 1, 99.0, 1.0, True, desk_hi, pool) == 0.0


def test_effects_at_zero_give_todays_chance_exactly() -> None:
    # No effect: the expert bonus and the overload multiplier, as mediation computes them.
    q, sc = _quality("experts.resolve_bonus=0.07", "overload.penalty_per_waiting_case=0.1")
    desk = type("D", (), {"training_hours": 40.0})()
    pool = _Pool(3, 2)
    p = 0.6137
    want = min(1.0, p + 0.07) * max(sc.overload.floor, 1.0 - 0.1 * 3 / 2)
    assert q.probability(p, 0, 1, 3.0, 0.5, True, desk, pool) == want


def test_rush_gives_less_effort_under_a_queue() -> None:
    q, _ = _quality("quality.rush_per_waiting_case=0.5")
    desk = type("D", (), {"gold_share": 0.0})()
    for waiting, servers, factor in ((0, 2, 1.0), (2, 2, 1 / 1.5), (6, 3, 0.5)):
        *_, got = q.begin(0, 1, 0, 1, _Pool(waiting, servers), 10.0, desk)
        assert got == pytest.approx(factor, rel=1e-12)


def test_experience_starts_at_the_reference_and_tracks_the_rate() -> None:
    q, _ = _quality("quality.experience_reference_cases=6", "quality.experience_prior_days=73")
    desk = type("D", (), {"gold_share": 0.0})()
    pool = _Pool(0, 1)
    village, unit = 1, 0
    staff = q.mediators[village][unit][1]  # part-time mediators of the first village
    _, first, _ = q.begin(0, village, unit, 1, pool, 0.0, desk)
    assert first == pytest.approx(6.0, rel=1e-12)  # nothing seen yet: the prior
    # 2 cases a year per mediator for 730 days after the prior's 73 at 6 a year.
    n = 4 * staff - 1
    for _ in range(n):
        q.begin(1, village, unit, 1, pool, 365.0, desk)
    _, got, _ = q.begin(2, village, unit, 1, pool, 730.0, desk)
    assert got == pytest.approx(365 * (4 + 6 * 73 / 365) / (730 + 73), rel=1e-12)


def test_grade_draws_do_not_depend_on_the_order_they_are_asked_for() -> None:
    a, _ = _quality()
    b, _ = _quality()
    ids = [5000, 3, 77, 1024, 0]
    first = [a.grade_u(i, 2) for i in ids]
    second = [b.grade_u(i, 2) for i in reversed(ids)][::-1]
    assert first == second
    assert len({a.grade_u(9, v) for v in range(8)}) == 8  # one draw per venue


# --------------------------------------------------------------------------- neutral
def _digest(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def _tables(sc: sim.Scenario, replication: int = 2, seed: int = 7) -> dict[str, pd.DataFrame]:
    rep = sim.simulate_replication(sc, replication, seed)
    cases = case_table(rep)
    return {
        "cases": cases,
        "register": register_table(rep, cases),
        "petitions": petition_table(rep),
        "timeseries": timeseries_table(rep),
    }


NEUTRAL = [
    *(f"quality.{k}=0" for k in EFFECTS),
    "quality.rush_per_waiting_case=0",
    "costs.training_yuan_per_hour=0",
    *(f"ladder.{lv}.training_hours_per_year=0" for lv in sim.LEVELS),
    *(f"ladder.{lv}.gold_medal_share=0" for lv in sim.LEVELS),
]


def test_neutral_keys_reproduce_todays_registers() -> None:
    base = ["run.horizon_days=300"]
    today = _tables(sim.load_scenario(SMALL_FULL, base))
    # On, every key at its neutral value: today's tables, plus the quality columns.
    on = _tables(sim.load_scenario(SMALL_FULL, [*base, "mechanisms.quality=true", *NEUTRAL]))
    reg = on["register"]
    assert list(reg.columns) == [*REGISTER_COLUMNS, *QUALITY_COLUMNS]
    assert _digest(reg[list(REGISTER_COLUMNS)]) == _digest(today["register"])
    for name in ("cases", "petitions", "timeseries"):
        assert _digest(on[name]) == _digest(today[name]), name
    mediated = reg["outcome"].isin(MEDIATED)
    assert mediated.sum() > 100
    assert (reg["training_hours"] == 0).all()
    assert (reg.loc[mediated, "mediator_grade"] == "standard").all()
    assert (reg.loc[mediated, "mediator_cases_per_year"] > 0).all()
    assert (reg["effort_given_hours"] == reg["effort_hours"]).all()
    # Off, the quality keys are ignored, however set: today's tables, columns and all.
    off = _tables(
        sim.load_scenario(
            SMALL_FULL,
            [
                *base,
                *(f"quality.{k}=1" for k in EFFECTS),
                "quality.rush_per_waiting_case=2",
                "ladder.village.gold_medal_share=0.5",
                "ladder.village.training_hours_per_year=40",
            ],
        )
    )
    for name, frame in today.items():
        assert _digest(off[name]) == _digest(frame), name


def test_gold_medal_draws_without_an_effect_change_nothing() -> None:
    # Grades drawn (and recorded) but worth 0 on the log-odds: the outcomes are today's.
    base = ["run.horizon_days=300"]
    today = _tables(sim.load_scenario(SMALL_FULL, base))
    on = _tables(
        sim.load_scenario(
            SMALL_FULL, [*base, "mechanisms.quality=true", "ladder.village.gold_medal_share=0.5"]
        )
    )
    reg = on["register"]
    assert _digest(reg[list(REGISTER_COLUMNS)]) == _digest(today["register"])
    village = reg[(reg["level"] == "village") & reg["outcome"].isin(MEDIATED)]
    # Each step's grade is a Bernoulli(0.5) draw: 4 standard errors of a share of n steps.
    share = (village["mediator_grade"] == "gold_medal").mean()
    assert abs(share - 0.5) < 4 * (0.25 / len(village)) ** 0.5


# --------------------------------------------------------------------------- CRN directions
def _lab(*extra: str, horizon: float = 800.0) -> sim.Scenario:
    """A quick district with the behaviour off but experts and quality on, at low load."""
    return jackson(
        146.0,
        "mechanisms.quality=true",
        "mechanisms.experts=true",
        "experts.members=4",
        'experts.at=["township", "district"]',
        "experts.required={minor=0.3, major=0.3, serious=0.3}",
        "ladder.district.resolve.full_time={minor=0.6, major=0.6, serious=0.6}",
        "ladder.district.resolve.part_time={minor=0.6, major=0.6, serious=0.6}",
        "ladder.township.part_time=1",
        "ladder.village.part_time=2",
        *(f"quality.{k}=0.5" for k in EFFECTS),
        *extra,
        horizon=horizon,
    )


_STATE = ["level", "unit", "severity", "mediator_kind", "started", "mediator_cases_per_year"]


def _paired(a: sim.Scenario, b: sim.Scenario, replication: int) -> pd.DataFrame:
    """Steps that both variants mediated from the same state: same dispute, same step."""
    ra = register_table(sim.simulate_replication(a, replication, 11))
    rb = register_table(sim.simulate_replication(b, replication, 11))
    ra, rb = ra[ra["outcome"].isin(MEDIATED)], rb[rb["outcome"].isin(MEDIATED)]
    both = ra.merge(rb, on=["case_id", "step"], suffixes=("_a", "_b"))
    same = np.ones(len(both), dtype=bool)
    for col in _STATE:
        same &= (both[f"{col}_a"].astype(str) == both[f"{col}_b"].astype(str)).to_numpy()
    return both[same]


def _never_lower(a: sim.Scenario, b: sim.Scenario, where: str) -> list[pd.DataFrame]:
    """In every replication: settled in a ⇒ settled in b, for every step both mediated alike;
    and the lever shows (b settles some step a did not). Returns the pairs of each replication."""
    pairs = []
    for k in range(3):
        both = _paired(a, b, k)
        assert len(both) > 500, "too few comparable steps for the check to mean anything"
        won = both["outcome_a"] == "resolved"
        kept = both["outcome_b"] == "resolved"
        assert not (won & ~kept).any(), f"replication {k}: a lever lowered the chance at {where}"
        assert (kept & ~won).any(), f"replication {k}: the lever changed nothing at {where}"
        pairs.append(both)
    return pairs


def test_more_training_never_lowers_the_chance() -> None:
    _never_lower(_lab(), _lab("ladder.village.training_hours_per_year=40"), "village")


def test_a_better_grade_mix_never_lowers_the_chance() -> None:
    a = _lab("ladder.township.gold_medal_share=0.1", "ladder.village.gold_medal_share=0.1")
    b = _lab("ladder.township.gold_medal_share=0.5", "ladder.village.gold_medal_share=0.6")
    for both in _never_lower(a, b, "township and village"):
        # The same dispute meets a gold-medal mediator at the same venue in both (CRN), and
        # more often in b.
        gold_a = both["mediator_grade_a"] == "gold_medal"
        gold_b = both["mediator_grade_b"] == "gold_medal"
        assert not (gold_a & ~gold_b).any() and (gold_b & ~gold_a).any()


def test_an_expert_never_lowers_the_chance() -> None:
    a = _lab("experts.required={minor=0.1, major=0.1, serious=0.1}")
    b = _lab("experts.required={minor=0.6, major=0.6, serious=0.6}")
    for both in _never_lower(a, b, "township and district"):
        assert not (both["expert_a"] & ~both["expert_b"]).any()  # experts join a superset
        assert (both["expert_b"] & ~both["expert_a"]).any()


def test_more_experience_never_lowers_the_chance() -> None:
    # Steps of the same dispute from the same state but a more experienced mediator in b: a
    # village with one part-time mediator fewer gives each of the others more cases.
    a = _lab()
    b = _lab("ladder.village.part_time=1")
    for k in range(3):
        both = _paired_experience(a, b, k)
        assert len(both) > 100
        won, kept = both["outcome_a"] == "resolved", both["outcome_b"] == "resolved"
        assert not (won & ~kept).any(), k
        assert (kept & ~won).any(), k


def _paired_experience(a: sim.Scenario, b: sim.Scenario, replication: int) -> pd.DataFrame:
    ra = register_table(sim.simulate_replication(a, replication, 11))
    rb = register_table(sim.simulate_replication(b, replication, 11))
    ra, rb = ra[ra["outcome"].isin(MEDIATED)], rb[rb["outcome"].isin(MEDIATED)]
    both = ra.merge(rb, on=["case_id", "step"], suffixes=("_a", "_b"))
    same = np.ones(len(both), dtype=bool)
    for col in ("level", "unit", "severity", "mediator_kind", "expert", "mediator_grade"):
        same &= (both[f"{col}_a"].astype(str) == both[f"{col}_b"].astype(str)).to_numpy()
    more = both["mediator_cases_per_year_b"] > both["mediator_cases_per_year_a"]
    return both[same & more.to_numpy() & (both["level_a"] == "village").to_numpy()]


# --------------------------------------------------------------------------- round trip
TRUE = {
    "full_time": 0.5,
    "experience_per_doubling": 0.4,
    "training_per_10_hours": 0.15,
    "gold_medal": 0.6,
    "expert": 0.5,
    "effort_ratio": 0.8,
}


def test_a_register_fit_recovers_the_effects() -> None:
    """Simulate with known effects, fit a logistic regression of the outcome on the register's
    columns with the venue's base log-odds as offset, and find each effect within 3 standard
    errors: the fit is the maximum-likelihood estimate, asymptotically normal around the true
    value, so each miss beyond 3 SE has probability 0.27% (fixed seed: the test is
    deterministic; the tolerance says the estimates are what a correct model would give)."""
    import statsmodels.api as sm

    sc = _lab(
        *(f"quality.{k}={v}" for k, v in TRUE.items()),
        "quality.rush_per_waiting_case=1.0",
        "quality.experience_reference_cases=20",
        "quality.experience_prior_days=30",
        "ladder.village.training_hours_per_year=40",
        "ladder.township.training_hours_per_year=20",
        "ladder.township.gold_medal_share=0.4",
        "ladder.village.gold_medal_share=0.3",
        "ladder.grid.gold_medal_share=0.2",
        "ladder.township.full_time=1",
        "ladder.village.full_time_coverage=0.6",
        "arrivals.rate_per_1000_per_year=150",
        "experts.members=8",
        "experts.required={minor=0.7, major=0.7, serious=0.7}",
        horizon=1500.0,
    )
    reg = register_table(sim.simulate_replication(sc, 0, 2024))
    reg = reg[reg["outcome"].isin(MEDIATED)]
    base = np.array(
        [
            sc.ladder.level(lv).resolve.model_dump()[kind][sev]
            for lv, kind, sev in zip(
                reg["level"].astype(str),
                reg["mediator_kind"].astype(str),
                reg["severity"].astype(str),
                strict=True,
            )
        ]
    )
    x = pd.DataFrame(
        {
            "full_time": (reg["mediator_kind"] == "full_time").astype(float),
            "experience_per_doubling": np.log2(reg["mediator_cases_per_year"] / 20.0),
            "training_per_10_hours": reg["training_hours"] / 10.0,
            "gold_medal": (reg["mediator_grade"] == "gold_medal").astype(float),
            "expert": reg["expert"].astype(float),
            "effort_ratio": np.log(reg["effort_given_hours"] / reg["effort_hours"]),
        }
    )
    y = (reg["outcome"] == "resolved").astype(float)
    fit = sm.GLM(
        y.to_numpy(),
        x.to_numpy(),
        family=sm.families.Binomial(),
        offset=np.log(base / (1 - base)),
    ).fit()
    assert len(reg) > 5000
    for name, est, se in zip(x.columns, fit.params, fit.bse, strict=True):
        assert abs(est - TRUE[name]) < 3 * se, f"{name}: {est:.3f} ± {se:.3f}, true {TRUE[name]}"
        assert se < 0.3, f"{name}: SE {se:.3f}: the register carries too little information"


# --------------------------------------------------------------------------- costs, input
def test_training_and_grades_are_costed_once() -> None:
    sc = sim.load_scenario(
        SMALL,
        [
            "run.horizon_days=365",
            "run.warmup_days=0",
            "mechanisms.quality=true",
            "costs.training_yuan_per_hour=100",
            "ladder.village.training_hours_per_year=20",
            "ladder.village.gold_medal_share=0.5",
            "costs.case_reward_yuan.village=100",
            "costs.grades={shares={gold=0.2, plain=0.8}, reward_multiplier={gold=3.0, plain=1.5}}",
        ],
    )
    rep = sim.simulate_replication(sc, 0, 3)
    reg = register_table(rep)
    table = cost_table(rep, reg).set_index(["item", "where"])
    mediators = sum(f + p for f, p in rep.staffing["village"])
    assert table.loc[("training", "village"), "count"] == 20 * mediators
    assert table.loc[("training", "village"), "yuan_per_year"] == 20 * mediators * 100
    # A settled step earns its own mediator's grade: ×3 for gold, ×1.5 (the non-gold grades)
    # otherwise; the 20% gold share of costs.grades is not counted again.
    lo, hi = rep.window
    settled = reg[
        (reg["level"] == "village")
        & (reg["outcome"] == "resolved")
        & (reg["arisen"] >= lo)
        & (reg["arisen"] < hi)
    ]
    gold = (settled["mediator_grade"] == "gold_medal").sum()
    want = (3.0 * gold + 1.5 * (len(settled) - gold)) * 100 / ((hi - lo) / 365)
    assert 0 < gold < len(settled)
    assert table.loc[("case_reward", "village"), "yuan_per_year"] == pytest.approx(want)
    # Off, neither training nor per-step grades: today's table.
    off = sim.load_scenario(SMALL, ["mechanisms.quality=false"])
    assert "training" not in set(cost_table(*_rep_and_register(off))["item"])


def _rep_and_register(sc: sim.Scenario) -> tuple:
    rep = sim.simulate_replication(sc, 0, 3)
    return rep, register_table(rep)


def test_calibration_reads_a_register_with_the_quality_columns(tmp_path: Path) -> None:
    from calibration.reading import read_register

    sc = sim.load_scenario(SMALL, ["mechanisms.quality=true", "run.horizon_days=120"])
    reg = register_table(sim.simulate_replication(sc, 0, 1))
    reg.to_csv(tmp_path / "register.csv", index=False)
    read = read_register(tmp_path / "register.csv", sim.load_scenario(SMALL))
    assert read.bad_rows == 0 and len(read.table) == len(reg)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("quality.experience_per_doubling=-0.5", "quality.experience_per_doubling"),
        ("quality.gold_medal=9", "quality.gold_medal"),
        ("quality.experience_reference_cases=0", "quality.experience_reference_cases"),
        ("quality.rush_per_waiting_case=-1", "quality.rush_per_waiting_case"),
        ("quality.speed=1", "quality.speed"),
        ("ladder.village.gold_medal_share=1.5", "ladder.village.gold_medal_share"),
        ("ladder.township.training_hours_per_year=-3", "ladder.township.training_hours_per_year"),
        ("costs.training_yuan_per_hour=-10", "costs.training_yuan_per_hour"),
    ],
)
def test_bad_quality_input_exits_2_naming_the_key(
    setting: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(SMALL), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err


def test_conservation_and_littles_law_hold_with_quality_on() -> None:
    from .test_model import test_every_case_is_accounted_for, test_littles_law_per_level

    sc = sim.load_scenario(
        SMALL,
        [
            "mechanisms.quality=true",
            *(f"quality.{k}=0.5" for k in EFFECTS),
            "quality.rush_per_waiting_case=1",
            "ladder.village.gold_medal_share=0.3",
            "ladder.township.training_hours_per_year=30",
        ],
    )
    rep = sim.simulate_replication(sc, 0, 5)
    cases = case_table(rep)
    runs = [(rep, cases, register_table(rep, cases))]
    test_every_case_is_accounted_for(runs)
    test_littles_law_per_level(runs)
