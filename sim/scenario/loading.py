"""Reading scenario files: TOML, ``extends`` chains, ``--set`` overrides, clear error messages.

Every problem with user input becomes an :class:`~sim.scenario.errors.InputProblem` that names the
file (or ``--set``), the dotted key, the value and what was expected; the CLI prints one line per
problem and exits with status 2. Nothing here lets a Python traceback reach the user.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.keypaths import KeyPath, Origins
from sim.scenario.messages import EFFORT_HOURS_LIMIT, validate_table
from sim.scenario.overrides import apply_overrides, apply_overrides_located, parse_override
from sim.scenario.schema import Scenario

__all__ = [
    "BUNDLED_SCENARIO",
    "EFFORT_HOURS_LIMIT",
    "MAX_EXTENDS",
    "MAX_NESTING",
    "apply_overrides",
    "bundled_scenario_path",
    "load_scenario",
    "parse_override",
    "read_scenario_table",
    "read_toml",
    "validate_table",
]

BUNDLED_SCENARIO = "qujiang.toml"
_MISSING = InputProblem.MISSING


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
    table, overridden = apply_overrides_located(table, pairs)
    table.setdefault("source_file", str(path))
    return validate_table(table, str(path), origins=origins, overridden=overridden)


# --- Reading files -------------------------------------------------------------------------

_TOML_POSITION = re.compile(
    r"^(?P<msg>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$"
)


def read_toml(path: Path, shown: str, expected: str = "a scenario file") -> dict[str, Any]:
    """The table of the TOML file ``path``; ``shown`` names it in messages.

    A missing file, a folder, broken TOML (with its line and column) or text that is not UTF-8
    is an input problem (exit 2). A UTF-8 byte-order mark is accepted.
    """
    if path.is_dir():
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, f"is a folder; expected {expected}")]
        )
    if not path.is_file():
        raise ScenarioError([InputProblem(shown, "", _MISSING, "file not found")])
    try:
        data = path.read_bytes()
        # Windows editors save UTF-8 with a byte-order mark; TOML has none, but it is harmless.
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        table = tomllib.loads(text)
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ScenarioError([InputProblem(shown, "", _MISSING, _TOO_DEEP)]) from None
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
    too_deep = _too_deep(table)
    if too_deep is not None:
        raise ScenarioError([InputProblem(shown, too_deep, _MISSING, _TOO_DEEP)])
    return table


MAX_NESTING = 32
"""Deepest nesting of tables and arrays in a scenario or sweep file. A real scenario nests four
or five deep; every reader after the parser walks the tables by recursion."""

MAX_EXTENDS = 32
"""Longest chain of files that ``extends`` one another (a real chain has two or three)."""

_TOO_DEEP = f"tables and arrays nested at most {MAX_NESTING} deep (is this a scenario file?)"


def _too_deep(table: dict[str, Any]) -> str | None:
    """The dotted key at which ``table`` nests deeper than :data:`MAX_NESTING`, else None.

    Walked with a stack, not by recursion, so that the check itself cannot overflow.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(table, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_NESTING:
            return "".join(path[:6]).lstrip(".") + "…"  # where it starts is enough to find it
        if isinstance(node, dict):
            stack.extend((v, (*path, f".{k}")) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, f"[{i}]")) for i, v in enumerate(node))
    return None


def _read_chain(path: Path, shown: str, seen: tuple[Path, ...]) -> tuple[dict[str, Any], Origins]:
    """Read ``path`` and the files it extends; ``shown`` is the name used in messages."""
    table = read_toml(path, shown)
    resolved = path.resolve()

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
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(
            [
                InputProblem(
                    shown,
                    "extends",
                    parent,
                    f"a chain of at most {MAX_EXTENDS} files that extend one another "
                    f"({Path(seen[0] if seen else resolved).name} starts a longer one)",
                )
            ]
        )
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
