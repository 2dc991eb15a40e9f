"""Scenario sections about who mediates: working calendars, the ladder's levels (三级四步), the
committees around it (sector, enterprise, stationed rooms), the district centre and its joint
mediation, and the expert pool.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.distributions import Distribution, Exponential
from sim.scenario.schema_base import SchemaModel, SeverityFactors, SeverityProbabilities

__all__ = [
    "Calendar",
    "Calendars",
    "Committee",
    "Court",
    "Department",
    "DistrictCentre",
    "Enterprise",
    "EnterpriseCommittee",
    "Experts",
    "Ladder",
    "Level",
    "ResolveProbabilities",
    "Routing",
    "SectorCommittee",
    "StationedRoom",
    "TownshipCentre",
]


class Calendar(SchemaModel):
    """When a mediator of one kind works: hours a day from a start hour, days a week."""

    hours_per_day: float = Field(gt=0, le=24)
    days_per_week: int = Field(ge=1, le=7)
    day_start_hour: float = Field(default=8.5, ge=0, lt=24)
    mediation_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="share of the working time given to mediation (the rest: other duties)",
    )

    @model_validator(mode="after")
    def _fits_in_a_day(self) -> Calendar:
        if self.day_start_hour + self.hours_per_day > 24 + 1e-9:
            raise ValueError(
                f"day_start_hour + hours_per_day = {self.day_start_hour + self.hours_per_day} "
                "runs past midnight; expected at most 24"
            )
        return self

    @property
    def hours_per_week(self) -> float:
        """Working hours a week of one mediator on this calendar."""
        return self.hours_per_day * self.days_per_week


class Calendars(SchemaModel):
    """Working calendars of full-time (专职) and part-time (兼职) mediators."""

    full_time: Calendar = Calendar(hours_per_day=8, days_per_week=5)
    part_time: Calendar = Calendar(hours_per_day=2, days_per_week=7, day_start_hour=18)


class ResolveProbabilities(SchemaModel):
    """Chance that a mediation at this level settles the dispute, by mediator kind and severity."""

    full_time: SeverityProbabilities
    part_time: SeverityProbabilities


class Level(SchemaModel):
    """One rung of the ladder (三级四步): staffing per unit and how mediation goes there."""

    full_time: int = Field(default=0, ge=0, description="full-time mediators per unit")
    part_time: int = Field(default=0, ge=0, description="part-time mediators per unit")
    full_time_coverage: float = Field(
        default=1.0, ge=0, le=1, description="share of units that have the full-time staff"
    )
    effort_hours: Distribution
    severity_effort: SeverityFactors = SeverityFactors()
    sessions: int = Field(default=1, ge=1, le=50)
    party_delay_days: Distribution | None = None
    time_limit_days: float | None = Field(default=None, gt=0)
    resolve: ResolveProbabilities
    travel_hours: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="mediator hours of travel per session, on top of its effort",
    )
    training_hours_per_year: float = Field(
        default=0.0, ge=0, le=2000, description="培训 hours a year of each mediator (quality)"
    )
    gold_medal_share: float = Field(
        default=0.0, ge=0, le=1, description="share of the mediators who are gold-medal (金牌)"
    )


class Ladder(SchemaModel):
    """The four levels of the ladder (三级四步): grid, village, township, district."""

    grid: Level
    village: Level
    township: Level
    district: Level

    def level(self, name: str) -> Level:
        """The settings of the level called ``name``."""
        return getattr(self, name)


class Committee(Level):
    """A committee outside the village-township ladder: sector, stationed room (staff per unit)."""

    label: str = ""


class SectorCommittee(Committee):
    """行业性专业性调委会: takes its sector's disputes at district level (quota ≥ 3 full-time)."""

    direct_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="share of its sector's self-reported disputes taken straight to it",
    )


class EnterpriseCommittee(SchemaModel):
    """企业 / 商会调委会: a development-zone, firm or chamber-of-commerce committee."""

    label: str = ""
    kind: Literal["development_zone", "firm", "chamber"] = "firm"
    weight: float = Field(default=1.0, gt=0, description="relative share of in-firm disputes")
    full_time: int = Field(default=0, ge=0)
    part_time: int = Field(default=0, ge=0)


class Enterprise(SchemaModel):
    """Disputes inside firms go first to an enterprise committee, then up the ladder."""

    committees: dict[str, EnterpriseCommittee] = Field(default_factory=dict)
    effort_hours: Distribution = Exponential(dist="exponential", mean=4.0)
    severity_effort: SeverityFactors = SeverityFactors()
    sessions: int = Field(default=1, ge=1, le=50)
    party_delay_days: Distribution | None = None
    time_limit_days: float | None = Field(default=None, gt=0)
    resolve: ResolveProbabilities = ResolveProbabilities(
        full_time=SeverityProbabilities(minor=0.7, major=0.5, serious=0.3),
        part_time=SeverityProbabilities(minor=0.6, major=0.4, serious=0.2),
    )
    escalate_to: Literal["village", "township", "district"] = "township"


class StationedRoom(Committee):
    """派驻调解工作室 (court, police station, petition office): quota ≥ 2 full-time.

    Court-referred cases (诉调衔接) arrive as their own Poisson stream.
    """

    referrals_per_year: float = Field(default=0.0, ge=0)
    return_to_court: bool = True


