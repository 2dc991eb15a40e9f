"""Scenario sections about the run and the policy around the model: run length and seed, the
mechanism switches, KPI targets, costs and grades (以奖代补), staffing quotas, and the caseload
open when the run starts.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.schema_base import LevelAmounts, SchemaModel, check_sum
from sim.scenario.vocabulary import SHARE_KPIS

__all__ = [
    "EARLIEST_START",
    "LATEST_END",
    "Costs",
    "Grades",
    "InitialState",
    "Mechanisms",
    "OpenCases",
    "Quality",
    "Quotas",
    "RunSettings",
    "Target",
    "share_target_problem",
]


EARLIEST_START = dt.date(1700, 1, 1)
"""Earliest ``run.start_date`` (pandas Timestamps begin in 1677-09; see RunSettings)."""
LATEST_END = dt.date(2262, 1, 1)
"""Latest day a run may reach, drain included (pandas Timestamps end 2262-04-11)."""


class RunSettings(SchemaModel):
    """How long to simulate and how many replications."""

    start_date: dt.date = dt.date(2020, 1, 1)
    horizon_days: float = Field(default=365.0, gt=0, le=36500)
    warmup_days: float = Field(default=0.0, ge=0, le=36500)
    drain: bool = True
    drain_limit_days: float = Field(default=365.0, ge=0, le=36500)
    replications: int = Field(default=10, ge=1, le=100000)
    seed: int = Field(default=20200804, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    sample_interval_days: float = Field(default=1.0, gt=0)
    # Accept a run larger than sim.scenario.limits allows (a deliberate, very large scenario).
    allow_large: bool = False

    @model_validator(mode="after")
    def _dates_fit_the_register(self) -> RunSettings:
        # The register stamps times as pandas Timestamps (nanoseconds since 1970), which hold
        # 1677-09-21 to 2262-04-11 only; a run outside them once failed after its first
        # replication. The bounds keep a margin for cases that arose before the start.
        days = self.warmup_days + self.horizon_days + (self.drain_limit_days if self.drain else 0)
        if self.start_date < EARLIEST_START:
            raise ValueError(
                f"start_date must be {EARLIEST_START} or later: the "
                f"register's timestamps reach back to 1677 only"
            )
        if self.start_date.toordinal() + days > LATEST_END.toordinal():
            raise ValueError(
                "start_date plus the run (warm-up, horizon and drain limit: "
                f"{days:g} days) must end by {LATEST_END}: the register's timestamps reach to "
                "2262 only"
            )
        return self


class Mechanisms(SchemaModel):
    """Switches for the behavioural mechanisms; all off reduces the model to a Jackson network."""

    sweeps: bool = True
    on_the_spot: bool = True
    working_calendar: bool = True
    party_delays: bool = True
    time_limits: bool = True
    worsening: bool = True
    handover_delays: bool = True
    self_report_delays: bool = True
    seasonality: bool = True
    growth: bool = True
    overload: bool = True
    effort_factors: bool = True
    sector_committees: bool = True
    enterprise_committees: bool = True
    stationed_rooms: bool = True
    joint_mediation: bool = True
    experts: bool = True
    petitions: bool = True
    mediator_time: bool = True  # mediation shares, travel, sweep hours (off: 1, 0, 0)
    discovery_race: bool = False  # sweep vs own report, whichever first; False: sweep_share
    entry_choice: bool = False  # self-reports enter by a logit on local supply ([entry])
    quality: bool = False  # the register gains columns when on (docs/register.md), so off
    assign_down: bool = False  # 交办属地: the district centre hands cases back to the township
    township_centres: bool = False  # 乡镇矛调中心: joint mediation at the township (venue)
    petition_agent_effect: bool = False  # 信访代办员: fewer petitions, fewer skip-level ones
    petition_history: bool = False  # skip-level and repeat shares by the case's history
    petition_mediation: bool = False  # 访调对接: a share of petitions routed into mediation
    leader_visits: bool = False  # 领导干部下访约访, 教育疏导: backlog reviews, fewer repeats
    court_linkage: bool = False  # 诉调衔接: unresolved cases to court, 诉前委派 back to a room
    cross_village_routing: bool = False  # 乡镇调 takes cross-village disputes directly
    circuit_team: bool = False  # 巡回调解团: experts also at village and township cases
    major_difficult_to_district: bool = False  # 区级调 takes 重大疑难 disputes directly
    special_teams: bool = False  # 专案经营: the hardest backlog cases go to a special team


class Target(SchemaModel):
    """A target on a KPI: at_least or at_most a value."""

    at_least: float | None = None
    at_most: float | None = None
    label: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("expected exactly one of at_least or at_most")
        return self

    @property
    def value(self) -> float:
        """The bound, whichever of at_least or at_most is given."""
        bound = self.at_least if self.at_least is not None else self.at_most
        assert bound is not None  # _one_bound admits exactly one of the two
        return bound

    @property
    def sense(self) -> str:
        """The comparison: ">=" for at_least, "<=" for at_most."""
        return ">=" if self.at_least is not None else "<="

    def met_by(self, x: float) -> bool:
        """Whether the KPI value ``x`` meets the target (NaN never does)."""
        if math.isnan(x):
            return False
        return x >= self.value if self.at_least is not None else x <= self.value


def share_target_problem(kpi: str, target: Target) -> str | None:
    """Why a target on ``kpi`` is impossible as written, or None.

    A share KPI (:data:`~sim.scenario.vocabulary.SHARE_KPIS`) lies between 0 and 1, so a bound
    outside [0, 1] is a percentage typed as a number (80 for 80%): without this check it runs and
    reports ">= 80 … NOT met". The message names the key and the value, for the loader to point at.
    """
    if kpi not in SHARE_KPIS or 0.0 <= target.value <= 1.0:
        return None
    bound = "at_least" if target.at_least is not None else "at_most"
    value = target.value
    hint = f"{value:g}% is {value / 100:g}" if value > 1 else f"{value:g} is negative; 80% is 0.8"
    return f"{kpi}.{bound} = {value:g}: expected a share between 0 and 1 ({hint})"


class Grades(SchemaModel):
    """等级评定: mediator grades and their multipliers on the per-case reward (以奖代补)."""

    shares: dict[str, float] = Field(default_factory=lambda: {"standard": 1.0})
    reward_multiplier: dict[str, float] = Field(default_factory=lambda: {"standard": 1.0})

    @model_validator(mode="after")
    def _consistent(self) -> Grades:
        if any(v < 0 for v in self.shares.values()):
            raise ValueError("grade shares must be non-negative")
        check_sum(self.shares, "grade shares")
        missing = set(self.shares) - set(self.reward_multiplier)
        if missing:
            raise ValueError(f"reward_multiplier is missing grades {sorted(missing)}")
        if any(v < 0 for v in self.reward_multiplier.values()):
            raise ValueError("reward multipliers must be non-negative")
        return self

    @property
    def mean_multiplier(self) -> float:
        """The reward multiplier of a mediator of the grade mix: Σ share × multiplier."""
        return sum(share * self.reward_multiplier[g] for g, share in self.shares.items())


class Costs(SchemaModel):
    """Yearly cost figures in yuan (以奖代补 rewards per resolved case)."""

    full_time_salary_yuan: LevelAmounts = LevelAmounts()
    part_time_allowance_yuan: LevelAmounts = LevelAmounts()
    case_reward_yuan: LevelAmounts = LevelAmounts()
    grades: Grades = Grades()
    purchased_services_yuan: float = Field(default=0.0, ge=0)
    gold_mediator_awards_yuan: float = Field(default=0.0, ge=0, description="金牌调解员 yearly")
    petition_agent_allowance_yuan: float = Field(
        default=0.0, ge=0, description="信访代办员补贴 per agent-year"
    )
    training_yuan_per_hour: float = Field(
        default=0.0, ge=0, description="培训: yuan per mediator per hour of training"
    )


class Quality(SchemaModel):
    """调解质量: effects on the log-odds of a mediation settling (``mechanisms.quality``).

    ``logit p = logit resolve.<kind>.<severity> + effects``; every effect 0 is today's model.
    The effects that a policy lever moves are bounded below by 0, so that more experience,
    training, a gold-medal mediator, an expert or more effort never lowers the chance.
    """

    full_time: float = Field(
        default=0.0, ge=-5, le=5, description="a full-time (专职) mediator, over the tables' gap"
    )
    experience_per_doubling: float = Field(
        default=0.0, ge=0, le=5, description="per doubling of the mediator's cases a year"
    )
    training_per_10_hours: float = Field(
        default=0.0, ge=0, le=5, description="per 10 hours a year of the level's training"
    )
    gold_medal: float = Field(default=0.0, ge=0, le=5, description="a gold-medal (金牌) mediator")
    expert: float = Field(default=0.0, ge=0, le=5, description="an expert joined (专家)")
    effort_ratio: float = Field(
        default=0.0, ge=0, le=5, description="times log(effort given / effort needed)"
    )
    experience_reference_cases: float = Field(
        default=12.0, gt=0, le=10000, description="cases a year at which experience adds 0"
    )
    experience_prior_days: float = Field(
        default=180.0,
        gt=0,
        le=3650,
        description="days before the run assumed mediated at the reference rate",
    )
    rush_per_waiting_case: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="k in effort given = needed / (1 + k × cases waiting per mediator)",
    )

    @property
    def effects_on(self) -> bool:
        """Whether any effect moves the log-odds (else the outcome is computed as without it)."""
        return any(
            v != 0.0
            for v in (
                self.full_time,
                self.experience_per_doubling,
                self.training_per_10_hours,
                self.gold_medal,
                self.expert,
                self.effort_ratio,
            )
        )


class Quotas(SchemaModel):
    """Full-time staffing quotas of the seed notice (专职人民调解员配备要求), per committee."""

    township_full_time: int = Field(default=2, ge=0, description="乡镇(街道)调委会 ≥ 2")
    village_full_time: int = Field(default=1, ge=0, description="有条件的村(社区) ≥ 1")
    sector_full_time: int = Field(default=3, ge=0, description="行业性专业性调委会 ≥ 3")
    enterprise_full_time: int = Field(default=1, ge=0, description="企事业单位调委会 ≥ 1")
    stationed_room_full_time: int = Field(default=2, ge=0, description="派驻调解工作室 ≥ 2")


class OpenCases(SchemaModel):
    """Cases already open when the run starts, at one level and place."""

    level: Literal["grid", "village", "township", "district"]
    township: str | None = None
    village: str | None = None
    count: int = Field(ge=0)
    category: str | None = None
    severity: Literal["minor", "major", "serious"] = "minor"


class InitialState(SchemaModel):
    """Today's caseload: open cases as counts, or read from a register CSV (outcome = open)."""

    open_cases: list[OpenCases] = Field(default_factory=list)
    register_file: str | None = Field(
        default=None, description="register CSV; its rows with outcome = open are loaded"
    )
    backlog_cases: int = Field(
        default=0, ge=0, description="积案 open at the start (needs [petitions]): leaders' stock"
    )
