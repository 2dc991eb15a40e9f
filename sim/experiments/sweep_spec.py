"""The sweep file (docs/sweeps.md): its schema, its axes, and the helpers that check it.

A sweep file names a base scenario, axes (dotted scenario keys with lists or ranges of values),
optional named variants, the replications, the seed and the KPIs to keep. This module reads and
checks what is written; :mod:`sim.experiments.sweep_plan` applies it to the base scenario and
expands the points. Every problem is an :class:`~sim.scenario.errors.InputProblem` naming the
file, the key and the value (exit 2). The sensitivity designs (:mod:`sim.experiments.sensitivity`)
reuse these helpers for their own files.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import read_toml as read_scenario_file
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
    "flatten_keys",
    "is_axis_leaf",
    "is_number",
    "is_value_leaf",
    "lookup_key",
    "parse_axis",
    "read_toml",
    "select_kpis",
    "spec_problems",
]

_MISSING = InputProblem.MISSING


class SpecModel(BaseModel):
    """Base of the sweep file's tables: unknown keys are errors, values frozen."""

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
        """What the sweep folder records about this sweep, to check a resume against."""
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
    """Read a sweep-like TOML file; a missing or broken file is an input problem (exit 2)."""
    return read_scenario_file(path, shown, "a TOML file")


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
    """Whether ``value`` is one axis (values, a range or an axis table), not keys below it."""
    return not isinstance(value, Mapping) or bool(set(value) & _AXIS_TABLE_KEYS) or not value


def is_value_leaf(value: Any) -> bool:
    """Whether ``value`` is one scenario value, not a table of keys to set one by one."""
    # A table with `dist` is a distribution: one value, not keys to set one by one.
    return not isinstance(value, Mapping) or "dist" in value or not value


def is_number(x: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def parse_axis(key: str, raw: Any, source: str) -> tuple[Axis | None, list[InputProblem]]:
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
    # Any: the file's values, checked one by one below before they are used as numbers.
    lo: Any = raw.get("from")
    hi: Any = raw.get("to")
    step: Any = raw.get("step")
    num: Any = raw.get("num")
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
