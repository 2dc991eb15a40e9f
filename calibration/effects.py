"""The effects that make staffing matter, estimated from a register (人员配置的效应).

Each estimate matches the model's own equation, so that what is written is what the simulation
draws from:

- **Quality** (调解质量, ``[quality]``, sim/model/quality.py): a logistic regression of each
  mediated step's success on the mediator's kind, experience, training, grade, an expert and the
  effort given, with one base log-odds per level × severity (the ``resolve`` tables at the
  reference: standard grade, ``experience_reference_cases``, no training, full effort).
- **Entry choice** (入口选择, ``[entry]``, sim/model/entry.py): a multinomial logit of where
  self-reporting parties entered against their village's supply (:mod:`.entry_race`).
- **The discovery race** (发现竞赛, :mod:`.entry_race`): the parties' report rate and the share who
  never report, from the times to discovery of both channels.
- **Mediation share** (调解精力): not identified from a register's dates (a note says why).

Every estimate has an interval at the fit's level; small cells are pulled toward their level by
a weak prior (partial pooling); a term the register cannot separate from another is named in a
note, kept at the base's value and not printed. A key is written only when the base scenario has
the mechanism on (off, the model ignores it and the observed shares stay right as they are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KINDS, LEVELS, SEVERITIES

from .entry_race import ENTRY_LABELS, fit_entry_choice, fit_race
from .logit_fit import LogitFit, collinear, effect_row, fit_binary_logit, tied_with
from .params import Params
from .params import rounded as _r

__all__ = ["EFFECT_LABELS", "QUALITY_EFFECTS", "Effects", "fit_effects"]

QUALITY_EFFECTS = (
    "full_time",
    "experience_per_doubling",
    "training_per_10_hours",
    "gold_medal",
    "expert",
    "effort_ratio",
)
# Bilingual labels for the report and the notes.
EFFECT_LABELS = {
    "full_time": "专职调解员 full-time mediator",
    "experience_per_doubling": "办案经验 experience (per doubling of cases a year)",
    "training_per_10_hours": "培训 training (per 10 hours a year)",
    "gold_medal": "金牌调解员 gold-medal mediator",
    "expert": "专家参与 expert joined",
    "effort_ratio": "精力投入 effort ratio (log given / needed)",
    **ENTRY_LABELS,
}
# The register columns the quality fit needs (sim's register with mechanisms.quality on).
# Without 专家参与 (expert) or 实际投入工时 (effort_given_hours) those terms do not vary and are
# named as not identified.
QUALITY_COLUMNS = ("mediator_cases_per_year", "training_hours", "mediator_grade")
_MEDIATED = ("resolved", "escalated_failed", "unresolved")
# Weak priors (standard deviations on the log-odds scale). Effects: 2.5, the scale Gelman et al.
# (2008) propose for a logistic coefficient of a unit-scale input — it moves an estimate only
# when the register has almost nothing to say. Base log-odds of a level × severity cell: the
# level's mean (sd 10: next to flat) plus a deviation of sd 1.5, so a cell of a handful of steps
# borrows from its level (partial pooling) while a cell of hundreds is its own.
_EFFECT_SD = 2.5
_CELL_SD = 1.5
_LEVEL_SD = 10.0
_BOUNDS = {"full_time": (-5.0, 5.0)}  # the schema's; the lever effects are in [0, 5]


@dataclass
class Effects:
    """The effect estimates: one row per term (report table) and the notes on them."""

    table: pd.DataFrame  # group, term, label, estimate, se, ci_low, ci_high, n, status, written
    notes: list[str] = field(default_factory=list)


def _rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["group", "term", "label", "estimate", "se", "ci_low", "ci_high", "n", "status"]
    return pd.DataFrame(rows, columns=[*cols, "written"])


def fit_effects(
    table: pd.DataFrame,
    cases: pd.DataFrame,
    scenario: Scenario,
    level: float,
    params: Params,
    notes: list[str],
    seed: int = 0,
) -> Effects:
    """Fit every effect the register identifies; add their rows and settings to ``params``."""
    rows: list[dict[str, Any]] = []
    own: list[str] = []
    _fit_quality(table, scenario, level, params, rows, own)
    fit_entry_choice(cases, scenario, level, params, rows, own, seed)
    fit_race(cases, scenario, level, params, rows, own)
    own.append(
        "Mediation share (调解精力, calendars.<kind>.mediation_share) is not fitted: a register "
        "gives when a step was received and ended (受理/办结时间), not when its first session "
        "began, so the wait for a mediator cannot be told from the time the mediator held the "
        "case, nor the share of that time that was mediation; the base's shares are kept."
    )
    notes.extend(own)
    return Effects(_rows_frame(rows), own)


# --- Quality -------------------------------------------------------------------------------


def quality_design(
    steps: pd.DataFrame, scenario: Scenario
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    """The model's covariates for each mediated step, its 0/1 outcome and each step's cell.

    The covariates are exactly the terms of sim/model/quality.py: an indicator of a full-time
    mediator, log2(cases a year / experience_reference_cases), training hours / 10, an indicator
    of a gold-medal mediator, of an expert, and log(effort given / effort needed).
    """
    ref = scenario.quality.experience_reference_cases
    given = steps["effort_given_hours"] if "effort_given_hours" in steps else steps["effort_hours"]
    given = given.fillna(steps["effort_hours"])
    needed = steps["effort_hours"].to_numpy(float)
    ratio = np.where(needed > 0, given.to_numpy(float) / np.where(needed > 0, needed, 1.0), 1.0)
    cases = steps["mediator_cases_per_year"]
    x = pd.DataFrame(
        {
            "full_time": (steps["mediator_kind"] == "full_time").to_numpy(float),
            "experience_per_doubling": np.log2(cases.to_numpy(float) / ref),
            "training_per_10_hours": steps["training_hours"].to_numpy(float) / 10.0,
            "gold_medal": (steps["mediator_grade"] == "gold_medal").to_numpy(float),
            "expert": (
                steps["expert"].fillna(False).astype(bool).to_numpy(float)
                if "expert" in steps
                else np.zeros(len(steps))
            ),
            "effort_ratio": np.log(np.clip(ratio, 1e-9, None)),
        }
    )
    y = (steps["outcome"] == "resolved").to_numpy(float)
    cells = list(zip(steps["level"].astype(str), steps["severity"].astype(str), strict=True))
    return x, y, cells


def _quality_steps(table: pd.DataFrame) -> pd.DataFrame:
    steps = table[table["level"].isin(LEVELS) & table["outcome"].isin(_MEDIATED)]
    steps = steps[steps["mediator_kind"].notna() & steps["mediator_grade"].notna()]
    return steps[steps["mediator_cases_per_year"].astype(float) > 0]


def _fit_quality(
    table: pd.DataFrame,
    scenario: Scenario,
    level: float,
    params: Params,
    rows: list[dict[str, Any]],
    notes: list[str],
) -> None:
    missing = [c for c in QUALITY_COLUMNS if c not in table or table[c].isna().all()]
    if missing:
        notes.append(
            "Quality effects (调解质量) not fitted: the register has no "
            f"{', '.join(missing)} column (a register of sim with mechanisms.quality on has them)."
        )
        return
    steps = _quality_steps(table)
    if len(steps) < 20:
        notes.append(
            f"Quality effects (调解质量) not fitted: {len(steps)} mediated steps with "
            "the mediator's fields (need at least 20)."
        )
        return
    x, y, cell_of = quality_design(steps, scenario)
    cells = sorted(set(cell_of), key=lambda c: (LEVELS.index(c[0]), SEVERITIES.index(c[1])))
    index = {c: i for i, c in enumerate(cells)}
    ci = np.array([index[c] for c in cell_of])
    dummies = np.zeros((len(y), len(cells)))
    dummies[np.arange(len(y)), ci] = 1.0
    # Which effects the register separates: each column minus its cell mean (what the base
    # log-odds of the cells cannot absorb), then tested against the others.
    xv = x.to_numpy(float)
    counts = dummies.sum(axis=0)
    centred = xv - dummies @ ((dummies.T @ xv) / counts[:, None])
    unsep = collinear(centred, list(QUALITY_EFFECTS))
    # An effect moving with others is not separated; neither are the others (a tie between
    # full_time and gold_medal leaves both unknown). The first of a tied group stays in the fit
    # (as the group's combined effect, so the other estimates stay right), unprinted.
    hidden = set(unsep)
    for partners in unsep.values():
        hidden.update(partners)
    free = [e for e in QUALITY_EFFECTS if e not in unsep]
    base = scenario.quality
    fixed = [e for e in QUALITY_EFFECTS if e in unsep]
    offset = (
        xv[:, [QUALITY_EFFECTS.index(e) for e in fixed]]
        @ np.array([getattr(base, e) for e in fixed])
        if fixed
        else np.zeros(len(y))
    )
    # Partial pooling: a cell's base log-odds is its level's (a free mean, next to flat prior)
    # plus the cell's own deviation (prior sd _CELL_SD), so that a cell of a handful of steps
    # borrows from its level's other severities. The prior is centred on a parameter, not on the
    # register's pooled share: that share is at the register's covariates, not the reference.
    levels = sorted({c[0] for c in cells}, key=LEVELS.index)
    to_level = np.array([[1.0 if c[0] == lv else 0.0 for lv in levels] for c in cells])
    effects = xv[:, [QUALITY_EFFECTS.index(e) for e in free]]
    design = np.hstack([dummies @ to_level, dummies, effects])
    k_l, k_c, k_e = len(levels), len(cells), len(free)
    mean = np.zeros(k_l + k_c + k_e)
    sd = np.array([_LEVEL_SD] * k_l + [_CELL_SD] * k_c + [_EFFECT_SD] * k_e)
    wide = fit_binary_logit(design, y, offset, mean, sd)
    # Back to one log-odds per cell (level mean + deviation) and the effects.
    a = np.zeros((k_c + k_e, k_l + k_c + k_e))
    a[:k_c, :k_l] = to_level
    a[:k_c, k_l : k_l + k_c] = np.eye(k_c)
    a[k_c:, k_l + k_c :] = np.eye(k_e)
    fit = LogitFit(a @ wide.beta, a @ wide.cov @ a.T, wide.converged)
    z = float(stats.norm.ppf(0.5 + level / 2))
    on = scenario.mechanisms.quality
    for e in QUALITY_EFFECTS:
        n = float(len(y))
        if e in hidden:
            partners = sorted(tied_with(e, unsep))
            why = (
                f"moves with {', '.join(partners)}"
                if partners
                else "does not vary within a level × severity (or at all)"
            )
            notes.append(
                f"quality.{e} ({EFFECT_LABELS[e]}) is not identified: in this register it {why}, "
                "so its effect cannot be told apart from "
                f"{'theirs' if partners else 'the base success rates'}; the base's value "
                f"{getattr(base, e):g} is kept and no estimate is given."
            )
            rows.append(
                effect_row("quality", f"quality.{e}", EFFECT_LABELS[e], n, "not identified", False)
            )
            continue
        j = len(cells) + free.index(e)
        est, se = float(fit.beta[j]), float(fit.se[j])
        lo, hi = est - z * se, est + z * se
        low_b, high_b = _BOUNDS.get(e, (0.0, 5.0))
        value = _r(min(max(est, low_b), high_b), 4)
        note = "" if value == _r(est, 4) else f"written as {value:g}: the schema's range"
        source = "logit of step success (sim/model/quality.py), Laplace interval"
        params.add(
            f"quality.{e}",
            "quality",
            est,
            lo,
            hi,
            n,
            write=value if on else None,
            note=f"{source}; {note}" if note else source,
        )
        rows.append(
            effect_row(
                "quality", f"quality.{e}", EFFECT_LABELS[e], n, note or "estimated", on, est, se, z
            )
        )
    # The base log-odds of each cell: the resolve tables at the reference (standard grade, the
    # reference experience, no training, full effort, a part-time mediator when full_time is
    # estimated: the kind gap is then quality.full_time and both tables take the same value).
    ft_free = "full_time" in free
    keys: list[list[str]] = []
    for i, (lv, sev) in enumerate(cells):
        est, se = float(fit.beta[i]), float(fit.se[i])
        p = _expit(est)
        lo, hi = _expit(est - z * se), _expit(est + z * se)
        at = ci == i
        kinds = (
            KINDS
            if ft_free
            else tuple(k for k in KINDS if (steps["mediator_kind"].to_numpy()[at] == k).any())
        )
        params.add(
            f"quality.base.{lv}.{sev}",
            "quality",
            p,
            lo,
            hi,
            float(at.sum()),
            note="resolve at the reference, written to " + ", ".join(kinds),
        )
        keys.append([f"ladder.{lv}.resolve.{k}.{sev}" for k in kinds])
        if on:
            for key in keys[-1]:
                params.settings[key] = _r(p, 4)
    if on:
        _add_quality_draw(params, fit, cells, free, keys, hidden)
        notes.append(
            "Quality (调解质量) is on in the base: the resolve tables are written at the "
            "reference (standard grade, experience_reference_cases, no training, full effort"
            + (", part-time; the full-time gap is quality.full_time" if ft_free else "")
            + "), from the logistic fit, replacing the raw shares."
        )
    else:
        notes.append(
            "Quality effects (调解质量) are fitted and reported but not written: "
            "mechanisms.quality is off in the base scenario, which then ignores [quality]."
        )
    if not fit.converged:
        notes.append("The quality fit did not converge: treat its estimates with caution.")


def _expit(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _add_quality_draw(params, fit, cells, free, keys, hidden) -> None:
    """One joint normal draw of every coefficient (the Laplace posterior) per replication."""
    beta, cov = fit.beta, fit.cov

    def draw(rng: np.random.Generator) -> dict[str, Any]:
        b = rng.multivariate_normal(beta, cov, method="cholesky")
        out: dict[str, Any] = {}
        for i in range(len(cells)):
            for key in keys[i]:
                out[key] = _r(_expit(float(b[i])), 4)
        for k, e in enumerate(free):
            if e in hidden:
                continue  # carries a tied group's joint effect: not written, not drawn
            low, high = _BOUNDS.get(e, (0.0, 5.0))
            out[f"quality.{e}"] = _r(min(max(float(b[len(cells) + k]), low), high), 4)
        return out

    params.draws.append(draw)
