"""Targets no staffing can meet, told before (or instead of) searching.

Structural problems need no simulation (:func:`structural_problems`): an on-the-spot share above
what sweeps can settle, a petition target in a scenario without petitions, a target on cost or
headcount. :func:`generous_failures` reads the verdict at a generous staffing: a target it does
not meet is limited by something other than headcount; with an explanation
(:mod:`sim.sizing.explain` at the generous staffing) the message names what limits it — the
ceiling (where parties enter, what sweeps find) or retention (resolution quality) — and the
levers that move it most per 10,000 yuan. Both are input problems (exit 2) for the
headcount-only search. For a package of measures (:mod:`sim.sizing.package`) a target no package
within the catalogue's bounds reaches is an answer instead: :func:`package_verdicts` gives each
target its verdict (达标 met / 不可达 unreachable / 未达标 not met within the budget), the best
attainable value with its interval and what binds.
"""

from __future__ import annotations

import pandas as pd

from sim.measures.kpis import PETITION_KPIS
from sim.scenario.errors import InputProblem
from sim.scenario.schema import Scenario, Target
from sim.sizing.explain import DECOMPOSITION, Explanation

__all__ = [
    "binds_note",
    "generous_failures",
    "on_the_spot_ceiling",
    "package_verdicts",
    "structural_problems",
]


def on_the_spot_ceiling(sc: Scenario) -> float:
    """The largest on-the-spot share sweeps can find: no staffing changes it.

    A dispute is settled on the spot only if a sweep finds it (``sweep_share`` of those not
    inside a firm) and then with ``on_the_spot.<severity>``; worsening before the sweep can only
    move it to a severity, so the best case is the largest probability at its severity or above.
    """
    m = sc.mechanisms
    if not (m.sweeps and m.on_the_spot):
        return 0.0
    disc = sc.discovery
    committees = sc.enterprise.committees if m.enterprise_committees else {}
    in_firm = sum(c.share * c.enterprise_share for c in sc.categories.values()) if committees else 0
    p = [disc.on_the_spot.of(s) for s in range(3)]
    best = [max(p[s:]) for s in range(3)]
    shares = (sc.severity.minor, sc.severity.major, sc.severity.serious)
    return disc.sweep_share * (1 - in_firm) * sum(a * b for a, b in zip(shares, best, strict=True))


def structural_problems(sc: Scenario, source: str) -> list[InputProblem]:
    """Targets that no staffing can meet, found without simulating."""
    problems = []
    for name, target in sc.targets.items():
        key = f"targets.{name}"
        if name == "on_the_spot_share" and target.sense == ">=":
            ceiling = on_the_spot_ceiling(sc)
            if target.value > ceiling + 1e-12:
                problems.append(
                    InputProblem(
                        source,
                        key,
                        target.value,
                        f"at most {ceiling:.3f}: sweeps can settle no more on the spot "
                        "(sweep_share × on_the_spot probabilities), whatever the staffing",
                    )
                )
        if name in PETITION_KPIS and (sc.petitions is None or not sc.mechanisms.petitions):
            problems.append(
                InputProblem(
                    source, key, target.value, "a KPI this scenario models (it has no petitions)"
                )
            )
        if name in ("disputes", "full_time_mediators", "annual_cost_yuan"):
            problems.append(
                InputProblem(
                    source,
                    key,
                    target.value,
                    "a target on an outcome; sizing minimises cost and headcount itself",
                )
            )
    return problems


