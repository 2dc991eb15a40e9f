"""The building blocks of the scenario schema: the frozen base model and small tables by
severity and by level that the sections share.

The sections themselves are in :mod:`sim.scenario.schema_disputes` (places and disputes),
:mod:`sim.scenario.schema_ladder` (mediators, the ladder and the committees around it) and
:mod:`sim.scenario.schema_settings` (run, switches, targets, costs, starting state); the whole
:class:`~sim.scenario.schema.Scenario` is in :mod:`sim.scenario.schema`.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "NAME_MAX_LENGTH",
    "TEXT_MAX_LENGTH",
    "LevelAmounts",
    "LevelShares",
    "SchemaModel",
    "SeverityFactors",
    "SeverityProbabilities",
    "SeverityShares",
    "check_sum",
]

_SUM_TOLERANCE = 1e-6

NAME_MAX_LENGTH = 100
"""Longest name (of a scenario, a township, its pinyin) in characters. [EST] Chinese township
names run to about ten characters; a name is repeated in every register row and figure, and a
1 MB name once cost 2.6 GB of memory."""

TEXT_MAX_LENGTH = 4096
"""Longest text of any other key (a description, a label, a file path: Linux's PATH_MAX)."""


class SchemaModel(BaseModel):
    """Base of every scenario table: unknown keys are errors, and a scenario never changes.

    Types are strict: ``horizon_days = "365"`` (text) or ``part_time = true`` (a boolean) is an
    error rather than silently read as 365 or 1; a whole number is still accepted for a real one.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        strict=True,
        str_max_length=TEXT_MAX_LENGTH,
        # Each table's validator is built when first used, not when its class is made: the
        # Scenario's validator covers every table, so the ~60 validators built at import were
        # mostly never called (~25 ms of each `sim run`, issue 19).
        defer_build=True,
    )


def check_sum(values: dict[str, float], what: str) -> None:
    """Shares that must sum to 1 (within rounding); raises ValueError naming ``what``."""
    total = sum(values.values())
    if not math.isclose(total, 1.0, abs_tol=_SUM_TOLERANCE):
        raise ValueError(f"{what} must sum to 1; they sum to {total:.6g}")


class SeverityProbabilities(SchemaModel):
    """A probability for each severity: 小事 minor, 大事 major, 重大疑难 serious."""

    minor: float = Field(ge=0, le=1)
    major: float = Field(ge=0, le=1)
    serious: float = Field(ge=0, le=1)

    def of(self, severity: int) -> float:
        """The value for severity index ``severity`` (0 minor, 1 major, 2 serious)."""
        return (self.minor, self.major, self.serious)[severity]


class SeverityShares(SeverityProbabilities):
    """Shares of minor / major / serious disputes; they sum to 1."""

    @model_validator(mode="after")
    def _sums_to_one(self) -> SeverityShares:
        check_sum(self.model_dump(), "severity shares")
        return self


class SeverityFactors(SchemaModel):
    """A positive multiplier for each severity (e.g. a major case takes longer)."""

    minor: float = Field(default=1.0, gt=0)
    major: float = Field(default=1.0, gt=0)
    serious: float = Field(default=1.0, gt=0)

    def of(self, severity: int) -> float:
        """The value for severity index ``severity`` (0 minor, 1 major, 2 serious)."""
        return (self.minor, self.major, self.serious)[severity]


class LevelShares(SchemaModel):
    """Shares over the ladder levels; they sum to 1."""

    grid: float = Field(default=0.0, ge=0, le=1)
    village: float = Field(default=0.0, ge=0, le=1)
    township: float = Field(default=0.0, ge=0, le=1)
    district: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> LevelShares:
        check_sum(self.model_dump(), "level shares")
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        """The values of grid, village, township and district, in ladder order."""
        return (self.grid, self.village, self.township, self.district)


class LevelAmounts(SchemaModel):
    """A non-negative amount per level or committee type (yuan)."""

    grid: float = Field(default=0.0, ge=0)
    village: float = Field(default=0.0, ge=0)
    township: float = Field(default=0.0, ge=0)
    district: float = Field(default=0.0, ge=0)
    sector: float = Field(default=0.0, ge=0)
    enterprise: float = Field(default=0.0, ge=0)
    stationed_room: float = Field(default=0.0, ge=0)
    joint: float = Field(default=0.0, ge=0)
    township_joint: float = Field(default=0.0, ge=0)  # 乡镇联合调处 (mechanisms.township_centres)

    def of(self, level: str) -> float:
        """The value for the level called ``level``."""
        return float(getattr(self, level))
