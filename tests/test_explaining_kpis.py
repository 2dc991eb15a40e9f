"""The KPIs that explain 小事不出村 and 大事不出镇 (issue 13, item 4; docs/model.md, KPIs).

Each definition is checked against a hand count on a handcrafted case table and register, the
identities between them on simulated runs, and that they reach `sim run`'s table, its JSON, the
township table and the report.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import cast

import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.measures.kpis import EXPLAINING_KPIS, explaining_kpis, kpis
from sim.measures.outcomes import window_outcomes
from sim.measures.township_kpis import TOWNSHIP_KPIS, township_kpis
from sim.model.replication import Replication
from sim.reports.labels import KPI_EN
from sim.scenario.vocabulary import KPI_LABELS, KPI_NAMES

from .scenarios import ROOT, SMALL

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
NEW = (
    "minor_reached_village",
    "minor_retained_in_village",
    "major_only_kept_in_township",
    "serious_kept_in_township",
    "resolved_at_or_below_township",
    "found_by_sweep",
)

# --------------------------------------------------------------------------- a handcrafted run

# case id: (severity at arising, status, [(level, channel of the step, outcome), ...])
_HAND: dict[int, tuple[str, str, list[tuple[str, str, str]]]] = {
    # reached the village's ground and stayed: kept
    1: ("minor", "resolved", [("grid", "sweep", "resolved")]),
    # went straight to the township: never reached the village
    2: ("minor", "resolved", [("township", "self_report", "resolved")]),
    # reached the grid, climbed, settled at the township: reached, not retained
    3: (
        "minor",
        "resolved",
        [
            ("grid", "sweep", "escalated_failed"),
            ("village", "online", "escalated_time_limit"),
            ("township", "online", "resolved"),
        ],
    ),
    # inside a firm: the enterprise committee is the village's ground, not discovery
    4: ("minor", "resolved", [("enterprise", "in_firm", "resolved")]),
    # still open: not concluded, so outside every minor/major denominator
    5: ("minor", "open", [("village", "self_report", "open")]),
    6: ("major", "resolved", [("village", "self_report", "resolved")]),
    7: (
        "major",
        "unresolved",
        [("township", "self_report", "escalated_failed"), ("district", "online", "unresolved")],
    ),
    8: (
        "serious",
        "resolved",
        [
            ("grid", "sweep", "escalated_no_mediator"),
            ("village", "offline", "escalated_failed"),
            ("township", "offline", "resolved"),
        ],
    ),
    9: ("serious", "resolved", [("district", "direct", "resolved")]),
    # not found or reported yet: no step at all
    10: ("minor", "pending", []),
}


def _hand_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The case table and register of _HAND, plus cases the KPIs must not count."""
    cases = [
        {"case_id": i, "arisen": 10.0 + i, "initial": False, "origin": "ladder",
         "severity_initial": sev, "status": status, "township": "甲镇"}
        for i, (sev, status, _) in _HAND.items()
    ]  # fmt: skip
    steps = [
        {"case_id": i, "step": k, "level": level, "channel": channel, "outcome": outcome}
        for i, (_, _, rows) in _HAND.items()
        for k, (level, channel, outcome) in enumerate(rows)
    ]
    # Not counted: arose after the window, was given as initial state, a court referral.
    # Each would move every KPI if it were counted (a minor dispute settled by a sweep).
    for i, arisen, initial, origin in (
        (11, 400.0, False, "ladder"),
        (12, 0.0, True, "ladder"),
        (13, 20.0, False, "court_referral"),
    ):
        cases.append(
            {"case_id": i, "arisen": arisen, "initial": initial, "origin": origin,
             "severity_initial": "minor", "status": "resolved", "township": "甲镇"}
        )  # fmt: skip
        steps.append(
            {"case_id": i, "step": 0, "level": "grid", "channel": "sweep", "outcome": "resolved"}
        )
    return pd.DataFrame(cases), pd.DataFrame(steps)


