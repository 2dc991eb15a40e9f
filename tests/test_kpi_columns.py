"""KPIs streamed off the record columns with NumPy equal those of the tables, to the last bit.

``sim.kpis(rep)`` reads the records a chunk at a time (in memory, or the spool file's row
groups) and never builds the register; ``sim.kpis(rep, cases, register)`` reads the tables.
Both must give every KPI and the yearly cost identically: the waits are averaged in the
register's order and the gold-medal rewards summed as pandas' grouped sum does (compensated).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
import sim.model.replication
from sim.measures.costs import cost_table
from sim.measures.outcomes import _compensated_sum
from sim.measures.register import case_table, register_table
from sim.model.records import RecordLog

from .scenarios import ROOT

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
QUJIANG = ROOT / "scenarios" / "qujiang.toml"


def _same(a: dict[str, float], b: dict[str, float]) -> list[str]:
    """The keys whose values differ (NaN equals NaN; otherwise exact equality)."""
    assert a.keys() == b.keys()
    return [k for k in a if not (a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])))]


@pytest.mark.parametrize(
    ("path", "overrides", "gold"),
    [
        # Petitions, backlog, every venue and time limits.
        (SMALL_FULL, ["run.horizon_days=300"], False),
        # Quality on with gold-medal mediators: rewards weighted by each mediator's grade.
        (QUJIANG, ["run.horizon_days=60", "run.warmup_days=20", "run.drain_limit_days=30"], True),
    ],
)
def test_streamed_kpis_equal_the_tables_to_the_bit(path, overrides, gold, tmp_path, monkeypatch):
    from sim.measures.costs import gold_multipliers

    scenario = sim.load_scenario(path, overrides)
    plain = sim.simulate_replication(scenario, 1, 4)
    assert (gold_multipliers(plain) is not None) == gold
    cases = case_table(plain)
    register = register_table(plain, cases)
    from_tables = sim.kpis(plain, cases, register)
    # The yearly cost is the cost table's own sum, added in the same order.
    assert from_tables["annual_cost_yuan"] == float(
        cost_table(plain, register)["yuan_per_year"].sum()
    )
    assert not _same(sim.kpis(plain), from_tables)
    # Many chunks: a dispute's steps fall into several, and the steps come in the order they
    # ended, not by dispute; spooled, they come back as the Parquet file's row groups.
    monkeypatch.setattr(sim.model.replication, "CHUNK_ROWS", 16)
    chunked = sim.simulate_replication(scenario, 1, 4)
    spooled = sim.simulate_replication(scenario, 1, 4, spool=tmp_path / "rep")
    assert len(chunked.steps._chunks) > 10  # the test needs many chunks
    for rep in (chunked, spooled):
        assert not _same(sim.kpis(rep), from_tables)


def test_the_kpis_of_a_run_need_no_register_in_memory(tmp_path, monkeypatch):
    """Spooled, the KPIs read the steps' row groups one by one (RecordLog.chunks) and never
    build the whole register: RecordLog.frame, the one way to it, fails if called."""
    from sim.model.records import RecordLog

    scenario = sim.load_scenario(SMALL_FULL, ["run.horizon_days=120"])
    spooled = sim.simulate_replication(scenario, 0, 2, spool=tmp_path / "rep")
    read = 0
    chunks = RecordLog.chunks

    def counted(self, *args, **kwargs):
        nonlocal read
        for chunk in chunks(self, *args, **kwargs):
            read += 1
            yield chunk

    def refuse(self, *args, **kwargs):
        raise AssertionError("the KPIs built a whole table of records")

    monkeypatch.setattr(RecordLog, "frame", refuse)
    monkeypatch.setattr(RecordLog, "chunks", counted)
    kpis = sim.kpis(spooled)
    assert kpis["disputes"] > 0 and read >= 2  # read in parts, never whole
    assert not spooled.steps.rows and not spooled.steps._chunks


def test_compensated_sum_is_pandas_grouped_sum():
    """Gold-medal rewards: pandas' groupby sum is compensated (Kahan); ours must match it."""
    rng = np.random.default_rng(7)
    values = np.where(rng.random(5000) < 0.15, 1.5 * math.pi, 0.9 * math.e)
    groups = rng.integers(0, 3, len(values))
    frame = pd.DataFrame({"g": groups, "v": values})
    grouped = frame.groupby("g")["v"].sum()
    for g in range(3):
        here = values[groups == g]
        assert _compensated_sum(here) == grouped[g]
    # Not a plain sum: otherwise this test would not tell the two apart.
    assert any(values[groups == g].sum() != grouped[g] for g in range(3))


FIELDS = (("id", "int64"), ("t", "float64"), ("flag", "bool"))


def test_record_log_chunks_in_memory_and_spooled(tmp_path):
    rows = [(k, k / 7, k % 3 == 0) for k in range(50)]
    for spool in (None, tmp_path / "log.parquet"):
        log = RecordLog(FIELDS, chunk_rows=8, spool=spool)
        for row in rows:
            log.rows.append(row)
            log.pack_if_full()
        if spool is not None:
            with pytest.raises(RuntimeError, match="still being written"):
                next(log.chunks())
            log.close()
        parts = list(log.chunks(["t", "id"]))
        assert len(parts) > 1 and all(list(p) == ["t", "id"] for p in parts)
        ids = np.concatenate([p["id"] for p in parts])
        assert ids.dtype == np.int64 and ids.tolist() == list(range(50))
        t = np.concatenate([p["t"] for p in parts])
        assert t.tolist() == [k / 7 for k in range(50)]
        flags = np.concatenate([p["flag"] for p in log.chunks(["flag"])])
        assert flags.dtype == bool and flags.tolist() == [r[2] for r in rows]
    empty = RecordLog(FIELDS, spool=tmp_path / "empty.parquet")
    empty.close()
    assert list(empty.chunks()) == []
