"""Peak memory of a province run's KPIs (issue 19, item 4): spooled records, streamed KPIs.

Two steps, each a process of its own so that its peak RSS is its own:

``run``: the reduced model (bench/reduced_model.py's scenario) at ``--scale`` (85: a province
of 1,700 townships, 25,500 villages) for ``--years``, its records spooled to Parquet as
``sim run --spool`` does; the replication is pickled beside them (its logs point at the files).

``copy --copies K``: stands in for a run K times as long without simulating it: the records
are written again K times, each copy's case and petition ids shifted past the previous copy's
and its times by the measurement window's length, and the window widened to cover them all —
the disputes and steps a K-year run makes (the model's own memory with ``--spool`` does not
grow with the years: its records leave memory a chunk at a time).

``kpis [--copies K]``: the KPIs of that replication (or of its K copies), read back from the
spool files (``sim.measures.kpis.kpis(rep)``, streaming over the step chunks); ``--tables``
measures the old way instead: the case table and register built in pandas, then the KPIs.

Usage::

    python -m bench.province_kpis run --scale 85 --years 1 --out /tmp/province
    python -m bench.province_kpis copy /tmp/province --copies 10
    python -m bench.province_kpis kpis /tmp/province --copies 10
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHIFTED_IDS = {"cases": ("case_id",), "steps": ("case_id",), "petitions": ("petition_id",)}
SHIFTED_TIMES = {
    "cases": ("arisen", "concluded"),
    "steps": ("entered", "started", "ended"),
    "petitions": ("filed", "backlog_entered", "closed"),
    "timeseries": ("time",),
}


def peak_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import sim
    from bench import reduced_model

    scenario = sim.load_scenario(
        reduced_model.REFERENCE,
        [
            *reduced_model.overrides(
                reduced_model.parse_args(["--scale", str(args.scale), "--years", str(args.years)])
            ),
            "run.allow_large=true",
        ],
    )
    out = Path(args.out)
    t = time.perf_counter()
    rep = sim.simulate_replication(scenario, 0, args.seed, spool=out / "records")
    wall = time.perf_counter() - t
    with open(out / "replication.pkl", "wb") as f:
        pickle.dump(rep, f)
    return {
        "step": "run",
        "scale": args.scale,
        "years": args.years,
        "disputes": len(rep.cases),
        "steps": len(rep.steps),
        "run_s": round(wall, 1),
        "peak_rss_mib": peak_mib(),
    }


def _copies(rep: Any, folder: Path, k: int) -> None:
    """Point ``rep``'s logs at ``k`` shifted copies of its records (see the module doc)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lo, hi = rep.window
    span = hi - lo
    ids = pq.read_table(rep.cases.spool, columns=["case_id"])[0].to_numpy()
    id_width = {"cases": int(ids.max()) + 1}
    id_width["steps"] = id_width["cases"]
    if len(rep.petitions):
        ids = pq.read_table(rep.petitions.spool, columns=["petition_id"])[0].to_numpy()
        id_width["petitions"] = int(ids.max()) + 1
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("cases", "steps", "petitions", "timeseries"):
        log = getattr(rep, name)
        target = folder / f"{name}.parquet"
        source = pq.ParquetFile(log.spool)
        writer = None
        for c in range(k):
            for g in range(source.num_row_groups):
                table = source.read_row_group(g)
                for col in SHIFTED_IDS.get(name, ()):
                    i = table.schema.get_field_index(col)
                    table = table.set_column(i, col, pc.add(table[col], c * id_width.get(name, 0)))
                if name == "petitions":  # a petition's dispute, shifted as the disputes are
                    i = table.schema.get_field_index("case_id")
                    shifted = pc.add(table["case_id"], c * id_width["cases"])
                    table = table.set_column(i, "case_id", shifted)
                for col in SHIFTED_TIMES[name]:
                    i = table.schema.get_field_index(col)
                    table = table.set_column(i, col, pc.add(table[col], pa.scalar(c * span)))
                if writer is None:
                    writer = pq.ParquetWriter(target, table.schema)
                writer.write_table(table)
        if writer is not None:
            writer.close()
        log.spool = target
        log._count *= k  # a stand-in for a run k times as long
    rep.window = (lo, hi + (k - 1) * span)


def kpis(args: argparse.Namespace) -> dict[str, Any]:
    # Loaded before the clock and the first memory reading.
    import pyarrow.parquet  # noqa: F401

    import sim.measures.kpis
    import sim.measures.register

    folder = Path(args.folder)
    with open(folder / _pickle_name(args.copies), "rb") as f:
        rep = pickle.load(f)
    loaded = peak_mib()
    t = time.perf_counter()
    if args.tables:
        from sim.measures.register import case_table, register_table

        cases = case_table(rep)
        values = sim.measures.kpis.kpis(rep, cases, register_table(rep, cases))
    else:
        values = sim.measures.kpis.kpis(rep)
    wall = time.perf_counter() - t
    return {
        "step": "kpis",
        "how": "tables (pandas)" if args.tables else "streamed (numpy)",
        "copies": args.copies,
        "disputes": len(rep.cases),
        "steps": len(rep.steps),
        "kpi_s": round(wall, 1),
        "peak_rss_mib_before_kpis": loaded,
        "peak_rss_mib": peak_mib(),
        "disputes_per_year": values["disputes"],
        "minor_kept_in_village": values["minor_kept_in_village"],
    }


def _pickle_name(copies: int) -> str:
    return "replication.pkl" if copies == 1 else f"replication_{copies}.pkl"


def copy(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.folder)
    with open(folder / "replication.pkl", "rb") as f:
        rep = pickle.load(f)
    _copies(rep, folder / f"copies_{args.copies}", args.copies)
    with open(folder / _pickle_name(args.copies), "wb") as f:
        pickle.dump(rep, f)
    return {"step": "copy", "copies": args.copies, "disputes": len(rep.cases)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="step", required=True)
    r = sub.add_parser("run")
    r.add_argument("--scale", type=int, default=85)
    r.add_argument("--years", type=float, default=1.0)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", required=True)
    c = sub.add_parser("copy")
    c.add_argument("folder")
    c.add_argument("--copies", type=int, required=True)
    k = sub.add_parser("kpis")
    k.add_argument("folder")
    k.add_argument("--copies", type=int, default=1, help="read the records `copy` wrote")
    k.add_argument("--tables", action="store_true")
    args = p.parse_args(argv)
    out = {"run": run, "copy": copy, "kpis": kpis}[args.step](args)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
