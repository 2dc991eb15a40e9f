"""The venues a step can take place at: their units, pools, settings and staffing.

Implements the set-up of docs/model.md "Mediation at a venue": the four ladder levels and the
committees around them ("Sector committees", "Enterprise committees", "Stationed rooms", "Joint
mediation", each left empty when its mechanism is off), the pool of each unit, the settings each
step reads (a :class:`_Desk` per level or committee), the expert pool ("Experts") and the
overload effect. Nothing here runs: :mod:`sim.model.mediation` does the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from sim.model.layout import (
    DISTRICT,
    ENTERPRISE,
    N_BASE_VENUES,
    N_VENUES,
    ROOM,
    TOWNSHIP_JOINT,
    step_uniforms,
)
from sim.model.pools import _JointPool, _Pool
from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS, VENUES

__all__: list[str] = []  # the model's own machinery; nothing public


def _no_party_delay(u: float) -> float:
    """The parties' time between sessions of a one-session step: there is none to ask for."""
    raise AssertionError("a one-session step has no time between sessions")


class _Desk:
    """A level's (or committee's) settings read once at build time, as plain values for the hot
    loop; the units that share a spec share the desk."""

    __slots__ = (
        "effort_ppf",
        "expert_required",
        "gold_share",
        "limit",
        "party_ppf",
        "resolve",
        "return_to_court",
        "sessions",
        "severity_factor",
        "spec",
        "timed",
        "top",
        "training_hours",
        "travel_hours",
        "u_base",
        "u_policy",
        "venue",
    )

    def __init__(self, spec, venue: int, mech, experts_at: set[int], experts) -> None:
        self.spec = spec
        self.venue = venue
        # Where the step's uniforms (effort, outcome) lie: ladder levels in the case row,
        # the committees in the policy row.
        self.u_policy, self.u_base = step_uniforms(venue)
        self.limit = spec.time_limit_days if mech.time_limits else None
        self.effort_ppf = spec.effort_hours.ppf
        sev = spec.severity_effort
        self.severity_factor = (
            (sev.minor, sev.major, sev.serious) if mech.effort_factors else (1.0, 1.0, 1.0)
        )
        with_party = mech.party_delays and spec.party_delay_days is not None
        self.sessions = spec.sessions if with_party else 1
        self.party_ppf: Callable[[float], float] = (
            spec.party_delay_days.ppf if with_party else _no_party_delay
        )
        self.resolve = tuple(
            (r.minor, r.major, r.serious) for r in (spec.resolve.full_time, spec.resolve.part_time)
        )
        self.return_to_court = bool(getattr(spec, "return_to_court", False))
        # Township joint mediation fails on up to the district centre (区乡联动), like a level.
        self.top = venue >= DISTRICT and venue not in (ENTERPRISE, TOWNSHIP_JOINT)
        req = experts.required
        self.expert_required = (req.minor, req.major, req.serious) if venue in experts_at else None
        # Mediators' time (docs/model.md "Mediators' time"): travel per session, and whether a
        # session holds the mediator longer than its effort at all (set by _Venues, which
        # knows the mediation shares); False keeps the hot loop on today's path.
        self.travel_hours: float = getattr(spec, "travel_hours", 0.0) if mech.mediator_time else 0.0
        self.timed = False
        # mechanisms.quality: the level's training and grade mix (the enterprise committees'
        # settings have neither: 0).
        self.training_hours = float(getattr(spec, "training_hours_per_year", 0.0))
        self.gold_share = float(getattr(spec, "gold_medal_share", 0.0))

    def failed(self) -> str:
        """The outcome of a mediation that did not settle: up a level, or out at the top."""
        if self.return_to_court:
            return "returned_to_court"
        return "unresolved" if self.top else "escalated_failed"

    def over_time(self) -> str:
        """The outcome of a step still unfinished at the time limit (or left in patience).

        Past the time limit a case goes up; at the top there is no level left to take it, and a
        court referral goes back to the court.
        """
        if self.venue == ROOM and self.return_to_court:
            return "returned_to_court"
        return "unresolved" if self.top else "escalated_time_limit"


