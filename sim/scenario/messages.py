"""Validating a scenario table and saying what is wrong with it, one line per problem.

pydantic's errors are turned into :class:`~sim.scenario.errors.InputProblem` s that name the file
of the ``extends`` chain (or ``--set``) a key came from, the dotted key, the value and what was
expected, with "did you mean" for unknown keys (the schema is walked along the key's path).
Effort distributions whose tail no calendar could work through are refused up front.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.scenario.errors import MAX_SHOWN, InputProblem, ScenarioError
from sim.scenario.keypaths import (
    DIST_NAMES,
    KeyPath,
    Origins,
    allowed_keys,
    get,
    step,
)
from sim.scenario.limits import oversized
from sim.scenario.schema import Scenario

__all__ = ["EFFORT_HOURS_LIMIT", "validate_table"]

_MISSING = InputProblem.MISSING

# --- Validation and messages ---------------------------------------------------------------


def validate_table(
    table: Mapping[str, Any],
    source: str,
    *,
    origins: Origins | None = None,
    overridden: Mapping[KeyPath, str] | None = None,
) -> Scenario:
    """Validate a scenario table, turning pydantic's errors into one problem per bad key.

    ``origins`` maps keys to the file they came from (``source`` by default); keys at or below
    an ``overridden`` location are blamed on ``--set``.
    """
    origins = origins or {(): source}
    where_set = _Overridden(overridden or {})
    # A dict keeps the order and drops repeats (union branches can repeat the same complaint)
    # in linear time: 200,000 unknown keys once took minutes as a list searched per problem.
    found: dict[str, InputProblem] = {}
    # TOML has nan and inf; no scenario key means them. Said as such: a range check's words
    # ("should be less than or equal to 36500") would send the user after the wrong fix.
    non_finite = {_display(table, path): path for path in _non_finite(table)}
    for key, path in non_finite.items():
        source = _source_of(path, origins, where_set)
        problem = InputProblem(source, key, get(table, path), "expected a finite number")
        found[str(problem)] = problem
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(dict(table))
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            # "Did you mean" costs a fuzzy match per key: only for the problems shown.
            problem = _problem(table, err, origins, where_set, hint=len(found) < MAX_SHOWN)
            if problem.key not in non_finite:
                found.setdefault(str(problem), problem)
    problems = list(found.values())
    if problems or scenario is None:
        raise ScenarioError(problems)
    problems = [
        InputProblem(_source_of(path, origins, where_set), _display(table, path), value, why)
        for path, value, why in [*_unbounded_efforts(scenario, table), *oversized(scenario, table)]
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario


EFFORT_HOURS_LIMIT = 10 * 365 * 24
"""The most effort one step may need at its 99.9th percentile: ten years round the clock.

