"""The seed notice's staffing quotas (township ≥ 2, village ≥ 1 where conditions allow, …)."""

from __future__ import annotations

from .district import District
from .scenario import Scenario

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
    return out
