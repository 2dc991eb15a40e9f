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

from .fitting import Calibration, calibrate_register
from .reading import Register, read_register, write_quarantine
from .scenario_out import write_scenario

__all__ = [
    "Calibration",
    "Register",
    "calibrate_register",
    "read_register",
    "write_quarantine",
    "write_scenario",
]
