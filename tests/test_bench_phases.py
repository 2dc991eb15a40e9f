"""bench/phases.py still follows `sim run`: it reaches into the command's own steps (the loader,
the collector hand-over, simulate's call of simulate_replication), so a refactor that moves
one of them must fail here rather than leave the benchmark timing something else. No timing
is judged: only that every phase is there, measured, and adds up to no more than the whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def test_phases_probe_times_every_phase_of_sim_run_and_they_add_up():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "phases.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    phases = result["phases_s"]
    assert list(phases) == PHASES  # in the command's order
    assert all(s >= 0.0 for s in phases.values())
    # The wrapper saw simulate() run the replication: the model's phase is not empty.
    assert phases["replication"] > 0.0
    # Phases are consecutive slices of one clock: their sum is the wall time up to the end of
    # the output, to float rounding.
    assert abs(sum(phases.values()) - result["wall_s"]) < 1e-6
    assert result["heavy_imports"] == []  # sim run imports no pandas, scipy or statsmodels
    # typing_extensions >= 4.16 (pyproject): pydantic_core's deprecated() no longer imports it.
    assert result["asyncio_imported"] is False
