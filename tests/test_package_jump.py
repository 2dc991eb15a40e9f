"""The linearised jump of the package search (sim/sizing/package_jump.py): the least-cost
problem over lever steps, solved exactly on small cases whose answer can be worked by hand."""

from __future__ import annotations

import numpy as np

from sim.sizing.package_jump import jump_plan, paired_gain


def test_cheapest_gain_per_yuan_is_bought_and_rounded_up():
    # One target short by 0.10; lever 0 gains 0.03 a step for 10 yuan (0.003/yuan), lever 1
    # 0.05 for 30 (0.0017/yuan): lever 0 alone, 0.10 / 0.03 = 3.33 steps → 4 (a part step is
    # a step).
    plan = jump_plan(np.array([0.10]), np.array([[0.03, 0.05]]), np.array([10.0, 30.0]),
                     np.array([10, 10]))  # fmt: skip
    assert plan.tolist() == [4, 0]


def test_room_then_the_next_best_lever():
    # Lever 0 may take 2 steps (0.06): the remaining 0.04 needs 0.8 → 1 step of lever 1.
    plan = jump_plan(np.array([0.10]), np.array([[0.03, 0.05]]), np.array([10.0, 30.0]),
                     np.array([2, 10]))  # fmt: skip
    assert plan.tolist() == [2, 1]


def test_a_step_that_breaks_a_met_target_is_weighed():
    # Target 1 is met with 0.02 to spare; lever 0 (cheap) costs it 0.01 a step, so at most 2
    # steps of it; lever 1 (dear, harmless) buys the rest: 2 × 0.03 + 0.05 x ≥ 0.10 → x = 1.
    gains = np.array([[0.03, 0.05], [-0.01, 0.0]])
    plan = jump_plan(np.array([0.10, -0.02]), gains, np.array([10.0, 30.0]), np.array([10, 10]))
    assert plan.tolist() == [2, 1]


def test_out_of_reach_goes_as_far_as_the_room_allows():
    # 0.50 short, 2 + 3 steps at most give 0.21: the jump takes every step that gains.
    plan = jump_plan(np.array([0.50]), np.array([[0.03, 0.05, 0.0]]),
                     np.array([10.0, 30.0, 1.0]), np.array([2, 3, 5]))  # fmt: skip
    assert plan.tolist() == [2, 3, 0]


def test_met_targets_buy_nothing():
    plan = jump_plan(np.array([-0.01, 0.0]), np.array([[0.03], [0.01]]), np.array([10.0]),
                     np.array([5]))  # fmt: skip
    assert plan.tolist() == [0]


def test_paired_gain_is_zero_within_one_standard_error():
    base = np.array([0.50, 0.60, 0.40, 0.55])
    # Differences +0.01, −0.01, +0.02, −0.01: mean 0.0025, SE ≈ 0.0072: noise, no gain.
    assert paired_gain(base, base + np.array([0.01, -0.01, 0.02, -0.01]), 1.0, 1.0) == 0.0
    # Differences all +0.02 (common random numbers move every replication alike): a gain,
    # relative to the target's scale and in its direction.
    assert abs(paired_gain(base, base + 0.02, 1.0, 0.5) - 0.04) < 1e-12
    assert abs(paired_gain(base, base + 0.02, -1.0, 1.0) + 0.02) < 1e-12
    # One pair (the rest NaN): no standard error, so no gain however large the difference.
    assert paired_gain(np.array([0.5, np.nan]), np.array([0.9, 0.7]), 1.0, 1.0) == 0.0
