"""Unit tests: calendars, distributions, overrides and the district tree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter

import sim
from sim.scenario.calendar import WorkingCalendar
from sim.scenario.distributions import Distribution
from sim.scenario.district import District
from sim.scenario.loading import apply_overrides, parse_override
from sim.scenario.schema import Calendar

from .scenarios import SMALL


def _brute_force_finish(cal: Calendar, weekday0: int, t: float, hours: float) -> float:
    """Step minute by minute through the working windows."""
    minute = 1 / 1440
    remaining = round(hours * 60)
    now = math.ceil(round(t * 1440, 6)) / 1440
    while remaining > 0:
        day = math.floor(now + 1e-9)
        in_day = (now - day) * 24
        working = (weekday0 + day) % 7 < cal.days_per_week
        if (
            working
            and cal.day_start_hour - 1e-6 <= in_day < cal.day_start_hour + cal.hours_per_day - 1e-6
        ):
            remaining -= 1
        now += minute
    return now


@pytest.mark.parametrize(
    ("hours_per_day", "days_per_week", "start_hour"), [(8, 5, 8.5), (2, 7, 18), (10, 6, 7)]
)
def test_calendar_matches_brute_force(hours_per_day, days_per_week, start_hour):
    cal = Calendar(
        hours_per_day=hours_per_day, days_per_week=days_per_week, day_start_hour=start_hour
    )
    wc = WorkingCalendar(cal, start_weekday=2)  # 2020-01-01 was a Wednesday
    rng = np.random.default_rng(0)
    for _ in range(25):
        t = round(float(rng.uniform(0, 14)) * 1440) / 1440
        hours = round(float(rng.uniform(0.1, 60)) * 60) / 60
        assert wc.finish(t, hours) == pytest.approx(
            _brute_force_finish(cal, 2, t, hours), abs=2 / 1440
        ), (t, hours)


def test_round_the_clock_is_plain_time():
    assert WorkingCalendar.round_the_clock().finish(1.25, 36) == pytest.approx(2.75)


def test_calendar_skips_whole_weeks_exactly():
    cal = WorkingCalendar(Calendar(hours_per_day=8, days_per_week=5), start_weekday=0)
    # 400 hours = 10 weeks of 40 hours from Monday 08:30 ends Friday 16:30 of week 10.
    assert cal.finish(8.5 / 24, 400) == pytest.approx(7 * 9 + 4 + 16.5 / 24)


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "exponential", "mean": 3.0},
        {"dist": "lognormal", "median": 2.0, "p90": 10.0},
        {"dist": "gamma", "mean": 4.0, "cv": 0.5},
        {"dist": "uniform", "low": 1.0, "high": 3.0},
        {"dist": "fixed", "value": 2.5},
    ],
)
def test_distribution_inversion_has_the_stated_mean(spec):
    dist = TypeAdapter(Distribution).validate_python(spec)
    u = (np.arange(200000) + 0.5) / 200000  # a fine quadrature of the inverse CDF
    values = np.array([dist.ppf(x) for x in u])
    assert values.mean() == pytest.approx(dist.mean, rel=0.01)


def test_lognormal_quantiles():
    dist = TypeAdapter(Distribution).validate_python({"dist": "lognormal", "median": 2, "p90": 10})
    assert dist.ppf(0.5) == pytest.approx(2)
    assert dist.ppf(0.9) == pytest.approx(10)


def test_overrides_reach_arrays_by_index_and_name():
    table = {"townships": [{"name": "甲镇", "pinyin": "Jiazhen", "full_time": 1}], "a": {"b": 1}}
    out = apply_overrides(
        table,
        [
            parse_override("townships.0.full_time=3"),
            parse_override("townships.甲镇.part_time=2"),
            parse_override("a.c=[1, 2]"),
            parse_override("a.word=hello"),
        ],
    )
    assert out["townships"][0] == {
        "name": "甲镇",
        "pinyin": "Jiazhen",
        "full_time": 3,
        "part_time": 2,
    }
    assert out["a"] == {"b": 1, "c": [1, 2], "word": "hello"}
    assert table["townships"][0]["full_time"] == 1, "the input is not modified"


def test_set_overrides_a_township_by_pinyin():
    scenario = sim.load_scenario(SMALL, ["townships.Yixiang.full_time=4"])
    assert District.from_scenario(scenario).staffing["township"][1].full_time == 4


def test_district_tree_from_small():
    d = District.from_scenario(sim.load_scenario(SMALL))
    assert len(d.township_names) == 2
    assert len(d.village_names) == 5
    assert len(d.grid_names) == 9
    # Every village has a grid; grids of 甲镇 (5 over 3 villages) spread 2, 2, 1.
    assert [len(g) for g in d.village_grids] == [2, 2, 1, 2, 2]
    # 40% coverage of village full-time staff: round(0.4 × 3) = 1 and round(0.4 × 2) = 1.
    assert [s.full_time for s in d.staffing["village"]] == [1, 0, 0, 1, 0]


def test_qujiang_structure_matches_the_data():
    scenario = sim.load_scenario()
    d = District.from_scenario(scenario)
    assert len(scenario.townships) == 20
    assert len(d.village_names) == 286
    assert 350 <= len(d.grid_names) <= 700
    assert scenario.population == pytest.approx(373920, rel=0.01)
    assert all(s.full_time >= 2 for s in d.staffing["township"]), "the seed's township quota"


def test_grid_units_table_agrees_with_unit_of() -> None:
    # The model's hot loop reads the table; unit_of is the definition.
    district = District.from_scenario(sim.load_scenario(SMALL.with_name("qujiang.toml")))
    table = district.grid_units()
    assert len(table) == len(district.grid_names)
    for g, units in enumerate(table):
        assert units == tuple(district.unit_of(level, g) for level in sim.LEVELS)


def test_every_day_calendars_finish_as_the_general_loop_to_the_bit() -> None:
    """WorkingCalendar._every_day (7 working days a week, no weekday arithmetic) returns what
    the general day-by-day loop returns, bit for bit, on random windows, starts and efforts."""
    rng = np.random.default_rng(7)
    compared = 0
    for hours, start in [(1, 0), (2, 18), (2.5, 20), (4, 8.5), (8, 8.5), (10, 0.5), (23.5, 0)]:
        wc = WorkingCalendar(
            Calendar(hours_per_day=hours, days_per_week=7, day_start_hour=start),
            int(rng.integers(7)),
        )
        for _ in range(2000):
            day = int(rng.integers(0, 5000))
            remaining = float(rng.random() * rng.choice([0.01, 0.1, 1.0, 5.0, 40.0]))
            fast = wc._every_day(day, remaining)
            # Just under 7: every weekday is a working day, but the general loop runs.
            wc.days_per_week = 6.999  # type: ignore[assignment]
            general = wc._later_days(day, remaining)
            wc.days_per_week = 7
            assert fast == general, (hours, start, day, remaining)
            compared += 1
    assert compared == 14000


def test_uniform_rows_are_the_streams_draws_in_order_and_read_only():
    """A case's row is a view into a block of the stream: across block ends, row k must hold
    draws ``k * width`` to ``(k + 1) * width`` of the stream (what common random numbers rest on),
    as Python floats, and a case must not be able to change a row that others' blocks share."""
    from sim.model.streams import UniformRows

    width, block = 5, 4
    rows = UniformRows(np.random.default_rng(3), width, block=block)
    got = [rows.next() for _ in range(3 * block + 1)]  # crosses three block ends
    want = np.random.default_rng(3).random(4 * block * width).reshape(-1, width)
    for k, row in enumerate(got):
        assert len(row) == width
        assert list(row) == want[k].tolist(), k
        assert type(row[0]) is float
    with pytest.raises(TypeError):
        got[0][0] = 0.5


def test_copies_of_a_row_keep_its_numbers_and_not_its_block():
    """A petitioner keeps a detached copy of its rows, the township's second step a writable
    one: both must hold the row's numbers and let the stream's block go; writing the writable
    copy must leave the block as it was (other cases read it)."""
    import gc
    import weakref

    from sim.model.streams import UniformRows, detached, writable_copy

    rows = UniformRows(np.random.default_rng(5), 4, block=8)
    row, neighbour = rows.next(), rows.next()
    block = weakref.ref(row.obj)  # the numpy block behind the view
    kept, mine = detached(row), writable_copy(row)
    assert list(kept) == list(mine) == list(row)
    assert kept.readonly and not mine.readonly
    mine[0] = 0.25
    assert row[0] != 0.25 and list(kept) == list(row)
    del row, neighbour, rows
    gc.collect()
    assert block() is None, "a copy still keeps the block alive"
    assert mine[0] == 0.25 and len(kept) == 4
