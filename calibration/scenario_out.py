"""Writing the calibrated scenario: the base scenario's table with the fitted keys set.

The base file's ``extends`` chain is merged, so the written file stands alone; it is validated
with the same code as ``sim validate`` before it is written, so a fit can never produce a file
the simulator refuses. A scenario's schema has no place for provenance, so it goes into a
comment header: which register (path and SHA-256), which period, when fitted, and each fitted
value with its interval.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomli_w

from sim.experiments.files import write_atomic
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import (
    apply_overrides,
    parse_override,
    read_scenario_table,
    validate_table,
)
from sim.scenario.schema import Scenario

from .fitting import Calibration

__all__ = ["calibrated_table", "provenance_header", "write_scenario"]


def calibrated_table(
    calibration: Calibration,
    base_path: str | Path,
    out_path: str | Path,
    name: str | None = None,
    overrides: Iterable[str] = (),
) -> dict[str, Any]:
    """The base scenario's table with every fitted key set, ready to validate and write.

    ``overrides`` are the ``--set KEY=VALUE`` the base was loaded with: the fit saw the base
    with them, so the written scenario keeps them (a fitted key set by one is the fit's).
    """
    base_path, out_path = Path(base_path), Path(out_path)
    table = apply_overrides(read_scenario_table(base_path), [parse_override(o) for o in overrides])
    # The fitted keys, set as --set sets them (arrays by name or pinyin; a table the base file
    # leaves out starts from its defaults; an unknown township is an error, not a silent skip).
    table = apply_overrides(table, list(calibration.settings.items()))
    table["name"] = name or f"{calibration.scenario.name}-calibrated"
    stem = Path(calibration.register.source).name
    table["description"] = (
        f"Calibrated to register {stem} ({calibration.start:%Y-%m-%d} – "
        f"{calibration.end:%Y-%m-%d}); base: {calibration.scenario.description or base_path.name}"
    )
    table.pop("source_file", None)
    state = table.get("initial_state")
    if isinstance(state, dict) and isinstance(state.get("register_file"), str):
        # The path was relative to the base file; keep it pointing at the same file.
        target = Path(state["register_file"])
        if not target.is_absolute():
            target = base_path.resolve().parent / target
        state["register_file"] = os.path.relpath(target, out_path.resolve().parent)
    return table


def provenance_header(
    calibration: Calibration, base_path: str | Path, overrides: Iterable[str] = ()
) -> str:
    """Comment lines: where the numbers came from, with each fitted value's interval."""
    overrides = list(overrides)
    reg = calibration.register
    pct = round(calibration.level * 100)
    lines = [
        "Calibrated scenario written by `sim calibrate` (package calibration).",
        f"register: {reg.source}",
        f"register sha256: {reg.sha256}",
        f"rows read {reg.rows_read}, used {len(reg.table)}, quarantined {reg.bad_rows}; "
        f"cases {len(calibration.cases)}",
        f"period (arrivals counted): {calibration.start:%Y-%m-%d} to {calibration.end:%Y-%m-%d} "
        f"(exclusive); register as of {calibration.as_of:%Y-%m-%d %H:%M}",
        f"base scenario: {base_path}",
        *([f"base overrides (--set): {'; '.join(overrides)}"] if overrides else []),
        *(
            [f"overrides replaced by the fitted value: {'; '.join(replaced)}"]
            if (replaced := [o for o in overrides if parse_override(o)[0] in calibration.settings])
            else []
        ),
        f"date of fit: {dt.date.today().isoformat()}",
        f"durations: {calibration.duration_mode}; intervals are {pct}% "
        "(Jeffreys for shares, GLM / Fisher information for rates and durations)",
        "",
        f"Fitted values written below, with their {pct}% intervals:",
    ]
    params = calibration.parameters
    for row in params.itertuples(index=False):
        if row.group.endswith("(report)"):
            continue
        note = f"  ({row.note})" if row.note else ""
        lines.append(
            f"  {row.key} = {row.estimate:.4g}  [{row.ci_low:.4g}, {row.ci_high:.4g}]  "
            f"n={row.n:.0f}{note}"
        )
    lines += _effects_lines(calibration)
    lines += ["", "Notes:"] + [f"  - {n}" for n in calibration.notes]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def _effects_lines(calibration: Calibration) -> list[str]:
    """Each effect of staffing (人员配置的效应): written, estimated only, or not identified."""
    effects = calibration.effects
    if effects is None or effects.table.empty:
        return []
    lines = ["", "Effects of staffing (人员配置的效应), from this register:"]
    for row in effects.table.itertuples(index=False):
        if row.status == "not identified":
            what = "not identified: the base's value is kept (see the notes)"
        elif row.written:
            what = f"written, {row.estimate:.4g} [{row.ci_low:.4g}, {row.ci_high:.4g}]"
        else:
            what = "estimated, not written (the mechanism is off in the base)"
        lines.append(f"  {row.term} ({row.label}): {what}")
    return lines


def write_scenario(
    calibration: Calibration,
    base_path: str | Path,
    out_path: str | Path,
    name: str | None = None,
    overrides: Iterable[str] = (),
) -> Scenario:
    """Validate the calibrated table as ``sim validate`` would, then write it with its header.

    ``overrides`` are the ``--set KEY=VALUE`` the base scenario of the fit was loaded with.
    """
    out_path = Path(out_path)
    overrides = list(overrides)
    table = calibrated_table(calibration, base_path, out_path, name, overrides)
    scenario = validate_table(table, str(out_path))
    text = provenance_header(calibration, base_path, overrides) + "\n" + tomli_w.dumps(table)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out_path, text)  # a cut TOML must never replace the old one
    except OSError as exc:
        raise ScenarioError(
            [InputProblem("--out", "", str(out_path), f"a writable path ({exc.strerror})")]
        ) from None
    return scenario
