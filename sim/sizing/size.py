"""Sizing (编制测算): the least-cost full-time staffing that meets the targets, and its budget.

The budget office asks how many full-time mediators (专职人民调解员), at which level and in
which township, next year needs so that 小事不出村、大事不出镇 and the time targets are met with
the scenario's confidence — and what the yearly budget (年度经费) is. docs/sizing.md explains
the method; in short:

* **Levers** (:mod:`sim.sizing.levers`): full-time headcount per township committee, villages
  with a full-time mediator per township, the district committee and each committee around the
  ladder; integers, never below the quotas unless ``allow_below_quota``.
* **The confidence rule** (:mod:`sim.sizing.confirmation`): the one-sided Student-t bound over
  replications with the same seeds must meet each target.
* **Search** (:mod:`sim.sizing.search`): the screen proposes, simulation confirms, a greedy adds
  and a pruning pass removes, and at the confirmation replications no single mediator can go.
* **Infeasibility** (:mod:`sim.sizing.feasibility`): a target staffing cannot move, or one a
  generous staffing fails, is a :class:`~sim.scenario.errors.ScenarioError` (exit 2) before
  any search.

:func:`size` runs these steps for each demand level, in increasing order, each level's staffing
the floor of the next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.executors import Executor
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import validate_table
from sim.scenario.schema import Scenario
from sim.sizing.confirmation import check_replications, township_verdicts
from sim.sizing.explain import explain_at
from sim.sizing.feasibility import generous_failures, structural_problems
from sim.sizing.levers import Lever, base_table, levers, scale_demand
from sim.sizing.package_level import PackageLevel, has_measures, size_package
from sim.sizing.progress import SizingProgress
from sim.sizing.replications import Replications, sizing_executor
from sim.sizing.results import SizingResult, budget_table, staffing_table
from sim.sizing.search import SearchSettings, StaffingSearch, frontier
from sim.sizing.store import EvaluationStore, fingerprint

__all__ = ["size"]


def size(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    demand: Sequence[float] = (1.0,),
    budget: float | None = None,
    allow_below_quota: bool = False,
    replications: int | None = None,
    search_replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    candidates: int = 3,
    max_steps: int = 200,
    progress: Callable[[str], None] | None = None,
    package: bool | None = None,
    attain_share: float = 0.9,
    progress_bars: bool = False,
    store: EvaluationStore | None = None,
) -> SizingResult:
    """The least yearly cost staffing that meets every target with the scenario's confidence.

    ``demand`` lists multipliers of the dispute rate (and of court referrals); they are sized
    in increasing order, each starting from (and never going below) the staffing of the one
    before, so headcount never decreases as demand grows. With ``budget`` (yuan per year) the
    search stops at the ceiling and reports how far the targets are met instead. Raises
    :class:`~sim.scenario.errors.ScenarioError` (exit 2 in the CLI) when no staffing can meet a
    target.

    ``package``: search the cheapest package of measures (headcount and the catalogue's other
    levers, :mod:`sim.sizing.package`) instead of headcount alone; by default (None) whenever
    the scenario has an active non-headcount lever. A target no package within the catalogue's
    bounds reaches is then an answer (its verdict 不可达 unreachable, the best attainable value
    and the cost of ``attain_share`` of the attainable gain), not an error.

    ``progress`` receives one line per step of the search (with the best found so far),
    ``progress_bars`` shows a bar over each batch of replications on stderr. With ``store``
    (:class:`~sim.sizing.store.EvaluationStore`) every replication is written as it finishes
    and those already there are read instead of simulated (its lock is taken if the caller
    does not hold it).
    """
    began = time.perf_counter()
    shown = SizingProgress(progress, bars=progress_bars)
    _check_options(demand, budget, replications, search_replications)
    table, source = base_table(scenario, overrides)
    base = validate_table(table, source)
    _check_targets(base, source)
    n_confirm = replications or max(base.run.replications, 2)
    n_search = search_replications or max(2, min(n_confirm, math.ceil(n_confirm / 2)))
    settings = SearchSettings(
        search_replications=n_search,
        confirmation_replications=n_confirm,
        budget=budget,
        candidates=candidates,
        max_steps=max_steps,
    )
    seed = base.run.seed if seed is None else seed
    if package is None:
        package = has_measures(table, source)
    keeping: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if store is not None:
        options = {"budget": budget, "allow_below_quota": allow_below_quota}
        options |= {"replications": n_confirm, "search_replications": n_search}
        options |= {"candidates": candidates, "max_steps": max_steps}
        options |= {"package": package, "attain_share": attain_share}
        keeping = store.opened(fingerprint(table, seed, demand, options))
    if package:
        return _size_packages(
            table, source, base, sorted(set(float(v) for v in demand)), allow_below_quota,
            seed, settings, workers, shown, store, keeping, attain_share, began,
        )  # fmt: skip
    sized: list[_Level] = []
    infeasible: dict[float, list[str]] = {}
    simulated = 0
    with keeping, sizing_executor(workers) as executor:
        floors: dict[str, int] = {}
        for multiplier in sorted(set(float(v) for v in demand)):
            search = _search_at(
                table, multiplier, floors, allow_below_quota, source, seed, settings, executor,
                shown, store,
            )  # fmt: skip
            try:
                level, failures = _size_level(search, multiplier, source)
            finally:
                simulated += search.replications.simulated
            if level is None:
                if not sized:
                    raise ScenarioError(failures)
                infeasible[multiplier] = [str(p) for p in failures]
                break
            sized.append(level)
            floors = level.values
    return SizingResult(
        scenario=next((lv.scenario for lv in sized if lv.demand == 1.0), sized[0].scenario),
        staffing=pd.concat([lv.staffing for lv in sized], ignore_index=True),
        budget=pd.concat([lv.budget for lv in sized], ignore_index=True),
        targets=pd.concat([lv.targets for lv in sized], ignore_index=True),
        frontier=pd.concat([lv.frontier for lv in sized], ignore_index=True),
        minimality=_concat([lv.minimality for lv in sized if len(lv.minimality)]),
        townships=_concat([lv.townships for lv in sized if len(lv.townships)]),
        replications_simulated=simulated,
        seconds=time.perf_counter() - began,
        confidence=base.run.confidence,
        replications=n_confirm,
        seed=seed,
        infeasible=infeasible,
    )


@dataclass
class _Level:
    """The sized staffing at one demand level and its tables (each with a demand column)."""

    demand: float
    values: dict[str, int]  # lever key -> value: the floors of the next level
    scenario: Scenario
    staffing: pd.DataFrame
    budget: pd.DataFrame
    targets: pd.DataFrame
    frontier: pd.DataFrame
    minimality: pd.DataFrame
    townships: pd.DataFrame


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _check_options(
    demand: Sequence[float],
    budget: float | None,
    replications: int | None,
    search_replications: int | None,
) -> None:
    """Options that are wrong whatever the scenario: input problems (exit 2)."""
    check_replications(replications, "--replications")
    check_replications(search_replications, "--search-replications")
    bad = [m for m in demand if not (isinstance(m, int | float) and m > 0 and math.isfinite(m))]
    if bad or not demand:
        raise ScenarioError(
            [
                InputProblem(
                    "--demand", "", bad[0] if bad else "", "positive multipliers, e.g. 0.8,1.0,1.5"
                )
            ]
        )
    if budget is not None and not budget > 0:
        raise ScenarioError([InputProblem("--budget", "", budget, "a positive amount of yuan")])


def _check_targets(scenario: Scenario, source: str) -> None:
    """A scenario to size needs targets, and targets some staffing could meet."""
    if not scenario.targets:
        raise ScenarioError(
            [
                InputProblem(
                    source, "targets", InputProblem.MISSING, "at least one target to size for"
                )
            ]
        )
    problems = structural_problems(scenario, source)
    if problems:
        raise ScenarioError(problems)


def _size_packages(
    table: dict[str, Any],
    source: str,
    base: Scenario,
    demand: list[float],
    allow_below_quota: bool,
    seed: int,
    settings: SearchSettings,
    workers: int,
    shown: SizingProgress,
    store: EvaluationStore | None,
    keeping: contextlib.AbstractContextManager[Any],
    attain_share: float,
    began: float,
) -> SizingResult:
    """The cheapest package at each demand level, in increasing order, each the next's floor."""
    done: list[PackageLevel] = []
    floors: dict[str, int] = {}
    step_floors: dict[str, int] = {}
    with keeping, sizing_executor(workers) as executor:
        for multiplier in demand:
            scaled = scale_demand(table, multiplier)
            lv = _floored(validate_table(scaled, source), allow_below_quota, floors)
            level = size_package(
                scaled, source, lv, step_floors, multiplier, seed, settings, executor, shown,
                attain_share, store,
            )  # fmt: skip
            done.append(level)
            floors, step_floors = level.values, level.steps
    at_one = next((lv for lv, m in zip(done, demand, strict=True) if m == 1.0), done[0])
    return SizingResult(
        scenario=validate_table(at_one.scenario_table, source),
        staffing=pd.concat([lv.staffing for lv in done], ignore_index=True),
        budget=pd.concat([lv.budget for lv in done], ignore_index=True),
        targets=pd.concat([lv.targets for lv in done], ignore_index=True),
        frontier=pd.concat([lv.frontier for lv in done], ignore_index=True),
        minimality=_concat([lv.minimality for lv in done if len(lv.minimality)]),
        townships=_concat([lv.townships for lv in done if len(lv.townships)]),
        replications_simulated=sum(lv.simulated for lv in done),
        seconds=time.perf_counter() - began,
        confidence=base.run.confidence,
        replications=settings.confirmation_replications,
        seed=seed,
        mode="package",
        measures=_concat([lv.measures for lv in done if len(lv.measures)]),
    )


