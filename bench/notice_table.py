"""Issue 15's closing table: Qujiang with each notice mechanism switched on alone, paired (CRN).

Every variant runs replications 0..n-1 under the scenario's own seed, as the bundled defaults
do, so that each pair faces the same disputes (common random numbers); a cell is the mean of
the paired differences with its 95% Student-t half-width. The values switched on are the
proposals of docs/model.md (most [EST]); the bundled qujiang.toml keeps every one off.

Usage: PYTHONPATH=. python bench/notice_table.py [--replications 10] [--workers 2] [--csv PATH]
Prints a Markdown table (docs/model.md "Each notice mechanism on alone").
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

import sim
from sim.experiments.experiment import replication_kpis
from sim.experiments.intervals import confidence_interval

__all__ = ["KPIS", "VARIANTS", "main", "table"]

# The district centre's joint level in qujiang.toml, with the district committee's chances: the
# same departments' staff at the township, with less authority (docs/model.md, township centres).
_TOWNSHIP_JOINT = {
    "effort_hours": {"dist": "lognormal", "median": 8.0, "p90": 24.0},
    "severity_effort": {"minor": 1.0, "major": 1.5, "serious": 2.0},
    "sessions": 2,
    "party_delay_days": {"dist": "exponential", "mean": 5.0},
    "time_limit_days": 30,
    "resolve": {
        "full_time": {"minor": 0.84, "major": 0.79, "serious": 0.69},
        "part_time": {"minor": 0.84, "major": 0.79, "serious": 0.69},
    },
}
_STATIONED = {  # 派出所、司法所、人民法庭、信访: one each per township [EST]
    "police": {"label": "派出所", "staff": 1},
    "justice": {"label": "司法所", "staff": 1},
    "court": {"label": "人民法庭", "staff": 1},
    "petitions": {"label": "信访", "staff": 1},
}

# (label, overrides): each notice mechanism of issue 15 at its proposed values.
VARIANTS: dict[str, list[Any]] = {
    "交办属地 assign-down": [
        "mechanisms.assign_down=true",
        "district_centre.assign_down_share={minor=0.5, major=0.2, serious=0}",
        'district_centre.assign_down_delay_days={dist="exponential", mean=2.0}',
    ],
    "乡镇矛调中心 township centres": [
        "mechanisms.township_centres=true",
        (
            "township_centre",
            {
                "departments": _STATIONED,
                "joint_share": {"minor": 0.0, "major": 0.2, "serious": 0.5},
                "departments_per_case": 2,
                "joint": _TOWNSHIP_JOINT,
            },
        ),
    ],
    "信访代办员 petition agents": ["mechanisms.petition_agent_effect=true"],
    "访调对接 + 下访约访": ["mechanisms.petition_mediation=true", "mechanisms.leader_visits=true"],
    "诉调衔接 court linkage": ["mechanisms.court_linkage=true"],
    "跨村 → 乡镇调 cross-village": ["mechanisms.cross_village_routing=true"],
    "巡回调解团 experts at villages": ["mechanisms.circuit_team=true"],
    "区级调 重大疑难": ["mechanisms.major_difficult_to_district=true"],
    "专案经营 special teams": ["mechanisms.special_teams=true"],
}
# And all of them at once (not a sum: the mechanisms interact).
VARIANTS["all of the above"] = [o for overrides in list(VARIANTS.values()) for o in overrides]
# KPI: (label, decimals shown).
KPIS = {
    "minor_kept_in_village": ("小事不出村", 3),
    "major_kept_in_township": ("大事不出镇", 3),
    "days_to_resolution.mean": ("days to resolution", 2),
    "petitions_per_year": ("petitions / yr", 1),
    "backlog_resolution_rate": ("积案化解率", 3),
}


def _one(job: tuple[str, list[Any], int]) -> tuple[str, int, dict[str, float]]:
    name, overrides, k = job
    sc = sim.load_scenario(None, overrides)
    kpis = replication_kpis(sc, sc.run.seed, k)
    return name, k, {key: float(kpis[key]) for key in KPIS}


def _cell(mean: float, half: float, digits: int, delta: bool) -> str:
    """``mean ±half`` to ``digits`` decimals (``Δ`` and a sign for a difference)."""
    if not math.isfinite(mean):
        return "–"
    sign = "+" if delta else ""
    return f"{'Δ ' if delta else ''}{mean:{sign}.{digits}f} ±{half:.{digits}f}"


def table(replications: int, workers: int) -> tuple[str, list[dict[str, Any]]]:
    """The Markdown table and its rows (variant, KPI, mean difference, half-width)."""
    jobs = [
        (name, overrides, k)
        for name, overrides in {"bundled defaults": [], **VARIANTS}.items()
        for k in range(replications)
    ]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            done = list(pool.map(_one, jobs))
    else:
        done = [_one(j) for j in jobs]
    values: dict[str, dict[int, dict[str, float]]] = {}
    for name, k, kpis in done:
        values.setdefault(name, {})[k] = kpis
    base = values["bundled defaults"]
    head = "| variant | " + " | ".join(f"{zh} `{key}`" for key, (zh, _) in KPIS.items()) + " |"
    lines = [head, "|" + " --- |" * (len(KPIS) + 1)]
    cells = []
    rows: list[dict[str, Any]] = []
    for key, (_, digits) in KPIS.items():
        x = np.array([base[k][key] for k in range(replications)])
        mean, lo, _hi = confidence_interval(x, 0.95)
        cells.append(_cell(mean, mean - lo, digits, delta=False))
    lines.append("| bundled defaults (mean) | " + " | ".join(cells) + " |")
    for name in VARIANTS:
        cells = []
        for key, (_, digits) in KPIS.items():
            d = np.array([values[name][k][key] - base[k][key] for k in range(replications)])
            d = d[np.isfinite(d)]
            mean, lo, _hi = confidence_interval(d, 0.95) if len(d) > 1 else (math.nan,) * 3
            half = mean - lo
            cells.append(_cell(mean, half, digits, delta=True))
            rows.append({"variant": name, "kpi": key, "difference": mean, "half_width": half})
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replications", type=int, default=10, help="paired replications (≥ 2)")
    p.add_argument("--workers", type=int, default=1, help="processes (results do not depend on it)")
    p.add_argument("--csv", default=None, help="also write the differences as CSV here")
    args = p.parse_args(argv)
    if args.replications < 2 or args.workers < 1:
        print("--replications must be ≥ 2 and --workers ≥ 1", file=sys.stderr)
        return 2
    text, rows = table(args.replications, args.workers)
    print(
        f"Qujiang, {args.replications} paired replications (seed of qujiang.toml), 95% half-widths"
    )
    print(text)
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
