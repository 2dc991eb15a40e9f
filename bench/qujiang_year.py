"""Time one replication of the bundled, full-featured Qujiang year and print JSON.

``wall_s`` covers ``sim.load_scenario`` plus ``sim.simulate_replication(scenario, 0)``, like the
reference scripts in ../shared/bench (model build + run, imports excluded); ``import_s`` is
reported separately because whole-process timings (bench/run.py) include it.

Usage: python bench/qujiang_year.py [--seed N] [--years Y] [--scenario PATH] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=None, help="base seed (default: the scenario's)")
    p.add_argument("--years", type=float, default=1.0, help="measured years (run.horizon_days)")
    p.add_argument("--scenario", default=None, help="scenario file (default: bundled Qujiang)")
    p.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report the peak Python heap of load + run (slows the run; not for timing)",
    )
    return p.parse_args(argv)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    import sim  # imported here so that import_s can time it
    import sim.experiments.experiment  # `import sim` is lazy: the run's modules, timed here
    import sim.model.replication
    import sim.scenario.loading
    from sim.scenario.schema import Scenario

    Scenario.model_rebuild()  # built on first use (defer_build): import work, timed as such
    import_s = time.perf_counter() - t0
    days = 365 * args.years
    overrides = [f"run.horizon_days={int(days) if days == int(days) else days}"]
    if args.tracemalloc:
        tracemalloc.start()
    t1 = time.perf_counter()
    scenario = sim.load_scenario(args.scenario, overrides)
    t2 = time.perf_counter()
    rep = sim.simulate_replication(scenario, 0, args.seed)
    t3 = time.perf_counter()
    heap_mib = None
    if args.tracemalloc:
        heap_mib = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    wall = t3 - t1
    disputes = len(rep.cases)
    lo, hi = rep.window
    arisen = rep.cases.frame(["arisen"])["arisen"]
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        kib /= 1024
    return {
        "engine": "sim (qujiang)",
        "version": sim.__version__,
        "scenario": scenario.name,
        "seed": rep.seed,
        "years": args.years,
        "window_days": [lo, hi],
        "end_day": rep.end_time,
        "import_s": round(import_s, 6),
        "load_s": round(t2 - t1, 6),
        "run_s": round(t3 - t2, 6),
        "wall_s": round(wall, 6),
        "disputes": disputes,
        "disputes_in_window": int(arisen.between(lo, hi, "left").sum()),
        "steps": len(rep.steps),
        "events": rep.events,
        "events_note": "SimPy events processed (env.step calls in the model's run loop)",
        "events_per_dispute": round(rep.events / disputes, 3) if disputes else None,
        "events_per_s": round(rep.events / wall, 1) if wall > 0 else None,
        "us_per_event": round(1e6 * wall / rep.events, 3) if rep.events else None,
        "disputes_per_s": round(disputes / wall, 1) if wall > 0 else None,
        "peak_rss_mib": round(kib / 1024, 1),
        "peak_heap_mib": None if heap_mib is None else round(heap_mib, 1),
    }


def main(argv: list[str] | None = None) -> None:
    json.dump(measure(parse_args(argv)), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
