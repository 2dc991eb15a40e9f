"""Each bundled scenario through each command, as a user types it (defaults, no overrides).

Smoke tests of the whole path — parse, validate, simulate, print — where the other tests use
short horizons and overrides. Replications are cut to 2 (``-r 2``), the fewest that give an
interval; nothing else is changed. ``sim size`` (the package search) on Qujiang takes about
7 minutes on 2 cores and is measured, not tested, here (docs/sizing.md, "The Qujiang
answer"); notebooks 03 and 04 run ``--check-quotas`` and ``--headcount-only`` on it in their
default mode (tests/test_notebooks.py).
"""

from __future__ import annotations

import json

import pytest

from sim.cli.main import main

from .scenarios import ROOT

BUNDLED = ["small", "small_full", "qujiang"]


def _path(name: str) -> str:
    return str(ROOT / "scenarios" / f"{name}.toml")


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize(
    "command",
    [["validate"], ["run", "-r", "2", "--json", "-"], ["explain", "-r", "2"]],
    ids=["validate", "run", "explain"],
)
def test_each_bundled_scenario_through_each_command(name, command, capsys):
    code = main([command[0], _path(name), *command[1:]])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err and out.strip()
    if command[0] == "run":  # the fixed interface (docs/DESIGN): scenario, replications, kpis
        data = json.loads(out)
        assert data["scenario"] == name and data["replications"] == 2
        disputes = data["kpis"]["disputes"]
        assert (
            disputes["ci_low"] <= disputes["mean"] <= disputes["ci_high"] and disputes["mean"] > 0
        )


@pytest.mark.parametrize("name", ["small", "small_full"])
def test_sim_size_answers_on_the_small_bundled_scenarios(name, capsys):
    """The default search (package mode where a measure is active) to its answer: exit 0 and
    a verdict for every target of the scenario."""
    code = main(["size", _path(name), "-r", "2", "--quiet", "--json", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["targets"] and all("met" in t for t in data["targets"])
    assert data["staffing"] and data["replications_simulated"] > 0
