"""Key paths into a scenario table and the schema types along them.

A :data:`KeyPath` is a location in a scenario table (``("townships", 0, "name")``); the
functions here walk a table (:func:`get`) and the pydantic schema (:func:`schema_type`) along
one, for the messages of :mod:`sim.scenario.messages` ("did you mean") and the default tables
of :mod:`sim.scenario.overrides`.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from sim.scenario.distributions import Distribution
from sim.scenario.errors import InputProblem
from sim.scenario.schema import Scenario

__all__ = [
    "DIST_NAMES",
    "KeyPath",
    "Origins",
    "allowed_keys",
    "field_of",
    "get",
    "schema_type",
    "step",
]

KeyPath = tuple[str | int, ...]
"""A location in a scenario table: keys and array indices, e.g. ``("townships", 0, "name")``."""

Origins = dict[KeyPath, str]
"""Which file of an ``extends`` chain each key came from, so messages name the right file."""

_MISSING = InputProblem.MISSING


def step(node: Any, part: str | int) -> Any:
    """The value under ``part`` of a table or array, or the missing marker."""
    if isinstance(node, Mapping):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def get(table: Mapping[str, Any], path: KeyPath) -> Any:
    """The value at ``path`` of ``table``, or the missing marker."""
    node: Any = table
    for part in path:
        node = step(node, part)
    return node


def allowed_keys(table: Mapping[str, Any], path: KeyPath) -> list[str]:
    """The keys the schema allows in the table at ``path`` (empty if it is no table)."""
    model = schema_type(table, path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


def schema_type(table: Mapping[str, Any], path: KeyPath) -> Any:
    """The schema type at ``path`` (a model class, ``list[...]``, ...), or None if unknown."""
    tp: Any = _unwrap(Scenario, table)
    node: Any = table
    for part in path:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = field_of(tp, part)
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict and isinstance(part, str):
            tp = get_args(tp)[1]
        else:
            return None
        node = step(node, part)
        tp = _unwrap(tp, node)
    return tp


def field_of(model: Any, key: str | int) -> Any:
    """The pydantic field of ``model`` named ``key`` (by name or alias), or None."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip ``Annotated`` and ``| None``; pick a distribution by the ``dist`` in the data."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            tag = node.get("dist") if isinstance(node, Mapping) else None
            chosen = [m for m in members if tag is not None and _tag_of(m) == tag]
            if not chosen:
                return None
            tp = chosen[0]
        else:
            return tp


def _tag_of(model: Any) -> object:
    field = field_of(model, "dist")
    args = get_args(field.annotation) if field is not None else ()
    return args[0] if args else None


# The `dist` names of sim.distributions, read from the schema so the message cannot drift.
DIST_NAMES = " | ".join(str(_tag_of(m)) for m in get_args(get_args(Distribution)[0]))
