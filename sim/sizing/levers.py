"""What sizing decides (the levers) and how a staffing becomes a scenario.

A lever is one integer decision: the full-time headcount of a township committee, the number of
villages of a township with a full-time mediator, the district committee, each sector committee,
stationed room and enterprise committee. Part-time staff stay as the scenario gives them. A
staffing is the values of the levers, in the order of :func:`levers`; :func:`apply_staffing`
writes it into a plain scenario table (``Scenario.model_dump``) for validation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.scenario.district import District
from sim.scenario.loading import apply_overrides, load_scenario, parse_override, validate_table
from sim.scenario.schema import Scenario
from sim.sizing.analytic import screen
from sim.sizing.queueing import calendar_fractions

__all__ = [
    "LEVER_KINDS",
    "Lever",
    "Staffing",
    "adjust",
    "apply_staffing",
    "base_table",
    "levers",
    "quota_staffing",
    "scale_demand",
]

LEVER_KINDS: dict[str, str] = {
    "district": "区调委会",
    "township": "乡镇(街道)调委会",
    "village": "村(社区)调委会",
    "sector": "行业性专业性调委会",
    "stationed_room": "派驻调解工作室",
    "enterprise": "企业调委会",
}


# --------------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Lever:
    """One integer decision: a headcount (or number of villages with a full-time mediator).

    ``mediators`` is the number of full-time mediators one step of the lever adds (a village
    step adds ``ladder.village.full_time`` of them); ``salary`` the yearly salary of one step.
    """

    key: str
    kind: str  # district | township | village | sector | stationed_room | enterprise
    place: str  # township name, committee key, or "district"
    label: str
    floor: int
    ceiling: int
    start: int
    mediators: int
    salary: float
    quota: int


Staffing = tuple[int, ...]
"""Values of the levers, in the order of :func:`levers`."""


def levers(scenario: Scenario, allow_below_quota: bool = False) -> list[Lever]:
    """The levers of a scenario with their quota floors and generous ceilings.

    Floors: a township committee ≥ ``quotas.township_full_time``; villages with a full-time
    mediator ≥ the number the scenario already has (those villages "have the conditions", so
    the quota ≥ 1 holds for each of them); sector committees, stationed rooms and enterprise
    committees ≥ their quotas; the district committee has no quota (it keeps at least one
    mediator). With ``allow_below_quota`` every floor is 0 (the district keeps one mediator).
    Ceilings are generous (used to tell an infeasible request from a hard one): the larger of
    twice the start, the floor + 4, and the headcount that brings the pool's screened
    utilisation to 0.3; every village for the village lever.
    """
    sc = scenario
    q = sc.quotas
    m = sc.mechanisms
    d = District.from_scenario(sc)
    costs = sc.costs.full_time_salary_yuan
    pools = screen(sc).pools
    below = allow_below_quota
    out: list[Lever] = []

    def need(venue: str, unit: str, part_time: int) -> int:
        """Full-time headcount that brings the screened utilisation of a pool to 0.3."""
        if not len(pools):
            return 0
        row = pools[(pools["venue"] == venue) & (pools["unit"] == unit)]
        if not len(row):
            return 0
        load = float(row["arrivals_per_year"].iloc[0] * row["effort_hours"].iloc[0])
        f_ft, f_pt = calendar_fractions(sc)
        cap_ft, cap_pt = 24 * 365 * f_ft, 24 * 365 * f_pt
        return max(0, math.ceil((load / 0.3 - part_time * cap_pt) / cap_ft))

    def ceiling(start: int, floor: int, needed: int) -> int:
        return max(2 * start, floor + 4, needed, 1)

    top = sc.ladder.district
    dist_ft = d.staffing["district"][0].full_time
    dist_floor = 0 if top.part_time > 0 else 1
    out.append(
        Lever(
            "district",
            "district",
            "district",
            "区调委会",
            dist_floor,
            ceiling(dist_ft, dist_floor, need("district", "district", top.part_time)),
            dist_ft,
            1,
            costs.district,
            0,
        )
    )
    for t, staff in zip(sc.townships, d.staffing["township"], strict=True):
        floor = 0 if below else q.township_full_time
        out.append(
            Lever(
                f"township:{t.pinyin}",
                "township",
                t.name,
                f"{t.name}调委会",
                floor,
                ceiling(staff.full_time, floor, need("township", t.name, staff.part_time)),
                staff.full_time,
                1,
                costs.township,
                q.township_full_time,
            )
        )
    per_village = sc.ladder.village.full_time
    if per_village > 0:
        villages = d.staffing["village"]
        for ti, t in enumerate(sc.townships):
            mine = [s for s, tj in zip(villages, d.village_township, strict=True) if tj == ti]
            have = sum(1 for s in mine if s.full_time > 0)
            floor = 0 if below else have
            out.append(
                Lever(
                    f"village:{t.pinyin}",
                    "village",
                    t.name,
                    f"{t.name}有专职调解员的村",
                    floor,
                    len(mine),
                    have,
                    per_village,
                    costs.village * per_village,
                    q.village_full_time,
                )
            )
    # Committees around the ladder: one lever each, from its quota up.
    committees = (
        (m.sector_committees, "sector", sc.sectors, q.sector_full_time, costs.sector),
        (
            m.stationed_rooms,
            "stationed_room",
            sc.stationed_rooms,
            q.stationed_room_full_time,
            costs.stationed_room,
        ),
        (
            m.enterprise_committees,
            "enterprise",
            sc.enterprise.committees,
            q.enterprise_full_time,
            costs.enterprise,
        ),
    )
    for on, venue, table, quota, cost in committees:
        if not on:
            continue
        for key, c in table.items():
            floor = 0 if below else quota
            out.append(
                Lever(
                    f"{venue}:{key}",
                    venue,
                    key,
                    c.label or key,
                    floor,
                    ceiling(c.full_time, floor, need(venue, key, c.part_time)),
                    c.full_time,
                    1,
                    cost,
                    quota,
                )
            )
    return out


def apply_staffing(table: dict[str, Any], lv: Sequence[Lever], x: Staffing) -> dict[str, Any]:
    """A copy of a scenario table with the levers set to ``x``."""
    out = copy.deepcopy(table)
    by_pinyin = {t["pinyin"]: t for t in out["townships"]}
    for lever, value in zip(lv, x, strict=True):
        kind, _, key = lever.key.partition(":")
        if kind == "district":
            out["ladder"]["district"]["full_time"] = value
            out["ladder"]["district"]["full_time_coverage"] = 1.0
        elif kind == "township":
            by_pinyin[key]["full_time"] = value
        elif kind == "village":
            by_pinyin[key]["villages_with_full_time"] = value
        elif kind == "sector":
            out["sectors"][key]["full_time"] = value
        elif kind == "stationed_room":
            out["stationed_rooms"][key]["full_time"] = value
        elif kind == "enterprise":
            out["enterprise"]["committees"][key]["full_time"] = value
    return out


def scale_demand(table: dict[str, Any], factor: float) -> dict[str, Any]:
    """Demand × ``factor``: the dispute rate and the court referrals of stationed rooms."""
    out = copy.deepcopy(table)
    out["arrivals"]["rate_per_1000_per_year"] = out["arrivals"]["rate_per_1000_per_year"] * factor
    for room in out.get("stationed_rooms", {}).values():
        room["referrals_per_year"] = room.get("referrals_per_year", 0.0) * factor
    return out


def quota_staffing(lv: Sequence[Lever]) -> Staffing:
    """Every committee with a quota at exactly its quota; villages and district as they are."""
    return tuple(
        lever.start if lever.kind in ("village", "district") else lever.quota for lever in lv
    )


def base_table(
    scenario: Scenario | str | Path | None, overrides: Iterable[str | tuple[str, Any]]
) -> tuple[dict[str, Any], str]:
    """The scenario as a plain table (validated) and the name used in messages."""
    if isinstance(scenario, Scenario):
        table = scenario.model_dump(by_alias=True)
        pairs = [parse_override(o) if isinstance(o, str) else o for o in overrides]
        if pairs:
            table = apply_overrides(table, pairs)
        source = scenario.source_file or scenario.name
        validate_table(table, source)
        return table, source
    sc = load_scenario(scenario, overrides)
    return sc.model_dump(by_alias=True), sc.source_file or sc.name


def adjust(staffing: Staffing, i: int, delta: int) -> Staffing:
    """The staffing with lever ``i`` moved by ``delta`` steps."""
    out = list(staffing)
    out[i] += delta
    return tuple(out)
