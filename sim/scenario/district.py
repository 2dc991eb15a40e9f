"""The district as the model sees it: a tree of places and the mediator pools at each level.

Built once per replication from a :class:`~sim.scenario.schema.Scenario`; holds no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS

__all__ = ["District", "Staffing"]


@dataclass(frozen=True)
class Staffing:
    """Mediators of one unit (a grid, village, township or the district) at its level."""

    full_time: int
    part_time: int

    @property
    def number_of_servers(self) -> int:
        """Mediators of the unit, full- and part-time together."""
        return self.full_time + self.part_time


@dataclass
class District:
    """Places as parallel arrays: index i of ``grid_village`` is grid i's village, and so on."""

    township_names: list[str]
    township_pinyin: list[str]
    village_names: list[str]
    village_township: list[int]
    village_population: list[float]
    # Where disputes arise: population × the township's rate_multiplier (= population when 1).
    village_weight: list[float]
    grid_names: list[str]
    grid_village: list[int]
    village_grids: list[list[int]]
    staffing: dict[str, list[Staffing]] = field(default_factory=dict)
    # Per village: petition agents (信访代办员) and the distance to its township seat (km).
    village_petition_agents: list[int] = field(default_factory=list)
    village_seat_distance_km: list[float] = field(default_factory=list)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> District:
        """The places of ``scenario`` numbered in order, and the staffing of every unit."""
        t_names: list[str] = []
        t_pinyin: list[str] = []
        v_names: list[str] = []
        v_township: list[int] = []
        v_pop: list[float] = []
        v_weight: list[float] = []
        g_names: list[str] = []
        g_village: list[int] = []
        v_grids: list[list[int]] = []
        for ti, t in enumerate(scenario.townships):
            t_names.append(t.name)
            t_pinyin.append(t.pinyin)
            # Population split evenly over villages; grids spread as evenly as they go.
            per_village = t.population / t.villages
            base, extra = divmod(t.grids, t.villages)
            for vk, vname in enumerate(t.village_ids()):
                vi = len(v_names)
                v_names.append(vname)
                v_township.append(ti)
                v_pop.append(per_village)
                v_weight.append(per_village * t.rate_multiplier)
                grids_here = []
                for gk in range(base + (1 if vk < extra else 0)):
                    grids_here.append(len(g_names))
                    g_names.append(f"{vname}-G{gk + 1:02d}")
                    g_village.append(vi)
                v_grids.append(grids_here)
        district = cls(
            t_names, t_pinyin, v_names, v_township, v_pop, v_weight, g_names, g_village, v_grids
        )
        district.staffing = _staffing(scenario, district)
        district.village_petition_agents = _petition_agents(scenario, district)
        district.village_seat_distance_km = [
            scenario.townships[ti].seat_distance_km for ti in v_township
        ]
        return district

    def units(self, level: str) -> int:
        """Number of units (grids, villages, townships, committees…) at ``level``."""
        return len(self.staffing[level])

    def unit_of(self, level: str, grid: int) -> int:
        """Index of the unit at ``level`` that serves ``grid``."""
        if level == "grid":
            return grid
        village = self.grid_village[grid]
        if level == "village":
            return village
        if level == "township":
            return self.village_township[village]
        return 0

    def grid_units(self) -> list[tuple[int, int, int, int]]:
        """For each grid, the unit of each level (grid, village, township, district) serving it:
        ``unit_of`` for every level at once, as a table for the simulation's hot loop."""
        return [(g, v, self.village_township[v], 0) for g, v in enumerate(self.grid_village)]

    def unit_names(self, level: str) -> list[str]:
        """Names of the units of a ladder level, in unit order."""
        return {
            "grid": self.grid_names,
            "village": self.village_names,
            "township": self.township_names,
            "district": ["district"],
        }[level]

    def petition_agents(self) -> int:
        """Village petition agents (信访代办员) over the district."""
        return sum(self.village_petition_agents)

    def full_time_mediators(self) -> dict[str, int]:
        """Full-time mediators per ladder level, over all its units."""
        return {lv: sum(s.full_time for s in self.staffing[lv]) for lv in LEVELS}

    def part_time_mediators(self) -> dict[str, int]:
        """Part-time mediators per ladder level, over all its units."""
        return {lv: sum(s.part_time for s in self.staffing[lv]) for lv in LEVELS}


def _staffing(scenario: Scenario, district: District) -> dict[str, list[Staffing]]:
    ladder = scenario.ladder
    out: dict[str, list[Staffing]] = {}

    # Coverage is deterministic: the first round(coverage × n) units get the full-time staff.
    # Grids: the per-unit numbers; coverage picks the first grids of each village.
    g = ladder.grid
    n_full_grids = {
        vi: round(g.full_time_coverage * len(gs)) for vi, gs in enumerate(district.village_grids)
    }
    out["grid"] = []
    for vi, gs in enumerate(district.village_grids):
        for k, _ in enumerate(gs):
            ft = g.full_time if k < n_full_grids[vi] else 0
            out["grid"].append(Staffing(ft, g.part_time))
    # Villages: "有条件的村配备1名以上专职" — a township may say how many of its villages can.
    v = ladder.village
    out["village"] = []
    by_township: list[list[int]] = [[] for _ in scenario.townships]
    for vi, ti in enumerate(district.village_township):
        by_township[ti].append(vi)
    for t, villages in zip(scenario.townships, by_township, strict=True):
        n_full = (
            t.villages_with_full_time
            if t.villages_with_full_time is not None
            else round(v.full_time_coverage * len(villages))
        )
        for k, _ in enumerate(villages):
            out["village"].append(Staffing(v.full_time if k < n_full else 0, v.part_time))
    # Townships: the level's numbers, unless the township row overrides them.
    tw = ladder.township
    n_full_townships = round(tw.full_time_coverage * len(scenario.townships))
    out["township"] = [
        Staffing(
            t.full_time
            if t.full_time is not None
            else (tw.full_time if k < n_full_townships else 0),
            t.part_time if t.part_time is not None else tw.part_time,
        )
        for k, t in enumerate(scenario.townships)
    ]
    d = ladder.district
    out["district"] = [Staffing(d.full_time if d.full_time_coverage > 0 else 0, d.part_time)]
    return out


def _petition_agents(scenario: Scenario, district: District) -> list[int]:
    # As for full-time village mediators: the first villages of each township have them, as many
    # as the township row says, else round(coverage × villages).
    pa = scenario.petition_agents
    out: list[int] = []
    for ti, t in enumerate(scenario.townships):
        villages = sum(1 for tj in district.village_township if tj == ti)
        n = (
            t.villages_with_petition_agent
            if t.villages_with_petition_agent is not None
            else round(pa.coverage * villages)
        )
        out += [pa.per_village if k < n else 0 for k in range(villages)]
    return out
