"""Issue 18 item 12: a run that leaves most of its disputes open says its verdicts are
unreliable (the shares count concluded disputes only) instead of printing a plain "met"."""

from __future__ import annotations

import json

import sim
from sim.cli.main import main
from sim.experiments.experiment import UNRELIABLE_OPEN_SHARE
from tests.scenarios import SMALL

# Two months without draining, with every mediation taking weeks of work: most disputes are
# still open when the run ends.
UNFINISHED = [
    "run.horizon_days=60",
    "run.warmup_days=0",
    "run.drain=false",
    "ladder.grid.effort_hours={dist='exponential', mean=400}",
    "ladder.village.effort_hours={dist='exponential', mean=400}",
]


def test_verdicts_of_an_unfinished_run_are_marked_unreliable() -> None:
    results = sim.simulate(sim.load_scenario(SMALL, UNFINISHED), replications=2, seed=1)
    assert results.summary.loc["open_share", "mean"] > UNRELIABLE_OPEN_SHARE
    assert len(results.targets) and not results.targets["reliable"].any()


def test_a_finished_run_is_reliable() -> None:
    results = sim.simulate(sim.load_scenario(SMALL, ["run.horizon_days=120"]), 2, seed=1)
    assert results.summary.loc["open_share", "mean"] <= UNRELIABLE_OPEN_SHARE
    assert results.targets["reliable"].all()


def test_the_cli_warns_and_the_json_says_so(capsys) -> None:
    sets = [a for s in UNFINISHED for a in ("--set", s)]
    assert main(["run", str(SMALL), "-r", "2", "--workers", "1", *sets]) == 0
    assert "unreliable" in capsys.readouterr().out
    assert main(["run", str(SMALL), "-r", "2", "--workers", "1", *sets, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(t["reliable"] is False for t in data["targets"].values())
