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
    """The result dict of shared/bench/common.py from the replication's record lists."""
    warmup = args.warmup
    arisen = {c[0]: c[1] for c in rep.cases}
    node_sum, node_cnt = [0.0] * 4, [0] * 4
    last_level: dict[int, int] = {}
    for s in rep.steps:  # (case, step, venue, unit, channel, entered, started, ended, ...)
        lv = s[2]
        last_level[s[0]] = lv
        if arisen[s[0]] >= warmup:
            node_sum[lv] += s[7] - s[5]
            node_cnt[lv] += 1
    res_cnt, res_sum = [0] * 4, [0.0] * 4
    counted, total, end = 0, 0.0, 0.0
    rows = []
    for c in (
        rep.cases
    ):  # (case, arisen, grid, category, sev0, sev, sensitive, initial, status, concluded, ...)
        lv, soj = last_level[c[0]], c[9] - c[1]
        end = max(end, c[9])
        rows.append((c[1], lv + 1, soj))
        if c[1] >= warmup:
            counted += 1
            res_cnt[lv] += 1
            res_sum[lv] += soj
            total += soj
    if args.dump:
        with open(args.dump, "w") as f:
            f.write("arrival_day,level_resolved,total_days\n")
            f.writelines(f"{a!r},{lv},{s!r}\n" for a, lv, s in rows)
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

    t0 = time.perf_counter()
    scenario = sim.load_scenario(args.scenario, overrides(args))
    t1 = time.perf_counter()
    rep = sim.simulate_replication(scenario, 0, args.seed)
    t2 = time.perf_counter()
    out = summarize(rep, args, t2 - t0)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out |= {
        "load_s": round(t1 - t0, 6),
        "run_s": round(t2 - t1, 6),
        "steps": len(rep.steps),
        "peak_rss_mib": round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
