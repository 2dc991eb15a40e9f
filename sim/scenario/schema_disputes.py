"""Scenario sections about places and disputes: townships, arrivals, categories, how disputes
are found and reported, how they worsen, and the petitions (信访) of parties who give up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.distributions import Distribution, Exponential
from sim.scenario.schema_base import (
    NAME_MAX_LENGTH,
    LevelShares,
    SchemaModel,
    SeverityFactors,
    SeverityProbabilities,
)

__all__ = [
    "Arrivals",
    "Category",
    "Channels",
    "Discovery",
    "Entry",
    "Overload",
    "PatienceDays",
    "PetitionAgents",
    "PetitionHistory",
    "PetitionLinks",
    "Petitions",
    "SpecialTeam",
    "Township",
    "Worsening",
]


class Township(SchemaModel):
    """A township-level unit (乡镇/街道) and the villages (村/社区) and grids (网格) in it."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    pinyin: str = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, pattern=r"^[A-Za-z][A-Za-z0-9 _'-]*$"
    )
    kind: Literal["subdistrict", "town", "township"] = "township"
    population: int = Field(gt=0)
    villages: int = Field(ge=1)
    grids: int = Field(ge=1)
    village_names: list[str] | None = None
    full_time: int | None = Field(default=None, ge=0, description="override of ladder.township")
    part_time: int | None = Field(default=None, ge=0, description="override of ladder.township")
    villages_with_full_time: int | None = Field(default=None, ge=0)
    travel_factor: float = Field(
        default=1.0,
        ge=0,
        le=20,
        description="multiplies travel_hours of sessions for disputes of this township",
    )
    villages_with_petition_agent: int | None = Field(
        default=None, ge=0, description="信访代办员: villages with agents; else the coverage"
    )
    seat_distance_km: float = Field(
        default=0.0, ge=0, le=500, description="mean road distance, village to township seat"
    )
    rate_multiplier: float = Field(
        default=1.0,
        gt=0,
        le=20,
        description="per-capita dispute rate relative to arrivals.rate_per_1000_per_year",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Township:
        if self.grids < self.villages:
            raise ValueError(
                f"grids ({self.grids}) must be at least villages ({self.villages}): "
                "every village has at least one grid"
            )
        if self.village_names is not None:
            if len(self.village_names) != self.villages:
                raise ValueError(
                    f"village_names has {len(self.village_names)} names; "
                    f"expected one per village ({self.villages})"
                )
            if len(set(self.village_names)) != len(self.village_names):
                raise ValueError("village_names must be unique within a township")
        if (
            self.villages_with_full_time is not None
            and self.villages_with_full_time > self.villages
        ):
            raise ValueError(
                f"villages_with_full_time ({self.villages_with_full_time}) "
                f"exceeds villages ({self.villages})"
            )
        if (
            self.villages_with_petition_agent is not None
            and self.villages_with_petition_agent > self.villages
        ):
            raise ValueError(
                f"villages_with_petition_agent ({self.villages_with_petition_agent}) "
                f"exceeds villages ({self.villages})"
            )
        return self

    def village_ids(self) -> list[str]:
        """The villages' names: as given, or ``<pinyin>-V01`` … when only a count is given."""
        if self.village_names is not None:
            return list(self.village_names)
        return [f"{self.pinyin}-V{k + 1:02d}" for k in range(self.villages)]


class Arrivals(SchemaModel):
    """New disputes: Poisson, scaled by population, with monthly seasonality and growth."""

    rate_per_1000_per_year: float = Field(ge=0)
    seasonality: list[float] = Field(default_factory=lambda: [1.0] * 12)
    growth_per_year: float = Field(default=0.0, gt=-1, le=10)

    @field_validator("seasonality")
    @classmethod
    def _twelve_months(cls, v: list[float]) -> list[float]:
        if len(v) != 12:
            raise ValueError(f"expected 12 monthly multipliers (Jan..Dec), got {len(v)}")
        if any(x < 0 for x in v):
            raise ValueError("monthly multipliers must be non-negative")
        if sum(v) <= 0:
            raise ValueError("at least one monthly multiplier must be positive")
        return v


class Category(SchemaModel):
    """A dispute category (纠纷类型)."""

    label: str = ""
    share: float = Field(ge=0, le=1)
    sensitive_share: float = Field(default=0.0, ge=0, le=1)
    effort_factor: float = Field(default=1.0, gt=0)
    sector: str | None = None
    enterprise_share: float = Field(default=0.0, ge=0, le=1)
    departments: list[str] = Field(default_factory=list)

    @field_validator("departments")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"departments must not repeat: {v}")
        return v


