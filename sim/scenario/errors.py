"""Errors that carry a user-facing message instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import ClassVar

__all__ = ["MAX_SHOWN", "InputProblem", "ScenarioError"]


class _Missing:
    """Marks "no value to show" (a missing key, an unreadable file), distinct from ``None``."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


@dataclass(frozen=True)
class InputProblem:
    """One problem in user input: where it is, what was found, what was expected.

    Printed as one line, ``SOURCE: KEY = VALUE: EXPECTED``; the key and the value are left out
    when there is none (``missing.toml: file not found``, ``--replications = 0: ...``).
    """

    MISSING: ClassVar[object] = _MISSING

    source: str  # file name, "--set", "--replications", ...
    key: str  # dotted key path, or "row N, column C", or "" when the whole source is at fault
    value: object  # the offending value, or InputProblem.MISSING
    expected: str

    def __str__(self) -> str:
        text = self.source
        if self.key:
            text += f": {self.key}"
        if self.value is not _MISSING:
            text += f" = {_short(self.value)}"
        text += f": {self.expected}"
        # The CLI promises one line per problem; a stray newline would split it.
        return " ".join(text.splitlines())


def _short(value: object, limit: int = 60) -> str:
    # A date as the TOML file writes it, not as datetime.date(1, 1, 1).
    text = value.isoformat() if isinstance(value, date) else repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str | PurePath) and "/" in str(value):
        return "..." + text[-(limit - 3) :]  # a path: its end names the file
    return text[: limit - 3] + "..."


MAX_SHOWN = 50
"""Problems printed in full; past these the CLI says how many more there are."""


class ScenarioError(Exception):
    """Bad user input; the CLI prints one line per problem and exits with status 2.

    Repeated problems (the same line twice) are kept once, in order. All are kept in
    ``problems``; :attr:`shown` is the first :data:`MAX_SHOWN` and :attr:`more` the count of
    the rest, so that a file with 200,000 bad keys gives a readable answer.
    """

    def __init__(self, problems: Iterable[InputProblem]):
        unique: dict[str, InputProblem] = {}
        for problem in problems:
            unique.setdefault(str(problem), problem)
        self.problems = list(unique.values())
        self.lines = list(unique)  # the text of each problem, as printed
        super().__init__("\n".join(self.shown_lines()))

    @property
    def shown(self) -> list[InputProblem]:
        """The problems shown in full."""
        return self.problems[:MAX_SHOWN]

    @property
    def more(self) -> int:
        """How many problems there are beyond :attr:`shown`."""
        return max(0, len(self.problems) - MAX_SHOWN)

    def shown_lines(self) -> list[str]:
        """One line per shown problem, and a last one counting the rest if there are more."""
        lines = self.lines[:MAX_SHOWN]
        if self.more:
            lines.append(f"… and {self.more:,} more problems (fix the ones above first)")
        return lines
