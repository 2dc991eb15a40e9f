"""Calibration: fit the ladder model to case registers (登记表), write a calibrated scenario.

Built on :mod:`sim` (never the other way round)::

    import sim
    from calibration import read_register, calibrate_register, write_scenario

    base = sim.load_scenario("scenarios/small.toml")
    register = read_register("calibration/examples/register.csv", base)   # checks every row
    fit = calibrate_register(register, base)                           # estimates with intervals
    fit.parameters                                                     # key, estimate, ci_low, ...
    write_scenario(fit, "scenarios/small.toml", "fitted.toml")         # `sim validate`-clean

The command is ``sim calibrate`` (:mod:`calibration.cli`); docs/calibration.md explains the
register formats, the fits and what a register can and cannot identify.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use: `sim calibrate` registers its parser without loading statsmodels.
_EXPORTS = {
    "Calibration": "fitting",
    "calibrate_register": "fitting",
    "Register": "reading",
    "read_register": "reading",
    "write_quarantine": "reading",
    "write_scenario": "scenario_out",
}

if TYPE_CHECKING:
    from .fitting import Calibration, calibrate_register
    from .reading import Register, read_register, write_quarantine
    from .scenario_out import write_scenario


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'calibration' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Calibration",
    "Register",
    "calibrate_register",
    "read_register",
    "write_quarantine",
    "write_scenario",
]
