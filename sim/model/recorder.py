"""What the model writes down: register rows, case rows, the sampled series and the gauges.

Implements the bookkeeping of docs/model.md "KPIs" and docs/register.md: one register row per
step a case spends at a venue (登记表), one row per case when it concludes (or is still open or
pending when the run ends), the cases present at each venue with their time integral (Little's
law needs no sampling), and the cases waiting and mediators busy sampled for the time series.
The rows go into :class:`sim.model.records.RecordLog` lists as tuples.
"""

from __future__ import annotations

import math

import simpy

from sim.model.cases import _Case, _Step
from sim.model.layout import N_VENUES, OUT, PETITION_OUTCOMES, ST
from sim.model.pools import _Count, _Gauge
from sim.model.records import RecordLog

__all__: list[str] = []  # the model's own machinery; nothing public


class _Recorder:
    """The record logs the model appends to, the cases still active, and the venue gauges."""

    def __init__(
        self,
        env: simpy.Environment,
        cases: RecordLog,
        steps: RecordLog,
        petitions: RecordLog,
        series: RecordLog,
    ) -> None:
        self.env = env
        self.cases, self.steps, self.petitions, self.series = cases, steps, petitions, series
        # The lists the hot loop appends to (packed into columns now and then).
        self.case_records, self.step_records = cases.rows, steps.rows
        self.chunk_rows = steps.chunk_rows
        self.active: dict[int, _Case] = {}  # cases not concluded, by id
        self.present = [_Gauge() for _ in range(N_VENUES)]
        # Only the cases present need a time integral (Little's law); waiting and busy are
        # sampled counts.
        self.waiting = [_Count() for _ in range(N_VENUES)]
        self.busy = [_Count() for _ in range(N_VENUES)]
        self.gauges = list(zip(self.present, self.waiting, self.busy, strict=True))
        # The venues the time series samples: those of the model before the township centres
        # unless they are on (set by the model), so that the series is as it was without them.
        self.sampled_venues = N_VENUES

    def record_step(self, case: _Case, step: _Step, outcome: str, effort: float) -> None:
        """The register row of ``step``, ending now with ``outcome`` after ``effort`` hours."""
        self.step_records.append(
            (case.id, case.step, step.venue, step.unit, step.channel, step.entered, step.started,
             self.env.now, OUT[outcome], step.kind, effort, step.severity, case.severity, False,
             -1, math.nan, effort)
        )  # fmt: skip
        case.step += 1
        case.open_step = None

    def conclude(self, case: _Case, status: str) -> None:
        """The case leaves the model now with ``status`` (a name of STATUSES)."""
        del self.active[case.id]
        self.record_case(case, ST[status], self.env.now)

    def record_case(self, case: _Case, status: int, concluded: float) -> None:
        self.case_records.append(
            (case.id, case.arisen, case.grid, case.category, case.severity0, case.severity,
             case.sensitive, case.initial, status, concluded, case.step, case.origin)
        )  # fmt: skip
        # A case has at least one step as a rule, so the steps fill their chunk first.
        if len(self.step_records) >= self.chunk_rows:
            self.cases.pack()
            self.steps.pack()

    def sampler(self, interval: float, until: float):
        """Per venue: cases present, waiting and mediators busy, every ``interval`` days."""
        env = self.env
        while env.now <= until:
            now = env.now
            for v in range(self.sampled_venues):
                self.series.rows.append(
                    (now, v, self.present[v].value, self.waiting[v].value, self.busy[v].value)
                )
            self.series.pack_if_full()
            yield env.timeout(interval)

    def close(self, open_petitions: dict[int, list]) -> None:
        """At the end of the run: rows for the cases and petitions still open, logs closed."""
        for case in list(self.active.values()):
            step = case.open_step
            if step is not None:
                self.step_records.append(
                    (case.id, case.step, step.venue, step.unit, step.channel, step.entered,
                     step.started, math.nan, OUT["open"], -1, step.effort, step.severity,
                     case.severity, False, -1, math.nan, step.effort)
                )  # fmt: skip
                case.step += 1  # the open row is a step too
                self.record_case(case, ST["open"], math.nan)
            else:
                self.record_case(case, ST["pending"], math.nan)
        for record in open_petitions.values():
            record[8] = PETITION_OUTCOMES.index("open")
            self.petitions.rows.append(tuple(record))
        for log in (self.cases, self.steps, self.petitions, self.series):
            log.close()
