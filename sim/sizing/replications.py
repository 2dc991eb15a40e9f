"""Replications of staffings with common random numbers, run once and remembered.

Replication ``k`` of every staffing uses the same seed and index, so two staffings face the same
disputes and their difference is the staffing's alone. Results are kept by (staffing,
replication): raising the number of replications only simulates the new ones, and a staffing
the search comes back to costs nothing. Work runs on an executor of
:mod:`sim.experiments.executors`; results are keyed, so serial and parallel runs give the same
numbers.

With an evaluation store (:mod:`sim.sizing.store`, ``sim size --out``), what the store holds is
read instead of simulated, and each replication simulated is written the moment it finishes
(in parallel as the executor yields it, not at the end of the batch): a killed run resumes
without recomputing anything on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from sim.experiments.executors import Executor, make_executor
from sim.measures.costs import cost_table
from sim.measures.kpis import kpis
from sim.measures.register import case_table, register_table
from sim.measures.township_kpis import township_kpis
from sim.model.replication import simulate_replication
from sim.scenario.loading import validate_table
from sim.scenario.schema import Scenario
from sim.sizing.levers import Lever, Staffing, apply_staffing

if TYPE_CHECKING:  # both import this module
    from sim.sizing.progress import SizingProgress
    from sim.sizing.store import EvaluationStore

__all__ = ["ReplicationOutcome", "Replications", "run_replication", "sizing_executor"]


@dataclass
class ReplicationOutcome:
    """What sizing keeps of one replication: its KPIs, per-township KPIs and cost table."""

    kpis: dict[str, float]
    townships: pd.DataFrame
    costs: pd.DataFrame


def run_replication(scenario: Scenario, replication: int, seed: int) -> ReplicationOutcome:
    """Simulate one replication and measure it (a module-level function: workers pickle it)."""
    rep = simulate_replication(scenario, replication=replication, seed=seed)
    cases = case_table(rep)
    register = register_table(rep, cases)
    return ReplicationOutcome(
        kpis(rep, cases, register), township_kpis(rep, cases, register), cost_table(rep, register)
    )


def sizing_executor(workers: int) -> Executor:
    """This process for one worker, that many local processes otherwise.

    A bad ``workers`` is an input problem (exit status 2), as in ``sim sweep``.
    """
    return make_executor("serial" if workers == 1 else "processes", workers)


class Replications:
    """The replications of every staffing of one scenario table, simulated on demand.

    ``table`` is the scenario as a plain table and ``source`` its name in messages; a staffing
    (values of ``levers``) is written into it and validated once. ``simulated`` counts the
    replications actually run; with a ``store`` (:mod:`sim.sizing.store`) those on disk are read
    instead (``store.loaded`` counts them) and new ones written as they finish. ``progress``
    shows a bar over each batch. ``apply`` generalises the key: a function from a key (a plain
    tuple of ints, e.g. a package of measures, :mod:`sim.sizing.package`) to its scenario
    table; by default a key is a staffing written into ``table``.
    """

    def __init__(
        self,
        table: dict[str, Any],
        source: str,
        levers: Sequence[Lever],
        seed: int,
        executor: Executor,
        apply: Callable[[Staffing], dict[str, Any]] | None = None,
        *,
        store: EvaluationStore | None = None,
        progress: SizingProgress | None = None,
    ):
        self.table = table
        self.source = source
        self.levers = list(levers)
        self.seed = seed
        self.executor = executor
        self.outcomes: dict[tuple[Staffing, int], ReplicationOutcome] = {}
        self._scenarios: dict[Staffing, Scenario] = {}
        self.simulated = 0
        self.apply = apply or (lambda key: apply_staffing(self.table, self.levers, key))
        self.store = store
        self.progress = progress
        self._context: str | None = None

    def scenario(self, staffing: Staffing) -> Scenario:
        """The validated scenario at a staffing."""
        if staffing not in self._scenarios:
            table = self.apply(staffing)
            self._scenarios[staffing] = validate_table(table, self.source)
        return self._scenarios[staffing]

    def done(self, staffing: Staffing) -> int:
        """How many replications of a staffing are at hand (0, 1, … without a gap)."""
        n = 0
        while (staffing, n) in self.outcomes:
            n += 1
        return n

    def staffings(self) -> list[Staffing]:
        """Every staffing simulated so far, in the order first simulated."""
        return list(dict.fromkeys(staffing for staffing, _ in self.outcomes))

    def run(self, staffings: Iterable[Staffing], replications: int) -> None:
        """Make replications 0 … ``replications`` − 1 of each staffing available."""
        todo = [
            (staffing, k)
            for staffing in dict.fromkeys(staffings)
            for k in range(replications)
            if (staffing, k) not in self.outcomes
        ]
        if not todo:
            return
        finished = self._stored(todo)
        missing = [key for key in todo if key not in finished]
        bar = self.progress.bar(len(missing)) if self.progress else contextlib.nullcontext()
        with bar as shown:
            if self.executor.workers == 1 or len(missing) == 1:
                # One task is not worth a round trip to a worker; the numbers are the same.
                for staffing, k in missing:
                    outcome = run_replication(self.scenario(staffing), k, self.seed)
                    finished[(staffing, k)] = self._keep(staffing, k, outcome)
                    if shown is not None:
                        shown.update(1)
            elif missing:
                tasks = [((s, k), (self.scenario(s), k, self.seed)) for s, k in missing]
                for key, outcome in self.executor.map_unordered(run_replication, tasks):
                    staffing, k = cast(tuple[Staffing, int], key)  # the keys of ``tasks``
                    finished[(staffing, k)] = self._keep(staffing, k, outcome)
                    if shown is not None:
                        shown.update(1)
        # Kept in the order asked for, not of completion (nor of what was on disk): every
        # later walk over the outcomes (the frontier) is then the same serially, in parallel
        # and resumed.
        for key in todo:
            self.outcomes[key] = finished[key]

    def _stored(
        self, todo: list[tuple[Staffing, int]]
    ) -> dict[tuple[Staffing, int], ReplicationOutcome]:
        """What the store holds of ``todo`` (nothing without a store)."""
        if self.store is None:
            return {}
        found: dict[tuple[Staffing, int], ReplicationOutcome] = {}
        for staffing, k in todo:
            outcome = self.store.load(self.context, staffing, k)
            if outcome is not None:
                found[(staffing, k)] = outcome
        return found

    def _keep(self, staffing: Staffing, k: int, outcome: ReplicationOutcome) -> ReplicationOutcome:
        """Count a simulated replication and write it to the store at once."""
        self.simulated += 1
        if self.store is not None:
            self.store.save(self.context, staffing, k, outcome)
        return outcome

    @property
    def context(self) -> str:
        """The store's name of this table, levers, seed (:func:`sim.sizing.store.context_of`)."""
        if self._context is None:
            from sim.sizing.store import context_of  # store imports this module

            self._context = context_of(self.table, self.levers, self.seed)
        return self._context

    def per_replication(self, staffing: Staffing, replications: int) -> pd.DataFrame:
        """KPIs of each replication at a staffing (one row per replication)."""
        self.run([staffing], replications)
        out = pd.DataFrame([self.outcomes[(staffing, k)].kpis for k in range(replications)])
        out.index.name = "replication"
        return out

    def townships(self, staffing: Staffing, replications: int) -> list[pd.DataFrame]:
        """Per-township KPIs of each replication at a staffing."""
        self.run([staffing], replications)
        return [self.outcomes[(staffing, k)].townships for k in range(replications)]

    def costs(self, staffing: Staffing, replications: int) -> list[pd.DataFrame]:
        """Cost tables of each replication at a staffing."""
        self.run([staffing], replications)
        return [self.outcomes[(staffing, k)].costs for k in range(replications)]
