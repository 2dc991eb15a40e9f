"""What binds (什么在制约目标): ceiling and retention, and what each lever buys, per 10,000 yuan.

For each target of a scenario, :func:`explain` gives

* the **decomposition** of the target KPI: 小事不出村 = ceiling × retention
  (``minor_reached_village`` × ``minor_retained_in_village``), 大事不出镇 by its major and serious
  parts (``major_only_kept_in_township``, ``serious_kept_in_township``);
* the **effect of each lever** of the catalogue (:mod:`sim.sizing.catalogue`) moved one step:
  paired finite differences with common random numbers — replication ``k`` of the base and of
  the base with the lever one step up use the same seed and index, so they face the same
  disputes — with the mean and the 95% Student-t interval of the paired difference, per step
  and per 10,000 yuan of the step's yearly cost; an interval that includes 0 is flagged;
* **headcount at its upper bounds**: every headcount lever at its ceiling (the generous
  staffing of sizing), judged by the sizing rule. This decides the verdict: a target the base
  misses is short of headcount (定额不足) only when the generous staffing meets it; otherwise
  what limits it is named — the ceiling (where parties enter, what sweeps find) when even
  keeping every case that reached the village could not meet 小事不出村, else retention
  (resolution quality) — with the levers that move it most per 10,000 yuan.

Ranking (per target): levers whose interval lies wholly above 0 in the target's direction first,
by gain per 10,000 yuan; then the others, by the same. Replications run on the executors of
:mod:`sim.experiments.executors`; results are keyed, so serial and parallel runs agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.experiments.executors import Executor
from sim.experiments.intervals import confidence_interval
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import validate_table
from sim.scenario.schema import Scenario, Target
from sim.sizing.catalogue import CatalogueLever, catalogue, generous_table
from sim.sizing.confirmation import check_replications, judge
from sim.sizing.levers import Lever, Staffing, apply_staffing, base_table, levers
from sim.sizing.replications import (
    ReplicationOutcome,
    Replications,
    run_replication,
    sizing_executor,
)
from sim.sizing.results import json_safe

if TYPE_CHECKING:
    from sim.sizing.store import EvaluationStore

__all__ = [
    "DECOMPOSITION",
    "EFFECT_CONFIDENCE",
    "Explanation",
    "explain",
    "explain_at",
    "paired_effect",
]

EFFECT_CONFIDENCE = 0.95
"""Two-sided confidence of the paired-difference intervals (the issue asks for 95%)."""

DECOMPOSITION: dict[str, tuple[str, str]] = {
    "minor_kept_in_village": ("minor_reached_village", "minor_retained_in_village"),
    "major_kept_in_township": ("major_only_kept_in_township", "serious_kept_in_township"),
}
"""Target KPI → its two parts (ceiling × retention; major and serious)."""

_BASE, _GENEROUS = "(base)", "(headcount at upper bounds)"


def paired_effect(base: np.ndarray, moved: np.ndarray) -> tuple[float, float, float, int]:
    """Mean and 95% interval of ``moved − base``, replication by replication (NaN pairs out)."""
    d = np.asarray(moved, dtype=float) - np.asarray(base, dtype=float)
    d = d[~np.isnan(d)]
    mean, lo, hi = confidence_interval(d, EFFECT_CONFIDENCE)
    return mean, lo, hi, len(d)


@dataclass
class Explanation:
    """What :func:`explain` returns.

    ``catalogue``: one row per lever (id, labels, unit, step, value, upper, cost, active, note).
    ``targets``: per target the base verdict (:func:`~sim.sizing.confirmation.judge` columns),
    the parts of its decomposition at the base and at the generous staffing, ``generous_met``
    (headcount at its upper bounds meets it), ``binds`` (``met``, ``headcount``, ``ceiling``,
    ``retention`` or ``other``) and ``best`` (the levers moving it most per 10,000 yuan).
    ``effects``: one row per target and simulated lever: the paired difference of the target
    KPI (``delta``, ``ci_low``, ``ci_high``), ``gain`` (the delta in the target's direction),
    ``per_10k_yuan``, ``includes_zero``, the parts' deltas and ``rank``.
    """

    scenario: Scenario
    replications: int
    seed: int
    catalogue: pd.DataFrame
    targets: pd.DataFrame
    effects: pd.DataFrame
    base: pd.DataFrame = field(repr=False)
    generous: pd.DataFrame | None = field(default=None, repr=False)
    simulated: int = 0  # replications simulated for it (not read from a store)

    @property
    def headcount_short(self) -> list[str]:
        """Targets the base misses that more headcount would meet (定额不足)."""
        t = self.targets
        return [str(k) for k in t.index[t["binds"] == "headcount"]]

    @property
    def not_headcount(self) -> list[str]:
        """Targets the base misses that headcount at its upper bounds still misses."""
        t = self.targets
        return [str(k) for k in t.index[t["binds"].isin(["ceiling", "retention", "other"])]]

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready dicts and lists (``sim explain --json``)."""
        return json_safe(
            {
                "scenario": self.scenario.name,
                "replications": self.replications,
                "seed": self.seed,
                "effect_confidence": EFFECT_CONFIDENCE,
                "method": "paired finite differences with common random numbers",
                "catalogue": self.catalogue.to_dict(orient="records"),
                "targets": self.targets.reset_index().to_dict(orient="records"),
                "effects": self.effects.to_dict(orient="records"),
            }
        )


def explain(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> Explanation:
    """What binds each target of the scenario as written, and what each lever buys."""
    check_replications(replications, "--replications")
    if workers < 1:
        raise ScenarioError([InputProblem("--workers", "", workers, "a positive integer")])
    if seed is not None and seed < 0:
        raise ScenarioError([InputProblem("--seed", "", seed, "a non-negative integer")])
    table, source = base_table(scenario, overrides)
    sc = validate_table(table, source)
    if not sc.targets:
        raise ScenarioError(
            [InputProblem(source, "targets", InputProblem.MISSING, "at least one target")]
        )
    n = replications or max(sc.run.replications, 2)
    lv = levers(sc, allow_below_quota=True)
    x = tuple(lever.start for lever in lv)
    with sizing_executor(workers) as executor:
        return explain_at(table, source, lv, x, n, sc.run.seed if seed is None else seed, executor)


def explain_at(
    table: dict[str, Any],
    source: str,
    lv: Sequence[Lever],
    staffing: Staffing,
    replications: int,
    seed: int,
    executor: Executor,
    *,
    base: pd.DataFrame | None = None,
    levers_when: str = "always",
    store: EvaluationStore | None = None,
) -> Explanation:
    """The explanation at a staffing of the headcount levers ``lv``.

    ``base``: the per-replication KPIs at that staffing if already simulated (same seed and
    replications; the quota check passes its own). ``levers_when``: ``"always"`` simulates
    every active lever; ``"not_headcount"`` only when some target the base misses is not met
    by headcount at its upper bounds (the quota check: otherwise the verdict needs no more).
    ``store``: an evaluation store (``sim size --out``) that keeps each variant's replications,
    so a resumed sizing run reads them back instead of simulating them again.
    """
    base_tab = apply_staffing(table, lv, staffing)
    sc = validate_table(base_tab, source)
    n = replications
    levers_ = catalogue(table, source, lv, staffing)
    variants: dict[str, dict[str, Any]] = {}
    if base is None:
        variants[_BASE] = base_tab
    generous_x = tuple(lever.ceiling for lever in lv)
    if lv and generous_x != tuple(staffing):
        variants[_GENEROUS] = generous_table(table, lv)
    counted: list[int] = []
    kpis = _simulate(variants, source, n, seed, executor, store, counted)
    base = base if base is not None else kpis[_BASE]
    generous = kpis.get(_GENEROUS, base)
    verdict = judge(sc.targets, base, sc.run.confidence)
    at_top = judge(sc.targets, generous, sc.run.confidence)
    missed = [k for k in sc.targets if not verdict.loc[k, "met"]]
    run_levers = levers_when == "always" or any(not at_top.loc[k, "met"] for k in missed)
    if run_levers:
        moved = {lever.id: lever.table for lever in levers_ if lever.active and lever.table}
        kpis.update(_simulate(moved, source, n, seed, executor, store, counted))
    effects = _effects(sc.targets, levers_, kpis, base)
    targets = _targets(sc.targets, verdict, at_top, base, generous, effects)
    return Explanation(
        scenario=sc,
        replications=n,
        seed=seed,
        catalogue=pd.DataFrame([lever.row() for lever in levers_]),
        targets=targets,
        effects=effects,
        base=base,
        generous=kpis.get(_GENEROUS),
        simulated=sum(counted),
    )


def _simulate(
    variants: dict[str, dict[str, Any]],
    source: str,
    n: int,
    seed: int,
    executor: Executor,
    store: EvaluationStore | None = None,
    counted: list[int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Per-replication KPIs of each variant table: replication k of each with seed and k.

    ``counted`` receives the number of replications simulated (not read from ``store``).
    """
    counted = [] if counted is None else counted
    if store is not None:
        # Each variant is a table of its own: Replications without levers (key ()) keeps it
        # in the store under that table's context, and reads it back on --resume.
        out = {}
        for name, table in variants.items():
            runs = Replications(table, source, [], seed, executor, store=store)
            out[name] = runs.per_replication((), n)
            counted.append(runs.simulated)
        return out
    scenarios = {name: validate_table(t, source) for name, t in variants.items()}
    todo = [((name, k), (s, k, seed)) for name, s in scenarios.items() for k in range(n)]
    counted.append(len(todo))
    if not todo:
        return {}
    done: dict[Any, ReplicationOutcome]
    if executor.workers == 1:
        done = {key: run_replication(*args) for key, args in todo}
    else:
        done = dict(executor.map_unordered(run_replication, todo))
    out = {}
    for name in scenarios:
        frame = pd.DataFrame([done[(name, k)].kpis for k in range(n)])
        frame.index.name = "replication"
        out[name] = frame
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame:
        return frame[name].to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def _effects(
    targets: dict[str, Target],
    levers_: list[CatalogueLever],
    kpis: dict[str, pd.DataFrame],
    base: pd.DataFrame,
) -> pd.DataFrame:
    rows = []
    for name, target in targets.items():
        sign = 1.0 if target.sense == ">=" else -1.0
        parts = DECOMPOSITION.get(name, ())
        ranked: list[dict[str, Any]] = []
        for lever in levers_:
            if lever.id not in kpis:
                continue
            moved = kpis[lever.id]
            delta, lo, hi, n = paired_effect(_column(base, name), _column(moved, name))
            gain = sign * delta
            cost = lever.yuan_per_step
            if cost > 0:
                per_10k = gain / cost * 1e4
            else:
                per_10k = math.inf if gain > 0 else (0.0 if gain == 0 else -math.inf)
            zero = not (lo > 0 or hi < 0) if math.isfinite(lo) else True
            row: dict[str, Any] = {
                "kpi": name,
                "lever": lever.id,
                "label_zh": lever.zh,
                "label_en": lever.en,
                "headcount": lever.headcount,
                "step": lever.moved,
                "unit": lever.unit,
                "yuan_per_step": cost,
                "delta": delta,
                "ci_low": lo,
                "ci_high": hi,
                "n": n,
                "gain": gain,
                "per_10k_yuan": per_10k,
                "includes_zero": zero,
            }
            for i, part in enumerate(parts):
                row[f"part{i + 1}_delta"] = paired_effect(
                    _column(base, part), _column(moved, part)
                )[0]
            ranked.append(row)
        # A clear gain (interval above 0 in the target's direction) ranks before any unclear one.
        ranked.sort(key=lambda r: (not (not r["includes_zero"] and r["gain"] > 0),
                                   -_finite(r["per_10k_yuan"])))  # fmt: skip
        for rank, row in enumerate(ranked, 1):
            row["rank"] = rank
        rows += ranked
    columns = [
        "kpi", "lever", "label_zh", "label_en", "headcount", "step", "unit", "yuan_per_step",
        "delta", "ci_low", "ci_high", "n", "gain", "per_10k_yuan", "includes_zero",
        "part1_delta", "part2_delta", "rank",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _finite(x: float) -> float:
    """A sort key that keeps ±inf and NaN in order: inf first, NaN last."""
    if math.isnan(x):
        return -1e300
    return max(-1e299, min(1e299, x))


def _targets(
    targets: dict[str, Target],
    verdict: pd.DataFrame,
    at_top: pd.DataFrame,
    base: pd.DataFrame,
    generous: pd.DataFrame,
    effects: pd.DataFrame,
) -> pd.DataFrame:
    rows = {}
    for name, target in targets.items():
        row = verdict.loc[name].to_dict()
        parts = DECOMPOSITION.get(name, ("", ""))
        for i, part in enumerate(parts, 1):
            row[f"part{i}"] = part
            row[f"part{i}_base"] = float(np.nanmean(_column(base, part))) if part else math.nan
            row[f"part{i}_generous"] = (
                float(np.nanmean(_column(generous, part))) if part else math.nan
            )
        row["generous_mean"] = at_top.loc[name, "mean"]
        row["generous_met"] = bool(at_top.loc[name, "met"])
        row["binds"] = _binds(name, target, bool(row["met"]), row)
        mine = effects[(effects["kpi"] == name) & ~effects["headcount"]]
        best = mine[(mine["gain"] > 0) & ~mine["includes_zero"]].sort_values("rank")
        row["best"] = list(best["lever"].head(3))
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kpi"
    return out


def _binds(name: str, target: Target, met: bool, row: dict[str, Any]) -> str:
    """What limits a target: met, headcount (more closes it), ceiling, retention or other.

    Headcount closes the gap when every headcount lever at its upper bound meets the target by
    the sizing rule. Otherwise, for 小事不出村 (= ceiling × retention): the ceiling binds when
    it is below the target at the generous staffing (keeping every case that reached the village
    could not meet it), else retention does; for 大事不出镇 retention at the township (its major
    and serious parts) binds; any other target: ``other``.
    """
    if met:
        return "met"
    if row["generous_met"]:
        return "headcount"
    if name == "minor_kept_in_village":
        ceiling = row["part1_generous"]
        if math.isfinite(ceiling) and not target.met_by(ceiling):
            return "ceiling"
        return "retention"
    if name == "major_kept_in_township":
        return "retention"
    return "other"
