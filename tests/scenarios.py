"""Scenario builders shared by the tests."""

from __future__ import annotations

from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small.toml"

ALL_OFF = [
    f"mechanisms.{name}=false"
    for name in sim.Scenario.model_fields["mechanisms"].annotation.model_fields
]


def jackson(
    township_effort_hours: float = 146.0,
    *extra: str,
    horizon: float = 4000.0,
    entry: str = "grid",
) -> sim.Scenario:
    """The small district with every mechanism off: an open Jackson network of M/M/c pools.

    Every dispute enters at its grid; resolution probabilities depend on the level only (as in
    the reference network of shared/bench): grid 0.5, village 0.6, township 0.7, district 1.
    The township effort sets the load of 甲镇's township pool (146 h → utilisation 0.6 when
    disputes enter at the grid; 43.8 h → 0.9 when they all enter at the township).
    """
    overrides = [
        *ALL_OFF,
        "arrivals.rate_per_1000_per_year=60",
        f"run.horizon_days={horizon}",
        "run.warmup_days=300",
        "run.drain_limit_days=36500",
        f"discovery.self_report_entry={{{entry}=1.0}}",
        "ladder.grid.full_time=0",
        "ladder.grid.part_time=1",
        'ladder.grid.effort_hours={dist="exponential", mean=12.0}',
        "ladder.village.full_time=1",
        "ladder.village.full_time_coverage=1.0",
        "ladder.village.part_time=0",
        'ladder.village.effort_hours={dist="exponential", mean=72.0}',
        "ladder.township.full_time=2",
        "ladder.township.part_time=0",
        f'ladder.township.effort_hours={{dist="exponential", mean={township_effort_hours}}}',
        "ladder.district.full_time=2",
        "ladder.district.part_time=0",
        'ladder.district.effort_hours={dist="exponential", mean=336.0}',
    ]
    for level, p in (("grid", 0.5), ("village", 0.6), ("township", 0.7), ("district", 1.0)):
        probs = f"{{minor={p}, major={p}, serious={p}}}"
        overrides += [
            f"ladder.{level}.resolve.full_time={probs}",
            f"ladder.{level}.resolve.part_time={probs}",
        ]
    return sim.load_scenario(SMALL, [*overrides, *extra])