class Discovery(SchemaModel):
    """How disputes come to light: the weekly sweep (排查) or a direct report (自行申请)."""

    sweep_share: float = Field(ge=0, le=1)
    sweep_interval_days: float = Field(default=7.0, gt=0, le=365)
    detect_probability: float = Field(default=1.0, gt=0, le=1)
    on_the_spot: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    self_report_delay_days: Distribution = Exponential(dist="exponential", mean=1.0)
    self_report_entry: LevelShares = LevelShares(grid=1.0)
    sweep_hours_per_grid: float = Field(
        default=0.0,
        ge=0,
        le=168,
        description="grid worker's hours per sweep of one grid (0: sweeps cost no time)",
    )
    # With mechanisms.discovery_race only: parties who never report; only a sweep finds them.
    never_self_report_share: float = Field(default=0.0, ge=0, le=1)


class Entry(SchemaModel):
    """Where a self-reporting party goes (mechanisms.entry_choice): a multinomial logit.

    The intercepts are the logs of ``discovery.self_report_entry``, the shares of a village
    whose supply is at the reference below; each effect is a log-odds shift per unit of supply
    away from its reference, toward the local alternatives it names.
    """

    full_time_mediator: float = Field(
        default=0.0, ge=-10, le=10, description="log-odds toward village entry: 专职调解员"
    )
    petition_agent: float = Field(
        default=0.0, ge=-10, le=10, description="log-odds toward grid/village: 信访代办员"
    )
    distance_per_10km: float = Field(
        default=0.0, ge=-10, le=10, description="log-odds toward grid/village per 10 km to seat"
    )
    reference_full_time_share: float = Field(default=0.0, ge=0, le=1)
    reference_petition_agent_share: float = Field(default=0.0, ge=0, le=1)
    reference_seat_distance_km: float = Field(default=0.0, ge=0, le=500)


class PetitionAgents(SchemaModel):
    """Village petition agents (村(社)网格信访代办员): where they are, how many per village."""

    coverage: float = Field(
        default=0.0, ge=0, le=1, description="share of villages with agents, unless a township says"
    )
    per_village: int = Field(default=1, ge=1, le=100)


class Channels(SchemaModel):
    """Reporting delay on each hand-over: 线上 online (平安通), 线下 offline (sensitive cases)."""

    online_delay_days: Distribution = Exponential(dist="exponential", mean=1.0)
    offline_delay_days: Distribution = Exponential(dist="exponential", mean=0.5)


def _no_worsening() -> dict[Literal["minor", "major"], float]:
    return {"minor": 0.0, "major": 0.0}


class Worsening(SchemaModel):
    """A dispute left unattended can worsen one severity step (minor → major → serious)."""

    rate_per_day: dict[Literal["minor", "major"], float] = Field(default_factory=_no_worsening)

    @field_validator("rate_per_day")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if x < 0:
                raise ValueError(f"rate for {k} must be non-negative, got {x}")
        return v


class Overload(SchemaModel):
    """An overloaded mediator settles less.

    Success probability × max(floor, 1 − penalty × cases waiting per mediator of the pool).
    """

    penalty_per_waiting_case: float = Field(default=0.0, ge=0, le=1)
    floor: float = Field(default=0.5, ge=0, le=1)


