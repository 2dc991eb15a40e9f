"""Linearised jumps of the package search (多步跳跃): many steps at once from paired gains.

The greedy (:meth:`~sim.sizing.package.PackageSearch.greedy`) buys one lever's steps per round
of simulations; far from the aims that is tens of rounds (on Qujiang ~25, each of four
candidates). A **jump** instead simulates, at the current package, one step of every measure
and of the screen's best headcount units (common random numbers: replication ``k`` of each faces
the same disputes), takes each step's paired gain on every target, and solves the least-cost
problem of the linearised targets (:func:`jump_plan`):

    minimise    Σ_j c_j x_j + M Σ_t s_t
    subject to  Σ_j g_tj x_j + s_t ≥ need_t   for every target t,
                0 ≤ x_j ≤ room_j,  s_t ≥ 0,

where ``g_tj`` is step ``j``'s gain on target ``t`` relative to the target (in its direction;
0 unless the paired mean is at least one standard error from 0, so noise buys nothing),
``need_t`` how far the target's bound is from its aim (negative when met with room to spare, so
that a step hurting a met target is weighed too), ``c_j`` the step's yearly cost (a free step
costs as much as the cheapest paid one, as in the greedy) and ``M`` a penalty above any
package's cost, so that when the linearisation cannot meet an aim the jump still goes towards
it. ``room_j`` is the steps left to the lever's bound, and at most doubles what the package
already has of it (at least :data:`TRUST_STEPS`): a trust region, since a linearisation holds
only near where it was taken. The solution, rounded up, is simulated; the search moves there
when the total shortfall fell, and linearises again. Gains mostly fall as steps are bought, so
a jump tends to undershoot; the greedy finishes what the jumps leave and the pruning takes back
any overshoot, so the guarantees (confirmation on fresh seeds, minimality) are the search's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linprog

from sim.sizing.levers import adjust

if TYPE_CHECKING:
    from sim.sizing.package import Package, PackageSearch
    from sim.sizing.replications import Replications

__all__ = ["MAX_JUMPS", "TRUST_STEPS", "Column", "jump", "jump_plan", "paired_gain"]

MAX_JUMPS = 6
"""Rounds of linearise-and-jump before the greedy takes over."""

TRUST_STEPS = 4
"""A jump moves a lever by at most max(this, the steps the package already has of it)."""


@dataclass(frozen=True)
class Column:
    """One step of the linearised problem: the package one step up, its lever and room."""

    probe: Package  # the package with this lever one step up
    what: str  # the lever's key or measure id
    index: int  # position of the lever in the key
    room: int  # steps it may take in this jump


def paired_gain(base: np.ndarray, moved: np.ndarray, sign: float, scale: float) -> float:
    """The mean paired difference in the target's direction, relative to ``scale``; 0 when it
    is within one standard error of 0 (noise buys nothing), NaN pairs left out, or when fewer
    than two pairs are left."""
    d = sign * (np.asarray(moved, dtype=float) - np.asarray(base, dtype=float))
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return 0.0  # no standard error to tell a gain from noise
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    return mean / scale if abs(mean) > se else 0.0


def jump_plan(
    need: np.ndarray, gains: np.ndarray, cost: np.ndarray, room: np.ndarray
) -> np.ndarray:
    """Whole steps of each column solving the linearised least-cost problem (module doc).

    ``need`` (targets), ``gains`` (targets × columns), ``cost`` and ``room`` (columns). The
    continuous solution is rounded up (a fraction of a step is a step) within ``room``; all
    zeros when the solver fails.
    """
    n_t, n_c = gains.shape
    if n_c == 0:
        return np.zeros(0, dtype=int)
    cost = np.asarray(cost, dtype=float)
    penalty = 1e3 * max(1.0, float(np.sum(cost * room)))
    c = np.concatenate([cost, np.full(n_t, penalty)])
    a_ub = np.hstack([-gains, -np.eye(n_t)])  # Σ g x + s ≥ need, as ≤
    bounds = [(0.0, float(r)) for r in room] + [(0.0, None)] * n_t
    res = linprog(c, A_ub=a_ub, b_ub=-np.asarray(need, dtype=float), bounds=bounds, method="highs")
    if not res.success:
        return np.zeros(n_c, dtype=int)
    x = np.ceil(np.asarray(res.x[:n_c]) - 1e-6)
    return np.clip(x, 0, room).astype(int)


def _columns(search: PackageSearch, key: Package, n: int, runs: Replications) -> list[Column]:
    """Every measure below its bound, and the screen's best headcount units, one step up."""
    space = search.space
    steps = space.steps(key)
    out = []
    for j, m in enumerate(space.measures):
        left = m.max_steps - steps[j]
        if left > 0 and search.fits(space.move(key, j, 1)):
            room = min(left, max(TRUST_STEPS, steps[j] - m.floor))
            out.append(Column(space.move(key, j, 1), m.id, len(space.levers) + j, room))
    c = max(1, math.ceil(search.settings.candidates / 2))
    for _, i in search.surrogate(key, n, runs).rank(space.staffing(key))[:c]:
        lever = space.levers[i]
        room = min(lever.ceiling - key[i], max(TRUST_STEPS, key[i] - lever.floor))
        out.append(Column(adjust(key, i, 1), lever.key, i, room))
    return out


