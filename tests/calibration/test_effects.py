"""The effects that make staffing matter, estimated from a register (calibration/effects.py).

The round trip: registers simulated by sim with known quality effects, entry-choice term and
discovery race, fitted, and each effect's 90% interval checked to cover the truth at the
nominal rate over several seeds. Then the identifiability notes: a register in which every
full-time mediator is gold-medal cannot separate the two effects, and one whose villages all
have the same supply cannot identify the entry term — named, not estimated, not written.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from calibration.backtest import register_from_sim
from calibration.effects import fit_effects
from calibration.fitting import Calibration, calibrate_register, case_rows
from calibration.logit_fit import collinear
from calibration.params import Params
from calibration.reading import Register
from calibration.scenario_out import write_scenario
from tests.calibration import roundtrip

LEVEL = 0.9
SEEDS = range(12)
QUALITY_FIELDS = [
    "training_hours",
    "mediator_grade",
    "mediator_cases_per_year",
    "effort_given_hours",
    "expert",
]
# The truth. Both kinds share the part-time table, so that the kind gap is quality.full_time
# alone (docs/model.md: how a register estimates the kind effect as one number).
TRUE_QUALITY = {
    "full_time": 0.5,
    "experience_per_doubling": 0.4,
    "gold_medal": 0.6,
    "expert": 0.4,
    "effort_ratio": 0.8,
}
TRUE_ENTRY = {"grid": 0.3, "village": 0.4, "township": 0.2, "district": 0.1}
TRUE_DELAY, TRUE_NEVER = 3.0, 0.3
EFFECTS = [
    "mechanisms.quality=true",
    "mechanisms.discovery_race=true",
    "mechanisms.entry_choice=true",
    "mechanisms.experts=true",
    "experts.members=6",
    'experts.at=["township", "district"]',
    "experts.required={minor=0.4, major=0.4, serious=0.4}",
    *(f"quality.{k}={v}" for k, v in TRUE_QUALITY.items()),
    "quality.rush_per_waiting_case=1.0",
    "quality.experience_reference_cases=10",
    "quality.experience_prior_days=30",
    "ladder.grid.gold_medal_share=0.2",
    "ladder.village.gold_medal_share=0.3",
    "ladder.township.gold_medal_share=0.4",
    "ladder.village.training_hours_per_year=20",
    # Few mediators, so that queues form (the rush varies the effort given) and part-timers
    # take cases when the full-timer is busy; half the villages have a full-time mediator.
    "ladder.grid.part_time=1",
    'ladder.grid.effort_hours={dist="lognormal", median=4, p90=12}',
    "ladder.village.full_time=1",
    "ladder.village.part_time=1",
    "ladder.village.full_time_coverage=0.5",
    "ladder.township.full_time=1",
    "ladder.township.part_time=1",
    "discovery.never_self_report_share=0.3",
    f'discovery.self_report_delay_days={{dist="exponential", mean={TRUE_DELAY}}}',
    "discovery.self_report_entry={grid=0.3, village=0.4, township=0.2, district=0.1}",
    "entry.full_time_mediator=0.7",
    "entry.reference_full_time_share=0.5",
    "arrivals.rate_per_1000_per_year=150",
]


def _equal_kinds() -> list[str]:
    sc = roundtrip.scenario()
    out = []
    for lv in sim.LEVELS:
        pt = sc.ladder.level(lv).resolve.part_time.model_dump()
        out.append(
            f"ladder.{lv}.resolve.full_time={{{', '.join(f'{k}={v}' for k, v in pt.items())}}}"
        )
    return out


def effects_scenario(*extra: str) -> sim.Scenario:
    return roundtrip.scenario(*_equal_kinds(), *EFFECTS, *extra)


def quality_register(sc: sim.Scenario, seed: int) -> Register:
    """A simulated register with the mediator's fields a register of sim carries."""
    reg = sim.simulate(sc, replications=1, seed=seed, keep_tables=True).registers[0]
    table = register_from_sim(reg)
    for col in QUALITY_FIELDS:
        table[col] = reg[col].to_numpy()
    empty = pd.DataFrame(columns=["row", "problems"])
    return Register(f"simulated seed {seed}", "-", table, empty, rows_read=len(table))