class PatienceDays(SeverityFactors):
    """Mean patience in days from arising, by initial severity (defaults are assumptions)."""

    minor: float = Field(default=90.0, gt=0)
    major: float = Field(default=60.0, gt=0)
    serious: float = Field(default=45.0, gt=0)


class PetitionHistory(SchemaModel):
    """Log-odds shifts of the skip-level and repeat shares by the case's history
    (mechanisms.petition_history). Defaults are [EST]: a party whose case failed or ran out of
    time, or who petitioned before, is more likely to go over heads and to come back."""

    failed: float = Field(default=0.5, ge=-10, le=10, description="a mediation step failed")
    timed_out: float = Field(default=0.7, ge=-10, le=10, description="a step hit its time limit")
    petitioned_before: float = Field(default=1.0, ge=-10, le=10, description="repeat petitions")


class PetitionLinks(SchemaModel):
    """The notice's 四(三)8–10 around petitions, each behind its switch in ``mechanisms``.

    Defaults are [EST] (docs/model.md, "Petition agents, 访调对接, visits and counselling").
    """

    # mechanisms.petition_agent_effect: 变群众跑为干部跑 in villages with a petition agent.
    agent_give_up_factor: float = Field(
        default=0.6, gt=0, le=1, description="× the hazard of giving up (petitioning)"
    )
    agent_skip_level_factor: float = Field(
        default=0.5, ge=0, le=1, description="× the skip-level share of a petition"
    )
    # mechanisms.petition_mediation: 访调对接.
    mediation_share: float = Field(
        default=0.3, ge=0, le=1, description="share of first petitions routed into mediation"
    )
    # mechanisms.leader_visits: 领导干部下访、约访 and 教育疏导.
    visit_review_log_odds: float = Field(
        default=0.5, ge=-10, le=10, description="log-odds added to a backlog review's success"
    )
    counselling_repeat_factor: float = Field(
        default=0.7, ge=0, le=1, description="× the repeat probability after counselling"
    )


class SpecialTeam(SchemaModel):
    """专案经营 (mechanisms.special_teams): the district's 信访疑难积案工作专班.

    A backlog case of a repeat petition (缠访) or of a case whose mediation failed at two or
    more ladder steps (多次调解不成功) is taken, after the application's approval, by the special
    team instead of a leader. Defaults are [EST] (docs/model.md "Special teams (专案经营)").
    """

    cases: int = Field(default=4, ge=0, description="backlog cases the team works at once")
    approval_days: float = Field(
        default=14.0, ge=0, description="申请 → 区委分管领导同意: days before the team takes it"
    )
    review_interval_days: float = Field(default=15.0, gt=0, description="专题分析研究 interval")
    review_resolve_probability: float = Field(
        default=0.35, ge=0, le=1, description="chance a review settles the case"
    )


class Petitions(SchemaModel):
    """信访: a party whose patience runs out leaves the ladder and petitions; backlog (积案)."""

    patience_days: PatienceDays = PatienceDays()
    skip_level_share: float = Field(default=0.2, ge=0, le=1)
    handling_days: Distribution = Exponential(dist="exponential", mean=30.0)
    resolve_probability: float = Field(default=0.5, ge=0, le=1)
    backlog_after_days: float = Field(default=90.0, gt=0)
    leader_cases: int = Field(default=10, ge=0)
    review_interval_days: float = Field(default=30.0, gt=0)
    review_resolve_probability: float = Field(default=0.2, ge=0, le=1)
    hearing_share: float = Field(default=0.3, ge=0, le=1)
    hearing_after_reviews: int = Field(default=2, ge=1)
    hearing_finality: float = Field(default=0.7, ge=0, le=1)
    evaluation_interval_days: float = Field(default=30.0, gt=0)
    repeat_probability: float = Field(default=0.1, ge=0, le=1)
    repeat_delay_days: Distribution = Exponential(dist="exponential", mean=120.0)
    history: PetitionHistory = PetitionHistory()
    links: PetitionLinks = PetitionLinks()
    special_team: SpecialTeam = SpecialTeam()
