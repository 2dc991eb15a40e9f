"""Lazy sweep rounds (sim.model.sweeps, sweep_count) against the process-per-grid model.

docs/model.md "Mediators' time": a sweep round takes a grid worker's time. The lazy rounds make
events only when something touches a grid; they must reproduce the process-per-grid model kept
below as the reference: the same cases, register and sweep work on small_full (bit for bit but
for the order of additions and for ties of equal times), and the same busy counts of the time
series but for such ties.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import simpy

import sim
import sim.model.replication as replication
from sim.measures.register import case_table, register_table
from sim.model.layout import GRID
from sim.model.pools import _Pool
from sim.model.recorder import _Recorder
from sim.model.sweeps import _NO_CASE, _SweptPool
from sim.model.venues import _Venues
from sim.scenario.calendar import WorkingCalendar

ROOT = Path(__file__).resolve().parents[1]
SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
# Long sweeps by workers who give little of their time to mediation: the grid pools are often
# busy, so rounds queue, run late and overlap the time series' samples.
SETS = [
    "discovery.sweep_hours_per_grid=3.0",
    "calendars.part_time.mediation_share=0.3",
    "calendars.full_time.mediation_share=0.3",
]


class _ProcessPerGrid:
    """The process-per-grid sweeps (before the lazy rounds), kept as the reference."""

    def __init__(
        self,
        env: simpy.Environment,
        hours: float,
        venues: _Venues,
        recorder: _Recorder,
        calendars: list[WorkingCalendar],
        offsets: list[float],
        interval: float,
        stop: float,
        window: tuple[float, float],
        work_in_window: list[float],
        sample_interval: float = math.inf,
    ) -> None:
        self.env = env
        self.hours = hours
        self.pools = venues.pools[GRID]
        self.shares = venues.shares
        self.busy = recorder.busy[GRID]
        self.calendars = calendars
        self.offsets = offsets
        self.interval = interval
        self.stop = stop  # arrivals end: once nobody waits, the sweeps stop too
        self.window = window
        self.work_in_window = work_in_window  # per venue, the mediation module's own list
        # Per grid, the done-events of the rounds not yet begun that a dispute waits for.
        self.pending: list[list[simpy.Event]] = [[] for _ in offsets]
        self.rounds_in_window = 0

    def start(self) -> None:
        """One sweeping process per grid."""
        for grid in range(len(self.offsets)):
            self.env.process(self.sweeper(grid))

    def found(self, grid: int, rounds: int) -> simpy.Event:
        """The event that the ``rounds``-th sweep of ``grid`` not yet begun is done (≥ 1)."""
        pending = self.pending[grid]
        while len(pending) < rounds:
            pending.append(self.env.event())
        return pending[rounds - 1]

    def sweeper(self, grid: int) -> Generator[simpy.Event, Any, None]:
        """The grid's sweeps: due every interval from its offset, late while its worker is busy."""
        env = self.env
        pool = cast("_Pool | None", self.pools[grid])
        pending = self.pending[grid]
        offset, interval = self.offsets[grid], self.interval
        due = offset
        while True:
            if due > env.now:
                yield env.timeout(due - env.now)
            if env.now >= self.stop and not pending:
                return
            if pool is not None:
                kind = pool.acquire_now(_NO_CASE)
                if kind < 0:
                    kind = yield pool.wait(1, _NO_CASE)
                yield from self._sweep(pool, kind, pending)
            elif pending:
                # No grid worker in the pool: nobody's time to count, the sweep is instant.
                pending.pop(0).succeed()
            # The next sweep: the first time of the grid's schedule after this one ended.
            due = offset + (int((env.now - offset) / interval) + 1) * interval

    def _sweep(
        self, pool: _Pool, kind: int, pending: list[simpy.Event]
    ) -> Generator[simpy.Event, Any, None]:
        """One round by a worker of ``kind``: it finds the disputes that arose before it began."""
        env = self.env
        done: Any = pending.pop(0) if pending else None
        self.busy.value += 1
        lo, hi = self.window
        if lo <= env.now < hi:
            self.work_in_window[GRID] += self.hours
            self.rounds_in_window += 1
        hold = self.hours / self.shares[kind]
        cal = self.calendars[kind]
        end = env.now + hold / 24.0 if cal.always_open else cal.finish(env.now, hold)
        yield env.timeout(end - env.now)
        pool.release(kind, _NO_CASE)
        self.busy.value -= 1
        if done is not None:
            done.succeed()


def _run(lazy: bool, replication_no: int, sets: list[str], monkeypatch: pytest.MonkeyPatch):
    if not lazy:
        monkeypatch.setattr(replication, "_Sweeps", _ProcessPerGrid)
    try:
        rep = replication.simulate_replication(sim.load_scenario(SMALL_FULL, sets), replication_no)
    finally:
        monkeypatch.undo()
    cases = case_table(rep)
    return rep, cases, register_table(rep, cases)


@pytest.mark.parametrize("replication_no", [0, 1, 2])
def test_lazy_rounds_reproduce_the_process_per_grid_model(replication_no, monkeypatch):
    """Same cases, register and sweep hours; busy counts of the samples differ only at ties."""
    old, old_cases, old_reg = _run(False, replication_no, SETS, monkeypatch)
    new, new_cases, new_reg = _run(True, replication_no, SETS, monkeypatch)
    pd.testing.assert_frame_equal(new_cases, old_cases)
    pd.testing.assert_frame_equal(new_reg, old_reg)
    # The same rounds in the window, added in another order: equal to the last bits.
    assert new.effort_hours["grid"] == pytest.approx(old.effort_hours["grid"], rel=1e-12)
    assert old.effort_hours["grid"] > 0
    a, b = old.timeseries.frame(), new.timeseries.frame()
    assert (a["time"].to_numpy() == b["time"].to_numpy()).all()
    # A round ending at the very time of a sample may be counted on either side of it.
    diff = np.abs(a["busy"].to_numpy() - b["busy"].to_numpy())
    assert diff.max() <= 1 and diff.sum() <= 2