A larger draw is a slip (hours for days, a p90 of 1e9) that would keep one mediator busy
for centuries, and past about 1e16 hours no working calendar could even tell two days apart.
"""


def _unbounded_efforts(
    scenario: Scenario, table: Mapping[str, Any]
) -> list[tuple[KeyPath, Any, str]]:
    """Effort distributions whose p99.9, times the largest severity and category factors that
    apply to them, exceeds :data:`EFFORT_HOURS_LIMIT`: ``(path, value, expected)`` each."""
    by_category = 1.0
    if scenario.mechanisms.effort_factors:
        by_category = max(c.effort_factor for c in scenario.categories.values())
    found = []
    for path, node in _models_with_effort(scenario, ()):
        dist = node.effort_hours
        factor = by_category
        if scenario.mechanisms.effort_factors:
            sev = node.severity_effort
            factor *= max(sev.minor, sev.major, sev.serious)
        try:
            p999 = dist.ppf(0.999) * factor
        except (OverflowError, ValueError):  # exp() of a huge sigma: unbounded for our purpose
            p999 = math.inf
        if p999 <= EFFORT_HOURS_LIMIT:  # also False for nan: refused
            continue
        times = (
            f" with the largest severity and category factors (×{factor:g})" if factor != 1 else ""
        )
        found.append(
            (
                (*path, "effort_hours"),
                get(table, (*path, "effort_hours")),
                f"expected an effort distribution whose p99.9 is at most {EFFORT_HOURS_LIMIT:,} "
                f"hours (ten years round the clock); its p99.9 is {p999:.3g} hours{times}",
            )
        )
    return found


def _models_with_effort(model: BaseModel, path: KeyPath) -> Iterable[tuple[KeyPath, Any]]:
    """Every part of the scenario that has ``effort_hours`` (ladder levels, committees, ...),
    with its key path in the scenario table."""
    if isinstance(getattr(model, "effort_hours", None), BaseModel):
        yield path, model
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _models_with_effort(value, (*path, key))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    yield from _models_with_effort(v, (*path, key, str(k)))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                if isinstance(v, BaseModel):
                    yield from _models_with_effort(v, (*path, key, i))


def _non_finite(node: Any, path: KeyPath = ()) -> list[KeyPath]:
    if isinstance(node, float):
        return [] if math.isfinite(node) else [path]
    if isinstance(node, Mapping):
        return [p for k, v in node.items() for p in _non_finite(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _non_finite(v, (*path, i))]
    return []


# pydantic's words for a wrong container type, said the TOML way.
_TOML_TYPES = {
    "model_type": "expected a table ([section] or { key = value, ... })",
    "model_attributes_type": "expected a table ([section] or { key = value, ... })",
    "dict_type": "expected a table ([section] or { key = value, ... })",
    "list_type": "expected an array [ ... ]",
}

# Types are strict (schema_base.SchemaModel): text or a boolean where a number belongs is an
# error, said in the TOML way.
_STRICT_TYPES = {
    "float_type": "expected a number",
    "int_type": "expected an integer (a whole number)",
    "int_from_float": "expected an integer (a whole number)",
    "bool_type": "expected true or false",
    "string_type": 'expected text in quotes ("...")',
}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _problem(
    table: Mapping[str, Any],
    err: Mapping[str, Any],
    origins: Origins,
    overridden: _Overridden,
    hint: bool = True,
) -> InputProblem:
    path, bad_dict_key = _clean_loc(table, err["loc"])
    kind = str(err["type"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    value: object = err.get("input", _MISSING) if kind != "missing" else _MISSING
    if bad_dict_key:  # e.g. worsening.rate_per_day.serious: only some keys are allowed there
        value, expected = _MISSING, "unknown key; " + msg.replace("Input should be", "expected")
    elif kind == "extra_forbidden":
        expected = _unknown_key_message(table, path, hint)
    elif kind == "missing":
        expected = "required key is missing"
    elif kind == "union_tag_invalid":
        path, value = (*path, "dist"), get(table, (*path, "dist"))
        expected = f"expected one of {DIST_NAMES}"
    elif kind == "union_tag_not_found":
        path, value = (*path, "dist"), _MISSING
        expected = "required key is missing: a distribution needs dist = " + DIST_NAMES
    elif kind == "value_error" and isinstance(value, Mapping):
        path, value, expected = _refine(table, path, msg)
    elif kind == "string_too_long" and isinstance(value, str):
        limit = err.get("ctx", {}).get("max_length")
        expected = f"expected at most {limit:,} characters; this has {len(value):,}"
    elif kind in _STRICT_TYPES:
        expected = _STRICT_TYPES[kind]
        if isinstance(value, str) and _is_number(value):
            expected += ", without quotes"
        elif isinstance(value, bool):
            expected += ", not true or false"
    else:
        expected = _TOML_TYPES.get(kind, msg)
    if isinstance(value, Mapping) and len(repr(value)) > 60:
        value = _MISSING  # a whole table is noise; the message says what is wrong inside it
    return InputProblem(
        _source_of(path, origins, overridden), _display(table, path), value, expected
    )


def _clean_loc(table: Mapping[str, Any], loc: Iterable[Any]) -> tuple[KeyPath, bool]:
    """Pydantic's error location as a path into ``table``, without the union tags it adds.

    Also says whether the error is about a dict key itself (pydantic's ``[key]`` marker).
    """
    path: list[str | int] = []
    node: Any = table
    bad_key = False
    for part in loc:
        if part == "[key]":
            bad_key = True
            continue
        # pydantic puts the chosen branch of a union in the location: the `dist` tag of a
        # distribution ('lognormal') or a validator name ('function-after[...]').
        if (
            isinstance(node, Mapping)
            and isinstance(part, str)
            and part not in node
            and (part == node.get("dist") or re.fullmatch(r"[\w-]+\[.*\]", part))
        ):
            continue
        path.append(part)
        node = step(node, part)
    return tuple(path), bad_key


# A check that spans several keys names the key at fault first: "grids (2) must be at least …"
# inside a township, or "initial_state.open_cases[0].township = 'X': …" for the whole scenario.
_KEY_AT_START = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*)")


def _refine(table: Mapping[str, Any], path: KeyPath, msg: str) -> tuple[KeyPath, object, str]:
    """Point a validator's complaint about a whole table at the key its message names."""
    found = _KEY_AT_START.match(msg)
    node = get(table, path)
    if not found or not isinstance(node, Mapping):
        return path, node, msg
    rel = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[(\d+)\]", found[1]) if p)
    if rel[0] not in node:
        return path, node, msg
    new_path = (*path, *rel)
    rest = msg[found.end() :]
    if path:  # a field of this table named in a sentence: keep the sentence whole
        return new_path, get(table, new_path), msg
    # A scenario-wide check spelled the full path (and maybe "= value"); don't repeat them.
    if rest.startswith(" = ") and ": " in rest:
        rest = rest.split(": ", 1)[1]
    return new_path, get(table, new_path), rest.lstrip(": ") or msg


def _unknown_key_message(table: Mapping[str, Any], path: KeyPath, hint: bool = True) -> str:
    allowed = allowed_keys(table, path[:-1])
    if not allowed:
        return "unknown key (see docs/scenario.md for the keys allowed here)"
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1) if hint else []
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{guess} (allowed here: {', '.join(allowed)})"