class _Venues:
    """Pools, settings and unit names of every venue (ladder levels and committees), by index.

    ``pools[venue][unit]`` is None where a unit has no mediator; ``desks[venue][unit]`` holds the
    settings its steps read.
    """

    def __init__(self, sc: Scenario, district: District, env: simpy.Environment) -> None:
        mech = sc.mechanisms
        self.specs: list[list] = []
        self.pools: list[list[_Pool | _JointPool | None]] = []
        self.unit_names: dict[str, list[str]] = {}
        self.staffing: dict[str, list[tuple[int, int]]] = {}

        def add(venue: str, names: list[str], specs: list, staff: list[tuple[int, int]]) -> None:
            self.unit_names[venue] = names
            self.specs.append(specs)
            self.staffing[venue] = staff
            self.pools.append([_Pool(env, f, p) if f + p > 0 else None for f, p in staff])

        for lv in LEVELS:
            staff = [(s.full_time, s.part_time) for s in district.staffing[lv]]
            spec = sc.ladder.level(lv)
            add(lv, district.unit_names(lv), [spec] * len(staff), staff)
        sectors = sc.sectors if mech.sector_committees else {}
        add(
            "sector",
            list(sectors),
            list(sectors.values()),
            [(c.full_time, c.part_time) for c in sectors.values()],
        )
        committees = sc.enterprise.committees if mech.enterprise_committees else {}
        add(
            "enterprise",
            list(committees),
            [sc.enterprise] * len(committees),
            [(c.full_time, c.part_time) for c in committees.values()],
        )
        rooms = sc.stationed_rooms if mech.stationed_rooms else {}
        add(
            "stationed_room",
            list(rooms),
            list(rooms.values()),
            [(r.full_time, r.part_time) for r in rooms.values()],
        )
        centre = sc.district_centre
        self.departments = list(centre.departments)
        dept_staff = [d.staff for d in centre.departments.values()]
        joint_on = mech.joint_mediation and centre.joint is not None and len(dept_staff) >= 2
        self.unit_names["joint"] = ["joint"] if joint_on else []
        self.specs.append([centre.joint] if joint_on else [])
        self.staffing["joint"] = [(sum(dept_staff), 0)] if joint_on else []
        self.pools.append([_JointPool(env, dept_staff)] if joint_on else [])
        self.joint_on = joint_on
        self._township_centres(sc, district, env)

        self.sector_of_category = [
            list(sectors).index(c.sector) if c.sector in sectors else -1
            for c in sc.categories.values()
        ]
        self.enterprise_cum = (
            (
                np.cumsum([c.weight for c in committees.values()])
                / sum(c.weight for c in committees.values())
            ).tolist()
            if committees
            else []
        )
        experts = sc.experts
        self.experts_on = mech.experts and experts.members > 0
        self.expert_pool = simpy.Resource(env, experts.members) if self.experts_on else None
        self.expert_at = {VENUES.index(v) for v in experts.at} if self.experts_on else set()
        if self.experts_on and mech.circuit_team:  # 巡回调解团: to village and township cases
            self.expert_at |= {VENUES.index(v) for v in experts.circuit_at}
        # Units of a level share one spec, and so one desk: its settings are read once.
        shared: dict[tuple[int, int], _Desk] = {}

        def desk(v: int, spec: Any) -> _Desk:
            key = (v, id(spec))
            if key not in shared:
                shared[key] = _Desk(spec, v, mech, self.expert_at, experts)
            return shared[key]

        self.desks = [[desk(v, spec) for spec in specs] for v, specs in enumerate(self.specs)]
        self._mediator_time(sc, district)
        ov = sc.overload
        self.overload = (
            (ov.penalty_per_waiting_case, ov.floor)
            if mech.overload and ov.penalty_per_waiting_case > 0
            else None
        )

    def _township_centres(self, sc: Scenario, district: District, env: simpy.Environment) -> None:
        """乡镇矛调中心 (docs/model.md "Township centres"): one joint pool per township of the
        stationed departments' staff, appended as the last venue; empty when the mechanism is
        off, and then the time series samples only the venues before it."""
        tc = sc.township_centre
        staff = [d.staff for d in tc.departments.values()]
        on = (
            sc.mechanisms.township_centres
            and tc.joint is not None
            and len(staff) >= tc.departments_per_case
            and max(tc.joint_share.model_dump().values()) > 0
        )
        names = list(district.township_names) if on else []
        self.unit_names["township_joint"] = names
        self.specs.append([tc.joint] * len(names))
        self.staffing["township_joint"] = [(sum(staff), 0)] * len(names)
        self.pools.append([_JointPool(env, staff) for _ in names])
        self.township_joint_on = on
        self.township_departments = list(tc.departments) if on else []
        self.sampled_venues = N_VENUES if on else N_BASE_VENUES

    def _mediator_time(self, sc: Scenario, district: District) -> None:
        """The mediation share of each mediator kind, the travel factor of each grid's township,
        and which desks hold a mediator longer than the effort (docs/model.md "Mediators'
        time"). With ``mechanisms.mediator_time`` off: shares 1 and no travel."""
        on = sc.mechanisms.mediator_time
        cals = sc.calendars
        self.shares = (
            (cals.full_time.mediation_share, cals.part_time.mediation_share) if on else (1.0, 1.0)
        )
        self.expert_share = sc.experts.calendar.mediation_share if on else 1.0
        factors = [t.travel_factor for t in sc.townships]
        # A session's travel is that of the township where the dispute arose, at every venue.
        self.grid_travel_factor = [
            factors[district.village_township[v]] for v in district.grid_village
        ]
        part_of_time = self.shares != (1.0, 1.0)
        for desks in self.desks:
            for d in desks:
                d.timed = part_of_time or d.travel_hours > 0