def test_rounds_are_lazy(monkeypatch):
    """Short sweeps by mostly idle workers: fewer events than one process per grid."""
    light = ["discovery.sweep_hours_per_grid=0.5"]
    old, *_ = _run(False, 0, light, monkeypatch)
    new, *_ = _run(True, 0, light, monkeypatch)
    assert new.events < old.events


def test_grid_pools_catch_up_and_others_stay_plain():
    """Only grid pools are swapped, and only in runs where sweeps are work."""
    rep_model = replication._Model(sim.load_scenario(SMALL_FULL, SETS), 0, 1, None)
    pools = rep_model.venues.pools
    assert all(p is None or isinstance(p, _SweptPool) for p in pools[GRID])
    assert any(isinstance(p, _SweptPool) for p in pools[GRID])
    assert not any(isinstance(p, _SweptPool) for row in pools[GRID + 1 :] for p in row)
    plain = replication._Model(sim.load_scenario(SMALL_FULL, []), 0, 1, None)
    assert not any(isinstance(p, _SweptPool) for row in plain.venues.pools for p in row)


def test_a_round_due_while_every_worker_is_busy_queues_and_runs_late():
    """One worker, held by a case across a due time: the round queues and ends late."""
    sc = sim.load_scenario(SMALL_FULL, SETS)
    model = replication._Model(sc, 0, 1, None)
    sweeps = model.sweeps
    assert sweeps is not None
    grid = next(g for g, p in enumerate(sweeps.pools) if p is not None)
    pool = cast(_SweptPool, sweeps.pools[grid])
    env = model.env
    due = sweeps.due[grid]
    # Take every worker of the grid just before the round is due.
    env.run(until=due - 1e-6)
    kinds = []
    while (k := pool.acquire_now(_NO_CASE)) >= 0:
        kinds.append(k)
    done = sweeps.found(grid, 1)
    env.run(until=due + 1.0)
    assert not done.triggered  # every worker busy: the round waits in the queue
    assert pool.queue_length() >= 1
    for k in kinds:
        pool.release(k, _NO_CASE)
    env.run(until=due + 30.0)
    assert done.processed


# A sweep interval that is no whole number of weeks: rounds do not repeat on the 5-day calendar,
# so the lazy count and the skipping are off and every due grid is caught up before a sample.
UNEVEN = [*SETS, "discovery.sweep_interval_days=6.5"]


def test_rounds_that_do_not_repeat_are_caught_up_as_before(monkeypatch):
    """The catch-up path (no lazy count) still reproduces the process-per-grid model."""
    model = replication._Model(sim.load_scenario(SMALL_FULL, UNEVEN), 0, 1, None)
    assert model.sweeps is not None and model.sweeps.lazy is None
    old, old_cases, old_reg = _run(False, 0, UNEVEN, monkeypatch)
    new, new_cases, new_reg = _run(True, 0, UNEVEN, monkeypatch)
    pd.testing.assert_frame_equal(new_cases, old_cases)
    pd.testing.assert_frame_equal(new_reg, old_reg)
    a, b = old.timeseries.frame(), new.timeseries.frame()
    diff = np.abs(a["busy"].to_numpy() - b["busy"].to_numpy())
    assert diff.max() <= 1 and diff.sum() <= 2


def test_the_reference_comparison_covers_plans_skips_and_lazy_counts(monkeypatch):
    """With SETS the fast paths are on, and the comparison above runs through each of them:
    rounds counted lazily at samples, rounds skipped at touches, awaited rounds planned ahead,
    and plans dropped because the pool changed before their due time."""
    import sim.model.sweep_count as sweep_count
    import sim.model.sweeps as sweeps_module

    seen = {"planned": 0, "dropped": 0, "skipped": 0, "counted": 0}
    plan, touch, skip = (
        sweeps_module.plan_round,
        sweeps_module.touch_plan,
        sweeps_module.skip_rounds,
    )
    under_way = sweep_count._LazyCount.under_way

    def planned(sweeps, grid):
        made = plan(sweeps, grid)
        seen["planned"] += made
        return made

    def touched(sweeps, grid, pool_changes):
        seen["dropped"] += pool_changes and sweeps.env.now < sweeps.plans[grid][0]
        touch(sweeps, grid, pool_changes)

    def skipped(sweeps, grid, due, now, kind):
        out = skip(sweeps, grid, due, now, kind)
        seen["skipped"] += out != due
        return out

    def counted(self, s):
        n = under_way(self, s)
        seen["counted"] += n
        return n

    monkeypatch.setattr(sweeps_module, "plan_round", planned)
    monkeypatch.setattr(sweeps_module, "touch_plan", touched)
    monkeypatch.setattr(sweeps_module, "skip_rounds", skipped)
    monkeypatch.setattr(sweep_count._LazyCount, "under_way", counted)
    model = replication._Model(sim.load_scenario(SMALL_FULL, SETS), 0, 1, None)
    assert model.sweeps is not None and model.sweeps.lazy is not None
    model.run()
    assert all(n > 0 for n in seen.values()), seen
