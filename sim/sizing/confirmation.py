"""The confidence rule, and the checks that run a scenario without searching.

**The rule.** Over ``n`` replications with the same seeds, a target is met when the one-sided
Student-t bound at ``run.confidence`` meets it (``mean − t·s/√n`` for an ``at_least`` target,
``mean + t·s/√n`` for ``at_most``): :func:`judge`. Every verdict of sizing uses it; the share of
replications meeting the target is reported beside it.

**The checks.** :func:`check_quotas` runs the scenario at the seed notice's quotas and gives the
verdict per target and per township; :func:`compare_screen` sets the analytic screen beside
simulation, KPI by KPI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.experiments.intervals import kpi_interval, t_quantile
from sim.measures.township_kpis import TOWNSHIP_KPIS
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import validate_table
from sim.scenario.schema import Scenario, Target
from sim.scenario.vocabulary import KPI_LABELS
from sim.sizing.analytic import screen
from sim.sizing.levers import base_table, levers, quota_staffing
from sim.sizing.replications import Replications, sizing_executor
from sim.sizing.results import json_safe, staffing_table

if TYPE_CHECKING:  # explain builds on this module (judge); imported in check_quotas
    from sim.sizing.explain import Explanation

__all__ = [
    "QuotaVerdict",
    "check_quotas",
    "check_replications",
    "compare_screen",
    "judge",
    "one_sided_t",
    "township_verdicts",
]


def one_sided_t(confidence: float, n: int) -> float:
    """Student-t quantile for a one-sided bound at ``confidence`` with ``n`` replications."""
    return t_quantile(confidence, n)


def judge(
    targets: dict[str, Target],
    per_replication: pd.DataFrame,
    confidence: float,
    planned: int | None = None,
) -> pd.DataFrame:
    """The verdict on each target by the sizing rule (the one-sided bound meets the target).

    Columns: label, sense, target, mean, bound (one-sided at ``confidence``), ci_low, ci_high
    (two-sided, for display), n, met (the rule), p_meet (share of replications meeting the
    target) and shortfall (how far the bound is from the target, relative to the target; 0 if
    met). A KPI with no value in any replication cannot be judged: met is False. With
    ``planned`` > n the bound uses the spread of the n replications at hand but the
    t-quantile and √ of ``planned`` ones: the verdict expected once they are run.
    """
    rows = {}
    for name, target in targets.items():
        values = per_replication[name].to_numpy(dtype=float) if name in per_replication else []
        x = np.asarray(values, dtype=float)
        x = x[~np.isnan(x)]
        n = len(x)
        # The interval shown is the one sim run shows (logit scale for shares, clipped at 0).
        mean, lo, hi, _ = kpi_interval(name, x, confidence)
        if n >= 2:
            # During the search the spread is estimated from fewer replications than the
            # final check will use; the bound is then the one expected at ``planned``.
            k = max(n, planned or n)
            half = one_sided_t(confidence, k) * float(x.std(ddof=1)) / math.sqrt(k)
        else:
            half = 0.0 if n == 1 else math.nan
        up = target.sense == ">="
        bound = mean - half if up else mean + half
        met = bool(n > 0 and target.met_by(bound))
        p_meet = float(np.mean([target.met_by(float(v)) for v in x])) if n else 0.0
        if n == 0:
            gap = math.inf
        else:
            gap = max(0.0, (target.value - bound) if up else (bound - target.value))
            gap /= max(abs(target.value), 1e-9)
        rows[name] = {
            "label": target.label or KPI_LABELS.get(name, ""),
            "sense": target.sense,
            "target": target.value,
            "mean": mean,
            "bound": bound,
            "ci_low": lo,
            "ci_high": hi,
            "n": n,
            "met": met,
            "p_meet": p_meet,
            "shortfall": gap,
        }
    out = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=[
            "label", "sense", "target", "mean", "bound", "ci_low", "ci_high", "n", "met",
            "p_meet", "shortfall",
        ],
    )  # fmt: skip
    out.index.name = "kpi"
    return out


def check_replications(replications: int | None, name: str) -> None:
    """A number of replications (option ``name``) must give a spread: at least 2."""
    if replications is not None and replications < 2:
        raise ScenarioError(
            [InputProblem(name, "", replications, "at least 2 (a confidence bound needs a spread)")]
        )


@dataclass
class QuotaVerdict:
    """What :func:`check_quotas` returns: are the seed's quotas enough in this scenario?

    ``staffing``: the quota staffing that was run. ``targets``: per district-wide target the
    mean, the one-sided bound, the two-sided interval, the probability of meeting it (share of
    replications) and met / not met by the sizing rule. ``townships``: the same per township
    for the targets that have a per-township meaning
    (:data:`sim.measures.township_kpis.TOWNSHIP_KPIS`). ``explanation``: when a target is
    missed, what binds it (:func:`sim.sizing.explain.explain_at` at the quota staffing): the
    quotas are "not enough" only for a target that headcount at its upper bounds meets.
    """

    scenario: Scenario
    staffing: pd.DataFrame
    targets: pd.DataFrame
    townships: pd.DataFrame
    replications: int
    seed: int
    confidence: float
    explanation: Explanation | None = None

    @property
    def all_met(self) -> bool:
        """Whether every district-wide target is met by the rule."""
        return bool(self.targets["met"].all())

    @property
    def headcount_short(self) -> list[str]:
        """Targets missed at the quotas that more headcount would meet (定额不足)."""
        return self.explanation.headcount_short if self.explanation is not None else []

    @property
    def not_headcount(self) -> list[str]:
        """Targets missed at the quotas that headcount at its upper bounds still misses."""
        return self.explanation.not_headcount if self.explanation is not None else []

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready dicts and lists (``sim size --check-quotas --json``)."""
        return json_safe(
            {
                "scenario": self.scenario.name,
                "replications": self.replications,
                "seed": self.seed,
                "confidence": self.confidence,
                "rule": "one-sided Student-t bound of the mean over replications meets the target",
                "all_met": self.all_met,
                "headcount_short": self.headcount_short,
                "not_headcount": self.not_headcount,
                "binds": (self.explanation.to_dict() if self.explanation is not None else None),
                "staffing": self.staffing.to_dict(orient="records"),
                "targets": self.targets.reset_index().to_dict(orient="records"),
                "townships": self.townships.to_dict(orient="records"),
            }
        )


