"""A target on a share KPI typed as a percentage (80 for 80%) is bad input: exit 2 naming the
key, the value and what a share is — not a run that reports ">= 80 … NOT met" (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli.main import main
from sim.scenario.errors import ScenarioError
from sim.scenario.vocabulary import KPI_NAMES, SHARE_KPIS

SMALL = Path(__file__).resolve().parents[1] / "scenarios" / "small.toml"
QUICK = ["--set", "run.horizon_days=30", "-r", "1"]


def test_share_kpis_are_kpis():
    assert SHARE_KPIS.issubset(KPI_NAMES)
    assert {"minor_kept_in_village", "major_kept_in_township", "resolved_within_limit"} <= (
        SHARE_KPIS
    )
    assert not {"days_to_resolution.mean", "petitions_per_year", "annual_cost_yuan"} & SHARE_KPIS


def test_percentage_target_exits_2_naming_key_value_and_expectation(capsys):
    code = main(["run", str(SMALL), *QUICK, "--set", "targets.minor_kept_in_village.at_least=80"])
    err = capsys.readouterr().err
    assert code == 2
    assert "targets.minor_kept_in_village.at_least = 80" in err
    assert "a share between 0 and 1 (80% is 0.8)" in err
    assert "Traceback" not in err


def test_share_targets_in_a_file_and_negative_bounds(tmp_path):
    path = tmp_path / "pct.toml"
    path.write_text(
        f'extends = "{SMALL.as_posix()}"\n[targets]\n'
        "resolved_share.township = { at_most = 30 }\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        sim.load_scenario(path)
    (problem,) = caught.value.problems
    assert problem.key == "targets.resolved_share.township.at_most"
    assert problem.value == 30
    assert "30% is 0.3" in problem.expected
    with pytest.raises(ScenarioError, match="share between 0 and 1"):
        sim.load_scenario(SMALL, ["targets.major_kept_in_township.at_least=-0.1"])


def test_shares_in_range_and_other_kpis_are_accepted():
    scenario = sim.load_scenario(
        SMALL,
        [
            "targets.minor_kept_in_village.at_least=0.8",
            "targets.major_kept_in_township.at_least=1",
            "targets.days_to_resolution.p90.at_most=60",  # days, not a share
            "targets.petitions_per_year.at_most=120",
        ],
    )
    assert scenario.targets["days_to_resolution.p90"].value == 60
