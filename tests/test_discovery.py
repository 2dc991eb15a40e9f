"""Discovery is a race, entry is a choice (issue 13 item 3; docs/model.md "Discovery").

- The race (``mechanisms.discovery_race``): the share of disputes found first by a sweep
  matches its closed form and falls as the sweep interval grows.
- The entry choice (``mechanisms.entry_choice``): a logit whose shares are today's at the
  reference supply, drawn by a coupling under which staffing a village moves a party toward the
  village and never away, dispute by dispute (common random numbers).
- Neutral is today: the new keys at their neutral values give today's registers exactly.
- Bad input exits 2 naming the key; petition agents cost their allowance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.measures.costs import cost_table
from sim.measures.register import case_table, petition_table, register_table
from sim.model.entry import _EntryChoice
from sim.model.replication import Replication
from sim.scenario.district import District

from .scenarios import ALL_OFF, ROOT, SMALL

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
LEVEL_NAMES = ("grid", "village", "township", "district")


def _first_steps(rep: Replication) -> pd.DataFrame:
    """Each dispute's first register row (its discovery and entry), disputes arising in the run."""
    reg = register_table(rep)
    first = reg[reg["step"] == 0]
    return first[~first["initial"]]


def _race_scenario(mean: float, interval: float, detect: float, *extra: str) -> sim.Scenario:
    """Only discovery matters: every mechanism off but the sweeps, the parties' delays, the race.

    Every dispute enters at the grid and is settled there at once (probability 1, tiny effort,
    a mediator per grid), so a long run stays cheap; the register's first rows are the race.
    """
    always = "{minor=1.0, major=1.0, serious=1.0}"
    return sim.load_scenario(
        SMALL,
        [
            *ALL_OFF,
            "mechanisms.sweeps=true",
            "mechanisms.self_report_delays=true",
            "mechanisms.discovery_race=true",
            "arrivals.rate_per_1000_per_year=400",
            "run.warmup_days=0",
            "run.drain_limit_days=3650",
            "discovery.self_report_entry={grid=1.0}",
            f'discovery.self_report_delay_days={{dist="exponential", mean={mean}}}',
            f"discovery.sweep_interval_days={interval}",
            f"discovery.detect_probability={detect}",
            'ladder.grid.effort_hours={dist="exponential", mean=0.01}',
            f"ladder.grid.resolve.full_time={always}",
            f"ladder.grid.resolve.part_time={always}",
            *extra,
        ],
    )


def closed_form(rate: float, interval: float, detect: float) -> float:
    """P(a sweep finds the dispute before its party reports): exponential delay, uniform phase.

    The first sweep comes after W ~ U(0, T), then one sweep per miss (K ~ geometric(d)); the
    party reports after R ~ Exp(λ): P(R > W + KT) = E e^{-λW} · E e^{-λKT}.
    """
    x = rate * interval
    return (1 - math.exp(-x)) / x * detect / (1 - (1 - detect) * math.exp(-x))


# --------------------------------------------------------------------------- the race
@pytest.mark.parametrize("never", [0.0, 0.3])
def test_share_found_by_sweep_matches_the_closed_form(never: float) -> None:
    # Mean delay 5 days, weekly sweeps finding 7 in 10: P ≈ 0.41, mid-range, where the test
    # is most sensitive. ~9,000 disputes over 7 years (fixed seed): the SE of a share is
    # sqrt(p(1-p)/n) ≈ 0.005, so 3 SE ≈ 0.016 separates the closed form from, e.g., a model
    # that forgot the misses (0.54) or the phase (0.76). The phase is uniform because
    # arrivals are Poisson over many sweep cycles (years of 7-day cycles) and each grid's
    # offset is fixed. Never-reporters are all found by sweeps: P = s + (1 - s) P_race.
    mean, interval, detect = 5.0, 7.0, 0.7
    sc = _race_scenario(
        mean,
        interval,
        detect,
        "run.horizon_days=2555",
        f"discovery.never_self_report_share={never}",
    )
    first = _first_steps(sim.simulate_replication(sc, 0, 11))
    n = len(first)
    assert n > 8000
    assert set(first["channel"].astype(str)) == {"sweep", "self_report"}
    share = float((first["channel"] == "sweep").mean())
    expected = never + (1 - never) * closed_form(1 / mean, interval, detect)
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(share - expected) < 3 * se, (share, expected, se)


def test_share_found_by_sweep_falls_as_the_interval_grows() -> None:
    # Common random numbers: the same disputes, delays and detection draws under weekly,
    # fortnightly and monthly sweeps. Per dispute the race is not monotone (a grid's sweep
    # phase scales with the interval), so the claim is the share, in every replication: the
    # closed form gives 0.25, 0.13, 0.06 (mean delay 2 days, detection 0.9), ~20 SE apart.
    shares = []
    for interval in (7.0, 14.0, 30.0):
        sc = _race_scenario(2.0, interval, 0.9, "run.horizon_days=365")
        per_rep = []
        for r in range(2):
            first = _first_steps(sim.simulate_replication(sc, r, 3))
            per_rep.append(float((first["channel"] == "sweep").mean()))
        shares.append(per_rep)
    for r in range(2):
        assert shares[0][r] > shares[1][r] > shares[2][r], shares


