"""One demand level of the package search (最低成本措施组合): from the scaled table to the tables.

:func:`size_package` runs, at one demand level: the generous package (every headcount lever at
its ceiling and every measure at its bound: the best the catalogue can attain), explain's
ranking of the levers at the start (:func:`sim.sizing.explain.explain_at`), the search
(:class:`~sim.sizing.package.PackageSearch`) and the tables of the answer. A target the generous
package misses is **unreachable within the catalogue's bounds** — an answer, not an input error:
the search then aims, for that target, at ``attain_share`` of the way from the start's bound to
the generous package's (the cost of getting most of what can be had), and the verdict names the
best attainable value, its interval and what binds (:func:`~sim.sizing.feasibility.
package_verdicts`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.executors import Executor
from sim.scenario.loading import validate_table
from sim.scenario.schema import Target
from sim.sizing.confirmation import judge, township_verdicts
from sim.sizing.explain import explain_at
from sim.sizing.feasibility import package_verdicts
from sim.sizing.levers import Lever
from sim.sizing.package import Package, PackageSearch, PackageSpace, measure_ranking, measures
from sim.sizing.progress import SizingProgress
from sim.sizing.replications import Replications
from sim.sizing.results import budget_table, measure_rows, staffing_table
from sim.sizing.search import SearchSettings
from sim.sizing.store import EvaluationStore

__all__ = ["FRESH_SEED_OFFSET", "PackageLevel", "has_measures", "size_package"]

FRESH_SEED_OFFSET = 1
"""The confirmation's seed is the search's + this: fresh random numbers for the final verdict."""


def has_measures(table: dict[str, Any], source: str) -> bool:
    """Whether the scenario has an active non-headcount lever (then a package is searched)."""
    return bool(measures(table, source))


@dataclass
class PackageLevel:
    """The package found at one demand level and its tables (each with a demand column)."""

    key: Package
    values: dict[str, int]  # headcount lever key -> value: the next level's floors
    steps: dict[str, int]  # measure id -> steps: the next level's floors
    staffing: pd.DataFrame
    measures: pd.DataFrame
    budget: pd.DataFrame
    targets: pd.DataFrame
    frontier: pd.DataFrame
    minimality: pd.DataFrame
    townships: pd.DataFrame
    scenario_table: dict[str, Any]
    simulated: int


def size_package(
    table: dict[str, Any],
    source: str,
    lv: list[Lever],
    step_floors: dict[str, int],
    multiplier: float,
    seed: int,
    settings: SearchSettings,
    executor: Executor,
    shown: SizingProgress,
    attain_share: float = 0.9,
    store: EvaluationStore | None = None,
) -> PackageLevel:
    """The least-cost package at one demand level (``table`` already scaled, ``lv`` floored)."""
    sc = validate_table(table, source)
    ms = [
        dataclasses.replace(m, floor=min(m.max_steps, step_floors.get(m.id, 0)))
        for m in measures(table, source)
    ]
    space = PackageSpace(table, source, lv, ms)
    runs = Replications(
        table, source, lv, seed, executor, apply=space.table_of, store=store, progress=shown
    )
    fresh = Replications(
        table, source, lv, seed + FRESH_SEED_OFFSET, executor, apply=space.table_of,
        store=store, progress=shown,
    )  # fmt: skip
    n_search, n_confirm = settings.search_replications, settings.confirmation_replications
    # The progress line judges "best so far" by these: the targets, an unreachable one
    # replaced by its aim below (in place, so the line follows).
    aims = dict(sc.targets)
    start = space.key(tuple(lever.floor for lever in lv), [m.floor for m in ms])

    def yuan(key: Package) -> float | None:
        """A package's yearly cost as the search counts it; None before the start is run or
        while the search has not priced the key (pricing steps every measure: not for a
        progress line)."""
        if runs.done(start) < n_search or not space.priced(key):
            return None
        return space.yuan(key, runs, start, n_search)

    log = shown.watch(runs, aims, sc.run.confidence, n_search, n_confirm, [fresh], yuan)
    names = ", ".join(m.id for m in ms) or "none"
    log(f"demand ×{multiplier:g}: {len(lv)} headcount levers and {len(ms)} measures ({names}), "
        f"{n_search}/{n_confirm} replications")  # fmt: skip
    generous = space.key(tuple(lever.ceiling for lever in lv), [m.max_steps for m in ms])
    log("  every lever at its bound (the best the catalogue attains)")
    at_top = judge(sc.targets, runs.per_replication(generous, n_confirm), sc.run.confidence)
    at_start = judge(
        sc.targets, runs.per_replication(start, n_search), sc.run.confidence, planned=n_confirm
    )
    unreachable = [str(k) for k in at_top.index if not at_top.loc[k, "met"]]
    if unreachable and settings.budget is None:
        for name in unreachable:
            aims[name] = _aim(sc.targets[name], at_start.loc[name], at_top.loc[name], attain_share)
        log(f"  unreachable within the bounds: {', '.join(unreachable)}; aiming at "
            f"{attain_share:.0%} of the attainable gain")  # fmt: skip
    missed = [str(k) for k in at_start.index if not at_start.loc[k, "met"]]
    log("  ranking the levers (sim explain at the start)")
    # Headcount steps are ranked by the screen (the greedy's surrogate), so explain simulates
    # the measures only (and headcount at its upper bounds, for what binds).
    explained = copy.deepcopy(space.table_of(start))
    explained["levers"]["headcount"]["enabled"] = False
    explanation = explain_at(
        explained, source, lv, space.staffing(start), n_search, seed, executor,
        base=runs.per_replication(start, n_search), store=store,
    )  # fmt: skip
    ranking = measure_ranking(explanation, space, missed)
    search = PackageSearch(space, runs, fresh, aims, sc.run.confidence, settings, ranking, log)
    # Headcount at its ceilings with no measures, judged as today's sizing does (confirmation
    # replications): if it meets every aim, the least-cost staffing alone is a candidate too.
    ceilings = space.key(space.staffing(generous), space.steps(start))
    alone = judge(aims, runs.per_replication(ceilings, n_confirm), sc.run.confidence)
    search.headcount_may_do = bool(alone["met"].all())
    key, minimal, _ = search.run()
    verdict = judge(sc.targets, fresh.per_replication(key, n_confirm), sc.run.confidence)
    targets = package_verdicts(verdict, at_top, aims, unreachable, explanation)
    targets = targets.reset_index()
    targets.insert(0, "demand", multiplier)
    # Per township by the scenario's own targets (not the aims of unreachable ones).
    townships = township_verdicts(sc.targets, fresh.townships(key, n_confirm), sc.run.confidence)
    townships.insert(0, "demand", multiplier)
    staffing = space.staffing(key)
    measure_table = _measure_table(space, key, search, multiplier)
    budget = budget_table(lv, staffing, fresh.costs(key, n_confirm))
    budget = measure_rows(budget, measure_table)
    budget.insert(0, "demand", multiplier)
    frontier = _frontier(search, key, multiplier)
    if len(minimal):
        minimal.insert(0, "demand", multiplier)
    return PackageLevel(
        key=key,
        values={lever.key: v for lever, v in zip(lv, staffing, strict=True)},
        steps={m.id: k for m, k in zip(ms, space.steps(key), strict=True)},
        staffing=staffing_table(lv, staffing, multiplier),
        measures=measure_table,
        budget=budget,
        targets=targets,
        frontier=frontier,
        minimality=minimal,
        townships=townships,
        scenario_table=space.table_of(key),
        simulated=runs.simulated + fresh.simulated + explanation.simulated,
    )


def _aim(target: Target, start: pd.Series, top: pd.Series, share: float) -> Target:
    """A target moved to ``share`` of the way from the start's bound to the generous one's."""
    a, b = float(start["bound"]), float(top["bound"])
    up = target.sense == ">="
    gain = max(0.0, b - a) if up else max(0.0, a - b)
    value = a + share * gain if up else a - share * gain
    field = "at_least" if up else "at_most"
    return target.model_copy(update={field: value})


def _measure_table(
    space: PackageSpace, key: Package, search: PackageSearch, demand: float
) -> pd.DataFrame:
    """One row per measure: where it starts, the steps bought, its value and yearly cost."""
    rows = []
    yuan, values = space.measure_yuan(key), space.values(key)
    for j, m in enumerate(space.measures):
        rows.append(
            {
                "demand": demand,
                "lever": m.id,
                "label_zh": m.zh,
                "label_en": m.en,
                "unit": m.unit,
                "start": m.start,
                "steps": space.steps(key)[j],
                "floor": m.floor,
                "max_steps": m.max_steps,
                "value": values[j],
                "upper": m.upper,
                "yuan_per_year": yuan[j],
                "in_cost_model": m.in_cost_model,
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["annual_cost_yuan"] = search.yuan(key)
    return out


def _frontier(search: PackageSearch, chosen: Package, demand: float) -> pd.DataFrame:
    """Each accepted step: cumulative cost and each target's mean (search replications)."""
    rows = []
    n = search.settings.search_replications
    for key, what in search.path:
        v = search.verdict(key, n)
        row: dict[str, Any] = {
            "demand": demand,
            "step": what,
            "annual_cost_yuan": search.yuan(key),
            "salaries_yuan": search.space.salary(key),
            "measures_yuan": float(sum(search.space.measure_yuan(key))),
            "attainment": float(v["p_meet"].mean()) if len(v) else 1.0,
            "targets_met": int(v["met"].sum()),
            "chosen": key == chosen,
            "full_time": sum(
                v * lv.mediators
                for v, lv in zip(search.space.staffing(key), search.space.levers, strict=True)
            ),
            "targets": len(v),
            "replications": n,
            "package": search.space.describe(key),
            "staffing": ";".join(
                f"{lv.key}={a}"
                for lv, a in zip(search.space.levers, search.space.staffing(key), strict=True)
            ),
        }
        for name in v.index:
            row[str(name)] = float(v.loc[name, "mean"])
        rows.append(row)
    out = pd.DataFrame(rows)
    best, pareto = -np.inf, []
    for cost_rank in out.sort_values("annual_cost_yuan", kind="stable").index:
        a = float(out.loc[cost_rank, "attainment"])
        pareto.append((cost_rank, a > best + 1e-12))
        best = max(best, a)
    out["pareto"] = pd.Series(dict(pareto)) if pareto else []
    return out
