"""bench/phases.py still follows `sim run`: it runs the command itself and marks its steps by
wrapping what the command calls (the loader, simulate, simulate_replication), so a refactor
that moves one of them must fail here rather than leave the benchmark timing something else.
No timing is judged: only that the command ran to its JSON and every step was seen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sim.scenario.vocabulary import KPI_NAMES

ROOT = Path(__file__).resolve().parents[1]
# Imports first, then the command's steps, in the order they happen.
PHASES = [
    "numpy",
    "pydantic",
    "scenario_schema",
    "rest_of_sim",
    "load",
    "replication",
    "measures",
    "output",
]


def test_phases_probe_runs_sim_run_and_sees_every_step_in_order():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "phases.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["exit_status"] == 0
    assert result["kpis"] == sorted(KPI_NAMES)  # the command's own --json text, whole
    # Each wrapper marked its step once, in the command's order: a step the command no
    # longer calls (or calls under another name) leaves its phase out or out of order.
    assert list(result["phases_s"]) == PHASES
    assert result["heavy_imports"] == []  # sim run imports no pandas, scipy or statsmodels
    # typing_extensions >= 4.16 (pyproject): pydantic_core's deprecated() no longer imports it.
    assert result["asyncio_imported"] is False
