"""People's-mediation ladder simulation: can a district keep 小事不出村、大事不出镇?

The public API mirrors the ``sim`` command::

    import sim
    scenario = sim.load_scenario()                # bundled Qujiang 衢江区 scenario
    results = sim.simulate(scenario, replications=10, seed=1)
    results.summary                               # KPI means and 95% confidence intervals
"""

from __future__ import annotations

# Eager on purpose: `sim.sweep` and `sim.kpis` are functions named like their modules, and only
# binding them after the modules load keeps `sim.sweep(...)` a function whatever is imported
# later. The heavy optional packages (statsmodels, dask) are imported where they are used.
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
