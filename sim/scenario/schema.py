"""The scenario: a validated, frozen description of one district and how disputes move in it.

Field names are the identifiers of POLICY.md's glossary. Every key is documented in
docs/scenario.md; the schema here is the single source of truth for what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.distributions import Distribution, Exponential
from sim.scenario.vocabulary import KPI_NAMES, LEVELS

__all__ = [
    "Arrivals",
    "Calendar",
    "Category",
    "Channels",
    "Committee",
    "Costs",
    "Department",
    "Discovery",
    "DistrictCentre",
    "Enterprise",
    "EnterpriseCommittee",
    "Experts",
    "Grades",
    "InitialState",
    "Level",
    "Mechanisms",
    "OpenCases",
    "Petitions",
    "Quotas",
    "RunSettings",
    "Scenario",
    "SectorCommittee",
    "StationedRoom",
    "Target",
    "Township",
]

_SUM_TOLERANCE = 1e-6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_sum(values: dict[str, float], what: str) -> None:
    total = sum(values.values())
    if not math.isclose(total, 1.0, abs_tol=_SUM_TOLERANCE):
        raise ValueError(f"{what} must sum to 1; they sum to {total:.6g}")


class SeverityProbabilities(_Model):
    """A probability for each severity: 小事 minor, 大事 major, 重大疑难 serious."""

    minor: float = Field(ge=0, le=1)
    major: float = Field(ge=0, le=1)
    serious: float = Field(ge=0, le=1)

    def of(self, severity: int) -> float:
        return (self.minor, self.major, self.serious)[severity]


class SeverityShares(SeverityProbabilities):
    """Shares of minor / major / serious disputes; they sum to 1."""

    @model_validator(mode="after")
    def _sums_to_one(self) -> SeverityShares:
        _check_sum(self.model_dump(), "severity shares")
        return self


class SeverityFactors(_Model):
    """A positive multiplier for each severity (e.g. a major case takes longer)."""

    minor: float = Field(default=1.0, gt=0)
    major: float = Field(default=1.0, gt=0)
    serious: float = Field(default=1.0, gt=0)

    def of(self, severity: int) -> float:
        return (self.minor, self.major, self.serious)[severity]


class LevelShares(_Model):
    """Shares over the ladder levels; they sum to 1."""

    grid: float = Field(default=0.0, ge=0, le=1)
    village: float = Field(default=0.0, ge=0, le=1)
    township: float = Field(default=0.0, ge=0, le=1)
    district: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> LevelShares:
        _check_sum(self.model_dump(), "level shares")
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.grid, self.village, self.township, self.district)


class LevelAmounts(_Model):
    """A non-negative amount per level or committee type (yuan)."""

    grid: float = Field(default=0.0, ge=0)
    village: float = Field(default=0.0, ge=0)
    township: float = Field(default=0.0, ge=0)
    district: float = Field(default=0.0, ge=0)
    sector: float = Field(default=0.0, ge=0)
    enterprise: float = Field(default=0.0, ge=0)
    stationed_room: float = Field(default=0.0, ge=0)
    joint: float = Field(default=0.0, ge=0)

    def of(self, level: str) -> float:
        return float(getattr(self, level))


class RunSettings(_Model):
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


class Mechanisms(_Model):
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


class Township(_Model):
    """A township-level unit (乡镇/街道) and the villages (村/社区) and grids (网格) in it."""

    name: str = Field(min_length=1)
    pinyin: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9 _'-]*$")
    kind: Literal["subdistrict", "town", "township"] = "township"
    population: int = Field(gt=0)
    villages: int = Field(ge=1)
    grids: int = Field(ge=1)
    village_names: list[str] | None = None
    full_time: int | None = Field(default=None, ge=0, description="override of ladder.township")
    part_time: int | None = Field(default=None, ge=0, description="override of ladder.township")
    villages_with_full_time: int | None = Field(default=None, ge=0)

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
        return self

    def village_ids(self) -> list[str]:
        if self.village_names is not None:
            return list(self.village_names)
        return [f"{self.pinyin}-V{k + 1:02d}" for k in range(self.villages)]


class Arrivals(_Model):
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


class Category(_Model):
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


class Discovery(_Model):
    """How disputes come to light: the weekly sweep (排查) or a direct report (自行申请)."""

    sweep_share: float = Field(ge=0, le=1)
    sweep_interval_days: float = Field(default=7.0, gt=0, le=365)
    detect_probability: float = Field(default=1.0, gt=0, le=1)
    on_the_spot: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    self_report_delay_days: Distribution = Exponential(dist="exponential", mean=1.0)
    self_report_entry: LevelShares = LevelShares(grid=1.0)


class Channels(_Model):
    """Reporting delay on each hand-over: 线上 online (平安通), 线下 offline (sensitive cases)."""

    online_delay_days: Distribution = Exponential(dist="exponential", mean=1.0)
    offline_delay_days: Distribution = Exponential(dist="exponential", mean=0.5)


class Calendar(_Model):
    """When a mediator of one kind works: hours a day from a start hour, days a week."""

    hours_per_day: float = Field(gt=0, le=24)
    days_per_week: int = Field(ge=1, le=7)
    day_start_hour: float = Field(default=8.5, ge=0, lt=24)

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
        return self.hours_per_day * self.days_per_week


class Calendars(_Model):
    full_time: Calendar = Calendar(hours_per_day=8, days_per_week=5)
    part_time: Calendar = Calendar(hours_per_day=2, days_per_week=7, day_start_hour=18)


class ResolveProbabilities(_Model):
    """Chance that a mediation at this level settles the dispute, by mediator kind and severity."""

    full_time: SeverityProbabilities
    part_time: SeverityProbabilities


class Level(_Model):
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


class Ladder(_Model):
    grid: Level
    village: Level
    township: Level
    district: Level

    def level(self, name: str) -> Level:
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


class EnterpriseCommittee(_Model):
    """企业 / 商会调委会: a development-zone, firm or chamber-of-commerce committee."""

    label: str = ""
    kind: Literal["development_zone", "firm", "chamber"] = "firm"
    weight: float = Field(default=1.0, gt=0, description="relative share of in-firm disputes")
    full_time: int = Field(default=0, ge=0)
    part_time: int = Field(default=0, ge=0)


class Enterprise(_Model):
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


class Department(_Model):
    """A department whose staff join joint mediation (联合调处) at the district centre."""

    label: str = ""
    staff: int = Field(ge=1)


class DistrictCentre(_Model):
    """社会矛盾纠纷调处化解中心: one window; triage to sector, joint mediation or committee."""

    departments: dict[str, Department] = Field(default_factory=dict)
    joint_share: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    summon_probability: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    departments_per_case: int = Field(default=2, ge=2)
    joint: Level | None = None

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


class Experts(_Model):
    """人民调解咨询专家库 / 巡回调解团: experts joining major and serious cases."""

    members: int = Field(default=0, ge=0)
    calendar: Calendar = Calendar(hours_per_day=4, days_per_week=5, day_start_hour=14)
    required: SeverityProbabilities = SeverityProbabilities(minor=0, major=0, serious=0)
    at: list[Literal["township", "district", "sector", "joint"]] = Field(
        default_factory=lambda: ["district", "sector"]
    )
    resolve_bonus: float = Field(default=0.0, ge=0, le=1)
    fee_per_case_yuan: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _members_if_required(self) -> Experts:
        if max(self.required.model_dump().values()) > 0 and self.members == 0:
            raise ValueError("experts.required asks for experts but experts.members is 0")
        return self


class PatienceDays(SeverityFactors):
    """Mean patience in days from arising, by initial severity (defaults are assumptions)."""

    minor: float = Field(default=90.0, gt=0)
    major: float = Field(default=60.0, gt=0)
    serious: float = Field(default=45.0, gt=0)


class Petitions(_Model):
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


class Grades(_Model):
    """等级评定: mediator grades and their multipliers on the per-case reward (以奖代补)."""

    shares: dict[str, float] = Field(default_factory=lambda: {"standard": 1.0})
    reward_multiplier: dict[str, float] = Field(default_factory=lambda: {"standard": 1.0})

    @model_validator(mode="after")
    def _consistent(self) -> Grades:
        if any(v < 0 for v in self.shares.values()):
            raise ValueError("grade shares must be non-negative")
        _check_sum(self.shares, "grade shares")
        missing = set(self.shares) - set(self.reward_multiplier)
        if missing:
            raise ValueError(f"reward_multiplier is missing grades {sorted(missing)}")
        if any(v < 0 for v in self.reward_multiplier.values()):
            raise ValueError("reward multipliers must be non-negative")
        return self

    @property
    def mean_multiplier(self) -> float:
        return sum(share * self.reward_multiplier[g] for g, share in self.shares.items())


class Worsening(_Model):
    """A dispute left unattended can worsen one severity step (minor → major → serious)."""

    rate_per_day: dict[Literal["minor", "major"], float] = Field(
        default_factory=lambda: {"minor": 0.0, "major": 0.0}
    )

    @field_validator("rate_per_day")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if x < 0:
                raise ValueError(f"rate for {k} must be non-negative, got {x}")
        return v


class Overload(_Model):
    """An overloaded mediator settles less.

    Success probability × max(floor, 1 − penalty × cases waiting per mediator of the pool).
    """

    penalty_per_waiting_case: float = Field(default=0.0, ge=0, le=1)
    floor: float = Field(default=0.5, ge=0, le=1)


class Target(_Model):
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
        return self.at_least if self.at_least is not None else self.at_most  # type: ignore[return-value]

    @property
    def sense(self) -> str:
        return ">=" if self.at_least is not None else "<="

    def met_by(self, x: float) -> bool:
        if math.isnan(x):
            return False
        return x >= self.value if self.at_least is not None else x <= self.value


class Costs(_Model):
    """Yearly cost figures in yuan (以奖代补 rewards per resolved case)."""

    full_time_salary_yuan: LevelAmounts = LevelAmounts()
    part_time_allowance_yuan: LevelAmounts = LevelAmounts()
    case_reward_yuan: LevelAmounts = LevelAmounts()
    grades: Grades = Grades()
    purchased_services_yuan: float = Field(default=0.0, ge=0)
    gold_mediator_awards_yuan: float = Field(default=0.0, ge=0, description="金牌调解员 yearly")


class Quotas(_Model):
    """Full-time staffing quotas of the seed notice (专职人民调解员配备要求), per committee."""

    township_full_time: int = Field(default=2, ge=0, description="乡镇(街道)调委会 ≥ 2")
    village_full_time: int = Field(default=1, ge=0, description="有条件的村(社区) ≥ 1")
    sector_full_time: int = Field(default=3, ge=0, description="行业性专业性调委会 ≥ 3")
    enterprise_full_time: int = Field(default=1, ge=0, description="企事业单位调委会 ≥ 1")
    stationed_room_full_time: int = Field(default=2, ge=0, description="派驻调解工作室 ≥ 2")


class OpenCases(_Model):
    """Cases already open when the run starts, at one level and place."""

    level: Literal["grid", "village", "township", "district"]
    township: str | None = None
    village: str | None = None
    count: int = Field(ge=0)
    category: str | None = None
    severity: Literal["minor", "major", "serious"] = "minor"


class InitialState(_Model):
    """Today's caseload: open cases as counts, or read from a register CSV (outcome = open)."""

    open_cases: list[OpenCases] = Field(default_factory=list)
    register_file: str | None = Field(
        default=None, description="register CSV; its rows with outcome = open are loaded"
    )