def jump(search: PackageSearch, key: Package, n: int, runs: Replications, tag: str = "") -> Package:
    """Up to :data:`MAX_JUMPS` linearised jumps from ``key`` while a target fails."""
    for _ in range(MAX_JUMPS):
        if search.met(key, n, runs):
            break
        cols = _columns(search, key, n, runs)
        if not cols:
            break
        runs.run([key, *[col.probe for col in cols]], n)
        here = search.verdict(key, n, runs)
        base = runs.per_replication(key, n)
        names = list(search.targets)
        gains = np.zeros((len(names), len(cols)))
        need = np.zeros(len(names))
        for t, name in enumerate(names):
            target = search.targets[name]
            sign = 1.0 if target.sense == ">=" else -1.0
            scale = max(abs(target.value), 1e-9)
            need[t] = sign * (target.value - float(here.loc[name, "bound"])) / scale
            if not math.isfinite(need[t]):
                need[t] = 0.0  # a KPI with no value: nothing a linearisation can say
            for c, col in enumerate(cols):
                moved = runs.per_replication(col.probe, n)
                gains[t, c] = paired_gain(
                    base[name].to_numpy(dtype=float) if name in base else np.array([]),
                    moved[name].to_numpy(dtype=float) if name in moved else np.array([]),
                    sign,
                    scale,
                )
        extra = np.array([search.yuan(col.probe) - search.yuan(key) for col in cols])
        paid = min([e for e in extra if e > 0], default=1.0)
        plan = jump_plan(need, gains, np.maximum(extra, paid), np.array([c.room for c in cols]))
        new = _moved(key, cols, plan)
        while new != key and not search.fits(new):
            plan //= 2  # the budget ceiling: a shorter jump in the same direction
            new = _moved(key, cols, plan)
        if new == key:
            break
        runs.run([new], n)
        if not search.score(new, n, runs) < search.score(key, n, runs):
            break  # the linearisation did not help here: the greedy goes on
        bought = ", ".join(f"{col.what}+{k}" for col, k in zip(cols, plan, strict=True) if k)
        key = new
        search.path.append((key, f"jump {bought}{tag}"))
        search.log(f"  ⇒ jump {bought:<22} yuan {search.yuan(key):>14,.0f}  shortfall "
                   f"{search.score(key, n, runs):.4f}{tag}")  # fmt: skip
    return key


def _moved(key: Package, cols: Sequence[Column], plan: np.ndarray) -> Package:
    """The key with each column's lever moved by its planned steps."""
    for col, k in zip(cols, plan, strict=True):
        if k:
            key = adjust(key, col.index, int(k))
    return key