def _effects(sc: sim.Scenario, register: Register) -> tuple[Params, list[str]]:
    params, notes = Params(), []
    table = register.table
    fit_effects(table, case_rows(table), sc, LEVEL, params, notes, seed=1)
    return params, notes


def truth(sc: sim.Scenario) -> dict[str, float]:
    out = {f"quality.{k}": v for k, v in TRUE_QUALITY.items()}
    for lv in sim.LEVELS:
        for sev, p in sc.ladder.level(lv).resolve.part_time.model_dump().items():
            out[f"quality.base.{lv}.{sev}"] = p
    out["entry.full_time_mediator"] = sc.entry.full_time_mediator
    out |= {f"entry.reference_share.{lv}": s for lv, s in TRUE_ENTRY.items()}
    out["discovery.race.report_delay_mean"] = TRUE_DELAY
    out["discovery.never_self_report_share"] = TRUE_NEVER
    return out


@pytest.fixture(scope="module")
def round_trip() -> pd.DataFrame:
    """Every effect's interval against the truth, over several simulated registers."""
    sc = effects_scenario()
    true = truth(sc)
    rows = []
    for seed in SEEDS:
        params, _ = _effects(sc, quality_register(sc, seed))
        frame = params.frame()
        frame = frame[frame["key"].isin(true)].copy()
        frame["truth"] = frame["key"].map(true)
        frame["covered"] = (frame["ci_low"] <= frame["truth"]) & (
            frame["truth"] <= frame["ci_high"]
        )
        frame["seed"] = seed
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def test_round_trip_estimates_every_effect(round_trip: pd.DataFrame) -> None:
    keys = set(round_trip["key"])
    for must in (
        *(f"quality.{k}" for k in TRUE_QUALITY),
        "quality.base.village.minor",
        "entry.full_time_mediator",
        "entry.reference_share.village",
        "discovery.race.report_delay_mean",
        "discovery.never_self_report_share",
    ):
        assert must in keys, must
        assert (round_trip["key"] == must).sum() == len(SEEDS), must


def test_round_trip_intervals_cover_the_truth_at_their_nominal_rate(
    round_trip: pd.DataFrame,
) -> None:
    per_seed = round_trip.groupby("seed")["covered"].mean()
    coverage = float(round_trip["covered"].mean())
    # Checks within one register are correlated (the entry shares sum to one, the base rates
    # and the effects share one fit), so the standard error is the larger of the spread
    # between seeds and the binomial SE of independent checks; 3.5 SE: a false alarm 1 in 2000.
    se = max(
        float(per_seed.std(ddof=1)) / math.sqrt(len(per_seed)),
        math.sqrt(LEVEL * (1 - LEVEL) / len(round_trip)),
    )
    assert abs(coverage - LEVEL) < 3.5 * se, (coverage, se)
    # No group is systematically off: each within 3.5 binomial SE of nominal.
    by_group = round_trip.groupby("group")["covered"].agg(["mean", "count"])
    floor = LEVEL - 3.5 * np.sqrt(LEVEL * (1 - LEVEL) / by_group["count"])
    assert (by_group["mean"] >= floor).all(), by_group
    # Nor any one effect: missed in ≥ 6 of 12 seeds has probability 1.4e-3 at 90%.
    misses = (~round_trip["covered"]).groupby(round_trip["key"]).sum()
    assert misses.max() <= 5, misses.sort_values().tail()


