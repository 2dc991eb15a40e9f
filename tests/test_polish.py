"""Issue 17, items 6, 7 and 10: intervals inside what is possible, shares with their
denominators, and the rough edges of `sim run`'s output and messages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.experiments.experiment import judge_targets, summarise
from sim.experiments.intervals import confidence_interval, kpi_interval
from sim.reports import tables
from sim.reports.html import render_run
from sim.scenario.text import display_width, pad, plural
from sim.scenario.vocabulary import KPI_NAMES, SHARE_DENOMINATORS, SHARE_KPIS, share_denominator
from sim.sizing.output import SIZING_HEADERS, plain_columns
from tests.scenarios import ROOT, SMALL

QUICK = ["--set", "run.horizon_days=120", "--set", "run.warmup_days=10"]

# --- item 6: intervals -----------------------------------------------------------------------


def test_share_interval_stays_inside_0_1_where_the_t_interval_does_not() -> None:
    values = [0.90, 0.99, 1.0, 0.97]
    _, _, t_high = confidence_interval(values)
    assert t_high > 1.0  # the case of the issue
    mean, low, high, how = kpi_interval("minor_kept_in_village", values)
    assert how == "logit"
    assert mean == pytest.approx(np.mean(values))
    assert 0.0 < low < mean < high < 1.0


def test_share_interval_near_one_half_is_the_t_interval() -> None:
    values = [0.49, 0.51, 0.50, 0.52, 0.48]
    _, t_low, t_high = confidence_interval(values)
    _, low, high, _ = kpi_interval("resolved_share.village", values)
    assert low == pytest.approx(t_low, abs=1e-4) and high == pytest.approx(t_high, abs=1e-4)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_share_at_a_bound_in_every_replication_is_a_point_with_a_note(value: float) -> None:
    mean, low, high, how = kpi_interval("resolved_share.stationed_room", [value] * 5)
    assert (mean, low, high) == (value, value, value)
    assert how == f"all {value:g}"


def test_counts_and_days_are_clipped_at_zero_other_quantities_are_not() -> None:
    values = [0.0, 0.0, 0.0, 4.0]
    assert confidence_interval(values)[1] < 0
    for name in ("petitions_per_year", "waiting_days.township", "escalations_by_time_limit"):
        mean, low, high, how = kpi_interval(name, values)
        assert (low, how) == (0.0, "clipped at 0") and high > mean == 1.0
    assert kpi_interval("a paired difference", values)[1] < 0  # signed: left alone


def test_summary_of_every_kpi_is_inside_its_range() -> None:
    rng = np.random.default_rng(3)
    per_rep = pd.DataFrame(
        {
            name: (
                rng.choice([0.0, 0.02, 0.97, 1.0], size=4)
                if name in SHARE_KPIS
                else rng.choice([0.0, 0.0, 0.5, 30.0], size=4)
            )
            for name in KPI_NAMES
        }
    )
    summary = summarise(per_rep)
    shares = summary.loc[sorted(SHARE_KPIS)]
    assert (shares["ci_low"] >= 0).all() and (shares["ci_high"] <= 1).all()
    assert (summary["ci_low"] >= 0).all()
    assert (summary["ci_low"] <= summary["mean"]).all()
    assert (summary["mean"] <= summary["ci_high"]).all()
    assert set(summary["interval"]) <= {"", "logit", "clipped at 0", "all 0", "all 1"}


def test_met_with_confidence_reads_the_interval_shown() -> None:
    values = [0.79, 0.83, 0.86, 0.90]
    scenario = sim.load_scenario(SMALL, ["targets.minor_kept_in_village.at_least=0.75"])
    per_rep = pd.DataFrame({name: [0.5, 0.6, 0.7, 0.8] for name in scenario.targets})
    per_rep["minor_kept_in_village"] = values
    summary = summarise(per_rep)
    verdict = judge_targets(scenario, summary).loc["minor_kept_in_village"]
    low = summary.loc["minor_kept_in_village", "ci_low"]
    assert verdict["ci_low"] == low
    assert bool(verdict["met_with_confidence"]) == (low >= 0.75)


# --- item 7: denominators --------------------------------------------------------------------


def test_every_share_and_only_a_share_has_a_denominator() -> None:
    assert set(SHARE_DENOMINATORS) == set(SHARE_KPIS)
    assert share_denominator("days_to_resolution.mean") == ""
    assert share_denominator("minor_kept_in_village", "zh") == "占已办结小事"
    assert share_denominator("minor_kept_in_village", "en") == "of concluded minor disputes"
    # The two shares the issue found disagreeing say they have different wholes.
    assert share_denominator("resolved_share.grid") != share_denominator("resolved_share.village")
    assert "referrals" in share_denominator("resolved_share.stationed_room")


@pytest.fixture(scope="module")
def results() -> sim.Results:
    scenario = sim.load_scenario(SMALL, [QUICK[1], QUICK[3]])
    return sim.simulate(scenario, replications=2, seed=4, keep_tables=True)


def test_report_tables_name_each_share_s_denominator(results: sim.Results) -> None:
    table = tables.kpi_table(results, "en", kpis=None)
    for name in table.index:
        assert table.loc[name, "of"] == share_denominator(name, "en")
    page = render_run(results)
    assert "分母 share of" in page and "占已办结小事" in page
    assert "on-the-spot settlements have their own column" in page


def test_where_resolved_grid_plus_on_the_spot_is_the_grid_kpi(results: sim.Results) -> None:
    one = sim.simulate(results.scenario, replications=1, seed=4, keep_tables=True)
    shares = tables.where_resolved(one).loc["all"]
    kpi = one.per_replication["resolved_share.grid"].iloc[0]
    assert shares.get("grid", 0) + shares.get("on_the_spot", 0) == pytest.approx(kpi)
    assert shares.get("grid", 0) < kpi  # the table's grid column alone is not the KPI


# --- item 10: output polish ------------------------------------------------------------------


def test_display_width_pad_and_plural() -> None:
    assert display_width("网格化解") == 8 and display_width("grid") == 4
    assert display_width(pad("小事不出村", 14)) == 14
    assert pad("12.5", 8, right=True) == "    12.5"
    assert pad("too long for it", 4) == "too long for it"
    assert (plural(1, "replication"), plural(3, "replication")) == (
        "1 replication",
        "3 replications",
    )


def _run_output(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["run", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_sim_run_table_is_aligned_singular_and_labelled(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run_output(capsys, str(SMALL), "-r", "1", *QUICK)
    assert status == 0
    assert "1 replication," in out and "1 replications" not in out
    assert "no confidence interval" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("KPI"))
    rows = lines[header + 1 : lines.index("", header)]
    # The mean column ends at the same display column on every row, whatever the label.
    shown = [row for row in rows if "[" in row]
    assert len(shown) > 20
    ends = {display_width(row[: row.index("[")].rstrip()) for row in shown}
    closes = {display_width(row[: row.index("]") + 1]) for row in shown}
    assert len(ends) == 1 and len(closes) == 1, (ends, closes)
    grid = next(row for row in rows if row.startswith("resolved_share.grid "))
    assert grid.endswith(share_denominator("resolved_share.grid"))


def test_sweep_file_given_to_sim_run_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    sweep = ROOT / "scenarios" / "sweeps" / "sweep_frequency.toml"
    status, _, err = _run_output(capsys, str(sweep))
    assert status == 2
    errors = [line for line in err.splitlines() if line.startswith("sim: error:")]
    assert len(errors) == 1 and "use `sim sweep" in errors[0]  # one line, not one per key
    sens = ROOT / "scenarios" / "sweeps" / "sensitivity_minor_in_village.toml"
    status, _, err = _run_output(capsys, str(sens))
    assert status == 2 and "use `sim sensitivity" in err


def test_register_in_a_missing_folder_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    target = f"{tmp_path}/no/such/dir/x.csv"
    status, _, err = _run_output(capsys, str(SMALL), "-r", "1", *QUICK, "--register", target)
    assert status == 2
    assert "--register" in err and "no folder" in err and "None" not in err


def test_unknown_township_in_set_lists_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", str(SMALL), "--set", "townships.Nowhere.full_time=1"])
    err = capsys.readouterr().err
    assert status == 2
    assert "Nowhere" in err and "甲镇 / Jiazhen" in err and "乙乡 / Yixiang" in err


def test_sim_run_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "run.replications" in out and "bundled Qujiang" in out
    assert "default: None" not in out


def test_sizing_csv_headers_are_bilingual_and_read_back() -> None:
    raw = ["kpi", "sense", "bound", "p_meet", "floor", "start", "value", "yuan_per_year"]
    for name in [*raw, "shortfall"]:
        header = SIZING_HEADERS[name]
        assert header.startswith(name + " ")
        assert any(display_width(ch) == 2 for ch in header), header
    assert "目标" in SIZING_HEADERS["shortfall"]  # relative to the target, and says so
    table = pd.DataFrame([[1.0] * len(raw)], columns=raw)
    headed = table.rename(columns=SIZING_HEADERS)
    assert list(plain_columns(headed).columns) == raw
    assert not math.isnan(float(plain_columns(headed)["p_meet"].iloc[0]))
