"""Planning a sweep: the sweep file applied to its base scenario, expanded into points.

:func:`plan_sweep` checks every axis value and variant against the base scenario on its own
(so a bad value is reported naming the axis or variant that carries it), expands variants ×
the full grid of the axes into points (:class:`~sim.experiments.sweep_spec.Point`), picks
the baseline, and hashes everything that decides the numbers (:func:`spec_hash`), so that a resumed
sweep refuses a changed file.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.experiments.sweep_spec import (
    Axis,
    Point,
    SweepPlan,
    SweepSpec,
    Variant,
    blame,
    flatten_keys,
    is_axis_leaf,
    is_number,
    is_value_leaf,
    lookup_key,
    parse_axis,
    read_toml,
    select_kpis,
    spec_problems,
)
from sim.experiments.sweep_store import to_json
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import load_scenario, read_scenario_table
from sim.scenario.schema import Scenario

__all__ = ["build_scenarios", "plan_sweep", "spec_hash", "targets_of"]

_MISSING = InputProblem.MISSING


def _try_load(base: Path, overrides: Sequence[tuple[str, Any]]) -> Scenario:
    return load_scenario(base, list(overrides))


def plan_sweep(
    spec: str | Path | Mapping[str, Any] | SweepSpec, *, root: str | Path = "."
) -> SweepPlan:
    """Read and check a sweep (file, table or :class:`SweepSpec`) and expand its points.

    Every axis value and variant is applied to the base scenario and validated on its own
    first, so a bad key or value is reported naming the axis or variant that carries it.
    """
    if isinstance(spec, str | Path):
        path = Path(spec)
        source = str(spec)
        table: Mapping[str, Any] | SweepSpec = read_toml(path, source)
        root = path.resolve().parent
    else:
        source, table = "sweep", spec
    if isinstance(table, SweepSpec):
        parsed = table
    else:
        try:
            parsed = SweepSpec.model_validate(dict(table))
        except ValidationError as exc:
            raise ScenarioError(spec_problems(exc, source, SweepSpec)) from None
    base = (Path(root) / parsed.base).resolve()
    if not base.is_file():
        raise ScenarioError(
            [InputProblem(source, "base", parsed.base, f"scenario file not found ({base})")]
        )

    problems: list[InputProblem] = []
    fixed = flatten_keys(parsed.set_, is_value_leaf)
    try:
        base_scenario = _try_load(base, list(fixed.items()))
    except ScenarioError as exc:
        raise ScenarioError(blame(exc, source, "set", _MISSING, None)) from None
    base_dump = base_scenario.model_dump(by_alias=True)

    names = [v.name for v in parsed.variants]
    for i, variant in enumerate(parsed.variants):
        if names.index(variant.name) != i:
            problems.append(
                InputProblem(source, f"variants[{i}].name", variant.name, "names must be unique")
            )
        changes = flatten_keys(variant.set_, is_value_leaf)
        try:  # a variant's keys go together (e.g. severity shares that sum to 1)
            _try_load(base, [*fixed.items(), *changes.items()])
        except ScenarioError as exc:
            problems += blame(exc, source, f"variants[{i}] ({variant.name}).set", _MISSING, None)

    axes: list[Axis] = []
    for key, raw in flatten_keys(parsed.axes, is_axis_leaf).items():
        axis, found = parse_axis(key, raw, source)
        problems += found
        if axis is None:
            continue
        if axis.scale:
            base_value = lookup_key(base_dump, key)
            if not is_number(base_value):
                problems.append(
                    InputProblem(
                        source,
                        f"axes.{key}",
                        _MISSING,
                        "scale needs a number at this key in the base scenario",
                    )
                )
                continue
        for value in axis.values:
            applied = _scaled(base_dump, axis, value)
            try:
                _try_load(base, [*fixed.items(), (key, applied)])
            except ScenarioError as exc:
                problems += blame(exc, source, f"axes.{key}", value, key)
        axes.append(axis)
    try:
        kpis = select_kpis(parsed.kpis, source)
    except ScenarioError as exc:
        problems += exc.problems
        kpis = None
    if problems:
        raise ScenarioError(problems)

    points = _expand(parsed, fixed, axes, base_dump)
    baseline = _baseline(parsed.baseline, points, source)
    plan = SweepPlan(
        name=parsed.name or (Path(source).stem if source != "sweep" else "sweep"),
        source=source,
        base=base,
        spec=parsed.model_dump(by_alias=True, mode="json"),
        axes=axes,
        points=points,
        scenarios=build_scenarios(base, points, source),
        replications=parsed.replications or base_scenario.run.replications,
        seed=base_scenario.run.seed if parsed.seed is None else parsed.seed,
        kpis=kpis,
        baseline=baseline,
        targets=targets_of(base_scenario),
    )
    plan.spec_hash = spec_hash(plan)
    return plan


def _scaled(base_dump: Mapping[str, Any], axis: Axis, value: Any) -> Any:
    if not axis.scale:
        return value
    base_value = lookup_key(base_dump, axis.key)
    out = base_value * value
    # A count (mediators) stays a count: 2 × 1.5 = 3; 2 × 1.2 is rounded to 2.
    return round(out) if isinstance(base_value, int) else round(float(out), 12)


def _expand(
    spec: SweepSpec, fixed: Mapping[str, Any], axes: list[Axis], base_dump: Mapping[str, Any]
) -> list[Point]:
    """Variants (outer) × the full grid of the axes (first axis slowest), in file order."""
    variants: list[Variant | None] = list(spec.variants) or [None]
    combos = list(itertools.product(*(a.values for a in axes)))
    total = len(variants) * len(combos)
    width = max(4, len(str(total - 1)))
    points: list[Point] = []
    for variant, combo in itertools.product(variants, combos):
        overrides = dict(fixed)
        labels: dict[str, Any] = {}
        if variant is not None:
            overrides |= flatten_keys(variant.set_, is_value_leaf)
            labels["variant"] = variant.name
        for axis, value in zip(axes, combo, strict=True):
            overrides[axis.key] = _scaled(base_dump, axis, value)
            labels[axis.label] = value
        points.append(Point(f"p{len(points):0{width}d}", overrides, labels))
    return points


def _baseline(choice: str | Mapping[str, Any] | None, points: list[Point], source: str) -> str:
    if choice is None:
        return points[0].id
    if isinstance(choice, str):
        found = [p.id for p in points if choice in (p.id, p.labels.get("variant"))]
    else:
        want = flatten_keys(choice, is_value_leaf)
        found = [
            p.id
            for p in points
            if all(
                p.labels.get(k, p.labels.get(f"{k}:scale", _MISSING)) == v for k, v in want.items()
            )
        ]
    if not found:
        raise ScenarioError(
            [InputProblem(source, "baseline", choice, "matches no point of the sweep")]
        )
    if len(found) > 1:
        raise ScenarioError(
            [
                InputProblem(
                    source, "baseline", choice, f"matches {len(found)} points; name one point"
                )
            ]
        )
    return found[0]


def targets_of(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The scenario's targets as plain values (value, sense, label), for the sweep's files."""
    return {
        name: {"value": t.value, "sense": t.sense, "label": t.label}
        for name, t in scenario.targets.items()
    }


def build_scenarios(base: Path, points: Sequence[Point], source: str) -> list[Scenario]:
    """Load the scenario of every point; a bad combination names the point."""
    scenarios, problems = [], []
    for p in points:
        try:
            scenarios.append(_try_load(base, list(p.overrides.items())))
        except ScenarioError as exc:
            problems += blame(exc, source, f"point {p.id}", _MISSING, None)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def spec_hash(plan: SweepPlan) -> str:
    """Hash of everything that decides the numbers: resume refuses if it changed."""
    from sim import __version__

    content = {
        "spec": {k: v for k, v in plan.spec.items() if k not in ("description", "name")},
        "base": read_scenario_table(plan.base),
        "points": [(p.id, p.overrides) for p in plan.points],
        "replications": plan.replications,
        "seed": plan.seed,
        "kpis": plan.kpis,
        "sim": __version__,
        "extra": plan.extra,
    }
    return hashlib.sha256(to_json(content).encode("utf-8")).hexdigest()[:16]
