"""Where a self-reporting party goes: a multinomial logit on local supply (入口选择).

Implements docs/model.md "Discovery: a race between the sweep and the party's own report" (its
entry-choice part, ``mechanisms.entry_choice``). The alternatives are the ladder's levels (grid,
village, township, the district centre's one window). Their utilities are

    V_j = log self_report_entry_j + shift_j(village)

so that with every supply term at its reference the choice probabilities are exactly today's
shares. The shifts are log-odds effects of the dispute's village: a full-time mediator (专职调解员)
raises the village's utility; a petition agent (信访代办员) and the distance to the township seat
raise both local ones (grid and village). An alternative with share 0 stays closed.

The choice is drawn as the arg-max of the utilities plus standard Gumbel noise (the random-utility
form of the logit), coupled to today's draw: the level today's inversion of the ``entry`` uniform
gives is the arg-max under the reference utilities; the maximum, and the other alternatives'
utilities below it, are drawn from their conditional laws (the maximum of Gumbels is Gumbel at the
log-sum-exp, independent of which one is largest; given both, the others are Gumbels truncated at
the maximum). Adding the shifts and taking the arg-max again gives the choice under the village's
supply. Hence (i) with all shifts zero the entry is today's, dispute by dispute; (ii) raising only
the village's utility leaves a dispute where it was or moves it to the village, never elsewhere —
the monotonicity tests/test_discovery.py checks with common random numbers.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from sim.model.layout import DISTRICT, E_BEST, GRID, N_LEVELS, VILLAGE
from sim.model.streams import Row
from sim.scenario.district import District
from sim.scenario.schema import Scenario

__all__: list[str] = []  # the model's own machinery; nothing public


class _EntryChoice:
    """The entry levels of self-reporting parties: today's shares, shifted by local supply."""

    def __init__(self, sc: Scenario, district: District) -> None:
        shares = sc.discovery.self_report_entry.as_tuple()
        self.entry_cum = np.cumsum(shares).tolist()
        self.utility = [math.log(s) if s > 0 else -math.inf for s in shares]
        self.log_sum = math.log(sum(shares))
        e = sc.entry
        full_time = [s.full_time > 0 for s in district.staffing["village"]]
        agents = [n > 0 for n in district.village_petition_agents]
        self.shift: list[tuple[float, ...] | None] = []
        for ft, pa, km in zip(full_time, agents, district.village_seat_distance_km, strict=True):
            local = e.petition_agent * (pa - e.reference_petition_agent_share) + (
                e.distance_per_10km * (km - e.reference_seat_distance_km) / 10.0
            )
            village = local + e.full_time_mediator * (ft - e.reference_full_time_share)
            shift = [0.0] * N_LEVELS
            shift[GRID], shift[VILLAGE] = local, village
            # A village at the reference keeps today's draw without touching its Gumbels.
            self.shift.append(tuple(shift) if any(shift) else None)

    def reference(self, u_entry: float) -> int:
        """Today's entry level: ``u_entry`` inverted through the cumulative shares."""
        return min(bisect.bisect_right(self.entry_cum, u_entry), DISTRICT)

    def choose(self, village: int, u_entry: float, row: Row | None) -> int:
        """The entry level of a party of ``village``, from its ``entry`` uniform and ``row``.

        ``row`` is the dispute's row of stream ``entry`` (drawn whenever the choice is on).
        """
        j0 = self.reference(u_entry)
        shift = self.shift[village]
        if shift is None or row is None:
            return j0
        e0 = -math.log1p(-row[E_BEST])
        if e0 <= 0.0:
            return j0  # a maximum at +inf (u = 0 exactly): nothing can pass it
        best = self.log_sum - math.log(e0)  # the maximum utility, Gumbel(log-sum-exp)
        chosen, top = j0, best + shift[j0]
        k = E_BEST + 1
        for j, v in enumerate(self.utility):
            if j == j0:
                continue
            e = -math.log1p(-row[k])
            k += 1
            if v == -math.inf:
                continue  # closed: a share of 0 stays 0
            # Gumbel(v) truncated at ``best``, by inversion of F(x) / F(best).
            g = v - math.log(math.exp(v - best) + e)
            if g + shift[j] > top:
                chosen, top = j, g + shift[j]
        return chosen

    def probabilities(self, village: int) -> list[float]:
        """The logit's entry shares for a party of ``village`` (for tests and docs)."""
        shift = self.shift[village] or (0.0,) * N_LEVELS
        w = [
            math.exp(v + s) if v > -math.inf else 0.0
            for v, s in zip(self.utility, shift, strict=True)
        ]
        total = sum(w)
        return [x / total for x in w]
