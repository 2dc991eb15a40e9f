"""People's-mediation ladder simulation: can a district keep 小事不出村、大事不出镇?

The public API mirrors the ``sim`` command::

    import sim
    scenario = sim.load_scenario()                # bundled Qujiang 衢江区 scenario
    results = sim.simulate(scenario, replications=10, seed=1)
    results.summary                               # KPI means and 95% confidence intervals

The package is layered; each subpackage imports only from the ones before it:
``scenario`` → ``model`` → ``measures`` → ``experiments`` → ``sizing`` → ``reports`` → ``cli``
(docs/design.md). The names below are loaded on first use (PEP 562), so ``import sim`` and
``sim --help`` do not import pandas, scipy or statsmodels.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "InputProblem": "sim.scenario.errors",
    "ScenarioError": "sim.scenario.errors",
    "KPI_NAMES": "sim.scenario.vocabulary",
    "LEVELS": "sim.scenario.vocabulary",
    "Scenario": "sim.scenario.schema",
    "bundled_scenario_path": "sim.scenario.loading",
    "load_scenario": "sim.scenario.loading",
    "Replication": "sim.model.replication",
    "simulate_replication": "sim.model.replication",
    "kpis": "sim.measures.kpis",
    "case_table": "sim.measures.register",
    "register_table": "sim.measures.register",
    "timeseries_table": "sim.measures.register",
    "Results": "sim.experiments.experiment",
    "load_results": "sim.experiments.experiment",
    "simulate": "sim.experiments.experiment",
    "load_sweep": "sim.experiments.sweep_results",
    "sweep": "sim.experiments.sweep",
    "QuotaVerdict": "sim.sizing.confirmation",
    "SizingResult": "sim.sizing.results",
    "check_quotas": "sim.sizing.confirmation",
    "size": "sim.sizing.size",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from sim.experiments.experiment import Results, load_results, simulate
    from sim.experiments.sweep import sweep
    from sim.experiments.sweep_results import load_sweep
    from sim.measures.kpis import kpis
    from sim.measures.register import case_table, register_table, timeseries_table
    from sim.model.replication import Replication, simulate_replication
    from sim.scenario.errors import InputProblem, ScenarioError
    from sim.scenario.loading import bundled_scenario_path, load_scenario
    from sim.scenario.schema import Scenario
    from sim.scenario.vocabulary import KPI_NAMES, LEVELS
    from sim.sizing.confirmation import QuotaVerdict, check_quotas
    from sim.sizing.results import SizingResult
    from sim.sizing.size import size


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562) and keep it, so later look-ups are plain."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
