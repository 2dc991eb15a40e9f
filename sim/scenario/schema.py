"""The scenario: a validated, frozen description of one district and how disputes move in it.

Field names are the identifiers of POLICY.md's glossary. Every key is documented in
docs/scenario.md; the schema here is the single source of truth for what is allowed.

This module holds the whole :class:`Scenario` and its cross-section checks, and re-exports
the sections, defined by concept in :mod:`sim.scenario.schema_disputes`,
:mod:`sim.scenario.schema_ladder` and :mod:`sim.scenario.schema_settings` (building blocks in
:mod:`sim.scenario.schema_base`).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from sim.scenario.schema_base import (
    NAME_MAX_LENGTH,
    LevelAmounts,
    LevelShares,
    SchemaModel,
    SeverityFactors,
    SeverityProbabilities,
    SeverityShares,
    check_sum,
)
from sim.scenario.schema_disputes import (
    Arrivals,
    Category,
    Channels,
    Discovery,
    Entry,
    Overload,
    PatienceDays,
    PetitionAgents,
    PetitionHistory,
    PetitionLinks,
    Petitions,
    SpecialTeam,
    Township,
    Worsening,
)
from sim.scenario.schema_ladder import (
    Calendar,
    Calendars,
    Committee,
    Court,
    Department,
    DistrictCentre,
    Enterprise,
    EnterpriseCommittee,
    Experts,
    Ladder,
    Level,
    ResolveProbabilities,
    Routing,
    SectorCommittee,
    StationedRoom,
    TownshipCentre,
)
from sim.scenario.schema_levers import Levers
from sim.scenario.schema_settings import (
    Costs,
    Grades,
    InitialState,
    Mechanisms,
    OpenCases,
    Quality,
    Quotas,
    RunSettings,
    Target,
    share_target_problem,
)
from sim.scenario.vocabulary import KPI_NAMES, LEVELS

__all__ = [
    "Arrivals",
    "Calendar",
    "Calendars",
    "Category",
    "Channels",
    "Committee",
    "Costs",
    "Court",
    "Department",
    "Discovery",
    "DistrictCentre",
    "Enterprise",
    "EnterpriseCommittee",
    "Entry",
    "Experts",
    "Grades",
    "InitialState",
    "Ladder",
    "Level",
    "LevelAmounts",
    "LevelShares",
    "Levers",
    "Mechanisms",
    "OpenCases",
    "Overload",
    "PatienceDays",
    "PetitionAgents",
    "PetitionHistory",
    "PetitionLinks",
    "Petitions",
    "Quality",
    "Quotas",
    "ResolveProbabilities",
    "Routing",
    "RunSettings",
    "Scenario",
    "SectorCommittee",
    "SeverityFactors",
    "SeverityProbabilities",
    "SeverityShares",
    "SpecialTeam",
    "StationedRoom",
    "Target",
    "Township",
    "TownshipCentre",
    "Worsening",
]


class Scenario(SchemaModel):
    """A whole district scenario. Build it with :func:`sim.load_scenario`."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
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
    quality: Quality = Quality()
    sectors: dict[str, SectorCommittee] = Field(default_factory=dict)
    enterprise: Enterprise = Enterprise()
    stationed_rooms: dict[str, StationedRoom] = Field(default_factory=dict)
    court: Court = Court()
    routing: Routing = Routing()
    district_centre: DistrictCentre = DistrictCentre()
    township_centre: TownshipCentre = TownshipCentre()
    experts: Experts = Experts()
    petitions: Petitions | None = None
    targets: dict[str, Target] = Field(default_factory=dict)
    costs: Costs = Costs()
    quotas: Quotas = Quotas()
    initial_state: InitialState = InitialState()
    entry: Entry = Entry()
    petition_agents: PetitionAgents = PetitionAgents()
    levers: Levers = Levers()

    @field_validator("categories")
    @classmethod
    def _category_shares(cls, v: dict[str, Category]) -> dict[str, Category]:
        check_sum({k: c.share for k, c in v.items()}, "category shares")
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
    def _share_targets(self) -> Scenario:
        # Scenario-wide, so the loader points at targets.<kpi>.<bound> and its value.
        for kpi, target in self.targets.items():  # a share typed as a percentage (80 for 80%)
            problem = share_target_problem(kpi, target)
            if problem:
                raise ValueError(f"targets.{problem}")
        return self

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
        centre = self.district_centre
        difficult = max(self.routing.major_difficult_share.model_dump().values())
        if (
            self.mechanisms.major_difficult_to_district
            and difficult > 0
            and self.mechanisms.joint_mediation
            and centre.joint is not None
            and 2 <= len(centre.departments) < centre.departments_per_case
        ):
            # Such a case is summoned to joint mediation whatever joint_share says, so the
            # centre's own check (only when joint_share or summon_probability > 0) is not enough.
            # With fewer than two departments there is no joint mediation (as in the model)
            # and such a case goes to the district committee.
            raise ValueError(
                "mechanisms.major_difficult_to_district sends 重大疑难 disputes to joint "
                f"mediation (联合调处), which needs {centre.departments_per_case} departments per "
                f"case (district_centre.departments_per_case); {len(centre.departments)} are "
                "listed in district_centre.departments"
            )
        if self.court.room is not None and self.court.room not in self.stationed_rooms:
            raise ValueError(
                f"court.room = {self.court.room!r}: no such stationed room "
                f"(stationed_rooms: {', '.join(self.stationed_rooms) or 'none'})"
            )
        return self

    # Convenience views used by the model and the reports.
    @property
    def population(self) -> int:
        """Residents of the district: the sum over its townships."""
        return sum(t.population for t in self.townships)

    @property
    def arrival_population(self) -> float:
        """Residents weighted by their township's ``rate_multiplier``: the district's disputes a
        year are ``arrival_population × rate_per_1000_per_year / 1000``. With every multiplier 1
        it is ``population`` itself (the same number to the bit)."""
        if all(t.rate_multiplier == 1.0 for t in self.townships):
            return self.population
        return sum(t.population * t.rate_multiplier for t in self.townships)

    @property
    def levels(self) -> tuple[str, ...]:
        """The ladder's levels, grid to district (三级四步)."""
        return LEVELS

    def township(self, name: str) -> Township:
        """The township named ``name``, by its Chinese name or its pinyin."""
        for t in self.townships:
            if name in (t.name, t.pinyin):
                return t
        raise KeyError(name)
