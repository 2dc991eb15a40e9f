"""The lever catalogue (政策杠杆): what a planner can move, by how much, and at what yearly cost.

``[levers]`` is optional: every lever has its defaults here, so a scenario without the table
gets the whole catalogue. Each lever has a step (one unit of change, 一档), an upper bound and,
where the scenario's ``[costs]`` has no figure, a unit cost in yuan a year ([EST] defaults,
reasoned in docs/scenario.md). ``sim explain`` moves each lever one step (paired replications
with common random numbers) and ranks them per step and per 10,000 yuan (sim/sizing/explain.py).
Nothing here changes a simulation: the catalogue is read by the sizing layer only.
"""

from __future__ import annotations

from pydantic import Field

from sim.scenario.schema_base import SchemaModel

__all__ = [
    "CaseRewardLever",
    "ExpertsLever",
    "GoldMedalLever",
    "HeadcountLever",
    "Levers",
    "MediationShareLever",
    "PetitionAgentsLever",
    "SweepsLever",
    "TrainingLever",
]


class HeadcountLever(SchemaModel):
    """专职人数: one more full-time mediator in every unit of a kind (bounds: sizing's levers)."""

    enabled: bool = True


class TrainingLever(SchemaModel):
    """培训: ``ladder.<level>.training_hours_per_year`` of every level, in hours a year."""

    enabled: bool = True
    step: float = Field(default=8.0, gt=0, le=2000, description="hours a year (one day)")
    upper: float = Field(default=80.0, ge=0, le=2000, description="hours a year at most")
    unit_cost_yuan: float | None = Field(
        default=None, ge=0, description="yuan per mediator-hour; else costs.training_yuan_per_hour"
    )


class GoldMedalLever(SchemaModel):
    """金牌调解员: ``ladder.<level>.gold_medal_share`` of every level."""

    enabled: bool = True
    step: float = Field(default=0.05, gt=0, le=1, description="share of the level's mediators")
    upper: float = Field(default=0.5, ge=0, le=1)
    unit_cost_yuan: float = Field(
        default=6000.0, ge=0, description="yuan a year per gold-medal mediator (award + rewards)"
    )


class ExpertsLever(SchemaModel):
    """专家库: ``experts.members`` (the fee per case stays in the cost table)."""

    enabled: bool = True
    step: float = Field(default=1.0, ge=1, le=100, description="members")
    upper: float = Field(default=40.0, ge=0, le=10000)
    unit_cost_yuan: float = Field(default=12000.0, ge=0, description="retainer per member-year")


class PetitionAgentsLever(SchemaModel):
    """信访代办员: ``petition_agents.coverage``, the share of villages with agents."""

    enabled: bool = True
    step: float = Field(default=0.25, gt=0, le=1, description="share of villages")
    upper: float = Field(default=1.0, ge=0, le=1)
    unit_cost_yuan: float | None = Field(
        default=None, ge=0, description="per agent-year; else costs.petition_agent_allowance_yuan"
    )


class SweepsLever(SchemaModel):
    """排查频次: sweeps per grid a year (``discovery.sweep_interval_days`` = 365 / sweeps)."""

    enabled: bool = True
    step: float = Field(default=26.0, gt=0, le=365, description="sweeps a grid-year (fortnightly)")
    upper: float = Field(default=365.0, gt=0, le=8760, description="sweeps a grid-year at most")
    unit_cost_yuan: float = Field(default=30.0, ge=0, description="yuan per grid-worker hour")
    hours_per_sweep: float | None = Field(
        default=None, gt=0, le=168, description="else discovery.sweep_hours_per_grid, else 1"
    )


class MediationShareLever(SchemaModel):
    """兼职精力: ``calendars.part_time.mediation_share``, time bought from other duties."""

    enabled: bool = True
    step: float = Field(default=0.05, gt=0, le=1, description="share of working time")
    upper: float = Field(default=1.0, gt=0, le=1)
    unit_cost_yuan: float = Field(default=30.0, ge=0, description="yuan per bought hour")


class CaseRewardLever(SchemaModel):
    """以奖代补: ``costs.case_reward_yuan`` of every venue, yuan per resolved case."""

    enabled: bool = True
    step: float = Field(default=50.0, gt=0, le=100000, description="yuan per resolved case")
    upper: float = Field(default=1000.0, ge=0, le=1000000)


class Levers(SchemaModel):
    """``[levers]``: the catalogue ``sim explain`` ranks (defaults for every lever)."""

    headcount: HeadcountLever = HeadcountLever()
    training: TrainingLever = TrainingLever()
    gold_medal: GoldMedalLever = GoldMedalLever()
    experts: ExpertsLever = ExpertsLever()
    petition_agents: PetitionAgentsLever = PetitionAgentsLever()
    sweeps: SweepsLever = SweepsLever()
    mediation_share: MediationShareLever = MediationShareLever()
    case_reward: CaseRewardLever = CaseRewardLever()
