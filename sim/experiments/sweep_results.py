"""Reading a sweep's results back: tidy tables, per-point summaries, paired differences.

Every point of a sweep runs replications ``0..n-1`` under the same seed (common random numbers),
so :func:`paired_differences` compares each point with the baseline replication by replication;
:func:`summarise_sweep` gives each point's means and confidence intervals. Both read the
DataFrame :func:`load_sweep` returns; none of them runs a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.intervals import confidence_interval, half_width
from sim.experiments.sweep_store import SweepStore, to_json
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.vocabulary import KPI_NAMES

__all__ = ["load_sweep", "paired_differences", "summarise_sweep"]


def _label_value(value: Any) -> Any:
    """A label as a DataFrame cell: scalars as they are, tables and arrays as JSON text."""
    return to_json(value).replace("\n", "") if isinstance(value, Mapping | list) else value


def load_sweep(folder: str | Path) -> pd.DataFrame:
    """The finished points of a sweep folder as one tidy DataFrame.

    One row per (point, replication); columns ``point``, the labels (``variant``, one per
    axis), ``replication``, ``seed``, then one per KPI. ``df.attrs["sweep"]`` holds the axes,
    baseline, targets and point count from the manifest. Unfinished points are left out.
    """
    store = SweepStore(folder)
    manifest = store.read_manifest()
    done = store.done_points(manifest["spec_hash"])
    order = [p["id"] for p in manifest["points"] if p["id"] in done]
    labels = pd.DataFrame(
        [
            {"point": p["id"], **{k: _label_value(v) for k, v in p["labels"].items()}}
            for p in manifest["points"]
        ]
    )
    if order:
        rows = pd.concat(store.read_points(order), ignore_index=True)
    else:
        kpis = manifest.get("kpis") or list(KPI_NAMES)
        rows = pd.DataFrame({"point": [], "replication": [], "seed": [], **{k: [] for k in kpis}})
        rows = rows.astype({"point": object, "replication": "int64", "seed": "int64"})
    df = labels.merge(rows, on="point", how="inner", validate="one_to_many")
    df = df.sort_values(["point", "replication"], ignore_index=True)
    df.attrs["sweep"] = {
        "name": manifest.get("name"),
        "kind": manifest.get("kind", "sweep"),
        "axes": manifest.get("axes", []),
        "baseline": manifest.get("baseline"),
        "targets": manifest.get("targets", {}),
        "points_total": len(manifest["points"]),
        "points_done": len(order),
        "label_columns": [c for c in labels.columns if c != "point"],
        "spec_hash": manifest["spec_hash"],
    }
    return df


def _kpi_columns(df: pd.DataFrame, kpis: Iterable[str] | None) -> list[str]:
    labels = set(df.attrs.get("sweep", {}).get("label_columns", []))
    known = [c for c in df.columns if c not in labels and c not in ("point", "replication", "seed")]
    if kpis is None:
        return known
    kpis = list(kpis)
    missing = [k for k in kpis if k not in known]
    if missing:
        raise ScenarioError(
            [
                InputProblem("--kpi", "", k, f"not in the results (have: {', '.join(known)})")
                for k in missing
            ]
        )
    return kpis


def _label_columns(df: pd.DataFrame) -> list[str]:
    return list(df.attrs.get("sweep", {}).get("label_columns", []))


def summarise_sweep(
    df: pd.DataFrame, kpis: Iterable[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Per point and KPI: mean, Student-t CI over replications, std, n (long format)."""
    labels = _label_columns(df)
    records = []
    for pid, group in df.groupby("point", sort=True):
        first = group.iloc[0]
        for kpi in _kpi_columns(df, kpis):
            values = group[kpi].to_numpy(dtype=float)
            mean, lo, hi = confidence_interval(values, confidence)
            ok = values[~np.isnan(values)]
            records.append(
                {
                    "point": pid,
                    **{c: first[c] for c in labels},
                    "kpi": kpi,
                    "mean": mean,
                    "ci_low": lo,
                    "ci_high": hi,
                    "std": float(ok.std(ddof=1)) if len(ok) > 1 else math.nan,
                    "n": len(ok),
                }
            )
    out = pd.DataFrame(records)
    out.attrs = dict(df.attrs)
    return out


def paired_differences(
    df: pd.DataFrame,
    baseline: str | None = None,
    kpis: Iterable[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each point minus the baseline point, replication by replication (CRN pairs).

    Columns: ``difference`` (mean of the paired differences) with its Student-t
    ``ci_low``/``ci_high``; ``std_paired`` (std of the paired differences) and
    ``std_unpaired`` (what it would be with independent streams, sqrt(var_a + var_b)), and
    ``variance_ratio`` = paired / unpaired variance: how much the common random numbers saved.
    """

    baseline = baseline or df.attrs.get("sweep", {}).get("baseline") or str(df["point"].min())
    if baseline not in set(df["point"]):
        raise ScenarioError(
            [InputProblem("baseline", "", baseline, "not a finished point of this sweep")]
        )
    labels = _label_columns(df)
    kpi_cols = _kpi_columns(df, kpis)
    base = df[df["point"] == baseline].set_index("replication")
    records = []
    for pid, group in df.groupby("point", sort=True):
        if pid == baseline:
            continue
        g = group.set_index("replication")
        common = g.index.intersection(base.index)
        for kpi in kpi_cols:
            a = g.loc[common, kpi].to_numpy(dtype=float)
            b = base.loc[common, kpi].to_numpy(dtype=float)
            ok = ~(np.isnan(a) | np.isnan(b))
            d = a[ok] - b[ok]
            mean, lo, hi = confidence_interval(d, confidence)
            var_p = float(d.var(ddof=1)) if len(d) > 1 else math.nan
            var_u = float(a[ok].var(ddof=1) + b[ok].var(ddof=1)) if len(d) > 1 else math.nan
            half_u = half_width(math.sqrt(var_u), len(d), confidence)
            records.append(
                {
                    "point": pid,
                    **{c: g.iloc[0][c] for c in labels},
                    "kpi": kpi,
                    "baseline": baseline,
                    "baseline_mean": float(np.mean(b[ok])) if ok.any() else math.nan,
                    "mean": float(np.mean(a[ok])) if ok.any() else math.nan,
                    "difference": mean,
                    "ci_low": lo,
                    "ci_high": hi,
                    "half_width_unpaired": half_u,
                    "std_paired": math.sqrt(var_p) if var_p == var_p else math.nan,
                    "std_unpaired": math.sqrt(var_u) if var_u == var_u else math.nan,
                    "variance_ratio": var_p / var_u if var_u and var_u == var_u else math.nan,
                    "n": int(ok.sum()),
                }
            )
    out = pd.DataFrame(records)
    out.attrs = dict(df.attrs)
    return out
