"""Global sensitivity analysis: which assumption decides whether a target is met?

A sensitivity file names a base scenario, factors (dotted scenario keys with a ``[low, high]``
range), a method and the KPIs. SALib draws the sample — Morris trajectories for a cheap
screening (μ*: how much a factor moves the KPI), or Saltelli/Sobol' samples for variance-based
indices (S1: the share of the KPI's variance a factor explains alone; ST: with its
interactions). Each sample is a point of a sweep: it runs through the same executors, is
written durably and resumes like any sweep, and all points share the replication seeds, so the
indices measure the factors, not the noise between runs (common random numbers).

Integer keys (mediator counts) are rounded when applied; choose bounds that the Morris grid
hits exactly, e.g. ``[1, 4]`` with 4 levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from sim.experiments.sweep import run_points
from sim.experiments.sweep_plan import build_scenarios, spec_hash, targets_of
from sim.experiments.sweep_results import load_sweep
from sim.experiments.sweep_spec import (
    Point,
    SpecModel,
    SweepPlan,
    blame,
    flatten_keys,
    is_axis_leaf,
    is_number,
    is_value_leaf,
    lookup_key,
    read_toml,
    select_kpis,
    spec_problems,
)
from sim.experiments.sweep_store import SweepStore
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import load_scenario

__all__ = [
    "SensitivityResult",
    "SensitivitySpec",
    "analyse_sensitivity",
    "plan_sensitivity",
    "run_sensitivity",
]


class SensitivitySpec(SpecModel):
    """The sensitivity file, as written."""

    name: str | None = None
    description: str = ""
    base: str = Field(min_length=1)
    method: Literal["morris", "sobol"] = "morris"
    samples: int = Field(default=10, ge=2, le=100_000)  # Morris trajectories / Sobol' N
    levels: int = Field(default=4, ge=2, le=100)  # Morris grid levels
    replications: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0)
    kpis: list[str] = Field(default_factory=list)  # default: the KPIs with targets
    set_: dict[str, Any] = Field(default_factory=dict, alias="set")
    factors: dict[str, Any] = Field(min_length=1)


@dataclass
class SensitivityResult:
    """Indices per KPI and factor, and the per-point means they come from."""

    method: str
    indices: pd.DataFrame  # kpi, factor, method, and mu_star... or S1, ST...
    points: pd.DataFrame  # per point: factor values and KPI means
    targets: dict[str, dict[str, Any]]

    def describe(self) -> str:
        """The factors of each KPI from most to least influential, as text for the CLI."""
        lines = []
        key = "mu_star" if self.method == "morris" else "ST"
        for kpi, part in self.indices.groupby("kpi", sort=False):
            part = part.sort_values(key, ascending=False)
            lines.append(f"{kpi}: factors by {key} (largest first)")
            cols = (
                ["factor", "mu_star", "mu_star_conf", "mu", "sigma"]
                if self.method == "morris"
                else ["factor", "ST", "ST_conf", "S1", "S1_conf"]
            )
            lines.append(part[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            target = self.targets.get(str(kpi))
            if target and kpi in self.points:
                means = self.points[kpi]
                met = (
                    means >= target["value"]
                    if target["sense"] == ">="
                    else means <= target["value"]
                )
                lines.append(
                    f"target {target['label'] or kpi} {target['sense']} {target['value']:g}: "
                    f"met at {int(met.sum())} of {len(means)} sampled points"
                )
            lines.append("")
        return "\n".join(lines).rstrip()


def _problem_of(factors: Mapping[str, tuple[float, float]]) -> dict[str, Any]:
    return {
        "num_vars": len(factors),
        "names": list(factors),
        "bounds": [list(b) for b in factors.values()],
    }


def _sample(spec: SensitivitySpec, problem: dict[str, Any], seed: int) -> np.ndarray:
    if spec.method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, N=spec.samples, num_levels=spec.levels, seed=seed)
    from SALib.sample import sobol

    return sobol.sample(problem, spec.samples, calc_second_order=False, scramble=True, seed=seed)


def plan_sensitivity(spec: str | Path | Mapping[str, Any], *, root: str | Path = ".") -> SweepPlan:
    """Check a sensitivity file and turn its SALib sample into the points of a sweep."""
    if isinstance(spec, str | Path):
        path = Path(spec)
        source, table = str(spec), read_toml(path, str(spec))
        root = path.resolve().parent
    else:
        source, table = "sensitivity", dict(spec)
    try:
        parsed = SensitivitySpec.model_validate(table)
    except ValidationError as exc:
        raise ScenarioError(spec_problems(exc, source, SensitivitySpec)) from None
    base = (Path(root) / parsed.base).resolve()
    if not base.is_file():
        raise ScenarioError(
            [InputProblem(source, "base", parsed.base, f"scenario file not found ({base})")]
        )
    fixed = flatten_keys(parsed.set_, is_value_leaf)
    try:
        base_scenario = load_scenario(base, list(fixed.items()))
    except ScenarioError as exc:
        raise ScenarioError(blame(exc, source, "set", InputProblem.MISSING, None)) from None
    dump = base_scenario.model_dump(by_alias=True)

    problems: list[InputProblem] = []
    factors: dict[str, tuple[float, float]] = {}
    integer: dict[str, bool] = {}
    for key, raw in flatten_keys(parsed.factors, is_axis_leaf).items():
        where = f"factors.{key}"
        if not (isinstance(raw, list) and len(raw) == 2 and all(is_number(v) for v in raw)):
            problems.append(InputProblem(source, where, raw, "expected [low, high], two numbers"))
            continue
        low, high = raw
        if not low < high:
            problems.append(InputProblem(source, where, raw, "expected low < high"))
            continue
        current = lookup_key(dump, key)
        integer[key] = isinstance(current, int) and not isinstance(current, bool)
        for value in (low, high):
            try:
                load_scenario(
                    base, [*fixed.items(), (key, round(value) if integer[key] else value)]
                )
            except ScenarioError as exc:
                problems += blame(exc, source, where, value, key)
        factors[key] = (float(low), float(high))
    try:
        kpis = select_kpis(parsed.kpis, source) or [
            k for k in base_scenario.targets if k in _all_kpis()
        ]
    except ScenarioError as exc:
        problems += exc.problems
        kpis = []
    if not kpis and not problems:
        problems.append(
            InputProblem(source, "kpis", InputProblem.MISSING, "name the KPIs to analyse")
        )
    if problems:
        raise ScenarioError(problems)

    seed = base_scenario.run.seed if parsed.seed is None else parsed.seed
    problem = _problem_of(factors)
    x = _sample(parsed, problem, seed)
    width = max(4, len(str(len(x) - 1)))
    points = []
    for i, row in enumerate(x):
        applied = {
            k: (round(float(v)) if integer[k] else round(float(v), 12))
            for k, v in zip(factors, row, strict=True)
        }
        points.append(Point(f"p{i:0{width}d}", {**fixed, **applied}, dict(applied)))
    plan = SweepPlan(
        name=parsed.name or (Path(source).stem if source != "sensitivity" else "sensitivity"),
        source=source,
        base=base,
        spec=parsed.model_dump(by_alias=True, mode="json"),
        axes=[],
        points=points,
        scenarios=build_scenarios(base, points, source),
        replications=parsed.replications or base_scenario.run.replications,
        seed=seed,
        kpis=kpis,
        baseline=points[0].id,
        targets=targets_of(base_scenario),
        extra={
            "kind": "sensitivity",
            "method": parsed.method,
            "levels": parsed.levels,
            "problem": problem,
            "sample": x.tolist(),
        },
    )
    plan.spec_hash = spec_hash(plan)
    return plan


def _all_kpis() -> tuple[str, ...]:
    from sim.scenario.vocabulary import KPI_NAMES

    return KPI_NAMES


def analyse_sensitivity(folder: str | Path) -> SensitivityResult:
    """Indices from a finished sensitivity folder (all points must be done)."""
    manifest = SweepStore(folder).read_manifest()
    if manifest.get("kind") != "sensitivity":
        raise ScenarioError(
            [InputProblem(str(folder), "", InputProblem.MISSING, "is not a sensitivity run")]
        )
    df = load_sweep(folder)
    meta = df.attrs["sweep"]
    if meta["points_done"] < meta["points_total"]:
        raise ScenarioError(
            [
                InputProblem(
                    str(folder),
                    "",
                    InputProblem.MISSING,
                    f"only {meta['points_done']} of {meta['points_total']} points done; "
                    "rerun with --resume",
                )
            ]
        )
    problem = manifest["problem"]
    x = np.asarray(manifest["sample"], dtype=float)
    seed = int(manifest["seed"])
    kpis = manifest["kpis"]
    means = df.groupby("point", sort=True)[kpis].mean()
    order = [p["id"] for p in manifest["points"]]
    means = means.loc[order]
    rows = []
    for kpi in kpis:
        y = means[kpi].to_numpy(dtype=float)
        if np.isnan(y).any():
            continue  # a KPI undefined at some points (e.g. not modelled) has no indices
        if manifest["method"] == "morris":
            from SALib.analyze import morris

            si = morris.analyze(problem, x, y, num_levels=manifest["levels"], seed=seed)
            for j, name in enumerate(problem["names"]):
                rows.append(
                    {
                        "kpi": kpi,
                        "method": "morris",
                        "factor": name,
                        "mu": float(si["mu"][j]),
                        "mu_star": float(si["mu_star"][j]),
                        "mu_star_conf": float(si["mu_star_conf"][j]),
                        "sigma": float(si["sigma"][j]),
                    }
                )
        else:
            from SALib.analyze import sobol

            si = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
            for j, name in enumerate(problem["names"]):
                rows.append(
                    {
                        "kpi": kpi,
                        "method": "sobol",
                        "factor": name,
                        "S1": float(si["S1"][j]),
                        "S1_conf": float(si["S1_conf"][j]),
                        "ST": float(si["ST"][j]),
                        "ST_conf": float(si["ST_conf"][j]),
                    }
                )
    labels = pd.DataFrame([{"point": p["id"], **p["labels"]} for p in manifest["points"]])
    points = labels.merge(means.reset_index(), on="point")
    return SensitivityResult(manifest["method"], pd.DataFrame(rows), points, manifest["targets"])


def run_sensitivity(
    spec: str | Path | Mapping[str, Any],
    out: str | Path,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    root: str | Path = ".",
) -> SensitivityResult:
    """Plan, run (durably, resumably) and analyse a sensitivity file into folder ``out``."""
    plan = plan_sensitivity(spec, root=root)
    run_points(
        plan,
        out,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        progress=progress,
    )
    return analyse_sensitivity(out)
