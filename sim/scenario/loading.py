"""Reading scenario files: TOML, ``extends`` chains, ``--set`` overrides, clear error messages.

Every problem with user input becomes an :class:`~sim.scenario.errors.InputProblem` that names the
file (or ``--set``), the dotted key, the value and what was expected; the CLI prints one line per
problem and exits with status 2. Nothing here lets a Python traceback reach the user.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from sim.scenario.distributions import Distribution
from sim.scenario.errors import MAX_SHOWN, InputProblem, ScenarioError
from sim.scenario.schema import Scenario

__all__ = [
    "BUNDLED_SCENARIO",
    "EFFORT_HOURS_LIMIT",
    "apply_overrides",
    "bundled_scenario_path",
    "load_scenario",
    "parse_override",
    "read_scenario_table",
    "validate_table",
]

BUNDLED_SCENARIO = "qujiang.toml"
_MISSING = InputProblem.MISSING

KeyPath = tuple[str | int, ...]
"""A location in a scenario table: keys and array indices, e.g. ``("townships", 0, "name")``."""

Origins = dict[KeyPath, str]
"""Which file of an ``extends`` chain each key came from, so messages name the right file."""


def bundled_scenario_path(name: str = BUNDLED_SCENARIO) -> Path:
    """Path of a scenario shipped with the project (``scenarios/`` beside the package)."""
    package = Path(__file__).resolve().parents[1]  # sim/, this file being sim/scenario/loading.py
    for folder in (package.parent / "scenarios", package / "scenarios"):
        if (folder / name).is_file():
            return folder / name
    raise ScenarioError(
        [InputProblem(name, "", _MISSING, "bundled scenario not found beside the sim package")]
    )


def read_scenario_table(path: str | Path) -> dict[str, Any]:
    """Read a scenario TOML file and merge the chain of files it ``extends``."""
    return _read_chain(Path(path), str(path), ())[0]


def load_scenario(
    path: str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
) -> Scenario:
    """Load, merge, override and validate a scenario; raise :class:`ScenarioError` if bad.

    With no ``path`` the bundled Qujiang scenario is loaded. ``overrides`` are ``"KEY=VALUE"``
    strings (as given to ``--set``) or ``(key, value)`` pairs.
    """
    path = Path(path) if path is not None else bundled_scenario_path()
    table, origins = _read_chain(path, str(path), ())
    pairs: list[tuple[str, Any]] = []
    problems: list[InputProblem] = []
    for item in overrides:
        try:
            pairs.append(parse_override(item) if isinstance(item, str) else item)
        except ScenarioError as exc:  # report every malformed --set, not just the first
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    table, overridden = _apply_overrides(table, pairs)
    table.setdefault("source_file", str(path))
    return validate_table(table, str(path), origins=origins, overridden=overridden)


# --- Reading files -------------------------------------------------------------------------

_TOML_POSITION = re.compile(
    r"^(?P<msg>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$"
)


def _read_chain(path: Path, shown: str, seen: tuple[Path, ...]) -> tuple[dict[str, Any], Origins]:
    """Read ``path`` and the files it extends; ``shown`` is the name used in messages."""
    if path.is_dir():
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, "is a folder; expected a scenario file")]
        )
    if not path.is_file():
        raise ScenarioError([InputProblem(shown, "", _MISSING, "file not found")])
    resolved = path.resolve()
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "Illegal character '\n' (at line 5, column 14)"; lead with the position.
        found = _TOML_POSITION.match(str(exc))
        where, msg = "", str(exc)
        if found:
            msg = found["msg"]
            where = (
                f"line {found['line']}, column {found['col']}" if found["line"] else "end of file"
            )
        raise ScenarioError(
            [InputProblem(shown, where, _MISSING, f"TOML syntax error: {msg}")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [
                InputProblem(
                    shown, "", _MISSING, f"not UTF-8 text (byte {exc.start}); expected a TOML file"
                )
            ]
        ) from None
    except OSError as exc:
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, f"cannot read: {exc.strerror}")]
        ) from None

    if seen:
        # A parent's register file is relative to the parent, not to the file the user named.
        _anchor_register_file(table, resolved.parent)
    parent = table.pop("extends", None)
    origins = _origins_of(table, shown)
    if parent is None:
        return table, origins
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(
            [InputProblem(shown, "extends", parent, "a scenario file name (a string)")]
        )
    parent_path = resolved.parent / parent
    parent_shown = str(Path(shown).parent / parent)
    if not parent_path.is_file():
        raise ScenarioError(
            [
                InputProblem(
                    shown, "extends", parent, f"an existing scenario file; {parent_shown} not found"
                )
            ]
        )
    chain = (*seen, resolved)
    if parent_path.resolve() in chain:
        names = " → ".join(p.name for p in (*chain, parent_path.resolve()))
        raise ScenarioError(
            [InputProblem(shown, "extends", parent, f"a chain of files without a cycle ({names})")]
        )
    base, base_origins = _read_chain(parent_path, parent_shown, chain)
    return _deep_merge(base, table), base_origins | origins


def _anchor_register_file(table: dict[str, Any], folder: Path) -> None:
    state = table.get("initial_state")
    if isinstance(state, dict) and isinstance(state.get("register_file"), str):
        state["register_file"] = str(folder / state["register_file"])


def _origins_of(table: Mapping[str, Any], source: str, prefix: KeyPath = ()) -> Origins:
    out: Origins = {prefix: source}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out |= _origins_of(value, source, (*prefix, key))
        else:
            out[(*prefix, key)] = source
    return out


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base value.

    A distribution (a table with ``dist``) is one value: a child that names its own ``dist``
    replaces the parent's whole spec rather than mixing, say, a lognormal's keys into a gamma.
    """
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and "dist" in value:
            out[key] = value
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


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
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(table: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Set each dotted key in a copy of ``table``.

    A path segment into an array is an index (``townships.0.full_time``) or the ``name`` /
    ``pinyin`` of an element (``townships.Gaojia.full_time``). Unknown keys are created so that
    validation reports them by name.
    """
    return _apply_overrides(table, overrides)[0]


def _apply_overrides(
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
                    "or the name of an element"
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


def _default_table(table: Mapping[str, Any], path: KeyPath) -> dict[str, Any]:
    """The schema's default for the table at ``path`` as plain data, or ``{}`` if none."""
    parent = _schema_type(table, path[:-1])
    field = _field(parent, path[-1]) if parent is not None else None
    if field is None or field.is_required():
        return {}
    default = field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return default.model_dump(by_alias=True)
    return dict(default) if isinstance(default, Mapping) else {}


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
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(dict(table))
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            # "Did you mean" costs a fuzzy match per key: only for the problems shown.
            problem = _problem(table, err, origins, where_set, hint=len(found) < MAX_SHOWN)
            found.setdefault(str(problem), problem)
    problems = list(found.values())
    # TOML has nan and inf; no scenario key means them, and most checks let them through.
    reported = {p.key for p in problems}
    for path in _non_finite(table):
        key = _display(table, path)
        if key not in reported:
            source = _source_of(path, origins, where_set)
            problems.append(
                InputProblem(source, key, _get(table, path), "expected a finite number")
            )
    if problems or scenario is None:
        raise ScenarioError(problems)
    problems = [
        InputProblem(_source_of(path, origins, where_set), _display(table, path), value, why)
        for path, value, why in _unbounded_efforts(scenario, table)
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
                _get(table, (*path, "effort_hours")),
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
        path, value = (*path, "dist"), _get(table, (*path, "dist"))
        expected = f"expected one of {_DIST_NAMES}"
    elif kind == "union_tag_not_found":
        path, value = (*path, "dist"), _MISSING
        expected = "required key is missing: a distribution needs dist = " + _DIST_NAMES
    elif kind == "value_error" and isinstance(value, Mapping):
        path, value, expected = _refine(table, path, msg)
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
        node = _step(node, part)
    return tuple(path), bad_key


# A check that spans several keys names the key at fault first: "grids (2) must be at least …"
# inside a township, or "initial_state.open_cases[0].township = 'X': …" for the whole scenario.
_KEY_AT_START = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*)")


def _refine(table: Mapping[str, Any], path: KeyPath, msg: str) -> tuple[KeyPath, object, str]:
    """Point a validator's complaint about a whole table at the key its message names."""
    found = _KEY_AT_START.match(msg)
    node = _get(table, path)
    if not found or not isinstance(node, Mapping):
        return path, node, msg
    rel = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[(\d+)\]", found[1]) if p)
    if rel[0] not in node:
        return path, node, msg
    new_path = (*path, *rel)
    rest = msg[found.end() :]
    if path:  # a field of this table named in a sentence: keep the sentence whole
        return new_path, _get(table, new_path), msg
    # A scenario-wide check spelled the full path (and maybe "= value"); don't repeat them.
    if rest.startswith(" = ") and ": " in rest:
        rest = rest.split(": ", 1)[1]
    return new_path, _get(table, new_path), rest.lstrip(": ") or msg


def _unknown_key_message(table: Mapping[str, Any], path: KeyPath, hint: bool = True) -> str:
    allowed = _allowed_keys(table, path[:-1])
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
            node = _step(node, part)
            name = node.get("name") if isinstance(node, Mapping) else None
            if name:
                text += f" ({name})"
        else:
            text += f".{part}" if text else str(part)
            node = _step(node, part)
    return text


def _step(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _get(table: Mapping[str, Any], path: KeyPath) -> Any:
    node: Any = table
    for part in path:
        node = _step(node, part)
    return node


# --- The schema, walked along a key path (for "did you mean" and default tables) ------------


def _allowed_keys(table: Mapping[str, Any], path: KeyPath) -> list[str]:
    model = _schema_type(table, path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


def _schema_type(table: Mapping[str, Any], path: KeyPath) -> Any:
    """The schema type at ``path`` (a model class, ``list[...]``, ...), or None if unknown."""
    tp: Any = _unwrap(Scenario, table)
    node: Any = table
    for part in path:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field(tp, part)
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict and isinstance(part, str):
            tp = get_args(tp)[1]
        else:
            return None
        node = _step(node, part)
        tp = _unwrap(tp, node)
    return tp


def _field(model: Any, key: str | int) -> Any:
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
    field = _field(model, "dist")
    args = get_args(field.annotation) if field is not None else ()
    return args[0] if args else None


# The `dist` names of sim.distributions, read from the schema so the message cannot drift.
_DIST_NAMES = " | ".join(str(_tag_of(m)) for m in get_args(get_args(Distribution)[0]))
