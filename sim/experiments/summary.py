"""What replications conclude, without pandas: each KPI's mean and interval, the verdicts on the
targets, and the JSON of DESIGN.md.

``sim run`` prints these and writes them as JSON; building them from plain dicts keeps pandas
out of a run that writes no table (:class:`sim.experiments.experiment.Results` turns them into
DataFrames when asked).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.experiments.intervals import kpi_interval
from sim.scenario.schema import Scenario

__all__ = [
    "SUMMARY_COLUMNS",
    "TARGET_COLUMNS",
    "UNRELIABLE_OPEN_SHARE",
    "Summary",
    "Verdicts",
    "results_json",
    "summary_records",
    "target_records",
]

Summary = dict[str, dict[str, Any]]
"""KPI → mean, ci_low, ci_high, std, n, interval (how the interval was made)."""
Verdicts = dict[str, dict[str, Any]]
"""Target KPI → label, sense, target, mean, ci_low, ci_high, met, met_with_confidence,
reliable."""

SUMMARY_COLUMNS = ("mean", "ci_low", "ci_high", "std", "n", "interval")
TARGET_COLUMNS = (
    "label",
    "sense",
    "target",
    "mean",
    "ci_low",
    "ci_high",
    "met",
    "met_with_confidence",
    "reliable",
)

# A verdict on a run that left more of its disputes open than this is marked unreliable: the
# shares are of concluded disputes, so a run that concluded few can read "met" on a sliver.
UNRELIABLE_OPEN_SHARE = 0.2


def summary_records(rows: Sequence[Mapping[str, float]], confidence: float = 0.95) -> Summary:
    """Each KPI of ``rows`` (one mapping per replication) with its :func:`kpi_interval`.

    ``interval`` says how the interval was made (``"logit"``, ``"clipped at 0"``, ``"all 0"``,
    ``"all 1"`` or empty for the plain t interval).
    """
    names = dict.fromkeys(name for row in rows for name in row)
    out: Summary = {}
    for name in names:
        values = np.array([row.get(name, math.nan) for row in rows], dtype=float)
        mean, lo, hi, how = kpi_interval(str(name), values, confidence)
        ok = values[~np.isnan(values)]
        out[name] = {
            "mean": mean,
            "ci_low": lo,
            "ci_high": hi,
            "std": float(ok.std(ddof=1)) if len(ok) > 1 else math.nan,
            "n": len(ok),
            "interval": how,
        }
    return out


def target_records(scenario: Scenario, summary: Summary) -> Verdicts:
    """Met: the mean meets the target. Met with confidence: the whole interval does.

    The interval is the one shown (:func:`kpi_interval`: logit scale for shares, clipped at 0
    for counts), so a verdict never contradicts the printed interval. ``reliable`` is False
    for every target when the mean ``open_share`` (disputes of the window still open at the
    end) is above :data:`UNRELIABLE_OPEN_SHARE`.
    """
    reliable = not (open_share(summary) > UNRELIABLE_OPEN_SHARE)
    out: Verdicts = {}
    for name, target in scenario.targets.items():
        mean, lo, hi = (summary[name][c] for c in ("mean", "ci_low", "ci_high"))
        bound = lo if target.sense == ">=" else hi
        out[name] = {
            "label": target.label,
            "sense": target.sense,
            "target": target.value,
            "mean": mean,
            "ci_low": lo,
            "ci_high": hi,
            "met": target.met_by(mean),
            "met_with_confidence": target.met_by(bound),
            "reliable": reliable,
        }
    return out


def open_share(summary: Summary) -> float:
    """The mean share of the window's disputes still open at the end (NaN if not measured)."""
    return float(summary["open_share"]["mean"]) if "open_share" in summary else math.nan


def results_json(
    scenario: Scenario,
    seed: int,
    replications: int,
    summary: Summary,
    targets: Verdicts,
    not_modelled: list[str],
) -> dict[str, Any]:
    """The JSON shape fixed by DESIGN.md (NaN becomes None)."""

    def num(x: float) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    return {
        "scenario": scenario.name,
        "replications": replications,
        "seed": seed,
        "kpis": {
            name: {
                "mean": num(row["mean"]),
                "ci_low": num(row["ci_low"]),
                "ci_high": num(row["ci_high"]),
            }
            for name, row in summary.items()
        },
        "targets": {
            name: {
                "target": float(row["target"]),
                "met": bool(row["met"]),
                "sense": row["sense"],
                "met_with_confidence": bool(row["met_with_confidence"]),
                "reliable": bool(row.get("reliable", True)),
                "label": row["label"],
            }
            for name, row in targets.items()
        },
        "not_modelled": not_modelled,
    }
