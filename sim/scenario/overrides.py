"""``--set KEY=VALUE`` overrides: parsing them and applying them to a scenario table.

A key names a table path (``ladder.township.full_time``) or an element of an array by its name
(``townships.Gaojia.full_time``); tables the file leaves out start from the schema's defaults.
Problems become :class:`~sim.scenario.errors.InputProblem` s that name ``--set``.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.keypaths import KeyPath, field_of, schema_type

__all__ = ["apply_overrides", "apply_overrides_located", "parse_override"]

_MISSING = InputProblem.MISSING

# --- Overrides (--set) ---------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """``"ladder.township.full_time=3"`` → ``("ladder.township.full_time", 3)``.

    The value is read as a TOML value (numbers, booleans, strings, arrays, inline tables); a
    bare word that is not valid TOML is taken as a string.
    """
    if "=" not in text:
        raise ScenarioError(
            [InputProblem("--set", text, _MISSING, "expected KEY=VALUE, e.g. run.horizon_days=730")]
        )
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise ScenarioError(
            [InputProblem("--set", text, _MISSING, "expected a dotted key path before '='")]
        )
    if key.count(".") >= _MAX_DEPTH:
        raise ScenarioError(
            [InputProblem("--set", key[:60], _MISSING, f"a key path of at most {_MAX_DEPTH} parts")]
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:  # tomllib reads nested arrays by recursion
        raise ScenarioError(
            [InputProblem("--set", key, _MISSING, f"a value nested at most {_MAX_DEPTH} deep")]
        ) from None
    return key, value


_MAX_DEPTH = 32  # as sim.scenario.loading.MAX_NESTING (which imports this module)


def apply_overrides(table: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Set each dotted key in a copy of ``table``.

    A path segment into an array is an index (``townships.0.full_time``) or the ``name`` /
    ``pinyin`` of an element (``townships.Gaojia.full_time``). Unknown keys are created so that
    validation reports them by name.
    """
    return apply_overrides_located(table, overrides)[0]


def apply_overrides_located(
    table: dict[str, Any], overrides: Iterable[tuple[str, Any]]
) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """Like :func:`apply_overrides`; also returns each override's resolved location."""
    out = copy.deepcopy(table)
    done: dict[KeyPath, str] = {}
    problems: list[InputProblem] = []
    for key, value in overrides:
        try:
            done[_set_one(out, key, value, done)] = key
        except _BadPath as exc:
            problems.append(InputProblem("--set", key, value, str(exc)))
    if problems:
        raise ScenarioError(problems)
    return out, done


class _BadPath(Exception):
    """A --set key that leads nowhere; the message says where it stops."""


def _set_one(table: dict[str, Any], key: str, value: Any, created: dict[KeyPath, str]) -> KeyPath:
    """Set ``key`` in ``table`` and return where it went (array names resolved to indices)."""
    parts = key.split(".")
    node: Any = table
    at: KeyPath = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            found = _list_index(node, part)
            if found is None:
                array = ".".join(parts[:i])
                if not node:
                    raise _BadPath(f"{array} is an empty array")
                raise _BadPath(
                    f"{array} has no element {part!r}; expected an index 0..{len(node) - 1} "
                    f"or {_element_names(node)}"
                )
            idx: int | str = found
            at = (*at, idx)
        else:
            at = (*at, part)
            if not last and part not in node:
                # Setting one key of a table the file leaves out: start from the schema's
                # default table so the other keys keep their defaults.
                node[part] = _default_table(table, at)
                created[at] = key  # problems inside a table --set created are --set's
            idx = part
        if last:
            node[idx] = value
        elif isinstance(node[idx], dict | list):
            node = node[idx]
        else:
            where = ".".join(parts[: i + 1])
            raise _BadPath(f"{where} holds a single value ({node[idx]!r}), not a table")
    return at


def _list_index(items: list[Any], part: str) -> int | None:
    if part.lstrip("-").isdigit():
        idx = int(part)
        return idx if 0 <= idx < len(items) else None
    for idx, item in enumerate(items):
        if isinstance(item, Mapping) and part in (item.get("name"), item.get("pinyin")):
            return idx
    return None


def _element_names(items: list[Any], limit: int = 40) -> str:
    """The names an array's elements can be called by, for the message of a wrong one."""
    names = []
    for item in items:
        if isinstance(item, Mapping):
            shown = [str(item[k]) for k in ("name", "pinyin") if item.get(k)]
            if shown:
                names.append(" / ".join(dict.fromkeys(shown)))
    if not names:
        return "the name of an element"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return "one of the names: " + ", ".join(names[:limit]) + more


def _default_table(table: Mapping[str, Any], path: KeyPath) -> dict[str, Any]:
    """The schema's default for the table at ``path`` as plain data, or ``{}`` if none."""
    parent = schema_type(table, path[:-1])
    field = field_of(parent, path[-1]) if parent is not None else None
    if field is None or field.is_required():
        return {}
    default = field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return default.model_dump(by_alias=True)
    return dict(default) if isinstance(default, Mapping) else {}
