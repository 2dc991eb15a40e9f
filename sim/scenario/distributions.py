"""Probability distributions of durations, given in scenario files and drawn by inversion.

Every draw in the model is ``dist.ppf(u)`` for a uniform ``u`` the case carries, so that two
scenarios run with the same seed use the same uniforms (common random numbers).
"""

from __future__ import annotations

import math
from functools import cached_property
from statistics import NormalDist
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Distribution",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Uniform",
]

_Z90 = 1.2815515655446004  # standard normal 0.9 quantile
_STANDARD_NORMAL = NormalDist()  # inv_cdf is exact to double precision and ~20× faster per call


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # as SchemaModel

    @property
    def mean(self) -> float:  # pragma: no cover - overridden
        """The mean of the distribution (of the uncapped one where there is a cap)."""
        raise NotImplementedError

    def ppf(self, u: float) -> float:  # pragma: no cover - overridden
        """The ``u``-quantile (inverse CDF): the draw for the uniform ``u`` a case carries."""
        raise NotImplementedError


class Exponential(_Dist):
    """Exponential with the given mean (memoryless; the queueing-theory default)."""

    dist: Literal["exponential"]
    mean_value: float = Field(alias="mean", gt=0)

    @property
    def mean(self) -> float:
        """The mean, as given."""
        return self.mean_value

    def ppf(self, u: float) -> float:
        """The ``u``-quantile: the draw for the uniform ``u``."""
        return -self.mean_value * math.log1p(-u)


class Fixed(_Dist):
    """Always the same value."""

    dist: Literal["fixed"]
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        """The value."""
        return self.value

    def ppf(self, u: float) -> float:
        """The value, whatever ``u``."""
        return self.value


class Uniform(_Dist):
    """Uniform between low and high."""

    dist: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self

    @property
    def mean(self) -> float:
        """Midpoint of low and high."""
        return (self.low + self.high) / 2

    def ppf(self, u: float) -> float:
        """The ``u``-quantile: the draw for the uniform ``u``."""
        return self.low + (self.high - self.low) * u


class Lognormal(_Dist):
    """Lognormal given by its median and 90th percentile (as SOURCES.md states durations)."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    p90: float = Field(gt=0)
    cap: float | None = Field(default=None, gt=0, description="upper truncation, same unit")

    @model_validator(mode="after")
    def _ordered(self) -> Lognormal:
        if self.p90 <= self.median:
            raise ValueError(f"p90 ({self.p90}) must exceed median ({self.median})")
        return self

    @cached_property
    def sigma(self) -> float:
        """Standard deviation of the logarithm, from the median and the 90th percentile."""
        return math.log(self.p90 / self.median) / _Z90

    @property
    def mean(self) -> float:
        """The mean of the uncapped distribution; with a cap, an upper bound of the mean."""
        return self.median * math.exp(self.sigma**2 / 2)

    def ppf(self, u: float) -> float:
        """The ``u``-quantile, capped: the draw for the uniform ``u``."""
        x = self.median * math.exp(self.sigma * _STANDARD_NORMAL.inv_cdf(u))
        return x if self.cap is None else min(x, self.cap)


class Gamma(_Dist):
    """Gamma given by mean and coefficient of variation (cv = 1 is exponential)."""

    dist: Literal["gamma"]
    mean_value: float = Field(alias="mean", gt=0)
    cv: float = Field(gt=0)

    @property
    def mean(self) -> float:
        """The mean, as given."""
        return self.mean_value

    def ppf(self, u: float) -> float:
        """The ``u``-quantile: the draw for the uniform ``u``."""
        from scipy import special  # here: only a gamma draw needs scipy, not loading a scenario

        shape = 1.0 / self.cv**2
        return float(special.gammaincinv(shape, u)) * self.mean_value / shape


Distribution = Annotated[
    Exponential | Fixed | Uniform | Lognormal | Gamma,
    Field(discriminator="dist"),
]
