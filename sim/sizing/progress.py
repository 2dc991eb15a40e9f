"""What a sizing run tells its user while it works (进度): on stderr, never on stdout.

Each line the search logs is prefixed with the elapsed time, a step number and how many
replications were simulated or read from the evaluation store, and followed by the best the
run has found so far: the cheapest key (staffing or package) that meets every target (in
package mode, an unreachable target at its aim), with its yearly cost (simulated; in package
mode the search's: simulated start + salaries added + the measures' yuan, among the packages
the search has priced), or, while none does, the least total shortfall of the targets' bounds.
"Meets" is the search's own rule (:func:`~sim.sizing.confirmation.judge` over the replications at
hand, at the confirmation number's t-quantile). A batch of replications shows a tqdm bar when
stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sim.sizing.confirmation import judge

if TYPE_CHECKING:
    from sim.scenario.schema import Target
    from sim.sizing.replications import Replications

__all__ = ["Bar", "SizingProgress"]


class Bar(Protocol):
    """What :class:`~sim.sizing.replications.Replications` needs of a progress bar."""

    def update(self, n: int = 1) -> Any:
        """Count ``n`` more replications done."""


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Nothing to show."""


class SizingProgress:
    """Progress lines and bars of one sizing run.

    ``log`` receives each line (None: silent); ``bars`` shows a tqdm bar on stderr for each
    batch of more than one replication.
    """

    def __init__(self, log: Callable[[str], None] | None = None, bars: bool = False):
        self._log = log
        self.bars = bars
        self.began = time.perf_counter()
        self.step = 0

    def line(self, message: str) -> None:
        """One line, prefixed with the elapsed time."""
        if self._log is not None:
            elapsed = int(time.perf_counter() - self.began)
            self._log(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {message}")

    @contextlib.contextmanager
    def bar(self, total: int, what: str = "replications") -> Iterator[Bar]:
        """A bar over ``total`` replications for the block (nothing when bars are off)."""
        if not self.bars or total < 2:
            yield _NoBar()
            return
        from tqdm import tqdm  # not tqdm.auto: without ipywidgets it warns in notebooks

        with tqdm(
            total=total, unit="rep", desc=what, leave=False, file=sys.stderr, dynamic_ncols=True
        ) as shown:
            yield shown

    def watch(
        self,
        replications: Replications,
        targets: dict[str, Target],
        confidence: float,
        search_replications: int,
        confirmation_replications: int,
        also: Sequence[Replications] = (),
        cost: Callable[[tuple[int, ...]], float | None] | None = None,
    ) -> Callable[[str], None]:
        """The search's log function at one demand level: each message with the step, the
        replications so far (of ``replications`` and of ``also``: the package search's
        fresh-seed confirmation) and the best found so far (module doc).

        ``targets`` is read at every line, so a caller may change it in place: the package
        search replaces an unreachable target by its aim, and "best" then means meeting the
        aims (the line says so). ``cost`` gives a key's yearly cost where the simulated cost
        is not all of it (a package's measures are costed by the catalogue); None while it
        cannot tell yet."""
        best = _Best(
            replications, targets, confidence, search_replications, confirmation_replications,
            cost,
        )  # fmt: skip

        def log(message: str) -> None:
            if self._log is None:
                return  # --quiet: not even the verdicts are worth computing
            self.step += 1
            simulated = replications.simulated + sum(r.simulated for r in also)
            done = f"{simulated} simulated"
            if replications.store is not None:
                done += f", {replications.store.loaded} from disk"
            self.line(f"step {self.step} ({done}) {message.strip()} | {best.describe()}")

        return log


class _Best:
    """The best key found so far among those simulated enough; verdicts cached by (key, n)."""

    def __init__(
        self,
        replications: Replications,
        targets: dict[str, Target],
        confidence: float,
        enough: int,
        planned: int,
        cost: Callable[[tuple[int, ...]], float | None] | None = None,
    ):
        self.cost = cost
        self._costs: dict[tuple[int, ...], float | None] = {}
        self.replications = replications
        self.targets = targets
        self.confidence = confidence
        self.enough = enough
        self.planned = planned
        self._seen: dict[tuple[Any, ...], tuple[bool, float, float]] = {}
        self._original = {k: (t.sense, t.value) for k, t in targets.items()}

    def _judged(self, key: tuple[int, ...], n: int) -> tuple[bool, float, float]:
        """(every target met, total shortfall, mean yearly cost) of ``key`` over ``n``."""
        goals = tuple((k, t.sense, t.value) for k, t in self.targets.items())
        if (key, n, goals) not in self._seen:
            per_rep = self.replications.per_replication(key, n)
            verdict = judge(self.targets, per_rep, self.confidence, planned=self.planned)
            shortfall = verdict["shortfall"].to_numpy(dtype=float)
            self._seen[(key, n, goals)] = (
                bool(verdict["met"].all()),
                float(np.where(np.isfinite(shortfall), shortfall, 1e6).sum()),
                float(per_rep["annual_cost_yuan"].mean()),
            )
        return self._seen[(key, n, goals)]

    def _yuan(self, key: tuple[int, ...], simulated: float) -> float | None:
        """The key's yearly cost: ``cost``'s (cached; None while it cannot tell) or simulated."""
        if self.cost is None:
            return simulated
        if key not in self._costs or self._costs[key] is None:
            self._costs[key] = self.cost(key)
        return self._costs[key]

    def describe(self) -> str:
        """'best met: 1,234,567 yuan/yr (4 reps)', or the least shortfall while none meets."""
        cheapest: tuple[float, int] = (math.inf, 0)
        closest: tuple[float, tuple[int, ...], float] = (math.inf, (), math.nan)
        for key in self.replications.staffings():
            n = self.replications.done(key)
            if n < self.enough:
                continue
            met, shortfall, simulated = self._judged(key, n)
            cost = self._yuan(key, simulated) if met else None
            if cost is not None and cost < cheapest[0]:
                cheapest = (cost, n)
            if shortfall < closest[0]:
                closest = (shortfall, key, simulated)
        aims = any((t.sense, t.value) != self._original.get(k) for k, t in self.targets.items())
        if math.isfinite(cheapest[0]):
            what = "best meeting the aims so far" if aims else "best met so far"
            return f"{what}: {cheapest[0]:,.0f} yuan/yr ({cheapest[1]} reps)"
        if math.isfinite(closest[0]):
            at = self._yuan(closest[1], closest[2])
            where = f" at {at:,.0f} yuan/yr" if at is not None else ""
            return f"none met yet; least shortfall {closest[0]:.4f}{where}"
        return "nothing judged yet"