class _Overridden:
    """Where ``--set`` put values, with every enclosing table, for lookups in O(depth)."""

    def __init__(self, locations: Mapping[KeyPath, str]):
        self.at = set(locations)
        self.within = {loc[:n] for loc in locations for n in range(len(loc) + 1)}

    def covers(self, path: KeyPath) -> bool:
        """An override set ``path`` or a table holding it."""
        return any(path[:n] in self.at for n in range(len(path) + 1))

    def inside(self, path: KeyPath) -> bool:
        """An override set something inside the table at ``path``."""
        return path in self.within


def _source_of(path: KeyPath, origins: Origins, overridden: _Overridden) -> str:
    """``--set`` if an override set this key (or a table holding it), else the file it is in."""
    if overridden.covers(path):
        return "--set"
    source = origins.get((), "")
    for n in range(len(path), -1, -1):
        if path[:n] in origins:
            source = origins[path[:n]]
            break
    if path and overridden.inside(path):
        return f"{source} (with --set)"  # a cross-key check on a table an override changed
    return source


def _display(table: Mapping[str, Any], path: KeyPath) -> str:
    """``townships[0] (甲镇).population``: array elements are named when they have a name."""
    text = ""
    node: Any = table
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            node = step(node, part)
            name = node.get("name") if isinstance(node, Mapping) else None
            if name:
                # A name is there to help find the entry; a huge one (refused on its own) is cut.
                shown = str(name) if len(str(name)) <= 40 else str(name)[:37] + "..."
                text += f" ({shown})"
        else:
            text += f".{part}" if text else str(part)
            node = step(node, part)
    return text