def check_quotas(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> QuotaVerdict:
    """Run the scenario at the quota staffing; the verdict per target and per township.

    When a target is missed, what binds it: headcount at its upper bounds is run with the same
    seeds, and only if that still misses a target, each lever of the catalogue one step
    (:mod:`sim.sizing.explain`).
    """
    # explain imports this module (judge, check_replications): imported here, not at the top.
    from sim.sizing.explain import explain_at

    check_replications(replications, "--replications")
    table, source = base_table(scenario, overrides)
    sc = validate_table(table, source)
    seed = sc.run.seed if seed is None else seed
    n = replications or max(sc.run.replications, 2)
    lv = levers(sc, allow_below_quota=True)
    x = quota_staffing(lv)
    with sizing_executor(workers) as executor:
        runs = Replications(table, source, lv, seed, executor)
        per_rep = runs.per_replication(x, n)
        by_town = runs.townships(x, n)
        quota_sc = runs.scenario(x)
        targets = judge(sc.targets, per_rep, sc.run.confidence)
        explanation = None
        if not targets["met"].all():
            explanation = explain_at(
                table, source, lv, x, n, seed, executor, base=per_rep, levers_when="not_headcount"
            )
    townships = township_verdicts(sc.targets, by_town, sc.run.confidence)
    staffing = staffing_table(lv, x, 1.0).drop(columns=["demand", "floor"])
    return QuotaVerdict(
        quota_sc, staffing, targets, townships, n, seed, sc.run.confidence, explanation
    )


def township_verdicts(
    targets: Mapping[str, Target], by_town: Sequence[pd.DataFrame], confidence: float
) -> pd.DataFrame:
    """Each target with a per-township meaning (:data:`TOWNSHIP_KPIS`), judged in every
    township by the same rule over the replications: one row per (township, kpi) with
    :func:`judge`'s columns. ``by_town`` holds one table per replication (townships × KPIs)."""
    rows: list[dict[str, Any]] = []
    for name, target in targets.items():
        if name not in TOWNSHIP_KPIS or not by_town:
            continue
        values = pd.DataFrame({k: t[name] for k, t in enumerate(by_town)}).T
        for town in values.columns:
            v = judge({name: target}, values[[town]].rename(columns={town: name}), confidence)
            rows.append({"township": town, "kpi": name, **v.iloc[0].to_dict()})
    return pd.DataFrame(rows)


def compare_screen(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """The analytic screen beside simulation, KPI by KPI.

    Columns: screen, mean, ci_low, ci_high (two-sided at ``run.confidence``), se, z (screen
    minus mean in standard errors) and within (the screen lies inside the interval). The
    DataFrame's ``attrs`` hold ``exact`` and the list of ``approximations`` at work.
    """
    check_replications(replications, "--replications")
    table, source = base_table(scenario, overrides)
    sc = validate_table(table, source)
    seed = sc.run.seed if seed is None else seed
    n = replications or max(sc.run.replications, 2)
    scr = screen(sc)
    with sizing_executor(workers) as executor:
        per_rep = Replications(table, source, [], seed, executor).per_replication((), n)
    rows = {}
    for name, value in scr.kpis.items():
        if name not in per_rep:
            continue
        x = per_rep[name].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        mean, lo, hi, _ = kpi_interval(name, x, sc.run.confidence)
        se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
        if not (math.isfinite(value) or math.isfinite(mean)):
            continue
        rows[name] = {
            "label": KPI_LABELS.get(name, ""),
            "screen": value,
            "mean": mean,
            "ci_low": lo,
            "ci_high": hi,
            "se": se,
            "z": (value - mean) / se if se and se > 0 else math.nan,
            "within": bool(lo - 1e-12 <= value <= hi + 1e-12)
            if math.isfinite(lo)
            else value == mean,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kpi"
    out.attrs["exact"] = scr.exact
    out.attrs["approximations"] = list(scr.approximations)
    out.attrs["replications"] = n
    return out