class Scenario(_Model):
    """A whole district scenario. Build it with :func:`sim.load_scenario`."""

    name: str = Field(min_length=1)
    description: str = ""
    source_file: str = ""
    run: RunSettings = RunSettings()
    mechanisms: Mechanisms = Mechanisms()
    townships: list[Township] = Field(min_length=1)
    arrivals: Arrivals
    categories: dict[str, Category] = Field(min_length=1)
    severity: SeverityShares
    discovery: Discovery
    channels: Channels = Channels()
    calendars: Calendars = Calendars()
    ladder: Ladder
    worsening: Worsening = Worsening()
    overload: Overload = Overload()
    sectors: dict[str, SectorCommittee] = Field(default_factory=dict)
    enterprise: Enterprise = Enterprise()
    stationed_rooms: dict[str, StationedRoom] = Field(default_factory=dict)
    district_centre: DistrictCentre = DistrictCentre()
    experts: Experts = Experts()
    petitions: Petitions | None = None
    targets: dict[str, Target] = Field(default_factory=dict)
    costs: Costs = Costs()
    quotas: Quotas = Quotas()
    initial_state: InitialState = InitialState()

    @field_validator("categories")
    @classmethod
    def _category_shares(cls, v: dict[str, Category]) -> dict[str, Category]:
        _check_sum({k: c.share for k, c in v.items()}, "category shares")
        return v

    @field_validator("targets", mode="before")
    @classmethod
    def _flatten_targets(cls, v: object) -> object:
        # TOML turns `days_to_resolution.p90 = {...}` into a nested table; flatten it back.
        if not isinstance(v, dict):
            return v
        flat: dict[str, object] = {}

        def walk(prefix: str, node: dict) -> None:
            for key, val in node.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(val, dict) and not ({"at_least", "at_most"} & set(val)):
                    walk(name, val)
                else:
                    flat[name] = val

        walk("", v)
        return flat

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, v: dict[str, Target]) -> dict[str, Target]:
        unknown = [k for k in v if k not in KPI_NAMES]
        if unknown:
            raise ValueError(
                f"unknown KPI {unknown[0]!r} in targets; expected one of: " + ", ".join(KPI_NAMES)
            )
        return v

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        names = [t.name for t in self.townships]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"township names must be unique; repeated: {', '.join(dupes)}")
        top = self.ladder.district
        full_time = top.full_time if top.full_time_coverage > 0 else 0
        if full_time + top.part_time == 0:
            raise ValueError(
                "ladder.district must have at least one mediator: "
                "the top of the ladder cannot pass cases on"
            )
        for key, cat in self.categories.items():
            if cat.sector is not None and cat.sector not in self.sectors and self.sectors:
                raise ValueError(
                    f"categories.{key}.sector = {cat.sector!r}: no such sector committee "
                    f"(sectors: {', '.join(self.sectors) or 'none'})"
                )
            for dept in cat.departments:
                if dept not in self.district_centre.departments:
                    raise ValueError(
                        f"categories.{key}.departments: {dept!r} is not a department "
                        "of district_centre.departments"
                    )
            if cat.enterprise_share > 0 and not self.enterprise.committees:
                raise ValueError(
                    f"categories.{key}.enterprise_share > 0 but enterprise.committees is empty"
                )
        by_name = {t.name: t for t in self.townships} | {t.pinyin: t for t in self.townships}
        for i, oc in enumerate(self.initial_state.open_cases):
            where = f"initial_state.open_cases[{i}]"
            if oc.township is not None and oc.township not in by_name:
                raise ValueError(f"{where}.township = {oc.township!r}: no such township")
            if oc.village is not None:
                if oc.township is None:
                    raise ValueError(f"{where}.village needs a township")
                if oc.village not in by_name[oc.township].village_ids():
                    raise ValueError(
                        f"{where}.village = {oc.village!r}: no such village in {oc.township}"
                    )
            if oc.category is not None and oc.category not in self.categories:
                raise ValueError(f"{where}.category = {oc.category!r}: no such category")
            if oc.level != "district" and oc.township is None:
                raise ValueError(f"{where}: a {oc.level}-level case needs a township")
        return self

    # Convenience views used by the model and the reports.
    @property
    def population(self) -> int:
        return sum(t.population for t in self.townships)

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVELS

    def township(self, name: str) -> Township:
        for t in self.townships:
            if name in (t.name, t.pinyin):
                return t
        raise KeyError(name)