def test_without_sweeps_every_party_reports() -> None:
    # Nobody else could find a dispute: the never-reporters report too (docs/model.md).
    sc = _race_scenario(
        2.0, 7.0, 0.9, "run.horizon_days=200", "mechanisms.sweeps=false",
        "discovery.never_self_report_share=0.5",
    )  # fmt: skip
    rep = sim.simulate_replication(sc, 0, 3)
    first = _first_steps(rep)
    assert len(first) == len(case_table(rep)) > 500
    assert set(first["channel"].astype(str)) == {"direct"}


# --------------------------------------------------------------------------- entry choice
def _choice(*overrides: str) -> _EntryChoice:
    sc = sim.load_scenario(SMALL, ["mechanisms.entry_choice=true", *overrides])
    return _EntryChoice(sc, District.from_scenario(sc))


def test_at_the_reference_the_choice_is_todays_draw() -> None:
    # Effects on, but every village at the reference supply: not a share, the very draw.
    choice = _choice(
        "entry.full_time_mediator=2.0",
        "entry.reference_full_time_share=1.0",
        "ladder.village.full_time_coverage=1.0",
    )
    assert all(s is None for s in choice.shift)
    # With no shift choose() returns the reference draw before any coupling; force the coupled
    # path with zero shifts, which must give the very same level.
    choice.shift = [(0.0, 0.0, 0.0, 0.0)] * len(choice.shift)
    rng = np.random.default_rng(1)
    for u, row in zip(rng.random(2000), rng.random((2000, 4)).tolist(), strict=True):
        assert choice.choose(0, float(u), row) == choice.reference(float(u))
    assert choice.probabilities(0) == pytest.approx([0.2, 0.5, 0.25, 0.05])


def test_the_coupled_draw_has_the_logit_shares() -> None:
    # A village with a full-time mediator (+1.2) and a petition agent (+0.8 to grid and village,
    # an agent in every village): the coupled draw must give the logit's shares. 60,000 draws,
    # fixed seed; each share within 3 SE (SE = sqrt(p(1-p)/n) ≤ 0.002).
    choice = _choice(
        "entry.full_time_mediator=1.2",
        "entry.petition_agent=0.8",
        "ladder.village.full_time_coverage=1.0",
        "petition_agents.coverage=1.0",
    )
    probs = choice.probabilities(0)
    shares = [0.2, 0.5, 0.25, 0.05]
    weights = [s * math.exp(x) for s, x in zip(shares, (0.8, 2.0, 0.0, 0.0), strict=True)]
    assert probs == pytest.approx([w / sum(weights) for w in weights])
    n = 60_000
    rng = np.random.default_rng(2)
    u = rng.random(n).tolist()
    rows = rng.random((n, 4)).tolist()
    counts = np.bincount(
        [choice.choose(0, a, b) for a, b in zip(u, rows, strict=True)], minlength=4
    )
    for j, p in enumerate(probs):
        se = math.sqrt(p * (1 - p) / n)
        assert abs(counts[j] / n - p) < 3 * se, (LEVEL_NAMES[j], counts[j] / n, p)


def _entries(*overrides: str, seed: int = 5, replication: int = 0) -> pd.Series:
    """The entry level of each self-reporting dispute, keyed by when it arose (same in CRN)."""
    sc = sim.load_scenario(
        SMALL_FULL,
        ["run.horizon_days=300", "mechanisms.entry_choice=true", *overrides],
    )
    first = _first_steps(sim.simulate_replication(sc, replication, seed))
    first = first[first["channel"] == "self_report"]
    assert first["arisen"].is_unique
    return first.set_index("arisen")["level"].astype(str)


@pytest.mark.parametrize("race", ["false", "true"])
def test_staffing_a_village_moves_entry_toward_it_never_away(race: str) -> None:
    for replication in range(2):
        common = [f"mechanisms.discovery_race={race}", "entry.full_time_mediator=1.5"]
        before = _entries(*common, "ladder.village.full_time_coverage=0", replication=replication)
        after = _entries(*common, "ladder.village.full_time_coverage=1", replication=replication)
        assert before.index.equals(after.index)
        moved = before != after
        assert (after[moved] == "village").all(), pd.concat([before, after], axis=1)[moved]
        assert moved.sum() > 5  # it does move some: ~+30% odds on ~150 self-reports


def test_a_petition_agent_keeps_local_entries_and_draws_others_down() -> None:
    before = _entries("entry.petition_agent=1.5")
    after = _entries("entry.petition_agent=1.5", "petition_agents.coverage=1")
    local = before.isin(["grid", "village"])
    assert (after[local] == before[local]).all()
    moved = before != after
    assert after[moved].isin(["grid", "village"]).all()
    assert moved.sum() > 5


