"""Penalised (weak-prior) logit fits by Newton's method, and the identifiability check they use.

Two models, each the exact form the simulation draws from:

- :func:`fit_binary_logit`: ``logit p_i = offset_i + X_i · β``, with a normal prior on each
  coefficient (mean ``prior_mean``, standard deviation ``prior_sd``): the maximum a posteriori
  estimate, its Laplace covariance ``(X'WX + P)⁻¹``. A weak prior changes nothing where the data
  are many and keeps a cell with a handful of steps near its parent (partial pooling).
- :func:`fit_choice_logit`: the multinomial (conditional) logit ``P(j | i) ∝ exp(Z_ij · θ +
  offset_ij)`` over the alternatives open to case ``i``, same prior and covariance.

:func:`collinear` finds the columns a design cannot separate, naming the others each one moves
with, so that a report says which effects are confounded instead of printing a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LogitFit",
    "collinear",
    "effect_row",
    "fit_binary_logit",
    "fit_choice_logit",
    "tied_with",
]

_TOL = 1e-9  # Newton stops when the step's largest change falls below it
_MAX_STEPS = 100
# A column whose part not explained by the others has less than this share of its variance is
# taken as a combination of them: the design cannot tell its effect from theirs. Exact ties
# (a column that is constant, or equal to another) give 0 to rounding; 1e-8 leaves room for it.
_COLLINEAR_R2 = 1.0 - 1e-8


@dataclass
class LogitFit:
    """The posterior mode ``beta`` and its Laplace covariance ``cov`` (same column order)."""

    beta: np.ndarray
    cov: np.ndarray
    converged: bool

    @property
    def se(self) -> np.ndarray:
        """Standard errors: square roots of the covariance's diagonal."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def _solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(h, g)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(h, g, rcond=None)[0]


def fit_binary_logit(
    x: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
) -> LogitFit:
    """MAP logistic regression of 0/1 ``y`` on ``x`` with ``offset`` and a normal prior."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    prec = 1.0 / np.asarray(prior_sd, float) ** 2
    beta = np.asarray(prior_mean, float).copy()
    converged = False
    for _ in range(_MAX_STEPS):
        eta = offset + x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        grad = x.T @ (y - p) - prec * (beta - prior_mean)
        hess = (x * w[:, None]).T @ x + np.diag(prec)
        step = _solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < _TOL:
            converged = True
            break
    eta = offset + x @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    hess = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(prec)
    return LogitFit(beta, np.linalg.inv(hess), converged)


def fit_choice_logit(
    z: np.ndarray,
    chosen: np.ndarray,
    offset: np.ndarray,
    prior_sd: np.ndarray,
) -> LogitFit:
    """MAP conditional logit: ``z`` is (cases, alternatives, terms), ``chosen`` the index of
    each case's alternative, ``offset`` (cases, alternatives) with ``-inf`` for a closed one."""
    n, _, k = z.shape
    prec = 1.0 / np.asarray(prior_sd, float) ** 2
    theta = np.zeros(k)
    rows = np.arange(n)
    z_chosen = z[rows, chosen]
    converged = False

    def probabilities(t: np.ndarray) -> np.ndarray:
        v = offset + z @ t
        v = v - v.max(axis=1, keepdims=True)
        e = np.exp(v)
        return e / e.sum(axis=1, keepdims=True)

    def hessian(p: np.ndarray) -> np.ndarray:
        zbar = np.einsum("nj,njk->nk", p, z)
        dz = z - zbar[:, None, :]
        return np.einsum("nj,njk,njl->kl", p, dz, dz) + np.diag(prec)

    for _ in range(_MAX_STEPS):
        p = probabilities(theta)
        grad = (z_chosen - np.einsum("nj,njk->nk", p, z)).sum(axis=0) - prec * theta
        step = _solve(hessian(p), grad)
        theta = theta + step
        if np.max(np.abs(step)) < _TOL:
            converged = True
            break
    return LogitFit(theta, np.linalg.inv(hessian(probabilities(theta))), converged)


def collinear(columns: np.ndarray, names: list[str]) -> dict[str, list[str]]:
    """The columns that are (exact) combinations of others: name → the names it moves with.

    ``columns`` are already centred as the model needs (e.g. within the cells of the base
    rates). A column with no variation left maps to an empty list. Columns are taken in order:
    each is tested against the earlier ones kept, so of two equal columns the second is named,
    with the first as its partner.
    """
    out: dict[str, list[str]] = {}
    kept: list[int] = []
    for j, name in enumerate(names):
        col = columns[:, j]
        total = float(col @ col)
        scale = float(np.abs(col).max()) if len(col) else 0.0
        if total <= 1e-12 * max(len(col), 1) * max(scale, 1.0) ** 2 or scale == 0.0:
            out[name] = []
            continue
        if kept:
            basis = columns[:, kept]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            resid = col - basis @ coef
            if 1.0 - float(resid @ resid) / total >= _COLLINEAR_R2:
                big = np.abs(coef) > 1e-6 * max(np.abs(coef).max(), 1e-300)
                out[name] = [names[kept[i]] for i in np.flatnonzero(big)]
                continue
        kept.append(j)
    return out


def tied_with(term: str, unseparated: dict[str, list[str]]) -> set[str]:
    """The terms :func:`collinear` found ``term`` cannot be told apart from, either way round."""
    return {*unseparated.get(term, []), *(k for k, v in unseparated.items() if term in v)} - {term}


def effect_row(
    group: str,
    term: str,
    label: str,
    n: float,
    status: str,
    written: bool,
    estimate: float | None = None,
    se: float = float("nan"),
    z: float = float("nan"),
) -> dict[str, object]:
    """One row of the effects table: without ``estimate`` a term given no number."""
    row: dict[str, object] = {"group": group, "term": term, "label": label}
    if estimate is not None:
        row |= {
            "estimate": estimate,
            "se": se,
            "ci_low": estimate - z * se,
            "ci_high": estimate + z * se,
        }
    return row | {"n": n, "status": status, "written": written}
