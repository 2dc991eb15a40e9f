"""Record logs: packing into columns and spooling to Parquet change no number."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import sim
import sim.model.replication
from sim.measures.register import case_table, petition_table, register_table, timeseries_table
from sim.model.records import RecordLog

from .scenarios import SMALL

FIELDS = (("id", "int64"), ("t", "float64"), ("code", "int8"), ("flag", "bool"))
ROWS = [(k, k / 3 if k % 4 else np.nan, k % 5 - 1, k % 2 == 0) for k in range(23)]


def _log(chunk_rows: int, spool=None) -> RecordLog:
    log = RecordLog(FIELDS, chunk_rows=chunk_rows, spool=spool)
    for row in ROWS:
        log.rows.append(row)
        log.pack_if_full()
    return log


def test_chunks_give_the_rows_in_order_with_their_types() -> None:
    whole = _log(1000).frame()
    chunked = _log(4)
    assert len(chunked.rows) < 4  # packed as it went
    assert len(chunked) == len(ROWS)
    frame = chunked.frame()
    pd.testing.assert_frame_equal(frame, whole)
    assert [str(d) for d in frame.dtypes] == [d for _, d in FIELDS]
    assert frame["id"].tolist() == list(range(23))
    assert np.isnan(frame["t"].iloc[0]) and frame["t"].iloc[1] == 1 / 3
    assert frame[["code"]].equals(chunked.frame(["code"]))


def test_columns_are_exactly_the_tuples_values() -> None:
    """The tuples pass through one float64 block on the way to their columns: every value must
    come out as the Python value it was (the largest ids float64 holds exactly, NaN, -0.0,
    negative codes, flags)."""
    log = RecordLog(FIELDS)
    rows = [(2**53 - 1, -0.0, -128, True), (7, np.nan, 127, False), (0, 1e-300, 0, True)]
    log.rows.extend(rows)
    frame = log.frame()
    assert frame["id"].tolist() == [2**53 - 1, 7, 0]
    assert np.signbit(frame["t"].iloc[0])
    assert frame["code"].tolist() == [-128, 127, 0]
    assert frame["flag"].tolist() == [True, False, True]
    assert frame["t"].iloc[2] == 1e-300 and np.isnan(frame["t"].iloc[1])
    assert frame.columns.tolist() == [n for n, _ in FIELDS]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((1, 0.5, np.nan, True), "code: a value that is not an integer of int8"),
        ((1, 0.5, 300, True), "code: a value that is not an integer of int8"),
        ((1.5, 0.5, 3, True), "id: a value that is not an integer of int64"),
        ((2**53 + 1, 0.5, 3, True), "id: a value that is not an integer of int64"),
        ((1, 0.5, 3), "must have 4 values each"),
    ],
)
def test_a_row_that_does_not_fit_its_columns_is_an_error(row, message) -> None:
    """A model bug (a fraction, NaN or too wide a code in an integer column, a short tuple) must
    not pack silently into wrong numbers."""
    log = RecordLog(FIELDS)
    log.rows.append(row)
    with pytest.raises(ValueError, match=message):
        log.pack()


def test_a_short_row_and_a_long_one_do_not_cancel_out() -> None:
    """Five values and three make two rows of four in all: the columns would shift silently."""
    log = RecordLog(FIELDS)
    log.rows.extend([(1, 2.0, 3, True, 9), (2, 0.5, 1)])
    with pytest.raises(ValueError, match="must have 4 values each"):
        log.pack()


def test_spooled_log_reads_back_the_same_rows(tmp_path) -> None:
    path = tmp_path / "x" / "log.parquet"
    log = _log(4, spool=path)
    with pytest.raises(RuntimeError, match="still being written"):
        log.frame()
    log.close()
    assert path.exists()
    pd.testing.assert_frame_equal(log.frame(), _log(1000).frame())
    empty = RecordLog(FIELDS, spool=tmp_path / "empty.parquet")
    empty.close()
    assert len(empty.frame()) == 0 and list(empty.frame().columns) == [n for n, _ in FIELDS]


def _tables(rep: sim.Replication) -> list[pd.DataFrame]:
    cases = case_table(rep)
    return [cases, register_table(rep, cases), petition_table(rep), timeseries_table(rep)]


def test_packing_and_spooling_leave_the_register_unchanged(tmp_path, monkeypatch) -> None:
    # small_full: petitions, backlog and every venue, so every log has rows.
    scenario = sim.load_scenario(SMALL.with_name("small_full.toml"), ["run.horizon_days=300"])
    plain = sim.simulate_replication(scenario, 1, 4)
    monkeypatch.setattr(sim.model.replication, "CHUNK_ROWS", 16)  # many chunks in a small run
    chunked = sim.simulate_replication(scenario, 1, 4)
    spooled = sim.simulate_replication(scenario, 1, 4, spool=tmp_path / "rep1")
    assert len(plain.petitions) > 16 and len(plain.steps) > 100
    for name in ("cases", "steps", "petitions", "timeseries"):
        # Every row went to the file: none is left in memory.
        log = getattr(spooled, name)
        assert pq.read_metadata(log.spool).num_rows == len(log) > 0
        assert log.spool.parent == tmp_path / "rep1" and not log.rows
    for a, b, c in zip(_tables(plain), _tables(chunked), _tables(spooled), strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
    assert sim.kpis(plain) == pytest.approx(sim.kpis(spooled), nan_ok=True)
    cols = ["case_id", "ended"]
    pd.testing.assert_frame_equal(spooled.steps.frame(cols), plain.steps.frame(cols))
    # A replication travels to worker processes by pickle, records included (in memory or in
    # the spool files).
    for rep in (chunked, spooled):
        again = pickle.loads(pickle.dumps(rep))
        pd.testing.assert_frame_equal(register_table(again), register_table(plain))
    spooled.steps.close()  # a second close keeps the file
    assert len(spooled.steps.frame()) == len(plain.steps)
