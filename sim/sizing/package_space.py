"""Packages of measures as keys (一揽子措施): the staffing plus whole steps of each measure.

A **package** is a full-time staffing (the headcount levers of :mod:`sim.sizing.levers`) plus a
whole number of steps of each active non-headcount lever of the catalogue
(:mod:`sim.sizing.catalogue`). :class:`PackageSpace` turns keys into scenario tables, the
measures' values and their yearly yuan; :class:`Measure` is one such lever as a dimension of
the key. The search over packages is :mod:`sim.sizing.package`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.sizing.catalogue import CatalogueLever, measure_ids, step_measure
from sim.sizing.levers import Lever, Staffing, adjust, apply_staffing

if TYPE_CHECKING:
    from sim.sizing.replications import Replications

__all__ = ["Measure", "Package", "PackageSpace", "measures"]

Package = tuple[int, ...]
"""A package's key: the staffing (values of the headcount levers), then each measure's steps."""

_MAX_STEPS = 1000  # a lever's steps to its bound are counted up to this (bounds are finite)


@dataclass(frozen=True)
class Measure:
    """One non-headcount lever of the catalogue as a dimension of the package.

    ``start`` is its value in the scenario, ``max_steps`` the steps to its upper bound,
    ``floor`` the steps a package keeps at least (a lower demand level's package).
    ``in_cost_model``: its yearly cost is already an item of the simulated cost table
    (:func:`sim.measures.costs.cost_table`: training at ``costs.training_yuan_per_hour``,
    petition agents' allowances), so the budget table does not add it twice.
    """

    id: str
    zh: str
    en: str
    unit: str
    step: float
    start: float
    upper: float
    max_steps: int
    floor: int = 0
    in_cost_model: bool = False


def measures(table: dict[str, Any], source: str) -> list[Measure]:
    """The active non-headcount levers of the catalogue at ``table``, with their steps to bound."""
    out = []
    for lever_id in measure_ids():
        lever = step_measure(table, source, lever_id)
        if lever is None or not lever.active or lever.table is None:
            continue
        steps = 0
        current: CatalogueLever | None = lever
        while current is not None and current.table is not None and steps < _MAX_STEPS:
            steps += 1
            current = step_measure(current.table, source, lever_id)
        out.append(
            Measure(
                lever.id, lever.zh, lever.en, lever.unit, lever.step, lever.value, lever.upper,
                steps, 0, lever.note.startswith("cost: costs."),
            )
        )  # fmt: skip
    return out


class PackageSpace:
    """Packages of one scenario table: keys, their tables, their measures' values and cost."""

    def __init__(
        self,
        table: dict[str, Any],
        source: str,
        levers: Sequence[Lever],
        measures: Sequence[Measure],
    ):
        self.table = table
        self.source = source
        self.levers = list(levers)
        self.measures = list(measures)
        self._built: dict[Package, tuple[dict[str, Any], list[float], list[float]]] = {}
        # The measures' keys of a table do not depend on the staffing, nor the staffing's on
        # the measures (a measure's step writes its own keys; apply_staffing writes headcount
        # keys only): so a package's table is the table of its steps, stepped once, with its
        # staffing applied. The screen asks for ~50 staffings per steps in a round; stepping
        # each from the floors validated the table once per step (on Qujiang ~0.5 s a table).
        # Yuan and values still come from stepping (a step's yuan counts the mediators).
        self._stepped: dict[Package, dict[str, Any]] = {}
        self._tables: dict[Package, dict[str, Any]] = {}

    def key(self, staffing: Staffing, steps: Sequence[int]) -> Package:
        """The key of a staffing with these steps of the measures."""
        return tuple(int(v) for v in staffing) + tuple(int(k) for k in steps)

    def staffing(self, key: Package) -> Staffing:
        """The headcount part of a key."""
        return key[: len(self.levers)]

    def steps(self, key: Package) -> Package:
        """The measures' part of a key (steps of each)."""
        return key[len(self.levers) :]

    def move(self, key: Package, j: int, delta: int) -> Package:
        """The key with measure ``j`` moved by ``delta`` steps."""
        return adjust(key, len(self.levers) + j, delta)

    def _build(self, key: Package) -> tuple[dict[str, Any], list[float], list[float]]:
        if key not in self._built:
            table = apply_staffing(self.table, self.levers, self.staffing(key))
            yuan, values = [], []
            for measure, k in zip(self.measures, self.steps(key), strict=True):
                cost, value = 0.0, measure.start
                for _ in range(k):
                    lever = step_measure(table, self.source, measure.id)
                    if lever is None or lever.table is None:
                        raise ValueError(f"{measure.id} cannot take {k} steps (its bound)")
                    cost += lever.yuan_per_step
                    value = lever.value + lever.moved
                    table = lever.table
                yuan.append(cost)
                values.append(value)
            self._built[key] = (table, yuan, values)
            self._stepped.setdefault(self.steps(key), table)
        return self._built[key]

    def priced(self, key: Package) -> bool:
        """Whether the key's measures were stepped already (its yuan is at hand, no work)."""
        return key in self._built

    def table_of(self, key: Package) -> dict[str, Any]:
        """The scenario table of a package (a fresh reference: do not modify it)."""
        if key in self._built:
            return self._built[key][0]
        if key not in self._tables:
            steps = self.steps(key)
            if steps in self._stepped:
                stepped = self._stepped[steps]
                self._tables[key] = apply_staffing(stepped, self.levers, self.staffing(key))
            else:
                return self._build(key)[0]
        return self._tables[key]

    def measure_yuan(self, key: Package) -> list[float]:
        """Yearly cost of each measure's steps (the catalogue's yuan per step, summed)."""
        return self._build(key)[1]

    def values(self, key: Package) -> list[float]:
        """Each measure's value at the package (in its unit)."""
        return self._build(key)[2]

    def yuan(self, key: Package, runs: Replications, start: Package, n: int) -> float:
        """Yearly cost of ``key``: ``start``'s simulated cost (mean over ``n`` replications of
        ``runs``) + the salaries added since + the catalogue's yuan of the measures' steps."""
        start_cost = float(runs.per_replication(start, n)["annual_cost_yuan"].mean())
        added = self.salary(key) - self.salary(start)
        return start_cost + added + float(sum(self.measure_yuan(key)))

    def salary(self, key: Package) -> float:
        """Yearly salaries of the headcount levers."""
        s = self.staffing(key)
        return float(sum(v * lever.salary for v, lever in zip(s, self.levers, strict=True)))

    def describe(self, key: Package) -> str:
        """A package in words: the measures bought and the headcount levers."""
        bought = [f"{m.id}+{k}" for m, k in zip(self.measures, self.steps(key), strict=True) if k]
        return ", ".join(bought) if bought else "no measures 无措施"
