"""The cheapest package of measures (最低成本措施组合): headcount and the catalogue's other levers.

A **package** is a full-time staffing (the headcount levers of :mod:`sim.sizing.levers`) plus a
whole number of steps of each active non-headcount lever of the catalogue
(:mod:`sim.sizing.catalogue`: training hours, gold-medal share, experts, petition agents, sweeps,
part-timers' mediation share), each bounded by the lever's upper bound. Its key is a plain tuple
of ints — the staffing, then the steps — so it can be cached, compared and written as JSON; the
scenario table of a key is written by stepping each measure with the catalogue's own code
(:func:`~sim.sizing.catalogue.step_measure`), so its steps and yuan are exactly the catalogue's.

The search (:class:`PackageSearch`, docs/sizing.md):

1. **Jumps, then greedy.** From the start (the floors, no measures), while a target fails:
   linearised least-cost jumps over every measure's steps (:mod:`sim.sizing.package_jump`);
   then what they leave, by the greedy: simulate a few
   candidate steps (⌈candidates/2⌉ of each kind) — the headcount units the screen ranks best
   (:class:`~sim.sizing.surrogate.Surrogate`) and the measures
   :func:`~sim.sizing.explain.explain_at` ranks best per 10,000 yuan — with common random
   numbers, and keep the one with the largest fall in total shortfall per yuan.
2. **Prune measures** while every target stays met (half the steps at once, then a quarter, …).
3. **Headcount for those measures**: with no measure bought,
   :class:`~sim.sizing.search.StaffingSearch` from the floors (so such a package is exactly
   today's least-cost staffing); with measures, the headcount the jumps and greedy chose,
   pruned while every target stays met;
   when headcount alone (at its ceilings) meets every target, the staffing search with no
   measures too, kept if it costs no more.
4. **Confirmation with fresh seeds** at the confirmation replications: a package that fails is
   topped up there by jumps, then the greedy; then **minimality**: removing one step of any
   measure, or one mediator of any headcount lever above its floor, must break a target — the
   removals that do not are taken one by one while every target stays met, and the check
   repeats.

The yearly cost of a package (``yuan``) is the simulated yearly cost of the start plus the
salaries added and the catalogue's yearly cost of the measures' steps: what the budget ceiling
bounds and the frontier plots.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario.schema import Target
from sim.sizing.confirmation import judge
from sim.sizing.explain import Explanation
from sim.sizing.levers import Staffing, adjust
from sim.sizing.package_jump import jump
from sim.sizing.package_space import Measure, Package, PackageSpace, measures
from sim.sizing.replications import Replications
from sim.sizing.search import SearchSettings, StaffingSearch
from sim.sizing.surrogate import StaffingScreens, Surrogate

__all__ = ["Measure", "Package", "PackageSearch", "PackageSpace", "measure_ranking", "measures"]


def measure_ranking(
    explanation: Explanation, space: PackageSpace, missed: Sequence[str]
) -> list[int]:
    """Measures in the order explain ranks them for the missed targets (best rank over them).

    This is :mod:`sim.sizing.explain`'s ranking itself (paired effects per 10,000 yuan, clear
    gains first); a measure explain did not simulate comes last.
    """
    effects = explanation.effects
    mine = effects[effects["kpi"].isin(list(missed))] if missed else effects
    best = mine.groupby("lever")["rank"].min().to_dict()
    order = sorted(
        range(len(space.measures)),
        key=lambda j: (best.get(space.measures[j].id, np.inf), j),
    )
    return order


class PackageSearch:
    """The least-cost package for one demand level (the module docstring gives the method).

    ``runs`` are the search's replications (keys are packages), ``fresh`` the confirmation's
    (the same scenario with fresh seeds). ``ranking`` orders the measures (explain's ranking).
    ``path`` keeps each package the search moved to, with why.
    """

    def __init__(
        self,
        space: PackageSpace,
        runs: Replications,
        fresh: Replications,
        targets: dict[str, Target],
        confidence: float,
        settings: SearchSettings,
        ranking: Sequence[int],
        log: Callable[[str], None],
    ):
        self.space = space
        self.runs = runs
        self.fresh = fresh
        self.targets = targets
        self.confidence = confidence
        self.settings = settings
        self.ranking = list(ranking)
        self.log = log
        floors = tuple(lv.floor for lv in space.levers)
        self.start = space.key(floors, [m.floor for m in space.measures])
        self.path: list[tuple[Package, str]] = []
        self._screens: dict[Package, StaffingScreens] = {}
        # Steps a candidate moves at once, by lever: doubled each time the lever wins the greedy
        # in a row (a lever far from enough gets there in a few simulations, not one per step;
        # pruning takes back any overshoot), back to 1 when another lever wins.
        self._stride: dict[str, int] = {}
        # Whether headcount alone (every headcount lever at its ceiling, no measures) meets
        # every target: then the search also tries the least-cost staffing with no measures.
        self.headcount_may_do = False

    # -- verdicts and cost

    def verdict(self, key: Package, n: int, runs: Replications | None = None) -> pd.DataFrame:
        """:func:`judge` over ``n`` replications of ``runs`` (the search's by default)."""
        per_rep = (runs or self.runs).per_replication(key, n)
        planned = self.settings.confirmation_replications
        return judge(self.targets, per_rep, self.confidence, planned=planned)

    def met(self, key: Package, n: int, runs: Replications | None = None) -> bool:
        """Whether every target is met."""
        return bool(self.verdict(key, n, runs)["met"].all())

    def score(self, key: Package, n: int, runs: Replications | None = None) -> float:
        """Total relative shortfall of the bounds (0 when every target is met)."""
        s = self.verdict(key, n, runs)["shortfall"].to_numpy(dtype=float)
        return float(np.where(np.isfinite(s), s, 1e6).sum())

    def yuan(self, key: Package) -> float:
        """Yearly cost: the start's simulated cost + salaries added + the measures' yuan."""
        return self.space.yuan(key, self.runs, self.start, self.settings.search_replications)

    def fits(self, key: Package) -> bool:
        """Whether a package is within the budget ceiling (if any)."""
        budget = self.settings.budget
        return budget is None or self.yuan(key) <= budget

    # -- the phases

    def surrogate(self, key: Package, n: int, runs: Replications) -> Surrogate:
        """The staffing screen at a package, corrected by its simulated verdict."""
        steps = self.space.steps(key)
        if steps not in self._screens:
            self._screens[steps] = StaffingScreens(
                lambda s: runs.scenario(self.space.key(s, steps))
            )
        return Surrogate(
            self.space.staffing(key),
            self.verdict(key, n, runs),
            self.targets,
            self.space.levers,
            self._screens[steps],
            lambda s, i: self.fits(self.space.key(adjust(s, i, +1), steps)),
        )

    def candidates(self, key: Package, n: int, runs: Replications) -> list[tuple[Package, str]]:
        """The screen's best headcount steps and explain's best measures, within bounds/budget."""
        # The staffing search's ``candidates`` split between headcount and measures (⌈c/2⌉
        # each, 2 + 2 by default): each greedy step simulates four packages, not six.
        c = max(1, math.ceil(self.settings.candidates / 2))
        heads = self.surrogate(key, n, runs).rank(self.space.staffing(key))[:c]
        out = []
        for _, i in heads:
            lever = self.space.levers[i]
            by = min(self._stride.get(lever.key, 1), lever.ceiling - key[i])
            while by > 1 and not self.fits(adjust(key, i, by)):
                by //= 2
            out.append((adjust(key, i, by), lever.key))
        steps = self.space.steps(key)
        more = []
        for j in self.ranking:
            m = self.space.measures[j]
            by = min(self._stride.get(m.id, 1), m.max_steps - steps[j])
            while by > 1 and not self.fits(self.space.move(key, j, by)):
                by //= 2
            if by >= 1 and self.fits(self.space.move(key, j, by)):
                more.append((self.space.move(key, j, by), m.id))
            if len(more) == c:
                break
        return more + out

    def greedy(self, key: Package, n: int, runs: Replications, tag: str = "") -> Package:
        """While a target fails: simulate the candidates, keep the best fall in shortfall/yuan."""
        for _ in range(self.settings.max_steps):
            if self.met(key, n, runs):
                break
            cands = self.candidates(key, n, runs)
            if not cands:
                break  # every lever at its bound or the budget
            runs.run([k for k, _ in cands], n)
            here, cost = self.score(key, n, runs), self.yuan(key)
            # A free step (enterprise committees pay their own) costs as much as the cheapest
            # paid one here: over 1 yuan a noise-sized gain would beat every real one.
            extra = [self.yuan(k) - cost for k, _ in cands]
            paid = min([e for e in extra if e > 0], default=1.0)
            gains = [
                (here - self.score(k, n, runs)) / max(e, paid, 1.0)
                for (k, _), e in zip(cands, extra, strict=True)
            ]
            best = int(np.argmax(gains))
            if gains[best] <= 0:
                # No simulated gain yet (a threshold ahead): the cheapest step, so that a dear
                # measure is not bought on no evidence; but not a free step that moves no
                # target's mean at all (common random numbers): bought, it would be again and
                # again, a threshold ahead or not, and cost a greedy step each time.
                moved = [
                    i
                    for i, (k, _) in enumerate(cands)
                    if extra[i] > 0 or self._moves(key, k, n, runs)
                ]
                pool = moved or list(range(len(cands)))
                best = min(pool, key=lambda i: self.yuan(cands[i][0]))
            key, what = cands[best]
            self._stride = {what: 2 * self._stride.get(what, 1)}
            self.path.append((key, f"add {what}{tag}"))
            self.log(f"  + {what:<28} yuan {self.yuan(key):>14,.0f}  shortfall "
                     f"{self.score(key, n, runs):.4f}")  # fmt: skip
        return key

    def _moves(self, key: Package, other: Package, n: int, runs: Replications) -> bool:
        """Whether any target's mean differs between two packages (same replications)."""
        a = self.verdict(key, n, runs)["mean"].to_numpy(dtype=float)
        b = self.verdict(other, n, runs)["mean"].to_numpy(dtype=float)
        return not np.allclose(a, b, rtol=0.0, atol=1e-12, equal_nan=True)

    def prune_measures(self, key: Package, n: int, runs: Replications) -> Package:
        """Remove measures' steps while every target stays met (dearest steps tried first)."""
        order = sorted(
            range(len(self.space.measures)),
            key=lambda j: -self.space.measure_yuan(key)[j] / max(self.space.steps(key)[j], 1),
        )
        for j in order:
            floor = self.space.measures[j].floor
            step = max(1, (self.space.steps(key)[j] - floor) // 2)
            while step >= 1 and self.space.steps(key)[j] - step >= floor:
                candidate = self.space.move(key, j, -step)
                if self.met(candidate, n, runs):
                    key = candidate
                    what = f"remove {step} {self.space.measures[j].id}"
                    self.path.append((key, what))
                    self.log(f"  - {what:<28} yuan {self.yuan(key):>14,.0f}")
                    step = min(step, max(1, (self.space.steps(key)[j] - floor) // 2))
                else:
                    step //= 2
        return key

    def headcount(self, key: Package) -> Package:
        """Least-cost staffing for the key's measures (the module docstring, step 3).

        With no measure bought: :class:`StaffingSearch` from the floors, today's least-cost
        staffing. With measures: the headcount the jumps and the greedy chose with them, pruned
        while every target stays met at the search's replications. (A full staffing search
        from the floors added one mediator per round of simulations — on Qujiang some 60
        rounds at the confirmation replications, for a target measures move and headcount
        barely does; the confirmation's greedy weighs headcount and measures together instead.)
        Its replications are the package's (:class:`_StaffingView`): nothing is simulated
        twice, and with an evaluation store every one is kept on disk.
        """
        steps = self.space.steps(key)
        view = _StaffingView(self.runs, self.space, steps)
        budget = self.settings.budget
        if budget is not None:
            budget -= float(sum(self.space.measure_yuan(key)))
        settings = dataclasses.replace(self.settings, budget=budget)
        search = StaffingSearch(view, self.targets, self.confidence, settings, self.log)
        bought = steps != self.space.steps(self.start)
        if not bought:
            staffing, _, met = search.run(self.space.staffing(self.start))
        else:
            n = self.settings.search_replications
            staffing = self.space.staffing(key)
            met = search.met(staffing, n)
            if met:
                staffing = search.prune(staffing, n)
        found = self.space.key(staffing, steps)
        if not met:
            # Headcount does not complete what these measures lack (entry binds, say): buy
            # none of it here; the confirmation's greedy weighs measures and headcount anew.
            return key
        if self.fits(found) or not self.fits(key):
            if found != key:
                what = "pruned" if bought else "for these measures (StaffingSearch)"
                self.path.append((found, f"headcount {what}"))
            return found
        return key  # the staffing search's budget is approximate: keep what surely fits

    def removals(self, key: Package) -> list[tuple[Package, str, str, int]]:
        """Each package one step cheaper: (key, lever, kind, index) per lever above its floor."""
        out = []
        for i, lever in enumerate(self.space.levers):
            if key[i] > lever.floor:
                out.append((adjust(key, i, -1), lever.key, "headcount", i))
        for j, m in enumerate(self.space.measures):
            if self.space.steps(key)[j] > m.floor:
                out.append((self.space.move(key, j, -1), m.id, "measure", j))
        return out

    def minimality(self, key: Package, n: int, runs: Replications) -> pd.DataFrame:
        """For each lever above its floor: one step less, and the targets that then break."""
        cheaper = self.removals(key)
        runs.run([k for k, *_ in cheaper], n)
        rows = []
        for k, lever, kind, index in cheaper:
            v = self.verdict(k, n, runs)
            value = key[index] if kind == "headcount" else self.space.steps(key)[index]
            broken = [str(t) for t in v.index if not v.loc[t, "met"]]
            rows.append(
                {
                    "lever": lever,
                    "kind": kind,
                    "value": value,
                    "without_one": value - 1,
                    "saves_yuan": self.yuan(key) - self.yuan(k),
                    "breaks": ", ".join(broken),
                    "minimal": bool(broken),
                }
            )
        columns = ["lever", "kind", "value", "without_one", "saves_yuan", "breaks", "minimal"]
        return pd.DataFrame(rows, columns=columns)

    def run(self) -> tuple[Package, pd.DataFrame, bool]:
        """Search; returns the package, its minimality table (fresh seeds) and whether met."""
        n_search = self.settings.search_replications
        n_confirm = self.settings.confirmation_replications
        key = self.start
        self.path.append((key, "start"))
        key = jump(self, key, n_search, self.runs)
        key = self.greedy(key, n_search, self.runs)
        if self.met(key, n_search):
            key = self.prune_measures(key, n_search, self.runs)
        key = self.headcount(key)
        if self.headcount_may_do and self.space.steps(key) != self.space.steps(self.start):
            # Headcount at its ceilings meets every aim: the least-cost staffing with no
            # measures is a package too, kept when it is at least as cheap.
            alone = self.headcount(self.start)
            if self.met(alone, n_confirm) and self.yuan(alone) <= self.yuan(key):
                key = alone
        self.log(f"  confirmation with fresh seeds ({n_confirm} replications)")
        table = pd.DataFrame()
        for _ in range(self.settings.max_steps):
            if not self.met(key, n_confirm, self.fresh):
                # Jumps first here too: on fresh seeds a package the search judged met may
                # miss by a little on several targets at once, which the greedy closes one
                # lever per round (on Qujiang ~20 rounds of 40 replications each).
                key = jump(self, key, n_confirm, self.fresh, " (confirmation)")
                key = self.greedy(key, n_confirm, self.fresh, " (confirmation)")
                if not self.met(key, n_confirm, self.fresh):
                    break
            table = self.minimality(key, n_confirm, self.fresh)
            free = table[~table["minimal"]] if len(table) else table
            if not len(free):
                break
            # Steps that each keep every target: taken one after another, the largest saving
            # first, each only if every target is still met with the ones taken before (one
            # simulation per free step, not a pass over every lever per step); the check
            # then repeats on the smaller package.
            first = True
            for lever in free.sort_values("saves_yuan", ascending=False, kind="stable")["lever"]:
                cheaper = [k for k, name, *_ in self.removals(key) if name == lever]
                if not cheaper or not (first or self.met(cheaper[0], n_confirm, self.fresh)):
                    continue
                first, key = False, cheaper[0]
                self.path.append((key, f"remove {lever} (confirmation)"))
                self.log(f"  - {lever:<28} yuan {self.yuan(key):>14,.0f} (confirmation)")
        met = self.met(key, n_confirm, self.fresh)
        return key, (table if met else pd.DataFrame()), met


class _StaffingView(Replications):
    """The package replications seen by staffing alone, the measures held at ``steps``.

    Every replication is the package's own — simulated, stored and counted by ``runs`` — so
    :class:`StaffingSearch` can search headcount for fixed measures without simulating a
    package twice, and a resumed run reads it back from the store.
    """

    def __init__(self, runs: Replications, space: PackageSpace, steps: tuple[int, ...]):
        def table_of(staffing: Staffing) -> dict[str, Any]:
            return space.table_of(space.key(staffing, steps))

        super().__init__(
            space.table, space.source, space.levers, runs.seed, runs.executor, apply=table_of
        )
        self.package_runs = runs
        self.space = space
        self.steps = steps

    def run(self, staffings: Iterable[Staffing], replications: int) -> None:
        """Run the packages of these staffings in ``runs``, and see their replications here."""
        wanted = list(dict.fromkeys(staffings))
        keys = [self.space.key(staffing, self.steps) for staffing in wanted]
        self.package_runs.run(keys, replications)
        for staffing, key in zip(wanted, keys, strict=True):
            for k in range(replications):
                self.outcomes[(staffing, k)] = self.package_runs.outcomes[(key, k)]