def test_training_constant_within_a_level_is_named_not_estimated() -> None:
    # Training hours are the level's: they never vary within a level × severity cell, so their
    # effect is the base rate's, whatever the register's size.
    sc = effects_scenario()
    params, notes = _effects(sc, quality_register(sc, 0))
    assert "quality.training_per_10_hours" not in set(params.frame()["key"])
    assert "quality.training_per_10_hours" not in params.settings
    assert any("quality.training_per_10_hours" in n and "not identified" in n for n in notes)


def test_all_full_timers_gold_medal_cannot_separate_the_two() -> None:
    sc = effects_scenario()
    register = quality_register(sc, 0)
    t = register.table
    kind = t["mediator_kind"]
    t["mediator_grade"] = np.where(
        kind.isna(), None, np.where(kind == "full_time", "gold_medal", "standard")
    )
    params, notes = _effects(sc, register)
    keys = set(params.frame()["key"])
    for e in ("full_time", "gold_medal"):
        assert f"quality.{e}" not in keys, e  # no number printed
        assert f"quality.{e}" not in params.settings, e  # nor written
    named = [n for n in notes if "quality.gold_medal" in n and "not identified" in n]
    assert named and "full_time" in named[0], notes
    # The effects the register does separate are still estimated.
    assert "quality.experience_per_doubling" in keys
    # Nor drawn again for the backtest's bootstrap.
    rng = np.random.default_rng(0)
    drawn = {k: v for draw in params.draws for k, v in draw(rng).items()}
    assert "quality.experience_per_doubling" in drawn
    assert "quality.full_time" not in drawn and "quality.gold_medal" not in drawn


def test_same_supply_in_every_village_leaves_the_entry_term_unidentified() -> None:
    sc = effects_scenario("ladder.village.full_time_coverage=1.0")
    params, notes = _effects(sc, quality_register(sc, 1))
    assert "entry.full_time_mediator" not in set(params.frame()["key"])
    named = [n for n in notes if "entry.full_time_mediator" in n and "not identified" in n]
    assert named and "the same in every village" in named[0], notes
    # The shares at the reference then take the base's term as given: every village is at
    # ft = 1, 0.5 above the reference, so the village's utility is the observed one − 0.35.
    assert "entry.reference_share.village" in set(params.frame()["key"])


def test_collinear_names_the_partner_and_a_constant() -> None:
    x = np.column_stack([[1.0, -1, 1, -1], [0.0, 0, 0, 0], [2.0, -2, 2, -2], [1.0, 1, -1, -1]])
    out = collinear(x, ["a", "b", "c", "d"])
    assert out == {"b": [], "c": ["a"]}


def test_effects_off_in_the_base_are_reported_not_written() -> None:
    on = effects_scenario()
    off = effects_scenario(
        "mechanisms.quality=false",
        "mechanisms.entry_choice=false",
        "mechanisms.discovery_race=false",
    )
    params, notes = _effects(off, quality_register(on, 2))
    keys = set(params.frame()["key"])
    assert {"quality.full_time", "entry.full_time_mediator"} <= keys
    assert "discovery.never_self_report_share" in keys
    assert not any(k.startswith(("quality.", "entry.")) for k in params.settings)
    assert "discovery.never_self_report_share" not in params.settings
    assert any("mechanisms.quality is off" in n for n in notes)