def test_a_far_township_seat_keeps_entries_local() -> None:
    # 甲镇 (index 0) far from its seat; 乙乡 at the reference distance: only 甲镇 moves.
    before = _entries("entry.distance_per_10km=0.5")
    after = _entries("entry.distance_per_10km=0.5", "townships.0.seat_distance_km=30")
    moved = before != after
    assert after[moved].isin(["grid", "village"]).all()
    assert moved.sum() > 0


# --------------------------------------------------------------------------- neutral == today
def _tables(*overrides: str) -> list[pd.DataFrame]:
    sc = sim.load_scenario(SMALL_FULL, ["run.horizon_days=300", *overrides])
    rep = sim.simulate_replication(sc, 1, 7)
    cases = case_table(rep)
    return [cases, register_table(rep, cases), petition_table(rep)]


NEUTRAL = [
    "mechanisms.discovery_race=false",
    "mechanisms.entry_choice=false",
    "discovery.never_self_report_share=0",
    "entry.full_time_mediator=0",
    "entry.petition_agent=0",
    "entry.distance_per_10km=0",
    "entry.reference_full_time_share=0",
    "entry.reference_petition_agent_share=0",
    "entry.reference_seat_distance_km=0",
    "petition_agents.coverage=0",
    "petition_agents.per_village=1",
    "townships.0.villages_with_petition_agent=0",
    "townships.0.seat_distance_km=0",
    "costs.petition_agent_allowance_yuan=0",
]


def test_neutral_keys_reproduce_todays_registers() -> None:
    today = _tables()
    for got, want in zip(_tables(*NEUTRAL), today, strict=True):
        pd.testing.assert_frame_equal(got, want)
    # The choice switched on with no supply term is today's draw, dispute by dispute.
    for got, want in zip(_tables("mechanisms.entry_choice=true"), today, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_every_case_is_accounted_for_with_race_and_choice_on() -> None:
    sc = sim.load_scenario(
        SMALL_FULL,
        [
            "run.horizon_days=300",
            "mechanisms.discovery_race=true",
            "mechanisms.entry_choice=true",
            "discovery.never_self_report_share=0.3",
            "entry.full_time_mediator=1.0",
            "entry.petition_agent=0.5",
            "petition_agents.coverage=0.5",
            "ladder.village.full_time_coverage=0.5",
        ],
    )
    rep = sim.simulate_replication(sc, 0, 3)
    cases = case_table(rep)
    register = register_table(rep, cases)
    assert sorted(cases["case_id"]) == list(range(len(cases)))
    steps = register.groupby("case_id")["step"].agg(["min", "max", "count"])
    assert (steps["min"] == 0).all() and (steps["max"] + 1 == steps["count"]).all()
    status = cases.set_index("case_id")["status"].astype(str)
    no_rows = set(cases["case_id"]) - set(register["case_id"])
    assert (status[list(no_rows)] == "pending").all()  # not yet found when the run ended
    assert (register["channel"] == "sweep").any() and (register["channel"] == "self_report").any()


# --------------------------------------------------------------------------- costs, bad input
def test_petition_agents_cost_their_allowance() -> None:
    sc = sim.load_scenario(
        SMALL,
        [
            "run.horizon_days=60",
            "run.warmup_days=0",
            "petition_agents.coverage=1",
            "petition_agents.per_village=2",
            "townships.1.villages_with_petition_agent=1",
            "costs.petition_agent_allowance_yuan=3600",
        ],
    )
    district = District.from_scenario(sc)
    assert district.village_petition_agents == [2, 2, 2, 2, 0]  # 甲镇: 3 villages; 乙乡: 1 of 2
    rep = sim.simulate_replication(sc, 0, 1)
    costs = cost_table(rep, register_table(rep)).set_index("item")
    row = costs.loc["petition_agent_allowance"]
    assert (row["where"], row["count"], row["yuan_per_year"]) == ("village", 8, 8 * 3600)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("discovery.never_self_report_share=1.5", "discovery.never_self_report_share"),
        ("entry.full_time_mediator=50", "entry.full_time_mediator"),
        ("entry.reference_petition_agent_share=-0.1", "entry.reference_petition_agent_share"),
        ("petition_agents.coverage=2", "petition_agents.coverage"),
        ("townships.0.seat_distance_km=-3", "seat_distance_km"),
        ("townships.0.villages_with_petition_agent=9", "villages_with_petition_agent"),
        ("costs.petition_agent_allowance_yuan=-1", "costs.petition_agent_allowance_yuan"),
        ("mechanisms.discovery_race=maybe", "mechanisms.discovery_race"),
    ],
)
def test_bad_discovery_and_entry_input_exits_2(
    override: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(SMALL), "--set", override]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert key in err, err
    assert override.split("=", 1)[1] in err, err


def test_docs_name_every_new_key() -> None:
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    for key in (
        "discovery_race",
        "entry_choice",
        "never_self_report_share",
        "full_time_mediator",
        "petition_agent",
        "distance_per_10km",
        "reference_full_time_share",
        "villages_with_petition_agent",
        "seat_distance_km",
        "petition_agent_allowance_yuan",
    ):
        assert f"`{key}`" in text, key
    assert Path(ROOT / "docs" / "model.md").read_text(encoding="utf-8").count("discovery_race")