def _floored(scenario: Scenario, allow_below_quota: bool, floors: dict[str, int]) -> list[Lever]:
    """The headcount levers of a scenario, their floors raised to ``floors`` (by key)."""
    lv: list[Lever] = []
    for lever in levers(scenario, allow_below_quota):
        floor = max(lever.floor, floors.get(lever.key, 0))
        lv.append(dataclasses.replace(lever, floor=floor, ceiling=max(lever.ceiling, floor)))
    return lv


def _search_at(
    table: dict[str, Any],
    multiplier: float,
    floors: dict[str, int],
    allow_below_quota: bool,
    source: str,
    seed: int,
    settings: SearchSettings,
    executor: Executor,
    shown: SizingProgress,
    store: EvaluationStore | None,
) -> StaffingSearch:
    """The search at one demand level, its levers' floors raised to ``floors`` (by key)."""
    scaled = scale_demand(table, multiplier)
    scenario = validate_table(scaled, source)
    lv = _floored(scenario, allow_below_quota, floors)
    runs = Replications(scaled, source, lv, seed, executor, store=store, progress=shown)
    targets, confidence = scenario.targets, scenario.run.confidence
    log = shown.watch(
        runs, targets, confidence, settings.search_replications, settings.confirmation_replications
    )
    return StaffingSearch(runs, targets, confidence, settings, log)