def test_the_calibrated_scenario_carries_the_effects(tmp_path: Path) -> None:
    """calibrate_register → write_scenario: [quality], [entry] and the race are written with
    their source, the resolve tables at the reference, and the file validates."""
    sc = effects_scenario()
    fit: Calibration = calibrate_register(
        quality_register(sc, 3), sc, start=roundtrip.START, end=roundtrip.END, level=LEVEL,
        durations="none", seed=3, match_time=False,
    )  # fmt: skip
    assert fit.effects is not None and not fit.effects.table.empty
    out = tmp_path / "fitted.toml"
    overrides = [*roundtrip.ROUND_TRIP, *_equal_kinds(), *EFFECTS]
    written = write_scenario(fit, roundtrip.SMALL, out, overrides=overrides)
    p = fit.parameters.set_index("key")["estimate"]
    assert written.quality.experience_per_doubling == pytest.approx(
        p["quality.experience_per_doubling"], abs=1e-4
    )
    assert written.entry.full_time_mediator == pytest.approx(
        p["entry.full_time_mediator"], abs=1e-4
    )
    assert written.discovery.never_self_report_share == pytest.approx(
        p["discovery.never_self_report_share"], abs=1e-4
    )
    assert written.discovery.self_report_delay_days.mean == pytest.approx(
        p["discovery.race.report_delay_mean"], rel=1e-3
    )
    village = written.ladder.level("village").resolve
    assert (
        village.full_time.minor
        == village.part_time.minor
        == pytest.approx(p["quality.base.village.minor"], abs=1e-4)
    )
    header = out.read_text(encoding="utf-8").split("\n\n")[0]
    assert "人员配置的效应" in header
    assert "quality.gold_medal (金牌调解员 gold-medal mediator): written" in header
    assert "quality.training_per_10_hours" in header and "not identified" in header
    # Each written setting can be drawn again (the backtest's parametric bootstrap).
    drawn = fit.draw_settings(np.random.default_rng(0))
    assert drawn["quality.full_time"] != fit.settings["quality.full_time"]


def test_the_report_shows_the_effects_with_bilingual_labels(tmp_path: Path) -> None:
    from calibration.report import write_report

    sc = effects_scenario()
    fit = calibrate_register(
        quality_register(sc, 4), sc, start=roundtrip.START, end=roundtrip.END, level=LEVEL,
        durations="none", seed=4, match_time=False,
    )  # fmt: skip
    page = write_report(fit, tmp_path / "report").read_text(encoding="utf-8")
    assert "人员配置的效应" in page
    for label in ("金牌调解员 gold-medal mediator", "村专职调解员", "不主动申请比例"):
        assert label in page, label
    assert "not identified" in page  # training: constant within each level


def test_time_match_tolerance_is_the_difference_of_two_estimates_at_the_level() -> None:
    """calibration/time_at_level.py: matched means differ by less than z·√(se_r² + se_s²)."""
    from calibration.time_at_level import tolerance

    # 90%: z = 1.645; two errors of 3 and 4 days combine to 5.
    assert tolerance(3.0, 4.0, 0.9) == pytest.approx(1.6448536 * 5.0, rel=1e-6)
    # It shrinks with the register's size instead of staying a fixed share of the mean.
    assert tolerance(0.1, 0.1, 0.9) < tolerance(1.0, 0.1, 0.9)


def test_sim_calibrate_reads_the_mediator_fields_from_a_register_file(tmp_path: Path) -> None:
    """A register of sim saved as CSV (the mediator's fields by their English names) is read
    with those fields, and the quality effects are fitted from it end to end."""
    from calibration.reading import read_register

    sc = effects_scenario()
    reg = sim.simulate(sc, replications=1, seed=5, keep_tables=True).registers[0]
    path = tmp_path / "register.csv"
    reg.to_csv(path, index=False)
    read = read_register(path, sc)
    assert read.bad_rows == 0 and len(read.table) == len(reg)
    for col in QUALITY_FIELDS:
        assert read.table[col].notna().any(), col
    params, _ = _effects(sc, read)
    assert "quality.experience_per_doubling" in set(params.frame()["key"])
    # A register without the fields: no quality fit, a note saying which columns are missing.
    plain = read.table.drop(columns=QUALITY_FIELDS)
    plain_reg = Register("plain", "-", plain, read.quarantine, rows_read=len(plain))
    params, notes = _effects(sc, plain_reg)
    assert not any(k.startswith("quality.") for k in params.frame()["key"])
    assert any("Quality effects" in n and "mediator_cases_per_year" in n for n in notes)
