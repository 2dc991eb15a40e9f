"""Errors that carry a user-facing message instead of a traceback."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InputProblem", "ScenarioError"]


@dataclass(frozen=True)
class InputProblem:
    """One problem in user input: where it is, what was found, what was expected."""

    source: str  # file name, "--set" or "register"
    key: str  # dotted key path, or "row N, column C"
    value: object
    expected: str

    def __str__(self) -> str:
        key = f" {self.key}" if self.key else ""
        value = "" if self.value is _MISSING else f" = {_short(self.value)}"
        return f"{self.source}:{key}{value}: {self.expected}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
InputProblem.MISSING = _MISSING  # type: ignore[attr-defined]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ScenarioError(Exception):
    """Bad user input; the CLI prints one line per problem and exits with status 2."""

    def __init__(self, problems: list[InputProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
