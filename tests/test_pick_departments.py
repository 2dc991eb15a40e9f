"""The one choice of a joint case's departments (sim.model.centre.pick_departments), used by the
district centre (联合调处) and the township centres (乡镇矛调中心): the category's named
departments first, the rest by staff weight without replacement. That the two callers' registers
are unchanged by sharing it is the golden fingerprints' (tests/test_regression.py)."""

from __future__ import annotations

from collections import Counter

from sim.model.centre import pick_departments

STAFF = [1, 3, 2, 5]  # weights 1/11, 3/11, 2/11, 5/11


def test_named_first_then_by_weight_without_replacement_sorted():
    for k in range(1, len(STAFF) + 1):
        for u in (0.0, 0.3, 0.999):
            chosen = pick_departments((3, 1), STAFF, k, lambda d, u=u: u)
            assert len(chosen) == k == len(set(chosen)) and list(chosen) == sorted(chosen)
            assert set((3, 1)[:k]) <= set(chosen)


def test_one_draw_picks_each_department_in_proportion_to_its_staff():
    """A uniform grid of N draws (deterministic): department i is picked for a share staff_i / 11
    of them, to within 1/N (a grid point per 1/N of the unit interval)."""
    n = 11_000
    counts = Counter(
        pick_departments((), STAFF, 1, lambda d, i=i: (i + 0.5) / n)[0] for i in range(n)
    )
    for i, s in enumerate(STAFF):
        assert abs(counts[i] / n - s / sum(STAFF)) <= 1 / n


def test_the_draw_after_a_pick_weighs_only_the_departments_left():
    """With the heaviest department (5) named, the draw shares the remaining 6 staff."""
    n = 6_000
    counts = Counter(
        pick_departments((3,), STAFF, 2, lambda d, i=i: (i + 0.5) / n) for i in range(n)
    )
    for i, s in enumerate(STAFF[:3]):
        assert abs(counts[tuple(sorted((i, 3)))] / n - s / 6) <= 1 / n
