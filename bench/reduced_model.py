"""The project's model, every mechanism off, on the reference network; prints the reference JSON.

Runs ``sim.simulate_replication`` on bench/reference.toml (the network of ../shared/bench in the
stable variant) and prints the JSON shape of ../shared/bench/common.py: ``wall_s`` (scenario
load + model build + run; imports excluded), disputes, and per level the mean time at a node,
the mean total time of disputes resolved there and the share resolved there. The figures are
computed from the replication's record lists after the timed part.

The command line is the reference scripts' (``--seed``, ``--years``, ``--townships``,
``--township-servers``, ``--district-servers``, ``--scale``, ``--warmup``, ``--dump``); each is
turned into ``--set``-style overrides for ``sim.load_scenario``. Unlike the reference scripts the
defaults are the stable variant of bench/reference.toml (3 and 32 servers).

Usage: python bench/reduced_model.py [--seed 1] [--years 1] [--townships 2 --district-servers 4]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference.toml"
LEVELS = ("grid", "village", "township", "district")
VILLAGES_PER_TOWNSHIP = 15
GRIDS_PER_VILLAGE = 5
POPULATION_PER_TOWNSHIP = 15000  # x 40 per 1,000 per year = 40 disputes per village-year


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--years", type=float, default=1.0, help="arrival horizon in years of 365 d")
    p.add_argument("--townships", type=int, default=20)
    p.add_argument("--township-servers", type=int, default=3, help="mediators per township")
    p.add_argument("--district-servers", type=int, default=32, help="district mediators")
    p.add_argument("--scale", type=int, default=1, help="multiply townships and district mediators")
    p.add_argument(
        "--warmup", type=float, default=0.0, help="days; statistics use arrivals after this"
    )
    p.add_argument("--dump", default=None, help="CSV of per-dispute records (after timing)")
    p.add_argument("--scenario", type=Path, default=REFERENCE, help="base scenario file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override")
    return p.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str | tuple[str, Any]]:
    """The command line as ``--set``-style overrides of bench/reference.toml."""
    n = args.townships * args.scale
    townships = [
        {
            "name": f"T{k + 1:04d}",
            "pinyin": f"T{k + 1:04d}",
            "population": POPULATION_PER_TOWNSHIP,
            "villages": VILLAGES_PER_TOWNSHIP,
            "grids": VILLAGES_PER_TOWNSHIP * GRIDS_PER_VILLAGE,
        }
        for k in range(n)
    ]
    days = args.years * 365.0
    return [
        ("townships", townships),
        f"run.horizon_days={days!r}",
        "run.warmup_days=0",  # arrivals start at 0; --warmup filters the statistics only
        f"ladder.township.full_time={args.township_servers}",
        f"ladder.district.full_time={args.district_servers * args.scale}",
        *args.set,
    ]


def summarize(rep: Any, args: argparse.Namespace, wall: float) -> dict[str, Any]:
    """The result dict of shared/bench/common.py from the replication's records."""
    warmup = args.warmup
    steps = rep.steps.frame(["case_id", "level_i", "entered", "ended"])
    cases = rep.cases.frame(["case_id", "arisen", "concluded"]).set_index("case_id")
    steps["arisen"] = cases["arisen"].reindex(steps["case_id"]).to_numpy()
    counted_steps = steps[steps["arisen"] >= warmup]
    node = (counted_steps["ended"] - counted_steps["entered"]).groupby(counted_steps["level_i"])
    node_sum = node.sum().reindex(range(4), fill_value=0.0).tolist()
    node_cnt = node.count().reindex(range(4), fill_value=0).astype(int).tolist()
    # The level a dispute was resolved at is the level of its last step.
    cases["level"] = steps.groupby("case_id")["level_i"].last()
    cases["sojourn"] = cases["concluded"] - cases["arisen"]
    end = float(cases["concluded"].max())
    if args.dump:
        dump = pd.DataFrame(
            {
                "arrival_day": cases["arisen"],
                "level_resolved": cases["level"] + 1,
                "total_days": cases["sojourn"],
            }
        )
        dump.to_csv(args.dump, index=False, float_format="%r")
    counted_cases = cases[cases["arisen"] >= warmup]
    counted = len(counted_cases)
    by_level = counted_cases.groupby("level")["sojourn"]
    res_cnt = by_level.count().reindex(range(4), fill_value=0).astype(int).tolist()
    res_sum = by_level.sum().reindex(range(4), fill_value=0.0).tolist()
    total = float(counted_cases["sojourn"].sum())
    sc = rep.scenario
    n, nan = len(rep.cases), math.nan
    servers = [sc.ladder.level(lv).full_time + sc.ladder.level(lv).part_time for lv in LEVELS]
    return {
        "engine": "sim (reduced)",
        "version": __import__("sim").__version__,
        "seed": args.seed,
        "years": args.years,
        "config": {
            "townships": len(sc.townships),
            "villages": len(rep.district.village_names),
            "grids": len(rep.district.grid_names),
            "servers_per_node": servers,
            "mean_service_days": [sc.ladder.level(lv).effort_hours.mean / 24 for lv in LEVELS],
            "p_resolve": [sc.ladder.level(lv).resolve.full_time.minor for lv in LEVELS],
            "arrivals_per_village_year": sc.population
            * sc.arrivals.rate_per_1000_per_year
            / 1000
            / len(rep.district.village_names),
            "horizon_days": sc.run.horizon_days,
            "warmup_days": warmup,
        },
        "wall_s": round(wall, 6),
        "disputes": n,
        "disputes_counted": counted,
        "disputes_per_s": round(n / wall, 1) if wall > 0 else None,
        "events": rep.events,
        "events_note": "SimPy events processed (env.step calls), incl. the daily sampler",
        "service_completions": sum(node_cnt) if warmup == 0 else None,
        "resolved_fraction": {
            L: res_cnt[i] / counted if counted else nan for i, L in enumerate(LEVELS)
        },
        "node_sojourn_mean": {
            L: node_sum[i] / node_cnt[i] if node_cnt[i] else nan for i, L in enumerate(LEVELS)
        },
        "node_visits": dict(zip(LEVELS, node_cnt, strict=True)),
        "total_sojourn_by_resolved_level": {
            L: res_sum[i] / res_cnt[i] if res_cnt[i] else nan for i, L in enumerate(LEVELS)
        },
        "mean_total_sojourn": total / counted if counted else nan,
        "last_resolution_day": end,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import sim  # not timed, like the reference scripts' imports

    # `import sim` is lazy: load what the timed part uses here, outside the clock.
    import sim.model.replication
    import sim.scenario.loading
    from sim.scenario.schema import Scenario

    # The scenario classes build their validator on first use (defer_build keeps `sim --help`
    # fast): work of the import, ~0.02 s, so it too is done before the clock starts.
    Scenario.model_rebuild()

    t0 = time.perf_counter()
    scenario = sim.load_scenario(args.scenario, overrides(args))
    t1 = time.perf_counter()
    rep = sim.simulate_replication(scenario, 0, args.seed)
    t2 = time.perf_counter()
    # The records still held as tuples, packed into columns as the tables would pack them. A run
    # packs a chunk every 65,536 steps inside the run, so without this a run of more steps
    # would count packing that a shorter one leaves for later (scaling adds it to wall_s).
    for log in (rep.cases, rep.steps, rep.petitions, rep.timeseries):
        log.pack()
    t3 = time.perf_counter()
    out = summarize(rep, args, t2 - t0)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out |= {
        "load_s": round(t1 - t0, 6),
        "run_s": round(t2 - t1, 6),
        "pack_s": round(t3 - t2, 6),
        "steps": len(rep.steps),
        "peak_rss_mib": round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
