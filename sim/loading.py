"""Reading scenario files: TOML, ``extends`` chains, ``--set`` overrides, clear error messages."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import InputProblem, ScenarioError
from .scenario import Scenario

__all__ = [
    "BUNDLED_SCENARIO",
    "apply_overrides",
    "bundled_scenario_path",
    "load_scenario",
    "parse_override",
    "read_scenario_table",
]

BUNDLED_SCENARIO = "qujiang.toml"
_MISSING = InputProblem.MISSING  # type: ignore[attr-defined]


def bundled_scenario_path(name: str = BUNDLED_SCENARIO) -> Path:
    """Path of a scenario shipped with the project (``scenarios/`` beside the package)."""
    here = Path(__file__).resolve().parent
    for folder in (here.parent / "scenarios", here / "scenarios"):
        if (folder / name).is_file():
            return folder / name
    raise ScenarioError(
        [InputProblem(name, "", _MISSING, "bundled scenario not found beside the sim package")]
    )


def read_scenario_table(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario TOML file and merge the chain of files it ``extends``."""
    path = Path(path)
    shown = str(path)
    if not path.is_file():
        raise ScenarioError([InputProblem(shown, "", _MISSING, "file not found")])
    resolved = path.resolve()
    if resolved in _seen:
        chain = " → ".join(str(p.name) for p in (*_seen, resolved))
        raise ScenarioError([InputProblem(shown, "extends", chain, "a chain without cycles")])
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([InputProblem(shown, "", _MISSING, f"TOML syntax error: {exc}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([InputProblem(shown, "", _MISSING, f"cannot read: {exc}")]) from None
    parent = table.pop("extends", None)
    if parent is None:
        return table
    if not isinstance(parent, str):
        raise ScenarioError([InputProblem(shown, "extends", parent, "a file name (string)")])
    base = read_scenario_table(resolved.parent / parent, (*_seen, resolved))
    return _deep_merge(base, table)


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base value."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


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
    if not key or any(not part for part in key.split(".")):
        raise ScenarioError([InputProblem("--set", text, _MISSING, "expected a dotted key path")])
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
    import copy

    out = copy.deepcopy(table)
    for key, value in overrides:
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                idx = _list_index(node, part)
                if idx is None:
                    raise ScenarioError(
                        [
                            InputProblem(
                                "--set",
                                where,
                                value,
                                f"an index 0..{len(node) - 1} or the name of an element",
                            )
                        ]
                    )
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    nxt = node.get(part)
                    if not isinstance(nxt, dict | list):
                        nxt = {}
                        node[part] = nxt
                    node = nxt
            else:
                raise ScenarioError(
                    [InputProblem("--set", where, value, "a key inside a table or array")]
                )
    return out


def _list_index(items: list[Any], part: str) -> int | None:
    if part.lstrip("-").isdigit():
        idx = int(part)
        return idx if 0 <= idx < len(items) else None
    for idx, item in enumerate(items):
        if isinstance(item, Mapping) and part in (item.get("name"), item.get("pinyin")):
            return idx
    return None


def load_scenario(
    path: str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
) -> Scenario:
    """Load, merge, override and validate a scenario; raise :class:`ScenarioError` if bad.

    With no ``path`` the bundled Qujiang scenario is loaded.
    """
    path = Path(path) if path is not None else bundled_scenario_path()
    table = read_scenario_table(path)
    pairs = [parse_override(o) if isinstance(o, str) else o for o in overrides]
    table = apply_overrides(table, pairs)
    table.setdefault("source_file", str(path))
    return validate_table(table, str(path), overridden={k for k, _ in pairs})


def validate_table(
    table: Mapping[str, Any], source: str, overridden: Iterable[str] = ()
) -> Scenario:
    """Validate a scenario table, turning pydantic's errors into one problem per bad key."""
    try:
        return Scenario.model_validate(dict(table))
    except ValidationError as exc:
        overridden = set(overridden)
        problems = []
        for err in exc.errors(include_url=False):
            key = _key_path(table, err["loc"])
            origin = "--set" if any(key == k or key.startswith(k + ".") for k in overridden) else ""
            problems.append(
                InputProblem(
                    f"{source} ({origin})" if origin else source,
                    key,
                    err.get("input", _MISSING) if err["type"] != "missing" else _MISSING,
                    _expected(err),
                )
            )
        raise ScenarioError(problems) from None


def _key_path(table: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    """Dotted key for an error location; array elements are named when they have a name."""
    parts: list[str] = []
    node: Any = table
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            label = f"[{part}]"
            if 0 <= part < len(node) and isinstance(node[part], Mapping):
                name = node[part].get("name")
                if name:
                    label = f"[{part}] ({name})"
            parts[-1:] = [(parts[-1] if parts else "") + label]
            node = node[part] if 0 <= part < len(node) else None
            continue
        text = str(part)
        # pydantic adds the discriminator tag ('exponential', ...) or a union branch to the loc.
        if isinstance(node, Mapping) and text not in node and _is_union_tag(text):
            continue
        parts.append(text)
        node = node.get(part) if isinstance(node, Mapping) else None
    return ".".join(parts) or "(top level)"


def _is_union_tag(text: str) -> bool:
    return text in {"exponential", "fixed", "uniform", "lognormal", "gamma"} or text.startswith(
        ("function-", "tagged-union")
    )


def _expected(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown key (see docs/scenario.md for the keys allowed here)"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return "expected dist = one of exponential, fixed, uniform, lognormal, gamma"
    if kind == "union_tag_not_found":
        return "a distribution needs dist = exponential | fixed | uniform | lognormal | gamma"
    return msg.removeprefix("Value error, ")
