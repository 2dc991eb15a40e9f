"""Tables of one finished run (a :class:`~sim.experiments.experiment.Results` kept with its
tables): KPIs and targets with their confidence intervals, where disputes ended, queues over
time, costs, and several runs side by side. The figures of :mod:`sim.reports.figures` draw them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.experiments.experiment import Results
from sim.measures.kpis import EXPLAINING_KPIS
from sim.reports.fonts import check_language
from sim.reports.labels import COST_ITEMS, OUTCOME_CLASSES, kpi_label, zh_or_en
from sim.scenario.vocabulary import SEVERITIES, VENUES, share_denominator

__all__ = [
    "HEADLINE_KPIS",
    "TARGET_PARTS",
    "WHERE_RESOLVED_NOTE",
    "compare_table",
    "cost_summary",
    "kpi_table",
    "ladder_targets_explained",
    "measured_window",
    "need_tables",
    "queue_table",
    "targets_table",
    "where_resolved",
]

# The KPIs a planner reads first; the full table has every venue's waiting time as well.
HEADLINE_KPIS: tuple[str, ...] = (
    "disputes",
    "minor_kept_in_village",
    "major_kept_in_township",
    "on_the_spot_share",
    "resolved_share.grid",
    "resolved_share.village",
    "resolved_share.township",
    "resolved_share.district",
    "resolved_share.sector",
    "unresolved_share",
    "petitioned_share",
    "days_to_resolution.mean",
    "days_to_resolution.p90",
    "resolved_within_limit",
    "utilization.village",
    "utilization.township",
    "utilization.district",
    "petitions_per_year",
    "skip_level_petitions_per_year",
    "repeat_petitions_per_year",
    "new_backlog_rate",
    "backlog_resolution_rate",
    "annual_cost_yuan",
    "full_time_mediators",
)


# 小事不出村 and 大事不出镇 taken apart (docs/model.md, KPIs): each KPI with what it is, in
# Chinese and English. Per replication 小事不出村 = 进村率 × 进村后留村率 exactly.
TARGET_PARTS: dict[str, tuple[str, str]] = {
    "minor_kept_in_village": ("= 进村率 × 进村后留村率", "= reached × retained"),
    "minor_reached_village": (
        "上限: 曾到网格、村或企业调委会的小事",
        "ceiling: minor disputes that ever reached grid, village or enterprise committee",
    ),
    "minor_retained_in_village": (
        "其中留在村里化解的",
        "of those, the share resolved without leaving the village",
    ),
    "major_kept_in_township": ("大事与重大疑难合计", "major and serious pooled"),
    "major_only_kept_in_township": ("仅大事", "arose major"),
    "serious_kept_in_township": ("仅重大疑难", "arose serious"),
    "resolved_at_or_below_township": (
        "全部纠纷中在乡镇及以下化解的 (近80%化解在基层)",
        "of all disputes, resolved at township level or below",
    ),
    "found_by_sweep": (
        "排查先于当事人申请发现的 (企业内部纠纷不计)",
        "found first by a sweep, not reported by the party (in-firm disputes left out)",
    ),
}


def ladder_targets_explained(results: Results, language: str = "zh") -> pd.DataFrame:
    """小事不出村 / 大事不出镇 and the KPIs that explain them: KPI × (label, part, mean, CI, n).

    Rows in :data:`TARGET_PARTS` order. Empty when the results lack the explaining KPIs
    (saved before they existed): the two targets alone explain nothing.
    """
    lang = check_language(language)
    out = kpi_table(results, lang, TARGET_PARTS).drop(columns="of")  # the parts say it
    if not out.index.isin(EXPLAINING_KPIS).any():
        out = out.iloc[:0]
    out.insert(1, "part", [zh_or_en(*TARGET_PARTS[k], lang) for k in out.index])
    return out


def need_tables(results: Results, name: str) -> list[pd.DataFrame]:
    """The per-replication tables ``name`` of ``results``; a clear error if they were not kept."""
    tables = getattr(results, name)
    if not tables:
        raise ValueError(
            f"these results have no {name} tables: run simulate(..., keep_tables=True)"
        )
    return tables


def measured_window(results: Results) -> tuple[float, float]:
    """The measurement window in days from the start: after the warm-up, to the horizon."""
    run = results.scenario.run
    return run.warmup_days, run.warmup_days + run.horizon_days


def kpi_table(
    results: Results, language: str = "zh", kpis: Iterable[str] | None = HEADLINE_KPIS
) -> pd.DataFrame:
    """KPI × (label, of, mean, ci_low, ci_high, n); ``kpis=None`` for every KPI.

    ``of`` says what a share is a share of (``"占已办结小事"``, ``"of concluded minor disputes"``;
    empty for a KPI that is not a share), so shares of different wholes are not read as one.
    KPIs whose mechanism the scenario leaves out (the petition indicators without a
    ``[petitions]`` section) are dropped, not shown as zeros.
    """
    lang = check_language(language)
    names = list(results.summary.index) if kpis is None else list(kpis)
    names = [k for k in names if k in results.summary.index and k not in results.not_modelled]
    out = results.summary.loc[names, ["mean", "ci_low", "ci_high", "n"]].copy()
    out.insert(0, "label", [kpi_label(k, lang) for k in names])
    out.insert(1, "of", [share_denominator(k, lang) for k in names])
    out.index.name = "kpi"
    return out


def targets_table(results: Results, language: str = "zh") -> pd.DataFrame:
    """Each target: label, goal (``>= 0.8``), mean with CI, met, met with confidence."""
    lang = check_language(language)
    t = results.targets
    out = pd.DataFrame(
        {
            "label": [
                (row["label"] if lang == "zh" and row["label"] else kpi_label(k, lang))
                for k, row in t.iterrows()
            ],
            "goal": [f"{row['sense']} {row['target']:g}" for _, row in t.iterrows()],
            "mean": t["mean"],
            "ci_low": t["ci_low"],
            "ci_high": t["ci_high"],
            "met": t["met"].astype(bool),
            "met_with_confidence": t["met_with_confidence"].astype(bool),
        },
        index=t.index,
    )
    out.index.name = "kpi"
    return out


WHERE_RESOLVED_NOTE: tuple[str, str] = (
    "每行为该初始严重程度的全部纠纷(含未办结), 各列之和为 100%; 当场调处单列,"
    " 网格列只含网格调解化解的, 指标「网格化解」(resolved_share.grid) = 网格 + 当场调处"
    " (全部一行)。",
    "Each row is all disputes of that initial severity (open ones included) and adds up to"
    " 100%; on-the-spot settlements have their own column, so the grid column is mediation at"
    " the grid only: the KPI resolved_share.grid is grid + on-the-spot (row all).",
)
"""What the where-resolved table counts, (Chinese, English), shown under it."""


def where_resolved(results: Results, counts: bool = False) -> pd.DataFrame:
    """Where disputes ended, by initial severity: rows minor/major/serious/all, columns outcome.

    The same disputes as the KPIs (arisen in the measurement window, up the ladder, not the
    starting state), pooled over replications. Columns: ``on_the_spot`` (settled during the
    sweep), each venue where a dispute was resolved by mediation, then ``unresolved``,
    ``petitioned`` and ``open``. Shares of the row total (all disputes of that initial
    severity, open ones included) unless ``counts``.

    The columns add up to 1 per row, so on-the-spot settlements are a column of their own: the
    ``grid`` column is mediation at the grid only, while the KPI ``resolved_share.grid`` counts
    both (``grid + on_the_spot`` of row ``all`` equals it). :data:`WHERE_RESOLVED_NOTE` says so
    under the table.
    """
    lo, hi = measured_window(results)
    registers = need_tables(results, "registers")
    frames = []
    for cases, register in zip(need_tables(results, "cases"), registers, strict=True):
        c = cases[
            (~cases["initial"])
            & (cases["arisen"] >= lo)
            & (cases["arisen"] < hi)
            & (cases["origin"] == "ladder")
        ]
        last = register.drop_duplicates("case_id", keep="last").set_index("case_id")
        level = last["level"].astype(object).reindex(c["case_id"]).to_numpy()
        outcome = last["outcome"].astype(object).reindex(c["case_id"]).to_numpy()
        status = c["status"].astype(str).to_numpy()
        cls = np.where(status == "resolved", level, status)
        cls = np.where(outcome == "resolved_on_the_spot", "on_the_spot", cls)
        cls = np.where(np.isin(cls, ["pending"]), "open", cls)
        frames.append(pd.DataFrame({"severity": c["severity_initial"].astype(str), "cls": cls}))
    both = pd.concat(frames, ignore_index=True)
    table = pd.crosstab(both["severity"], both["cls"])
    table = table.reindex(index=[s for s in SEVERITIES if s in table.index])
    table.loc["all"] = table.sum()
    table = table.reindex(columns=[c for c in OUTCOME_CLASSES if c in table.columns], fill_value=0)
    table = table.loc[:, table.sum() > 0]
    table.columns.name = "outcome"
    table.index.name = "severity_initial"
    if counts:
        return table / len(frames)  # per replication
    return table.div(table.sum(axis=1).replace(0, np.nan), axis=0)


def queue_table(
    results: Results, measure: str = "waiting", include_drain: bool = False, smooth_days: int = 7
) -> pd.DataFrame:
    """Mean over replications of cases ``waiting`` (present, busy) per venue, by date.

    Daily samples of a few replications jump from 0 to 1 and back; a centred rolling mean over
    ``smooth_days`` samples (1 = none) shows the level a planner reads.
    """
    if measure not in ("present", "waiting", "busy"):
        raise ValueError("measure must be present, waiting or busy")
    series = pd.concat(need_tables(results, "timeseries"), ignore_index=True)
    if not include_drain:
        series = series[series["time"] <= measured_window(results)[1]]
    table = series.pivot_table(
        index="date", columns="level", values=measure, aggfunc="mean", observed=True
    )
    table = table.reindex(columns=[v for v in VENUES if v in table.columns])
    if smooth_days > 1:
        table = table.rolling(smooth_days, center=True, min_periods=1).mean()
    return table.loc[:, table.fillna(0).abs().sum() > 0]


def cost_summary(results: Results) -> pd.DataFrame:
    """Mean yearly cost in yuan, rows venue (where), columns cost item."""
    tables = need_tables(results, "costs")
    both = pd.concat(tables, ignore_index=True)
    out = both.pivot_table(index="where", columns="item", values="yuan_per_year", aggfunc="sum")
    out = out.fillna(0.0) / len(tables)
    order = [*VENUES, "expert_pool"]
    out = out.reindex(
        index=sorted(out.index, key=lambda w: order.index(w) if w in order else len(order)),
        columns=[c for c in COST_ITEMS if c in out.columns]
        + [c for c in out.columns if c not in COST_ITEMS],
    )
    return out.loc[out.sum(axis=1) > 0, out.sum(axis=0) > 0]


def compare_table(
    runs: Mapping[str, Results], kpis: Sequence[str], language: str = "zh"
) -> pd.DataFrame:
    """One row per (run, KPI): mean and CI, so several what-ifs read as one table."""
    lang = check_language(language)
    rows = []
    for name, res in runs.items():
        for k in kpis:
            r = res.summary.loc[k]
            rows.append(
                {
                    "run": name,
                    "kpi": k,
                    "label": kpi_label(k, lang),
                    "mean": r["mean"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                }
            )
    return pd.DataFrame(rows)
