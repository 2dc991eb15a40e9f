"""The seed notice's staffing quotas (township ≥ 2, village ≥ 1 where conditions allow, …)."""

from __future__ import annotations

from sim.scenario.district import District
from sim.scenario.schema import Scenario

__all__ = ["quota_warnings"]


def quota_warnings(scenario: Scenario) -> list[str]:
    """Where the scenario's full-time staffing is below the seed's quotas (not an error)."""
    q = scenario.quotas
    d = District.from_scenario(scenario)
    out = []
    for name, s in zip(d.township_names, d.staffing["township"], strict=True):
        if s.full_time < q.township_full_time:
            out.append(
                f"township {name}: {s.full_time} full-time mediators, "
                f"below the quota of {q.township_full_time} (乡镇调委会 ≥ {q.township_full_time})"
            )
    with_staff = [s.full_time for s in d.staffing["village"] if s.full_time > 0]
    if with_staff and min(with_staff) < q.village_full_time:
        out.append(
            f"villages with full-time staff have {min(with_staff)}, "
            f"below the quota of {q.village_full_time}"
        )
    for name, c in scenario.sectors.items():
        if c.full_time < q.sector_full_time:
            out.append(
                f"sector committee {name}: {c.full_time} full-time, below the quota of "
                f"{q.sector_full_time} (行业性专业性调委会 ≥ {q.sector_full_time})"
            )
    for name, r in scenario.stationed_rooms.items():
        if r.full_time < q.stationed_room_full_time:
            out.append(
                f"stationed room {name}: {r.full_time} full-time, below the quota of "
                f"{q.stationed_room_full_time} (派驻调解工作室 ≥ {q.stationed_room_full_time})"
            )
    for name, e in scenario.enterprise.committees.items():
        if e.full_time < q.enterprise_full_time:
            out.append(
                f"enterprise committee {name}: {e.full_time} full-time, below "
                f"{q.enterprise_full_time} (有条件的企业调委会 ≥ {q.enterprise_full_time})"
            )
    departments = len(scenario.district_centre.departments)
    if scenario.experts.members and scenario.experts.members < 2 * departments:
        out.append(
            f"expert pool: {scenario.experts.members} members, below 2 per department "
            f"({departments} departments; 每个职能部门推荐2名以上)"
        )
    return out