class Routing(SchemaModel):
    """The notice's routing beyond the climb (mechanisms.cross_village_routing).

    乡镇调 "负责调处跨村、毗邻乡镇 … 的重大矛盾纠纷": a share of the disputes spans villages (or
    neighbouring townships) and is taken by the township directly, without a grid or village
    step. Default [EST] (docs/model.md "Cross-village disputes").
    """

    cross_village_share: float = Field(
        default=0.05, ge=0, le=1, description="share of disputes the township takes directly"
    )
    # mechanisms.major_difficult_to_district: 区级调 "负责调处 … 需要联合调处的重大疑难纠纷". The
    # share of the disputes of each severity (as the climb begins) that are 重大疑难 and go to
    # the district centre directly, as cases needing joint handling. [EST] (docs/model.md).
    major_difficult_share: SeverityProbabilities = SeverityProbabilities(
        minor=0.0, major=0.05, serious=0.3
    )


class Court(SchemaModel):
    """诉调衔接 both ways (mechanisms.court_linkage): the court behind the stationed rooms.

    A ladder case that ends unresolved goes to court with ``litigation_share``; the court
    delegates ``delegation_share`` of that intake back to its stationed room (诉前委派) after
    ``filing_delay_days``. Defaults are [EST] (docs/model.md, "Court linkage").
    """

    litigation_share: float = Field(default=0.3, ge=0, le=1, description="unresolved → court")
    delegation_share: float = Field(default=0.4, ge=0, le=1, description="诉前委派 to the room")
    filing_delay_days: Distribution = Exponential(dist="exponential", mean=14.0)
    room: str | None = Field(
        default=None, description="the court's stationed room; None: the first returning to court"
    )


class Department(SchemaModel):
    """A department whose staff join joint mediation (联合调处) at the district centre."""

    label: str = ""
    staff: int = Field(ge=1)


class DistrictCentre(SchemaModel):
    """社会矛盾纠纷调处化解中心: one window; triage to sector, joint mediation or committee."""

    departments: dict[str, Department] = Field(default_factory=dict)
    joint_share: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    summon_probability: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    departments_per_case: int = Field(default=2, ge=2)
    joint: Level | None = None
    # 交办属地 (mechanisms.assign_down): the share of the cases reaching the centre from the
    # ladder that it hands back to their township, and the hand-over's delay (None: at once).
    assign_down_share: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    assign_down_delay_days: Distribution | None = None

    @model_validator(mode="after")
    def _joint_needs_departments(self) -> DistrictCentre:
        wanted = max(
            (
                *self.joint_share.model_dump().values(),
                *self.summon_probability.model_dump().values(),
            )
        )
        if wanted > 0:
            if self.joint is None:
                raise ValueError(
                    "joint mediation is asked for (joint_share or summon_probability)"
                    " but district_centre.joint is not given"
                )
            if len(self.departments) < self.departments_per_case:
                raise ValueError(
                    f"joint mediation needs {self.departments_per_case} departments per case; "
                    f"{len(self.departments)} are listed in district_centre.departments"
                )
        return self


class TownshipCentre(SchemaModel):
    """乡镇矛调中心 (mechanisms.township_centres): stationed department staff in every township.

    A share of the cases reaching the township (by severity) is mediated jointly by staff of
    ``departments_per_case`` of its departments at once (联合调处), instead of by the township
    committee; a failure goes on to the district centre as a township failure does (区乡联动).
    """

    departments: dict[str, Department] = Field(
        default_factory=dict, description="stationed departments, staff per township"
    )
    joint_share: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    departments_per_case: int = Field(default=2, ge=2)
    joint: Level | None = None

    @model_validator(mode="after")
    def _joint_needs_departments(self) -> TownshipCentre:
        if max(self.joint_share.model_dump().values()) > 0:
            if self.joint is None:
                raise ValueError(
                    "township joint mediation is asked for (joint_share) but "
                    "township_centre.joint is not given"
                )
            if len(self.departments) < self.departments_per_case:
                raise ValueError(
                    f"township joint mediation needs {self.departments_per_case} departments per "
                    f"case; {len(self.departments)} are listed in township_centre.departments"
                )
        return self


# Where experts can be asked to join a case.
_ExpertVenue = Literal["village", "township", "district", "sector", "joint"]


def _district_and_sector() -> list[_ExpertVenue]:
    return ["district", "sector"]


def _village_and_township() -> list[_ExpertVenue]:
    return ["village", "township"]


class Experts(SchemaModel):
    """人民调解咨询专家库 / 巡回调解团: experts joining major and serious cases."""

    members: int = Field(default=0, ge=0)
    calendar: Calendar = Calendar(hours_per_day=4, days_per_week=5, day_start_hour=14)
    required: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    at: list[_ExpertVenue] = Field(default_factory=_district_and_sector)
    # mechanisms.circuit_team: the circuit team (巡回调解团, "以专家库为主要成员") also goes to
    # steps at these venues, with the same ``required`` shares (docs/model.md "Experts").
    circuit_at: list[_ExpertVenue] = Field(default_factory=_village_and_township)
    resolve_bonus: float = Field(default=0.0, ge=0, le=1)
    fee_per_case_yuan: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _members_if_required(self) -> Experts:
        if max(self.required.model_dump().values()) > 0 and self.members == 0:
            raise ValueError("experts.required asks for experts but experts.members is 0")
        return self
