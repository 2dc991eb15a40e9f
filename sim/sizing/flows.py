"""The disputes of a scenario followed as flows through its mediator pools (the screen's core).

No randomness: per (category, severity) class, a flow (disputes per day) arrives at each unit
of each venue with its *time-mass* (the flow times the days since its disputes arose). A pool
(:func:`sim.sizing.queueing.approximate_pool`) resolves part of the flow, and hands the rest
(failed or out of time) up the ladder with the days it spent there. :class:`DisputeFlows` keeps
that state explicitly; :func:`sim.sizing.analytic.screen` turns it into KPIs.
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import VENUES
from sim.sizing.queueing import PoolResult, PoolSpec, approximate_pool

__all__ = ["DisputeFlows", "PoolCache"]


class PoolCache:
    """Pools already approximated, keyed by everything their result depends on.

    A sizing search screens thousands of staffings that differ in a lever or two, so most of
    their pools have the same inputs; a search keeps one cache for all its screens. Its scope
    is its owner's: a screen without one gets a fresh cache (which still helps within a screen,
    where many grids carry equal flows). Bounded: past ``max_entries`` it starts afresh.
    """

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = max_entries
        self._results: dict[tuple[object, ...], PoolResult | None] = {}

    def __len__(self) -> int:
        return len(self._results)

    def pool(
        self,
        key: tuple[object, ...],
        sc: Scenario,
        spec: PoolSpec,
        venue: str,
        full_time: int,
        part_time: int,
        lam_cls: np.ndarray,
        cat_factor: np.ndarray,
        expert_here: bool,
    ) -> PoolResult | None:
        """The approximated pool for ``key``, computed on the first request."""
        if key in self._results:
            return self._results[key]
        if len(self._results) > self.max_entries:
            self._results.clear()
        result = approximate_pool(
            sc, spec, venue, full_time, part_time, lam_cls, cat_factor, expert_here
        )
        self._results[key] = result
        return result


def _growth_mean(sc: Scenario) -> float:
    """Mean growth multiplier over the measurement window ((1 + g)^(t/365) averaged)."""
    g = sc.arrivals.growth_per_year
    if not sc.mechanisms.growth or g == 0:
        return 1.0
    lo, hi = sc.run.warmup_days / 365.0, (sc.run.warmup_days + sc.run.horizon_days) / 365.0
    k = math.log1p(g)
    return (math.exp(k * hi) - math.exp(k * lo)) / (k * (hi - lo))


class DisputeFlows:
    """One scenario's dispute flows, followed once through every pool by :meth:`follow`.

    Arrays are per (category, severity) class, per day. ``mass[venue][unit]`` is the flow
    waiting at a unit and ``time_mass[venue][unit]`` that flow times its days so far;
    ``resolved`` / ``resolved_time`` the same for the flow concluded at each venue;
    ``unresolved`` what leaves the top venues unresolved; ``on_the_spot`` what sweeps settle.
    ``rows`` collects one row per pool served, ``time_limit_escalations`` and ``expert_cases``
    count per day. The order of :meth:`follow` is the model's routing: enterprise committees,
    then the first venues, the ladder, the district centre and the top venues.
    """

    def __init__(self, scenario: Scenario, cache: PoolCache):
        sc = self.scenario = scenario
        m = sc.mechanisms
        self.cache = cache
        self.district = d = District.from_scenario(sc)
        self.categories = cats = list(sc.categories.values())
        n_cat = len(cats)
        sev = np.array([sc.severity.minor, sc.severity.major, sc.severity.serious])
        self.classes = np.array([c.share for c in cats])[:, None] * sev[None, :]
        self.cat_factor = np.array([c.effort_factor for c in cats])
        self.rate = (
            sc.arrival_population
            * sc.arrivals.rate_per_1000_per_year
            / 1000.0
            / 365.0
            * _growth_mean(sc)
        )
        self.handover = _handover_days(sc)
        self.sectors = sc.sectors if m.sector_committees else {}
        names = list(self.sectors)
        self.sector_of = [names.index(c.sector) if c.sector in self.sectors else -1 for c in cats]
        self.committees = sc.enterprise.committees if m.enterprise_committees else {}
        self.rooms = sc.stationed_rooms if m.stationed_rooms else {}
        centre = sc.district_centre
        self.joint_on = (
            m.joint_mediation and centre.joint is not None and len(centre.departments) >= 2
        )
        self.expert_at = set(sc.experts.at) if (m.experts and sc.experts.members > 0) else set()
        if self.expert_at and m.circuit_team:  # 巡回调解团 (docs/model.md "Experts")
            self.expert_at |= set(sc.experts.circuit_at)
        n_units = {
            "grid": len(d.grid_names),
            "village": len(d.village_names),
            "township": len(d.township_names),
            "district": 1,
            "sector": len(self.sectors),
            "enterprise": len(self.committees),
            "stationed_room": len(self.rooms),
            "joint": 1 if self.joint_on else 0,
            "township_joint": 0,  # township centres (乡镇矛调中心) are not in the screen
        }
        self.zero = np.zeros((n_cat, 3))
        self.mass = {v: np.zeros((n_units[v], n_cat, 3)) for v in VENUES}
        self.time_mass = {v: np.zeros((n_units[v], n_cat, 3)) for v in VENUES}
        self.resolved = {v: self.zero.copy() for v in VENUES}
        self.resolved_time = {v: self.zero.copy() for v in VENUES}
        self.unresolved = self.zero.copy()
        self.on_the_spot = self.zero.copy()
        # The flow (and time-mass) handed to the district centre, before its triage.
        self.centre_mass = self.zero.copy()
        self.centre_time = self.zero.copy()
        self.rows: list[dict[str, object]] = []
        self.time_limit_escalations = 0.0
        self.expert_cases = 0.0
        self._required = np.array([sc.experts.required.of(s) for s in range(3)])
        # Everything besides a pool's own inputs that its result depends on (the cache key).
        self._context = (
            sc.mechanisms.model_dump_json()
            + sc.overload.model_dump_json()
            + sc.calendars.model_dump_json()
            + sc.experts.model_dump_json()
            + self.cat_factor.tobytes().hex()
        )
        self._spec_keys: dict[int, str] = {}
        # Escalated share (and its time-mass) of one unit of in-firm flow, by class.
        self._firm_escalated = self.zero.copy()
        self._firm_escalated_time = self.zero.copy()

    def follow(self) -> DisputeFlows:
        """Follow every flow from where disputes arise to where they conclude; returns self."""
        self._enterprise_committees()
        self._first_venues()
        self._ladder()
        self._district_centre()
        self._top_venues()
        return self

    # -- one pool

    def _approximate(
        self, spec: PoolSpec, venue: str, name: str, ft: int, pt: int, mm: np.ndarray, here: bool
    ) -> PoolResult | None:
        """The pool serving ``mm`` at one unit (from the cache when its inputs were seen)."""
        if ft + pt == 0:
            return None
        if id(spec) not in self._spec_keys:
            self._spec_keys[id(spec)] = spec.model_dump_json()
        key = (self._context, self._spec_keys[id(spec)], venue, ft, pt, here, mm.tobytes())
        hit = self.cache.pool(key, self.scenario, spec, venue, ft, pt, mm, self.cat_factor, here)
        assert hit is not None  # a pool with mediators always has a result
        # A copy: the cached result is shared by every unit with the same inputs.
        row = dict(hit.row, unit=name)
        return PoolResult(row, hit.p_resolve, hit.p_time_limit, hit.t_done, hit.t_limit)

    def _serve(
        self, venue: str, j: int, spec: PoolSpec, ft: int, pt: int, name: str, top: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Serve the flow waiting at one unit; return the escalated flow (mass, time-mass)."""
        zero = self.zero
        mm, tm = self.mass[venue][j], self.time_mass[venue][j]
        here = venue in self.expert_at
        if here:
            self.expert_cases += float((mm * self._required[None, :]).sum())
        r = self._approximate(spec, venue, name, ft, pt, mm, here)
        if r is None:
            if top:
                self.unresolved[:] += mm
                return zero, zero
            return mm, tm
        r.row["township"] = _township_of(self.district, venue, j)
        self.rows.append(r.row)
        pres = r.p_resolve[None, :]
        self.resolved[venue][:] += mm * pres
        p_fail = (1.0 - r.p_time_limit) - pres
        out_m = mm * (p_fail + r.p_time_limit)
        if math.isfinite(r.t_done) and math.isfinite(r.t_limit):
            done_t = tm + mm * r.t_done
            self.resolved_time[venue][:] += done_t * pres
            out_t = done_t * p_fail + (tm + mm * r.t_limit) * r.p_time_limit
        else:
            resolved_t, out_t = _overloaded_times(r, mm, tm, pres, p_fail)
            self.resolved_time[venue][:] += resolved_t
        if top:
            self.unresolved[:] += out_m
            return zero, zero
        self.time_limit_escalations += float(mm.sum()) * r.p_time_limit
        return out_m, out_t

    # -- the routing, in the model's order

    def _enterprise_committees(self) -> None:
        """Enterprise committees first: their arrivals do not depend on the ladder."""
        if not self.committees:
            return
        cats, cls, rate = self.categories, self.classes, self.rate
        ent_share = np.array([c.enterprise_share for c in cats])
        weights = np.array([c.weight for c in self.committees.values()])
        weights = weights / weights.sum()
        unit_flow = cls * ent_share[:, None]
        for j, (name, c) in enumerate(self.committees.items()):
            self.mass["enterprise"][j] = rate * unit_flow * weights[j]
            out_m, out_t = self._serve(
                "enterprise", j, self.scenario.enterprise, c.full_time, c.part_time, name, False
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                flow = rate * unit_flow
                self._firm_escalated += np.where(flow > 0, out_m / flow, 0.0)
                self._firm_escalated_time += np.where(flow > 0, out_t / flow, 0.0)

    def _first_venues(self) -> None:
        """Sweeps and on-the-spot settlement, direct reports by entry level and sector, and
        what enterprise committees escalate: the flows into the first venues."""
        sc, d, m = self.scenario, self.district, self.scenario.mechanisms
        mass, tmass = self.mass, self.time_mass
        cats, cls, rate = self.categories, self.classes, self.rate
        n_cat = len(cats)
        ent_share = (
            np.array([c.enterprise_share for c in cats]) if self.committees else np.zeros(n_cat)
        )
        disc = sc.discovery
        sweeping = m.sweeps and disc.sweep_share > 0
        sweep_wait = disc.sweep_interval_days * (
            0.5 + (1 - disc.detect_probability) / disc.detect_probability
        )
        spot_p = (
            np.array([disc.on_the_spot.of(s) for s in range(3)]) if m.on_the_spot else np.zeros(3)
        )
        report_delay = disc.self_report_delay_days.mean if m.self_report_delays else 0.0
        entry = disc.self_report_entry.as_tuple()
        vshare = np.asarray(d.village_weight) / sum(d.village_weight)
        # Flows into the first venues, for all villages at once (arrays village × category × sev).
        v_town = np.asarray(d.village_township)
        g_village = np.asarray(d.grid_village)
        per_grid = 1.0 / np.array([len(d.village_grids[v]) for v in g_village])[:, None, None]
        flow = rate * vshare[:, None, None] * cls[None] * (1 - ent_share)[None, :, None]
        if sweeping:
            swept = flow * disc.sweep_share
            spot = swept * spot_p[None, None, :]
            self.on_the_spot += spot.sum(axis=0)
            self.resolved["grid"] += spot.sum(axis=0)
            self.resolved_time["grid"] += spot.sum(axis=0) * sweep_wait
            left = (swept - spot)[g_village] * per_grid
            mass["grid"] += left
            tmass["grid"] += left * sweep_wait
            reported = flow * (1 - disc.sweep_share)
        else:
            reported = flow
        names = list(self.sectors)
        direct_share = np.array(
            [self.sectors[names[s]].direct_share if s >= 0 else 0.0 for s in self.sector_of]
        )
        direct = reported * direct_share[None, :, None]
        for ci, s in enumerate(self.sector_of):
            if s >= 0:
                mass["sector"][s][ci] += direct[:, ci].sum(axis=0)
                tmass["sector"][s][ci] += direct[:, ci].sum(axis=0) * report_delay
        reported = reported - direct
        at_grid = reported[g_village] * per_grid * entry[0]
        mass["grid"] += at_grid
        tmass["grid"] += at_grid * report_delay
        mass["village"] += reported * entry[1]
        tmass["village"] += reported * entry[1] * report_delay
        np.add.at(mass["township"], v_town, reported * entry[2])
        np.add.at(tmass["township"], v_town, reported * entry[2] * report_delay)
        self.centre_mass += reported.sum(axis=0) * entry[3]
        self.centre_time += reported.sum(axis=0) * entry[3] * report_delay
        if self.committees:
            in_firm = rate * vshare[:, None, None] * (cls * ent_share[:, None])[None]
            em = in_firm * self._firm_escalated[None]
            et = in_firm * self._firm_escalated_time[None] + em * self.handover[None]
            escalate_to = sc.enterprise.escalate_to
            if escalate_to == "village":
                mass["village"] += em
                tmass["village"] += et
            elif escalate_to == "township":
                np.add.at(mass["township"], v_town, em)
                np.add.at(tmass["township"], v_town, et)
            else:
                self.centre_mass += em.sum(axis=0)
                self.centre_time += et.sum(axis=0)

    def _ladder(self) -> None:
        """Grid → village → township, with a hand-over between; what fails goes up."""
        d, ladder, handover = self.district, self.scenario.ladder, self.handover
        mass, tmass = self.mass, self.time_mass
        for g, staff in enumerate(d.staffing["grid"]):
            out_m, out_t = self._serve(
                "grid", g, ladder.grid, staff.full_time, staff.part_time, d.grid_names[g], False
            )
            vi = d.grid_village[g]
            mass["village"][vi] += out_m
            tmass["village"][vi] += out_t + out_m * handover
        for vi, staff in enumerate(d.staffing["village"]):
            out_m, out_t = self._serve(
                "village", vi, ladder.village, staff.full_time, staff.part_time,
                d.village_names[vi], False,
            )  # fmt: skip
            ti = d.village_township[vi]
            mass["township"][ti] += out_m
            tmass["township"][ti] += out_t + out_m * handover
        centre = self.scenario.district_centre
        summon = (
            np.array([centre.summon_probability.of(s) for s in range(3)])[None, :]
            if self.joint_on
            else np.zeros((1, 3))
        )
        for ti, staff in enumerate(d.staffing["township"]):
            out_m, out_t = self._serve(
                "township", ti, ladder.township, staff.full_time, staff.part_time,
                d.township_names[ti], False,
            )  # fmt: skip
            out_t = out_t + out_m * handover
            if self.joint_on:
                mass["joint"][0] += out_m * summon
                tmass["joint"][0] += out_t * summon
            self.centre_mass += out_m * (1 - summon)
            self.centre_time += out_t * (1 - summon)

    def _district_centre(self) -> None:
        """Triage at the district centre: sector committee, joint mediation or the district."""
        centre = self.scenario.district_centre
        centre_m, centre_t = self.centre_mass, self.centre_time
        joint_p = (
            np.array([centre.joint_share.of(s) for s in range(3)])[None, :]
            if self.joint_on
            else np.zeros((1, 3))
        )
        for ci, s in enumerate(self.sector_of):
            if s >= 0:
                self.mass["sector"][s][ci] += centre_m[ci]
                self.time_mass["sector"][s][ci] += centre_t[ci]
                centre_m[ci] = 0.0
                centre_t[ci] = 0.0
        if self.joint_on:
            self.mass["joint"][0] += centre_m * joint_p
            self.time_mass["joint"][0] += centre_t * joint_p
        self.mass["district"][0] += centre_m * (1 - joint_p)
        self.time_mass["district"][0] += centre_t * (1 - joint_p)

    def _top_venues(self) -> None:
        """The venues nothing is above: what they do not resolve stays unresolved."""
        sc = self.scenario
        top = self.district.staffing["district"][0]
        self._serve(
            "district", 0, sc.ladder.district, top.full_time, top.part_time, "district", True
        )
        for s, (name, committee) in enumerate(self.sectors.items()):
            self._serve(
                "sector", s, committee, committee.full_time, committee.part_time, name, True
            )
        centre = sc.district_centre
        if self.joint_on and centre.joint is not None:
            # Department staff are pooled as min(staff) servers (an approximation it states).
            staff = [dep.staff for dep in centre.departments.values()]
            self._serve("joint", 0, centre.joint, max(1, min(staff)), 0, "joint", True)
        for j, (name, room) in enumerate(self.rooms.items()):
            self.mass["stationed_room"][j] = room.referrals_per_year / 365.0 * self.classes
            self._serve("stationed_room", j, room, room.full_time, room.part_time, name, True)


def _handover_days(sc: Scenario) -> np.ndarray:
    """Mean hand-over delay per category (a column): offline for the sensitive share."""
    cats = sc.categories.values()
    if not sc.mechanisms.handover_delays:
        return np.zeros((len(cats), 1))
    sensitive = np.array([c.sensitive_share for c in cats])
    ch = sc.channels
    mean = sensitive * ch.offline_delay_days.mean + (1 - sensitive) * ch.online_delay_days.mean
    return mean[:, None]


def _overloaded_times(
    r: PoolResult, mm: np.ndarray, tm: np.ndarray, pres: np.ndarray, p_fail: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Time-mass resolved at and escalated from a pool whose times are not all finite.

    An overloaded pool has infinite time on a branch of zero weight: 0 · ∞ counts as 0.
    """
    with np.errstate(invalid="ignore"):
        done_t = np.nan_to_num(tm + mm * r.t_done, nan=0.0, posinf=np.inf)
        limit_t = np.nan_to_num(tm + mm * r.t_limit, nan=0.0, posinf=np.inf)
        resolved_t = np.nan_to_num(done_t * pres, nan=0.0, posinf=np.inf)
        out_t = np.nan_to_num(done_t * p_fail, nan=0.0, posinf=np.inf) + np.nan_to_num(
            limit_t * r.p_time_limit, nan=0.0, posinf=np.inf
        )
    return resolved_t, out_t


def _township_of(d: District, venue: str, j: int) -> str | None:
    if venue == "township":
        return d.township_names[j]
    if venue == "village":
        return d.township_names[d.village_township[j]]
    if venue == "grid":
        return d.township_names[d.village_township[d.grid_village[j]]]
    return None
