"""Sweeps: a grid of "what if" variants of a scenario, run with common random numbers.

A sweep file (TOML, see docs/sweeps.md) names a base scenario, axes (dotted scenario keys with
lists or ranges of values; the full grid is run), optional named variants, the replications,
the seed and the KPIs to keep. Every point of a sweep runs replications ``0..n-1`` under the
same seed, so the points face the same disputes (common random numbers, CRN) and differences
between points are paired:
:func:`~sim.experiments.sweep_results.paired_differences` reports them with confidence intervals
against a baseline point.

The file and its checks are in :mod:`sim.experiments.sweep_spec`, the expansion into points
in :mod:`sim.experiments.sweep_plan`, and reading results back in
:mod:`sim.experiments.sweep_results`; this module runs the points.

Running is durable (see :mod:`sim.experiments.sweep_store`): each finished point is written at once,
and a resumed sweep computes only what is missing. Where it runs is an executor
(:mod:`sim.experiments.executors`); the numbers do not depend on it.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.experiments.executors import check_options, make_executor
from sim.experiments.experiment import replication_kpis
from sim.experiments.sweep_plan import plan_sweep
from sim.experiments.sweep_results import load_sweep
from sim.experiments.sweep_spec import SweepPlan, SweepSpec
from sim.experiments.sweep_store import SweepStore
from sim.scenario.schema import Scenario

__all__ = ["run_points", "run_replication", "sweep"]


def run_replication(
    scenario: Scenario, seed: int, replication: int, kpis: Sequence[str] | None
) -> tuple[dict[str, float], float]:
    """One work unit: replication ``replication`` of ``scenario``; its KPIs and seconds taken.

    Depends only on (scenario, seed, replication): wherever it runs, the numbers are the same.
    """
    start = time.perf_counter()
    row = replication_kpis(scenario, seed, replication)
    values = {str(k): float(v) for k, v in row.items() if kpis is None or k in kpis}
    return values, time.perf_counter() - start


def run_points(
    plan: SweepPlan,
    out: str | Path,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the points of ``plan`` not yet done in ``out``; return what this run did.

    Each point is written the moment its last replication arrives. Ctrl-C stops cleanly:
    running replications finish or are dropped, finished points stay, a message says so.
    Nothing is written to ``out`` before the executor is up, so a bad ``--scheduler`` or a
    folder that holds another sweep leaves no trace.
    """
    from tqdm import tqdm  # not tqdm.auto: without ipywidgets it warns in every notebook

    check_options(executor, workers, scheduler)
    store = SweepStore(out)
    manifest = plan.manifest()
    store.check(manifest, resume)
    n = plan.replications
    kpis = tuple(plan.kpis) if plan.kpis is not None else None
    run_id = uuid.uuid4().hex[:12]
    total = len(plan.points)
    with make_executor(executor, workers, scheduler) as ex, store.locked():
        store.start(manifest, resume)
        done = store.done_points(plan.spec_hash)
        todo = [(i, p) for i, p in enumerate(plan.points) if p.id not in done]
        tasks = [
            ((p.id, k), (plan.scenarios[i], plan.seed, k, kpis)) for i, p in todo for k in range(n)
        ]
        store.log({"event": "start", "run_id": run_id, "executor": ex.name, "todo": len(todo)})
        bar = tqdm(
            total=total * n,
            initial=len(done) * n,
            unit="rep",
            desc=plan.name,
            disable=not (sys.stderr.isatty() if progress is None else progress),
            dynamic_ncols=True,
        )
        bar.set_postfix_str(f"points {len(done)}/{total}")
        rows: dict[str, dict[int, dict[str, float]]] = {}
        seconds: dict[str, float] = {}
        computed: list[str] = []
        try:
            for key, (values, secs) in ex.map_unordered(run_replication, tasks):
                pid, k = cast(tuple[str, int], key)  # the (point, replication) keys of tasks
                rows.setdefault(pid, {})[k] = values
                seconds[pid] = seconds.get(pid, 0.0) + secs
                bar.update(1)
                if len(rows[pid]) == n:
                    _write_point(store, plan, pid, rows.pop(pid), seconds.pop(pid), run_id, ex.name)
                    computed.append(pid)
                    bar.set_postfix_str(f"points {len(done) + len(computed)}/{total}")
        except KeyboardInterrupt:
            bar.close()
            kept = len(store.done_points(plan.spec_hash))
            print(
                f"sim: sweep interrupted: {kept} of {total} points kept "
                f"in {out}; rerun with --resume to finish",
                file=sys.stderr,
            )
            raise
        finally:
            bar.close()
    store.log({"event": "finish", "run_id": run_id, "computed": len(computed)})
    return {"run_id": run_id, "computed": computed, "skipped": sorted(done)}


def _write_point(
    store: SweepStore,
    plan: SweepPlan,
    pid: str,
    by_rep: dict[int, dict[str, float]],
    seconds: float,
    run_id: str,
    executor: str,
) -> None:
    reps = sorted(by_rep)
    table = pd.DataFrame([by_rep[k] for k in reps])
    table.insert(0, "point", pid)
    table.insert(1, "replication", np.asarray(reps, dtype="int64"))
    table.insert(2, "seed", np.int64(plan.seed))
    meta = {
        "point": pid,
        "run_id": run_id,
        "spec_hash": plan.spec_hash,
        "replications": len(reps),
        "seconds": round(seconds, 4),
        "executor": executor,
    }
    store.write_point(pid, table, meta)


def sweep(
    spec: str | Path | Mapping[str, Any] | SweepSpec,
    out: str | Path,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    root: str | Path = ".",
) -> pd.DataFrame:
    """Run a sweep into folder ``out`` and return its results (as :func:`load_sweep` does).

    ``spec`` is a sweep file, or its table as a dict (``base`` then relative to ``root``).
    ``executor`` is ``"serial"``, ``"processes"`` (default, ``workers`` = all cores) or
    ``"dask"`` (``scheduler`` = address of a running scheduler, else a local cluster).
    """
    plan = plan_sweep(spec, root=root)
    run_points(
        plan,
        out,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        progress=progress,
    )
    return load_sweep(out)
