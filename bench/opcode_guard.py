"""The regression guard of issue 19: bytecodes per dispute must not grow unexplained.

``python -m bench --only opcodes`` counts the Python bytecodes the reduced model executes per
dispute (bench/opcodes.py): deterministic for a given code and seed, so unlike seconds it can
be compared across commits and machines. Each measured commit is recorded in the committed file
bench/opcodes_history.csv (``commit,opcodes_per_dispute,note``; bench/results/ is git-ignored).
A figure more than :data:`ALLOWED_GROWTH` above the last recorded one (of another commit) fails
the suite unless ``--note`` says why; with a note it is recorded and becomes the new baseline.
Only a clean checkout (or ``--rev``) is recorded: a figure of uncommitted code has no commit to
stand for, but it is still judged, so a change can be checked before it is committed.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["ALLOWED_GROWTH", "FIELDS", "Verdict", "guard", "judge", "read_history"]

ALLOWED_GROWTH = 0.05
"""Growth over the last recorded figure that passes without a note (5%)."""

FIELDS = ("commit", "opcodes_per_dispute", "note")


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one measured figure."""

    ok: bool
    figure: float
    baseline: float | None  # the last recorded figure of another commit, if any
    baseline_commit: str | None
    growth: float | None  # figure / baseline - 1
    recorded: bool
    message: str


def read_history(path: Path) -> list[dict[str, str]]:
    """The rows of the history file, oldest first (none if it does not exist yet)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [dict(row) for row in csv.DictReader(f)]


def judge(history: list[dict[str, str]], commit: str, figure: float, note: str = "") -> Verdict:
    """Compare ``figure`` with the last recorded figure of a commit other than ``commit``.

    Pure: records nothing (``recorded`` is False; :func:`guard` records). Fails only on growth
    beyond :data:`ALLOWED_GROWTH` without a ``note``; a fall, or growth with a note, passes.
    """
    earlier = [row for row in history if row["commit"] != commit]
    if not earlier:
        return Verdict(True, figure, None, None, None, False, "no earlier figure to compare")
    last = earlier[-1]
    base = float(last["opcodes_per_dispute"])
    growth = figure / base - 1.0
    shown = (
        f"{figure:,.0f} opcodes per dispute, {growth:+.1%} against {base:,.0f} "
        f"recorded for {last['commit'][:10]}"
    )
    if growth > ALLOWED_GROWTH and not note.strip():
        return Verdict(
            False,
            figure,
            base,
            last["commit"],
            growth,
            False,
            f"{shown}: more than {ALLOWED_GROWTH:.0%} growth without a note. Make the model do "
            "less work, or rerun with --note 'why it is worth it' to record the new figure",
        )
    return Verdict(True, figure, base, last["commit"], growth, False, shown)


def guard(path: Path, commit: str, clean: bool, figure: float, note: str = "") -> Verdict:
    """:func:`judge` the figure against ``path``; record it there if it passed and ``commit``
    names the measured code (``clean``). A commit measured again replaces its row."""
    history = read_history(path)
    verdict = judge(history, commit, figure, note)
    if not verdict.ok:
        return verdict
    if not clean:
        why = " (not recorded: uncommitted changes; commit, then run the suite again)"
        return replace(verdict, message=verdict.message + why)
    rows = [row for row in history if row["commit"] != commit]
    rows.append({"commit": commit, "opcodes_per_dispute": f"{figure:.1f}", "note": note.strip()})
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # whole or not at all: the file is the baseline of the next run
    return replace(verdict, recorded=True)