def _size_level(
    search: StaffingSearch, multiplier: float, source: str
) -> tuple[_Level | None, list[InputProblem]]:
    """Size one demand level: the level, or None and the targets no staffing reached."""
    settings, lv, runs = search.settings, search.levers, search.replications
    n_search, n_confirm = settings.search_replications, settings.confirmation_replications
    log = search.log
    log(f"demand ×{multiplier:g}: {len(lv)} levers, {n_search}/{n_confirm} replications")
    start = tuple(lever.floor for lever in lv)
    if settings.budget is None:
        generous = tuple(lever.ceiling for lever in lv)
        verdict = search.verdict(generous, n_confirm)
        failures = generous_failures(
            verdict, search.targets, search.headcount(generous), search.confidence, source,
            multiplier,
        )  # fmt: skip
        if failures:
            # What limits them, for the message: every other lever one step from there.
            log("a target is out of headcount's reach: what binds it (sim explain)")
            explanation = explain_at(
                runs.table, source, lv, generous, n_confirm, runs.seed, runs.executor,
                base=runs.per_replication(generous, n_confirm), store=runs.store,
            )  # fmt: skip
            failures = generous_failures(
                verdict, search.targets, search.headcount(generous), search.confidence, source,
                multiplier, explanation,
            )  # fmt: skip
            return None, failures
    elif search.cost(start, n_search) > settings.budget:
        raise ScenarioError(
            [
                InputProblem(
                    "--budget",
                    "",
                    settings.budget,
                    f"at least {search.cost(start, n_search):,.0f} yuan: the staffing at "
                    "the quotas alone costs that much (or use --allow-below-quota)",
                )
            ]
        )
    staffing, minimal, met = search.run(start)
    if not met and settings.budget is None:
        return None, [
            InputProblem(
                source,
                f"targets.{k}",
                float(r["target"]),
                f"a target the search can reach within {settings.max_steps} steps; "
                f"it stopped at mean {r['mean']:.4g}",
            )
            for k, r in search.verdict(staffing, n_confirm).iterrows()
            if not r["met"]
        ]
    staffing_rows = staffing_table(lv, staffing, multiplier)
    budget = budget_table(lv, staffing, runs.costs(staffing, n_confirm))
    budget.insert(0, "demand", multiplier)
    targets = search.verdict(staffing, n_confirm).reset_index()
    targets.insert(0, "demand", multiplier)
    townships = township_verdicts(
        search.targets, runs.townships(staffing, n_confirm), search.confidence
    )
    townships.insert(0, "demand", multiplier)
    cost_frontier = frontier(search, staffing, multiplier)
    if len(minimal):
        minimal.insert(0, "demand", multiplier)
    return _Level(
        demand=multiplier,
        values={lever.key: v for lever, v in zip(lv, staffing, strict=True)},
        scenario=runs.scenario(staffing),
        staffing=staffing_rows,
        budget=budget,
        targets=targets,
        frontier=cost_frontier,
        minimality=minimal,
        townships=townships,
    ), []
