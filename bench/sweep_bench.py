"""Benchmark of the sweep executors: serial vs local processes vs a Dask LocalCluster.

One 24-point sweep (scenarios/small.toml, 6 sweep intervals × 4 township staffing levels,
2 replications, 365-day horizon) is run with each executor into a fresh folder; the results
are checked to be identical. Reports wall seconds, the speed-up of processes over serial, and
the per-point overhead of Dask relative to processes, with and without the cluster's start-up.

Wall times depend on what else runs on the machine; the CPU seconds (this process and its
finished children) show the work each executor adds, whatever the load.

Usage: python bench/sweep_bench.py [--workers 2] [--repeat 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from sim.experiments.executors import make_executor
from sim.experiments.sweep import run_points
from sim.experiments.sweep_plan import plan_sweep
from sim.experiments.sweep_results import load_sweep

ROOT = Path(__file__).resolve().parents[1]
SPEC = {
    "base": str(ROOT / "scenarios" / "small.toml"),
    "replications": 2,
    "seed": 1,
    "set": {"run.horizon_days": 365},
    "axes": {
        "discovery.sweep_interval_days": [2, 3, 5, 7, 10, 14],
        "ladder.township.full_time": [1, 2, 3, 4],
    },
}


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (pool workers, Dask nannies
    and workers once the cluster is closed): the work done, whatever else loads the machine."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _startup(kind: str, workers: int) -> float:
    """Seconds to start and stop the executor with no work (pool / cluster start-up)."""
    start = time.perf_counter()
    with make_executor(kind, workers) as ex:  # one trivial task per worker: all started
        list(ex.map_unordered(os.getpid, [(i, ()) for i in range(workers)]))
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="runs per executor (best is kept)")
    p.add_argument("--json", type=Path, help="write the measurements here")
    args = p.parse_args()
    plan = plan_sweep(SPEC)
    assert len(plan.points) == 24
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    frames: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("serial", "processes", "dask"):
            best = float("inf")
            for r in range(args.repeat):
                out = Path(tmp) / f"{kind}-{r}"
                start, cpu0 = time.perf_counter(), _cpu()
                run_points(plan, out, executor=kind, workers=args.workers, progress=False)
                best = min(best, time.perf_counter() - start)
                cpu[kind] = _cpu() - cpu0
                frames[kind] = load_sweep(out)
            times[kind] = best
    for kind in ("processes", "dask"):
        pd.testing.assert_frame_equal(frames["serial"], frames[kind], check_exact=True)
    startup = {k: _startup(k, args.workers) for k in ("processes", "dask")}
    n = len(plan.points)
    result = {
        "points": n,
        "replications": plan.replications,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "seconds": times,
        "cpu_seconds": cpu,
        "startup_seconds": startup,
        "speedup_processes_over_serial": times["serial"] / times["processes"],
        "speedup_dask_over_serial": times["serial"] / times["dask"],
        "dask_over_processes": times["dask"] / times["processes"],
        "dask_overhead_per_point_s": (times["dask"] - times["processes"]) / n,
        "dask_overhead_per_point_s_excl_startup": (
            (times["dask"] - startup["dask"]) - (times["processes"] - startup["processes"])
        )
        / n,
        "identical_results": True,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
