"""Sweeps: a grid of "what if" variants of a scenario, run with common random numbers.

A sweep file (TOML, see docs/sweeps.md) names a base scenario, axes (dotted scenario keys with
lists or ranges of values; the full grid is run), optional named variants, the replications,
the seed and the KPIs to keep. Every point of a sweep runs replications ``0..n-1`` under the
same seed, so the points face the same disputes (common random numbers, CRN) and differences
between points are paired: :func:`paired_differences` reports them with confidence intervals
against a baseline point.

Running is durable (see :mod:`sim.experiments.sweep_store`): each finished point is written at once,
and a resumed sweep computes only what is missing. Where it runs is an executor
(:mod:`sim.experiments.executors`); the numbers do not depend on it.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import itertools
import math
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.experiments.executors import check_options, make_executor
from sim.experiments.experiment import confidence_interval, simulate
from sim.experiments.sweep_store import SweepStore, to_json
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import load_scenario, read_scenario_table
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KPI_NAMES

__all__ = [
    "Axis",
    "Point",
    "SpecModel",
    "SweepPlan",
    "SweepSpec",
    "Variant",
    "blame",
    "build_scenarios",
    "flatten_keys",
    "is_axis_leaf",
    "is_number",
    "is_value_leaf",
    "load_sweep",
    "lookup_key",
    "paired_differences",
    "plan_sweep",
    "read_toml",
    "run_points",
    "run_replication",
    "select_kpis",
    "spec_hash",
    "spec_problems",
    "summarise_sweep",
    "sweep",
    "targets_of",
]

_MISSING = InputProblem.MISSING


# --- The sweep file ------------------------------------------------------------------------


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Variant(SpecModel):
    """A named set of overrides: one row of a "list of named variants" sweep."""

    name: str = Field(min_length=1)
    description: str = ""
    set_: dict[str, Any] = Field(default_factory=dict, alias="set")


class SweepSpec(SpecModel):
    """The sweep file, as written (axes are checked and expanded by :func:`plan_sweep`)."""

    name: str | None = None
    description: str = ""
    base: str = Field(min_length=1)  # scenario file, relative to the sweep file
    replications: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0)
    kpis: list[str] = Field(default_factory=list)  # names or patterns ("utilization.*")
    set_: dict[str, Any] = Field(default_factory=dict, alias="set")  # for every point
    axes: dict[str, Any] = Field(default_factory=dict)
    variants: list[Variant] = Field(default_factory=list)
    baseline: str | dict[str, Any] | None = None  # variant name, point id, or axis values


@dataclass(frozen=True)
class Axis:
    """One axis of the grid. A ``scale`` axis multiplies the base value by each factor."""

    key: str
    values: tuple[Any, ...]
    scale: bool = False

    @property
    def label(self) -> str:
        """Column name in results: the key, or ``KEY:scale`` for a multiplier axis."""
        return f"{self.key}:scale" if self.scale else self.key


@dataclass(frozen=True)
class Point:
    """One point of a sweep: an id, the overrides applied to the base, and its labels."""

    id: str
    overrides: dict[str, Any]
    labels: dict[str, Any]


@dataclass
class SweepPlan:
    """A checked sweep, ready to run: its points, their scenarios and the run settings."""

    name: str
    source: str
    base: Path
    spec: dict[str, Any]
    axes: list[Axis]
    points: list[Point]
    scenarios: list[Scenario]
    replications: int
    seed: int
    kpis: list[str] | None  # None: every KPI the model reports
    baseline: str
    targets: dict[str, dict[str, Any]]
    spec_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # stored in the manifest as is

    def manifest(self) -> dict[str, Any]:
        return {
            "kind": self.extra.get("kind", "sweep"),
            "name": self.name,
            "source": self.source,
            "base": str(self.base),
            "spec": self.spec,
            "spec_hash": self.spec_hash,
            "replications": self.replications,
            "seed": self.seed,
            "kpis": self.kpis,
            "axes": [
                {"key": a.key, "label": a.label, "values": list(a.values), "scale": a.scale}
                for a in self.axes
            ],
            "baseline": self.baseline,
            "targets": self.targets,
            "points": [
                {"id": p.id, "overrides": p.overrides, "labels": p.labels} for p in self.points
            ],
            **{k: v for k, v in self.extra.items() if k != "kind"},
        }


def read_toml(path: Path, shown: str) -> dict[str, Any]:
    """Read a TOML file; a missing or broken file is an input problem (exit 2)."""
    if not path.is_file():
        what = "is a folder; expected a TOML file" if path.is_dir() else "file not found"
        raise ScenarioError([InputProblem(shown, "", _MISSING, what)])
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, f"TOML syntax error: {exc}")]
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError([InputProblem(shown, "", _MISSING, "not UTF-8 text")]) from None


def spec_problems(exc: ValidationError, source: str, model: type[BaseModel]) -> list[InputProblem]:
    """Pydantic's complaints about a sweep-like file, one plain line each."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
        kind = err["type"]
        value = err.get("input", _MISSING) if kind != "missing" else _MISSING
        if kind == "extra_forbidden":
            allowed = _allowed(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            expected = f"unknown key{hint} (allowed here: {', '.join(allowed)})"
            value = _MISSING
        elif kind == "missing":
            expected = "required key is missing"
        else:
            expected = str(err["msg"]).replace("Input should be", "expected")
        problem = InputProblem(source, key, value, expected)
        if problem not in problems:
            problems.append(problem)
    return problems


def _allowed(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    tp: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(tp, "model_fields", {})
        f = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if f is None:
            return []
        tp = f.annotation
        args = getattr(tp, "__args__", ())
        tp = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), tp)
    fields = getattr(tp, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def flatten_keys(
    node: Mapping[str, Any], is_leaf: Callable[[Any], bool], prefix: str = ""
) -> dict[str, Any]:
    """``{"ladder": {"township": {"full_time": [1, 2]}}}`` → ``{"ladder.township.full_time":
    [1, 2]}``: unquoted dotted keys in TOML make nested tables, quoted ones do not; both work."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and not is_leaf(value):
            out |= flatten_keys(value, is_leaf, path)
        else:
            out[path] = value
    return out


_AXIS_TABLE_KEYS = {"from", "to", "step", "num", "scale"}


def is_axis_leaf(value: Any) -> bool:
    return not isinstance(value, Mapping) or bool(set(value) & _AXIS_TABLE_KEYS) or not value


def is_value_leaf(value: Any) -> bool:
    # A table with `dist` is a distribution: one value, not keys to set one by one.
    return not isinstance(value, Mapping) or "dist" in value or not value


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _axis(key: str, raw: Any, source: str) -> tuple[Axis | None, list[InputProblem]]:
    """Check one axis and list its values (ranges are inclusive of ``to``)."""
    where = f"axes.{key}"
    if isinstance(raw, list):
        if not raw:
            return None, [
                InputProblem(source, where, raw, "empty axis: expected at least one value")
            ]
        return Axis(key, tuple(raw)), []
    if not isinstance(raw, Mapping):
        return None, [
            InputProblem(
                source,
                where,
                raw,
                "expected an array of values, a range { from, to, step | num } "
                "or multipliers { scale = [...] }",
            )
        ]
    unknown = sorted(set(raw) - _AXIS_TABLE_KEYS)
    if unknown:
        return None, [
            InputProblem(
                source,
                f"{where}.{unknown[0]}",
                _MISSING,
                "unknown key (allowed: from, to, step, num, scale)",
            )
        ]
    if "scale" in raw:
        factors = raw["scale"]
        if set(raw) != {"scale"}:
            return None, [
                InputProblem(source, where, _MISSING, "scale cannot be combined with from/to")
            ]
        if not isinstance(factors, list) or not factors or not all(is_number(f) for f in factors):
            return None, [
                InputProblem(
                    source, f"{where}.scale", factors, "expected a non-empty array of numbers"
                )
            ]
        return Axis(key, tuple(factors), scale=True), []
    lo, hi, step, num = (raw.get(k) for k in ("from", "to", "step", "num"))
    problems = [
        InputProblem(source, f"{where}.{k}", v, "expected a number")
        for k, v in (("from", lo), ("to", hi))
        if not is_number(v)
    ]
    if step is not None and num is not None:
        problems.append(InputProblem(source, where, _MISSING, "give step or num, not both"))
    if step is not None and (not is_number(step) or step <= 0):
        problems.append(InputProblem(source, f"{where}.step", step, "expected a positive number"))
    if num is not None and (not isinstance(num, int) or isinstance(num, bool) or num < 1):
        problems.append(InputProblem(source, f"{where}.num", num, "expected a positive integer"))
    if problems:
        return None, problems
    if hi < lo:
        return None, [InputProblem(source, f"{where}.to", hi, f"expected at least from = {lo}")]
    if num is not None:
        values = [lo] if num == 1 else list(np.linspace(lo, hi, num))
    else:
        step = 1 if step is None else step
        count = math.floor((hi - lo) / step + 1e-9) + 1
        values = [lo + i * step for i in range(count)]
    if all(isinstance(x, int) for x in (lo, hi, step or 1)) and num is None:
        values = [int(v) for v in values]
    else:
        values = [round(float(v), 12) for v in values]  # 0.30000000000000004 → 0.3
    return Axis(key, tuple(values)), []


def select_kpis(patterns: Iterable[str], source: str, key: str = "kpis") -> list[str] | None:
    """KPI names chosen by name or pattern (``utilization.*``); ``None`` when none is given."""
    patterns = list(patterns)
    if not patterns:
        return None
    chosen: list[str] = []
    problems = []
    for i, pattern in enumerate(patterns):
        hits = [k for k in KPI_NAMES if fnmatch.fnmatchcase(k, pattern)]
        if not hits:
            close = difflib.get_close_matches(pattern, KPI_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                InputProblem(
                    source, f"{key}[{i}]", pattern, f"unknown KPI{hint} (see docs/model.md)"
                )
            )
        chosen += [k for k in hits if k not in chosen]
    if problems:
        raise ScenarioError(problems)
    return [k for k in KPI_NAMES if k in chosen]  # the model's order, whatever the file's


def lookup_key(data: Any, key: str) -> Any:
    """The value at a dotted key of a scenario dump (array elements by index or name)."""
    node = data
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list):
            found = [
                x
                for i, x in enumerate(node)
                if str(i) == part
                or (isinstance(x, Mapping) and part in (x.get("name"), x.get("pinyin")))
            ]
            if not found:
                return _MISSING
            node = found[0]
        else:
            return _MISSING
    return node


def blame(
    exc: ScenarioError, source: str, where: str, value: Any, key: str | None
) -> list[InputProblem]:
    """Problems of overrides, blamed on the entry of the sweep file that made them.

    With ``key`` (one override: an axis value), the problem is reported at ``where`` with the
    file's ``value``; without (a table of overrides: ``set``, a variant), at ``where.KEY``.
    Problems of the base scenario itself are passed through unchanged.
    """
    out = []
    for p in exc.problems:
        if not (p.source == "--set" or p.source.endswith("(with --set)")):
            out.append(p)
        elif key is None:
            out.append(
                InputProblem(source, f"{where}.{p.key}" if p.key else where, p.value, p.expected)
            )
        else:
            expected = p.expected if p.key in (key, "") else f"{p.key}: {p.expected}"
            out.append(InputProblem(source, where, value, expected))
    return out


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
        axis, found = _axis(key, raw, source)
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
    points = []
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


# --- Running -------------------------------------------------------------------------------


def run_replication(
    scenario: Scenario, seed: int, replication: int, kpis: Sequence[str] | None
) -> tuple[dict[str, float], float]:
    """One work unit: replication ``replication`` of ``scenario``; its KPIs and seconds taken.

    Depends only on (scenario, seed, replication): wherever it runs, the numbers are the same.
    """
    start = time.perf_counter()
    row = simulate(scenario, 1, seed, first_replication=replication).per_replication.iloc[0]
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
    from tqdm.auto import tqdm

    check_options(executor, workers, scheduler)
    store = SweepStore(out)
    manifest = plan.manifest()
    store.check(manifest, resume)
    n = plan.replications
    kpis = tuple(plan.kpis) if plan.kpis is not None else None
    run_id = uuid.uuid4().hex[:12]
    total = len(plan.points)
    with make_executor(executor, workers, scheduler) as ex:
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
            for (pid, k), (values, secs) in ex.map_unordered(run_replication, tasks):
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


# --- Results -------------------------------------------------------------------------------


def _label_value(value: Any) -> Any:
    """A label as a DataFrame cell: scalars as they are, tables and arrays as JSON text."""
    return to_json(value).replace("\n", "") if isinstance(value, Mapping | list) else value


def load_sweep(folder: str | Path) -> pd.DataFrame:
    """The finished points of a sweep folder as one tidy DataFrame.

    One row per (point, replication); columns ``point``, the labels (``variant``, one per
    axis), ``replication``, ``seed``, then one per KPI. ``df.attrs["sweep"]`` holds the axes,
    baseline, targets and point count from the manifest. Unfinished points are left out.
    """
    store = SweepStore(folder)
    manifest = store.read_manifest()
    done = store.done_points(manifest["spec_hash"])
    order = [p["id"] for p in manifest["points"] if p["id"] in done]
    labels = pd.DataFrame(
        [
            {"point": p["id"], **{k: _label_value(v) for k, v in p["labels"].items()}}
            for p in manifest["points"]
        ]
    )
    if order:
        rows = pd.concat(store.read_points(order), ignore_index=True)
    else:
        kpis = manifest.get("kpis") or list(KPI_NAMES)
        rows = pd.DataFrame({"point": [], "replication": [], "seed": [], **{k: [] for k in kpis}})
        rows = rows.astype({"point": object, "replication": "int64", "seed": "int64"})
    df = labels.merge(rows, on="point", how="inner", validate="one_to_many")
    df = df.sort_values(["point", "replication"], ignore_index=True)
    df.attrs["sweep"] = {
        "name": manifest.get("name"),
        "kind": manifest.get("kind", "sweep"),
        "axes": manifest.get("axes", []),
        "baseline": manifest.get("baseline"),
        "targets": manifest.get("targets", {}),
        "points_total": len(manifest["points"]),
        "points_done": len(order),
        "label_columns": [c for c in labels.columns if c != "point"],
        "spec_hash": manifest["spec_hash"],
    }
    return df


def _kpi_columns(df: pd.DataFrame, kpis: Iterable[str] | None) -> list[str]:
    labels = set(df.attrs.get("sweep", {}).get("label_columns", []))
    known = [c for c in df.columns if c not in labels and c not in ("point", "replication", "seed")]
    if kpis is None:
        return known
    kpis = list(kpis)
    missing = [k for k in kpis if k not in known]
    if missing:
        raise ScenarioError(
            [
                InputProblem("--kpi", "", k, f"not in the results (have: {', '.join(known)})")
                for k in missing
            ]
        )
    return kpis


def _label_columns(df: pd.DataFrame) -> list[str]:
    return list(df.attrs.get("sweep", {}).get("label_columns", []))


def summarise_sweep(
    df: pd.DataFrame, kpis: Iterable[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Per point and KPI: mean, Student-t CI over replications, std, n (long format)."""
    labels = _label_columns(df)
    records = []
    for pid, group in df.groupby("point", sort=True):
        first = group.iloc[0]
        for kpi in _kpi_columns(df, kpis):
            values = group[kpi].to_numpy(dtype=float)
            mean, lo, hi = confidence_interval(values, confidence)
            ok = values[~np.isnan(values)]
            records.append(
                {
                    "point": pid,
                    **{c: first[c] for c in labels},
                    "kpi": kpi,
                    "mean": mean,
                    "ci_low": lo,
                    "ci_high": hi,
                    "std": float(ok.std(ddof=1)) if len(ok) > 1 else math.nan,
                    "n": len(ok),
                }
            )
    out = pd.DataFrame(records)
    out.attrs = dict(df.attrs)
    return out


def paired_differences(
    df: pd.DataFrame,
    baseline: str | None = None,
    kpis: Iterable[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each point minus the baseline point, replication by replication (CRN pairs).

    Columns: ``difference`` (mean of the paired differences) with its Student-t
    ``ci_low``/``ci_high``; ``std_paired`` (std of the paired differences) and
    ``std_unpaired`` (what it would be with independent streams, sqrt(var_a + var_b)), and
    ``variance_ratio`` = paired / unpaired variance: how much the common random numbers saved.
    """
    from scipy import stats

    baseline = baseline or df.attrs.get("sweep", {}).get("baseline") or str(df["point"].min())
    if baseline not in set(df["point"]):
        raise ScenarioError(
            [InputProblem("baseline", "", baseline, "not a finished point of this sweep")]
        )
    labels = _label_columns(df)
    kpi_cols = _kpi_columns(df, kpis)
    base = df[df["point"] == baseline].set_index("replication")
    records = []
    for pid, group in df.groupby("point", sort=True):
        if pid == baseline:
            continue
        g = group.set_index("replication")
        common = g.index.intersection(base.index)
        for kpi in kpi_cols:
            a = g.loc[common, kpi].to_numpy(dtype=float)
            b = base.loc[common, kpi].to_numpy(dtype=float)
            ok = ~(np.isnan(a) | np.isnan(b))
            d = a[ok] - b[ok]
            mean, lo, hi = confidence_interval(d, confidence)
            var_p = float(d.var(ddof=1)) if len(d) > 1 else math.nan
            var_u = float(a[ok].var(ddof=1) + b[ok].var(ddof=1)) if len(d) > 1 else math.nan
            half_u = (
                float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * math.sqrt(var_u / len(d)))
                if len(d) > 1
                else math.nan
            )
            records.append(
                {
                    "point": pid,
                    **{c: g.iloc[0][c] for c in labels},
                    "kpi": kpi,
                    "baseline": baseline,
                    "baseline_mean": float(np.mean(b[ok])) if ok.any() else math.nan,
                    "mean": float(np.mean(a[ok])) if ok.any() else math.nan,
                    "difference": mean,
                    "ci_low": lo,
                    "ci_high": hi,
                    "half_width_unpaired": half_u,
                    "std_paired": math.sqrt(var_p) if var_p == var_p else math.nan,
                    "std_unpaired": math.sqrt(var_u) if var_u == var_u else math.nan,
                    "variance_ratio": var_p / var_u if var_u and var_u == var_u else math.nan,
                    "n": int(ok.sum()),
                }
            )
    out = pd.DataFrame(records)
    out.attrs = dict(df.attrs)
    return out
