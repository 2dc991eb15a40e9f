"""People's-mediation ladder simulation: can a district keep 小事不出村、大事不出镇?

The public API mirrors the ``sim`` command::

    import sim
    scenario = sim.load_scenario()                # bundled Qujiang 衢江区 scenario
    results = sim.simulate(scenario, replications=10, seed=1)
    results.summary                               # KPI means and 95% confidence intervals
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use, so that `sim --help`, `sim validate` and the command plugins
# start without loading pandas, scipy and the model (PEP 562).
_EXPORTS: dict[str, str] = {
    "InputProblem": "errors",
    "ScenarioError": "errors",
    "Results": "experiment",
    "load_results": "experiment",
    "simulate": "experiment",
    "kpis": "kpis",
    "bundled_scenario_path": "loading",
    "load_scenario": "loading",
    "Replication": "model",
    "simulate_replication": "model",
    "case_table": "register",
    "register_table": "register",
    "timeseries_table": "register",
    "Scenario": "scenario",
    "QuotaVerdict": "sizing",
    "SizingResult": "sizing",
    "check_quotas": "sizing",
    "size": "sizing",
    "load_sweep": "sweep",
    "sweep": "sweep",
    "KPI_NAMES": "vocabulary",
    "LEVELS": "vocabulary",
}

if TYPE_CHECKING:
    from .errors import InputProblem, ScenarioError
    from .experiment import Results, load_results, simulate
    from .kpis import kpis
    from .loading import bundled_scenario_path, load_scenario
    from .model import Replication, simulate_replication
    from .register import case_table, register_table, timeseries_table
    from .scenario import Scenario
    from .sizing import QuotaVerdict, SizingResult, check_quotas, size
    from .sweep import load_sweep, sweep
    from .vocabulary import KPI_NAMES, LEVELS


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "KPI_NAMES",
    "LEVELS",
    "InputProblem",
    "QuotaVerdict",
    "Replication",
    "Results",
    "Scenario",
    "ScenarioError",
    "SizingResult",
    "bundled_scenario_path",
    "case_table",
    "check_quotas",
    "kpis",
    "load_results",
    "load_scenario",
    "load_sweep",
    "register_table",
    "simulate",
    "simulate_replication",
    "size",
    "sweep",
    "timeseries_table",
]

__version__ = "0.1.0"