def test_each_kpi_against_a_hand_count():
    cases, register = _hand_tables()
    rep = cast(Replication, SimpleNamespace(window=(0.0, 365.0)))
    got = explaining_kpis(window_outcomes(rep, cases, register))
    # Concluded minor disputes: 1, 2, 3, 4. Reached grid/village/enterprise: 1, 3, 4.
    # Kept in the village: 1, 4.
    assert got["minor_reached_village"] == pytest.approx(3 / 4)
    assert got["minor_retained_in_village"] == pytest.approx(2 / 3)
    # Major: 6 (kept at the village), 7 (failed at the district). Serious: 8 (kept at the
    # township), 9 (resolved at the district).
    assert got["major_only_kept_in_township"] == pytest.approx(1 / 2)
    assert got["serious_kept_in_township"] == pytest.approx(1 / 2)
    # Over all ten disputes, open and pending ones too: resolved at grid (1), township (2, 3,
    # 8), enterprise (4), village (6).
    assert got["resolved_at_or_below_township"] == pytest.approx(6 / 10)
    # Through discovery: 1, 2, 3, 5, 6, 7, 8, 9 (not 4, in firm; not 10, never found).
    # Found first by a sweep: 1, 3, 8.
    assert got["found_by_sweep"] == pytest.approx(3 / 8)
    # Restricted to one subset (as the township table does): disputes 1-5 only.
    w = window_outcomes(rep, cases, register)
    part = explaining_kpis(w, w.case_id <= 5)
    assert part["minor_reached_village"] == pytest.approx(3 / 4)
    assert part["found_by_sweep"] == pytest.approx(2 / 4)  # 1, 2, 3, 5 discovered; 1, 3 swept
    assert part["resolved_at_or_below_township"] == pytest.approx(4 / 5)


