"""The search for the least-cost staffing at one demand level (docs/sizing.md).

From the floors: the screen's proposal, corrected by its offset from simulation at the current
staffing (:class:`~sim.sizing.surrogate.Surrogate`), confirmed by simulation and shrunk back by
a line search (up to four times); a greedy by simulated gain per yuan while a target fails; a
pruning pass that removes every mediator whose removal keeps every target; and at the
confirmation replications a check that removing any single one breaks a target. Every verdict
is :func:`~sim.sizing.confirmation.judge`'s one-sided bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.scenario.schema import Target
from sim.sizing.confirmation import judge
from sim.sizing.levers import Lever, Staffing, adjust
from sim.sizing.replications import Replications
from sim.sizing.surrogate import StaffingScreens, Surrogate

__all__ = ["SearchSettings", "StaffingSearch", "frontier"]


@dataclass(frozen=True)
class SearchSettings:
    """How hard the search works, and within which budget.

    ``search_replications`` while searching, ``confirmation_replications`` for the final
    verdict (the search's verdicts use the spread of the first with the t-quantile of the
    second); ``budget`` a yearly ceiling in yuan or None; ``candidates`` the levers the greedy
    simulates per step; ``max_steps`` bounds each phase.
    """

    search_replications: int
    confirmation_replications: int
    budget: float | None = None
    candidates: int = 3
    max_steps: int = 200


class StaffingSearch:
    """Least-cost staffing for one demand level (see the module docstring for the method).

    The state is the replications simulated so far (``replications``, shared with whoever
    built them), the screens of the staffings seen, and ``path``: each staffing the search
    moved to, with why.
    """

    def __init__(
        self,
        replications: Replications,
        targets: dict[str, Target],
        confidence: float,
        settings: SearchSettings,
        log: Callable[[str], None],
    ):
        self.replications = replications
        self.levers: list[Lever] = replications.levers
        self.targets = targets
        self.confidence = confidence
        self.settings = settings
        self.log = log
        self.screens = StaffingScreens(replications.scenario)
        self.path: list[tuple[Staffing, str]] = []

    # -- verdicts by simulation

    def verdict(self, staffing: Staffing, n: int) -> pd.DataFrame:
        """:func:`judge` over ``n`` replications, as expected at the confirmation number."""
        per_rep = self.replications.per_replication(staffing, n)
        planned = self.settings.confirmation_replications
        return judge(self.targets, per_rep, self.confidence, planned=planned)

    def met(self, staffing: Staffing, n: int) -> bool:
        """Whether every target is met over ``n`` replications."""
        return bool(self.verdict(staffing, n)["met"].all())

    def score(self, staffing: Staffing, n: int) -> float:
        """Total relative shortfall of the bounds (0 when every target is met)."""
        s = self.verdict(staffing, n)["shortfall"].to_numpy(dtype=float)
        return float(np.where(np.isfinite(s), s, 1e6).sum())

    def cost(self, staffing: Staffing, n: int) -> float:
        """Simulated mean yearly cost (yuan)."""
        return float(self.replications.per_replication(staffing, n)["annual_cost_yuan"].mean())

    def salary(self, staffing: Staffing) -> float:
        """Yearly salaries of the levers (what a lever changes)."""
        return float(sum(v * lever.salary for v, lever in zip(staffing, self.levers, strict=True)))

    def headcount(self, staffing: Staffing) -> int:
        """Full-time mediators the levers hold."""
        return sum(v * lever.mediators for v, lever in zip(staffing, self.levers, strict=True))

    def fits(self, staffing: Staffing, reference: Staffing, i: int) -> bool:
        """Whether one more step of lever ``i`` stays within the budget ceiling (if any).

        The cost is the simulated one at ``reference`` plus the salaries added since.
        """
        budget = self.settings.budget
        if budget is None:
            return True
        extra = self.salary(staffing) - self.salary(reference) + self.levers[i].salary
        return self.cost(reference, self.settings.search_replications) + extra <= budget

    def surrogate(self, reference: Staffing, n: int) -> Surrogate:
        """The screen's predictions around ``reference``, simulated over ``n`` replications."""
        return Surrogate(
            reference,
            self.verdict(reference, n),
            self.targets,
            self.levers,
            self.screens,
            lambda staffing, i: self.fits(staffing, reference, i),
        )

    # -- the phases

    def line_search(self, lo: Staffing, hi: Staffing, n: int, rounds: int = 4) -> Staffing:
        """Shrink a proposal that meets the targets back towards ``lo`` (which does not).

        The screen gets the pattern of an allocation right more often than its size; bisecting
        the fraction of the proposed additions that is kept costs ``rounds`` simulations and
        saves the pruning pass most of its work when the screen overshoots.
        """
        a, b = 0.0, 1.0
        best = hi
        for _ in range(rounds):
            mid = (a + b) / 2
            candidate = tuple(
                max(lever.floor, min(lever.ceiling, u + math.ceil(mid * (v - u))))
                for lever, u, v in zip(self.levers, lo, hi, strict=True)
            )
            if candidate in (lo, best):
                break
            if self.met(candidate, n):
                best, b = candidate, mid
                self.log(f"  line search keeps {mid:.0%}: salaries {self.salary(candidate):,.0f}")
            else:
                a = mid
        return best

    def screen_jumps(self, start: Staffing, n: int) -> Staffing:
        """Screen-guided jumps from ``start``, each confirmed by simulation (up to four)."""
        staffing = start
        for _ in range(4):
            if self.met(staffing, n):
                break
            proposal = self.surrogate(staffing, n).propose(staffing, self.settings.max_steps)
            if proposal == staffing:
                break
            self.log(
                f"  screen proposes cost {self.salary(proposal):,.0f} "
                f"(from {self.salary(staffing):,.0f})"
            )
            if self.met(proposal, n):
                proposal = self.line_search(start, proposal, n)
            staffing = proposal
            self.path.append((staffing, "screen"))
        return staffing

    def greedy(self, staffing: Staffing, n: int) -> Staffing:
        """While a target fails: simulate the screen's best few additions, keep the best/yuan."""
        for _ in range(self.settings.max_steps):
            if self.met(staffing, n):
                return staffing
            ranked = self.surrogate(staffing, n).rank(staffing)
            if not ranked:
                return staffing  # at the ceilings or the budget
            top = [i for _, i in ranked[: self.settings.candidates]]
            candidates = [adjust(staffing, i, +1) for i in top]
            self.replications.run(candidates, n)
            here = self.score(staffing, n)
            gains = [
                (here - self.score(candidate, n)) / max(self.levers[i].salary, 1.0)
                for candidate, i in zip(candidates, top, strict=True)
            ]
            best = int(np.argmax(gains))
            if gains[best] <= 0:
                best = 0  # no simulated gain yet (a threshold ahead): trust the screen
            staffing = candidates[best]
            key = self.levers[top[best]].key
            self.path.append((staffing, f"add {key}"))
            self.log(
                f"  + {key:<28} salaries {self.salary(staffing):>14,.0f}"
                f"  shortfall {self.score(staffing, n):.4f}"
            )
        return staffing

    def prune(self, staffing: Staffing, n: int) -> Staffing:
        """Remove mediators while every target stays met.

        Levers are tried in the order of the screen's predicted loss per yuan saved (the least
        harmful first); from a lever with many above its floor, half of them are tried at once,
        then a quarter, … down to one (so a lever costs a few simulations, not one per head).
        """
        changed = True
        while changed:
            changed = False
            for i in self.surrogate(staffing, n).removal_order(staffing):
                floor = self.levers[i].floor
                step = max(1, (staffing[i] - floor) // 2)
                while step >= 1 and staffing[i] - step >= floor:
                    candidate = adjust(staffing, i, -step)
                    if self.met(candidate, n):
                        staffing = candidate
                        changed = True
                        key = self.levers[i].key
                        self.path.append((staffing, f"remove {step} {key}"))
                        self.log(f"  - {step} {key:<26} salaries {self.salary(staffing):>14,.0f}")
                        step = min(step, max(1, (staffing[i] - floor) // 2))
                    else:
                        step //= 2
        return staffing

    def minimality(self, staffing: Staffing, n: int) -> pd.DataFrame:
        """For each lever above its floor: remove one step and say which targets break."""
        rows = []
        above = [i for i, lever in enumerate(self.levers) if staffing[i] > lever.floor]
        self.replications.run([adjust(staffing, i, -1) for i in above], n)
        for i in above:
            lever = self.levers[i]
            v = self.verdict(adjust(staffing, i, -1), n)
            broken = [k for k in v.index if not v.loc[k, "met"]]
            rows.append(
                {
                    "lever": lever.key,
                    "kind": lever.kind,
                    "place": lever.place,
                    "full_time": staffing[i] * lever.mediators,
                    "without_one": (staffing[i] - 1) * lever.mediators,
                    "breaks": ", ".join(broken),
                    "minimal": bool(broken),
                }
            )
        return pd.DataFrame(
            rows,
            columns=["lever", "kind", "place", "full_time", "without_one", "breaks", "minimal"],
        )

    def run(self, start: Staffing) -> tuple[Staffing, pd.DataFrame, bool]:
        """Search from ``start``; returns the staffing, its minimality table and whether met."""
        n_search = self.settings.search_replications
        n_confirm = self.settings.confirmation_replications
        self.path.append((start, "start"))
        staffing = self.greedy(self.screen_jumps(start, n_search), n_search)
        for _ in range(self.settings.max_steps):
            if self.met(staffing, n_search):
                staffing = self.prune(staffing, n_search)
            if n_confirm > n_search:
                staffing = self.greedy(staffing, n_confirm)
                if self.met(staffing, n_confirm):
                    staffing = self.prune(staffing, n_confirm)
            met = self.met(staffing, n_confirm)
            table = self.minimality(staffing, n_confirm) if met else pd.DataFrame()
            if not len(table) or table["minimal"].all():
                break
            # A removal that keeps every target at the confirmation replications: take it.
            free = table[~table["minimal"]]
            i = next(k for k, lever in enumerate(self.levers) if lever.key == free["lever"].iloc[0])
            staffing = adjust(staffing, i, -1)
            self.path.append((staffing, f"remove {self.levers[i].key}"))
        met = self.met(staffing, n_confirm)
        return staffing, (self.minimality(staffing, n_confirm) if met else pd.DataFrame()), met


def frontier(search: StaffingSearch, chosen: Staffing, demand: float) -> pd.DataFrame:
    """Cost against target attainment for every staffing the search simulated enough.

    ``attainment`` is the mean ``p_meet`` over the targets; ``pareto`` marks the staffings no
    cheaper one out-attains.
    """
    rows = []
    settings = search.settings
    enough = min(settings.search_replications, settings.confirmation_replications)
    for staffing in search.replications.staffings():
        n = search.replications.done(staffing)
        if n < enough:
            continue
        v = search.verdict(staffing, n)
        rows.append(
            {
                "demand": demand,
                "annual_cost_yuan": search.cost(staffing, n),
                "salaries_yuan": search.salary(staffing),
                "full_time": search.headcount(staffing),
                "attainment": float(v["p_meet"].mean()) if len(v) else 1.0,
                "targets_met": int(v["met"].sum()),
                "targets": len(v),
                "replications": n,
                "chosen": staffing == chosen,
                "staffing": ";".join(
                    f"{lever.key}={a}" for lever, a in zip(search.levers, staffing, strict=True)
                ),
            }
        )
    out = pd.DataFrame(rows).sort_values("annual_cost_yuan", ignore_index=True, kind="stable")
    if len(out):
        best = -np.inf
        pareto = []
        for a in out["attainment"]:
            pareto.append(a > best + 1e-12)
            best = max(best, a)
        out["pareto"] = pareto
    return out
