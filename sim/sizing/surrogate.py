"""The surrogate of the search: simulation at a reference staffing, the screen's differences
elsewhere.

The analytic screen (:func:`sim.sizing.analytic.screen`) gets the *direction* of a change of
staffing right far more often than its level. So a KPI at a staffing ``y`` is predicted as its
simulated mean at a reference staffing plus the screen's difference between ``y`` and the
reference (scaled for the days, which the screen has only as a mean). The predicted shortfall
asks each target to be met with the confidence margin simulation shows at the reference.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

import pandas as pd

from sim.scenario.schema import Scenario, Target
from sim.sizing.analytic import screen
from sim.sizing.flows import PoolCache
from sim.sizing.levers import Lever, Staffing, adjust

__all__ = ["StaffingScreens", "Surrogate"]

_DAYS = ("days_to_resolution.mean", "days_to_resolution.p90")


class StaffingScreens:
    """The screened KPIs of each staffing of one search, computed once.

    ``scenario_of`` turns a staffing into its scenario; the pools approximated for one staffing
    are kept for the next (most pools do not change when one lever moves).
    """

    def __init__(self, scenario_of: Callable[[Staffing], Scenario]):
        self._scenario_of = scenario_of
        self._pools = PoolCache()
        self._kpis: dict[Staffing, dict[str, float]] = {}

    def kpis(self, staffing: Staffing) -> dict[str, float]:
        """The screen's KPIs at a staffing."""
        if staffing not in self._kpis:
            self._kpis[staffing] = screen(self._scenario_of(staffing), self._pools).kpis
        return self._kpis[staffing]


class Surrogate:
    """Predicted KPIs and shortfall around one simulated reference staffing.

    ``simulated`` is the verdict (:func:`sim.sizing.confirmation.judge`) at ``reference``.
    ``fits(staffing, i)`` says whether one more step of lever ``i`` stays within the budget.
    """

    def __init__(
        self,
        reference: Staffing,
        simulated: pd.DataFrame,
        targets: dict[str, Target],
        levers: Sequence[Lever],
        screens: StaffingScreens,
        fits: Callable[[Staffing, int], bool],
    ):
        self.reference = reference
        self.simulated = simulated
        self.targets = targets
        self.levers = levers
        self.screens = screens
        self.fits = fits

    def predict(self, staffing: Staffing) -> dict[str, float]:
        """Each target's KPI at ``staffing``: simulated at the reference, moved by the screen."""
        sim = self.simulated
        s_y, s_ref = self.screens.kpis(staffing), self.screens.kpis(self.reference)
        out = {}
        for name in self.targets:
            mean = float(sim.loc[name, "mean"])
            a, b = s_y.get(name, math.nan), s_ref.get(name, math.nan)
            if math.isfinite(a) and math.isfinite(b):
                out[name] = mean + (a - b)
            elif name in _DAYS or name.startswith("waiting_days"):
                a, b = s_y["days_to_resolution.mean"], s_ref["days_to_resolution.mean"]
                out[name] = mean * a / b if b > 0 and math.isfinite(a / b) else mean
            elif name == "resolved_within_limit":
                esc = s_y["escalations_by_time_limit"] - s_ref["escalations_by_time_limit"]
                out[name] = mean - esc / max(s_ref["disputes"], 1.0)
            else:
                out[name] = mean
        return out

    def shortfall(self, staffing: Staffing) -> float:
        """Sum over targets of the predicted distance to the target plus margin, relative."""
        sim = self.simulated
        predicted = self.predict(staffing)
        total = 0.0
        for name, target in self.targets.items():
            margin = abs(float(sim.loc[name, "mean"] - sim.loc[name, "bound"]))
            margin = margin if math.isfinite(margin) else 0.0
            value = predicted[name]
            if not math.isfinite(value):
                total += 1e6
                continue
            if target.sense == ">=":
                gap = target.value + margin - value
            else:
                gap = value - (target.value - margin)
            total += max(0.0, gap) / max(abs(target.value), 1e-9)
        return total

    def rank(self, staffing: Staffing) -> list[tuple[float, int]]:
        """Levers that can grow, as (predicted fall in shortfall per yuan, index), best first."""
        base = self.shortfall(staffing)
        out = []
        for i, lever in enumerate(self.levers):
            if staffing[i] >= lever.ceiling:
                continue
            if not self.fits(staffing, i):
                continue
            gain = base - self.shortfall(adjust(staffing, i, +1))
            out.append((gain / max(lever.salary, 1.0), i))
        out.sort(key=lambda t: -t[0])
        return out

    def propose(self, start: Staffing, max_steps: int) -> Staffing:
        """Add mediators by predicted gain per yuan until every target is predicted met.

        Lazy greedy: gains are kept in a heap and only the top one is recomputed after each
        addition (a gain rarely grows when another mediator is added), so a step costs about
        one screen instead of one per lever.
        """
        staffing = start
        base = self.shortfall(staffing)
        heap = [(-g, i) for g, i in self.rank(staffing)]
        heapq.heapify(heap)
        for _ in range(max_steps * 5):
            if base <= 0 or not heap:
                break
            _, i = heapq.heappop(heap)
            if staffing[i] >= self.levers[i].ceiling or not self.fits(staffing, i):
                continue
            candidate = adjust(staffing, i, +1)
            after = self.shortfall(candidate)
            gain = (base - after) / max(self.levers[i].salary, 1.0)
            if heap and gain < -heap[0][0] - 1e-15:
                heapq.heappush(heap, (-gain, i))  # stale: someone else may be better now
                continue
            if gain <= 0:
                break
            staffing, base = candidate, after
            heapq.heappush(heap, (-gain, i))
        return staffing

    def removal_order(self, staffing: Staffing) -> list[int]:
        """Levers above their floors, least predicted harm per yuan saved first."""
        base = self.shortfall(staffing)
        order = []
        for i, lever in enumerate(self.levers):
            if staffing[i] <= lever.floor:
                continue
            harm = self.shortfall(adjust(staffing, i, -1)) - base
            order.append((harm / max(lever.salary, 1.0), -lever.salary, i))
        return [i for *_, i in sorted(order)]