def test_nothing_to_count_is_nan_not_zero():
    cases, register = _hand_tables()
    only_minor = cases[cases["case_id"].isin([1, 2, 3, 4])]
    rep = cast(Replication, SimpleNamespace(window=(0.0, 365.0)))
    got = explaining_kpis(window_outcomes(rep, only_minor, register))
    assert got["major_only_kept_in_township"] != got["major_only_kept_in_township"]  # NaN
    assert got["serious_kept_in_township"] != got["serious_kept_in_township"]
    assert got["found_by_sweep"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- simulated runs


@pytest.fixture(scope="module")
def runs() -> list[tuple[Replication, pd.DataFrame, pd.DataFrame]]:
    scenario = sim.load_scenario(SMALL_FULL, ["run.horizon_days=240"])
    out = []
    for k in range(2):
        rep = sim.simulate_replication(scenario, replication=k, seed=11)
        cases = sim.case_table(rep)
        out.append((rep, cases, sim.register_table(rep, cases)))
    return out


def test_kept_is_ceiling_times_retention_in_every_replication(runs):
    for rep, cases, register in runs:
        k = kpis(rep, cases, register)
        assert 0 < k["minor_retained_in_village"] < 1 and 0 < k["minor_reached_village"] < 1
        # Exact up to rounding: the two shares have the same disputes above and below.
        assert k["minor_kept_in_village"] == pytest.approx(
            k["minor_reached_village"] * k["minor_retained_in_village"], rel=1e-12
        )
        assert k["minor_kept_in_village"] <= k["minor_reached_village"]


def test_major_pools_major_and_serious_weighted_by_their_counts(runs):
    for rep, cases, register in runs:
        k = kpis(rep, cases, register)
        w = window_outcomes(rep, cases, register)
        n_major = int((w.major_only & w.concluded).sum())
        n_serious = int((w.serious & w.concluded).sum())
        assert n_major > 0 and n_serious > 0
        pooled = (
            n_major * k["major_only_kept_in_township"] + n_serious * k["serious_kept_in_township"]
        ) / (n_major + n_serious)
        assert k["major_kept_in_township"] == pytest.approx(pooled, rel=1e-12)


def test_grassroots_share_sums_the_resolved_shares_below_the_district(runs):
    for rep, cases, register in runs:
        k = kpis(rep, cases, register)
        below = sum(k[f"resolved_share.{v}"] for v in ("grid", "village", "township", "enterprise"))
        assert k["resolved_at_or_below_township"] == pytest.approx(below, rel=1e-12)
        assert k["resolved_at_or_below_township"] <= 1 - k["unresolved_share"]


def test_found_by_sweep_reads_the_first_step_of_the_register(runs):
    """An independent count: the first register row of each window dispute of the ladder."""
    for rep, cases, register in runs:
        lo, hi = rep.window
        ids = cases.loc[
            (cases["arisen"] >= lo) & (cases["arisen"] < hi) & ~cases["initial"]
            & (cases["origin"] == "ladder"), "case_id"
        ]  # fmt: skip
        first = register[(register["step"] == 0) & register["case_id"].isin(ids)]
        channel = first["channel"].astype(str)
        raced = channel.isin(["sweep", "self_report", "direct"])
        assert (channel == "in_firm").any()  # small_full has firms: they must be left out
        expected = (channel == "sweep").sum() / raced.sum()
        assert kpis(rep, cases, register)["found_by_sweep"] == pytest.approx(expected)


@pytest.mark.parametrize(("sweep_share", "expected"), [(0.0, 0.0), (1.0, 1.0)])
def test_found_by_sweep_at_the_ends(sweep_share, expected):
    """Every dispute left to the sweep is found by it; in-firm disputes do not dilute it."""
    scenario = sim.load_scenario(
        SMALL_FULL, ["run.horizon_days=120", f"discovery.sweep_share={sweep_share}"]
    )
    rep = sim.simulate_replication(scenario, replication=0, seed=4)
    assert kpis(rep)["found_by_sweep"] == expected


def test_township_rows_keep_the_identity_and_add_up(runs):
    rep, cases, register = runs[0]
    table = township_kpis(rep, cases, register)
    assert set(EXPLAINING_KPIS) <= set(TOWNSHIP_KPIS) <= set(table.columns)
    for _, row in table.iterrows():
        assert row["minor_kept_in_village"] == pytest.approx(
            row["minor_reached_village"] * row["minor_retained_in_village"], rel=1e-12
        )
    # Shares over all disputes: the townships' values weighted by their disputes give the
    # district's.
    whole = kpis(rep, cases, register)
    weighted = (table["resolved_at_or_below_township"] * table["disputes"]).sum()
    assert weighted / table["disputes"].sum() == pytest.approx(
        whole["resolved_at_or_below_township"], rel=1e-12
    )


# --------------------------------------------------------------------------- where they show


def test_names_labels_and_targets():
    assert EXPLAINING_KPIS == NEW
    for name in NEW:
        assert name in KPI_NAMES and KPI_LABELS[name] and KPI_EN[name]
    # As in docs/model.md: beside the two targets they explain.
    at = KPI_NAMES.index("major_kept_in_township")
    assert KPI_NAMES[at + 1 : at + 1 + len(NEW)] == NEW
    sc = sim.load_scenario(SMALL, ["targets={minor_reached_village={at_least=0.9}}"])
    assert "minor_reached_village" in sc.targets


def test_run_json_and_table_carry_the_new_kpis(capsys):
    args = [str(SMALL), "-r", "2", "--seed", "3", "--set", "run.horizon_days=90"]
    assert main(["run", *args, "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name in ("minor_kept_in_village", "major_kept_in_township", *NEW):
        assert set(out["kpis"][name]) == {"mean", "ci_low", "ci_high"}, name
        assert 0 <= out["kpis"][name]["mean"] <= 1, name
    assert main(["run", *args]) == 0
    table = capsys.readouterr().out
    for name in NEW:
        assert name in table and KPI_LABELS[name] in table


def test_report_shows_the_decomposition(tmp_path):
    from sim.reports.html import render_run

    scenario = sim.load_scenario(SMALL, ["run.horizon_days=90"])
    results = sim.simulate(scenario, replications=2, seed=1)
    page = render_run(results, "zh")
    assert "小事不出村、大事不出镇的构成" in page and "What the ladder targets are made of" in page
    for name in NEW:
        assert name in page
    assert "上限" in page  # the ceiling named in Chinese
    # Results saved before these KPIs existed: no section, no error.
    results.summary = results.summary.drop(index=list(NEW))
    assert "小事不出村、大事不出镇的构成" not in render_run(results, "zh")