def generous_failures(
    verdict: pd.DataFrame,
    targets: dict[str, Target],
    headcount: int,
    confidence: float,
    source: str,
    demand: float,
    explanation: Explanation | None = None,
) -> list[InputProblem]:
    """One problem per target the generous staffing (of ``headcount`` mediators) fails.

    ``verdict`` is :func:`sim.sizing.confirmation.judge` at that staffing. The message says
    whether the mean itself misses the target or only its bound does (more replications may
    settle the latter), and, given the ``explanation`` at that staffing, what limits it.
    """
    v = verdict
    conf = round(confidence * 100)
    head = headcount
    problems = []
    for name, row in v[~v["met"]].iterrows():
        if row["n"] == 0:
            what = "the KPI has no value in any replication"
        elif row["target"] != row["target"] or not targets[str(name)].met_by(row["mean"]):
            what = f"the mean is {row['mean']:.4g}"
        else:
            what = (
                f"the mean {row['mean']:.4g} meets it but the {conf}% one-sided bound "
                f"{row['bound']:.4g} does not (more --replications may settle it)"
            )
        at = f" at demand ×{demand:g}" if demand != 1.0 else ""
        problems.append(
            InputProblem(
                source,
                f"targets.{name}",
                float(row["target"]),
                f"reachable by some staffing{at}; it is not: with a generous staffing "
                f"({head} full-time mediators, every village with one, committees at their "
                f"ceilings) over {int(row['n'])} replications {what}; what limits it is not "
                + (
                    "headcount — lower the target or change what it depends on (resolution "
                    "probabilities, sweeps, on-the-spot settlement, time limits)"
                    if explanation is None
                    else f"headcount but {binds_note(explanation, str(name))}"
                ),
            )
        )
    return problems


def binds_note(explanation: Explanation, name: str) -> str:
    """What limits target ``name`` and the levers that move it most per 10,000 yuan, in words."""
    row = explanation.targets.loc[name]
    binds = str(row["binds"])
    words = {
        "ceiling": "the ceiling 天花板 (where parties enter, what sweeps find)",
        "retention": "retention 留存 (resolution quality)",
    }.get(binds, "something other than headcount")
    parts = DECOMPOSITION.get(name)
    if parts:
        shown = ", ".join(f"{p} {row[f'part{i}_base']:.3f}" for i, p in enumerate(parts, 1))
        words += f" [{shown}]"
    best = list(row["best"])
    more = ", ".join(best) if best else "none in the catalogue moves it clearly"
    return f"{words}; levers that move it most per 10,000 yuan (sim explain): {more}"


VERDICT_LABELS: dict[str, str] = {
    "met": "达标 met",
    "unreachable": "不可达 unreachable within the catalogue's bounds",
    "not_met": "未达标 not met within the budget",
}
"""Bilingual verdict of a target of the package search."""


def package_verdicts(
    verdict: pd.DataFrame,
    at_top: pd.DataFrame,
    aims: dict[str, Target],
    unreachable: list[str],
    explanation: Explanation,
) -> pd.DataFrame:
    """Each target's verdict for a package: :func:`judge`'s columns and the package's verdict.

    ``verdict`` is the judge at the package (confirmation replications, fresh seeds), ``at_top``
    at the generous package (every lever at its bound: the best the catalogue attains),
    ``aims`` what the search aimed at (an unreachable target's aim is most of the attainable
    gain), ``explanation`` explain at the start (what binds). Added columns: ``verdict``
    (``met``, ``unreachable`` or ``not_met``), ``verdict_label`` (bilingual), ``best_mean``,
    ``best_bound``, ``best_ci_low``, ``best_ci_high``, ``aim`` and ``note`` (in words).
    """
    out = verdict.copy()
    conf_note = "one-sided bound"
    rows = []
    for name, row in out.iterrows():
        key = str(name)
        top = at_top.loc[key]
        if key in unreachable:
            what = "unreachable"
            note = (
                f"with every lever at its bound the mean is {top['mean']:.4g} "
                f"[{top['ci_low']:.4g}, {top['ci_high']:.4g}], its {conf_note} {top['bound']:.4g} "
                f"misses {row['target']:.4g}; what limits it: "
                + (binds_note(explanation, key) if key in explanation.targets.index else "—")
                + f"; this package buys most of the attainable gain (aim {aims[key].value:.4g})"
            )
        elif bool(row["met"]):
            what, note = "met", ""
        else:
            what = "not_met"
            note = f"the {conf_note} {row['bound']:.4g} misses {row['target']:.4g}"
        rows.append(
            {
                "verdict": what,
                "verdict_label": VERDICT_LABELS[what],
                "best_mean": float(top["mean"]),
                "best_bound": float(top["bound"]),
                "best_ci_low": float(top["ci_low"]),
                "best_ci_high": float(top["ci_high"]),
                "aim": float(aims[key].value),
                "note": note,
            }
        )
    extra = pd.DataFrame(rows, index=out.index)
    return pd.concat([out, extra], axis=1)
