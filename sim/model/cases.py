"""The dispute (矛盾纠纷) as the model carries it, and the step it is in.

Implements the state of docs/model.md's case: where it arose, its category and severity
("Arrivals"), the rows of uniforms it carries (common random numbers), its patience ("Petitions"),
its worsening while left unattended ("Worsening"), and the step it stands in at a venue
("Mediation at a venue": what that step's register row will say). Behaviour that moves a case
lives in the mechanism modules; :func:`neglect` is the one rule of the case's own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy

    from sim.model.streams import Row

__all__: list[str] = []  # the model's own machinery; nothing public

_NO_ROW = memoryview(b"").cast("d")  # a case's rows before it is given its own

# Bits of ``_Case.history`` (mechanisms.petition_history reads them; the ladder sets them).
H_FAILED = 1  # a mediation step failed
H_TIMED_OUT = 2  # a step ran out of its time limit
# A second step failed or timed out (多次调解不成功; mechanisms.special_teams reads it).
H_FAILED_AGAIN = 4


class _Step:
    """One step of a case at a venue while it lasts: the fields its register row will take.

    ``started`` and ``kind`` (the mediator kind who answers for the step) are set when the first
    session starts; a step that ends before then keeps NaN and -1. Made once per step in the hot
    loop, so it holds only what the register row needs; the venue's settings (its desk, the time
    limit) are looked up again on the rare paths that need them.
    """

    __slots__ = (
        "channel",
        "effort",
        "entered",
        "kind",
        "severity",
        "started",
        "unit",
        "venue",
    )

    def __init__(
        self,
        venue: int,
        unit: int,
        channel: int,
        entered: float,
        severity: int,
        effort: float,
    ) -> None:
        self.venue = venue
        self.unit = unit
        self.channel = channel
        self.entered = entered
        self.severity = severity  # as the case entered the step
        self.effort = effort
        self.started = math.nan
        self.kind = -1


class _Case:
    """State of one dispute; behaviour lives in the mechanisms."""

    __slots__ = (
        "arisen",
        "category",
        "departments",
        "grid",
        "history",
        "id",
        "initial",
        "neglect",
        "open_step",
        "origin",
        "p",
        "patience_at",
        "sensitive",
        "severity",
        "severity0",
        "step",
        "u",
        "waiting_req",
        "worsen_at",
    )

    def __init__(self, cid: int, arisen: float, grid: int, category: int, severity: int):
        self.id = cid
        self.arisen = arisen
        self.grid = grid
        self.category = category
        self.severity = severity
        self.severity0 = severity
        self.sensitive = False
        self.initial = False
        self.origin = 0
        self.neglect = 0.0
        self.worsen_at: list[float] = []
        self.patience_at = math.inf
        self.departments: tuple[int, ...] = ()
        self.history = 0  # H_FAILED, H_TIMED_OUT, H_FAILED_AGAIN: what happened on the ladder
        self.step = 0  # steps recorded so far
        self.open_step: _Step | None = None  # the step it is in now, None in transit
        # Its rows of uniforms (UniformRows), set as it is made.
        self.u: Row = _NO_ROW
        self.p: Row = _NO_ROW
        self.waiting_req: simpy.Event | None = None  # the request it queues on, while it queues


def neglect(case: _Case, days: float) -> None:
    """Time left unattended; a dispute may worsen one step per threshold passed."""
    case.neglect += days
    while case.worsen_at and case.neglect >= case.worsen_at[0]:
        case.worsen_at.pop(0)
        if case.severity < 2:
            case.severity += 1
