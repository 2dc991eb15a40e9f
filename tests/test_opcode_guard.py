"""The comparison logic of bench's regression guard (issue 19, item 5); no timing here."""

from __future__ import annotations

import csv

import pytest

from bench.opcode_guard import ALLOWED_GROWTH, guard, judge, read_history


def _history(*rows: tuple[str, float, str]) -> list[dict[str, str]]:
    return [{"commit": c, "opcodes_per_dispute": str(f), "note": n} for c, f, n in rows]


HISTORY = _history(("aaa", 2000.0, ""), ("bbb", 1000.0, ""))


def test_growth_within_five_percent_passes_against_the_last_figure():
    v = judge(HISTORY, "ccc", 1000.0 * (1 + ALLOWED_GROWTH) - 0.1)
    assert v.ok
    assert v.baseline == 1000.0  # the last row, not the first
    assert v.baseline_commit == "bbb"


def test_growth_over_five_percent_without_a_note_fails_naming_both_figures():
    v = judge(HISTORY, "ccc", 1060.0)
    assert not v.ok
    assert v.growth == pytest.approx(0.06)
    assert "1,060" in v.message and "1,000" in v.message and "bbb" in v.message
    assert "--note" in v.message


def test_a_note_lets_growth_pass_and_a_fall_always_passes():
    assert judge(HISTORY, "ccc", 1500.0, note="petition mechanism on the hot path").ok
    assert not judge(HISTORY, "ccc", 1500.0, note="   ").ok  # blank is no note
    assert judge(HISTORY, "ccc", 500.0).ok


def test_a_commit_measured_again_is_compared_with_the_one_before():
    v = judge(HISTORY, "bbb", 2050.0)
    assert v.ok and v.baseline == 2000.0
    assert judge([], "x", 1e9).ok  # nothing recorded yet


def test_guard_records_a_clean_pass_replaces_its_commit_and_keeps_failures_out(tmp_path):
    path = tmp_path / "opcodes_history.csv"
    assert guard(path, "aaa", True, 1000.0).recorded
    assert guard(path, "bbb", True, 1010.0).recorded
    assert guard(path, "bbb", True, 1020.0).recorded  # re-measured: replaces its row
    failed = guard(path, "ccc", True, 2000.0)
    assert not failed.ok and not failed.recorded
    dirty = guard(path, "ddd", False, 1000.0)
    assert dirty.ok and not dirty.recorded and "not recorded" in dirty.message
    noted = guard(path, "eee", True, 2000.0, note="worth it")
    assert noted.ok and noted.recorded
    rows = read_history(path)
    assert [(r["commit"], r["opcodes_per_dispute"], r["note"]) for r in rows] == [
        ("aaa", "1000.0", ""),
        ("bbb", "1020.0", ""),
        ("eee", "2000.0", "worth it"),
    ]
    with path.open(newline="") as f:
        assert next(csv.reader(f)) == ["commit", "opcodes_per_dispute", "note"]
