"""What sizing returns: :class:`SizingResult`, the budget table and the staffing table.

Column headers of the budget table carry the Chinese term beside the English one for the CSV
and the printout (:data:`BUDGET_HEADERS`); :func:`json_safe` makes any result JSON-ready.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVEL_LABELS
from sim.sizing.levers import LEVER_KINDS, Lever, Staffing

__all__ = [
    "BUDGET_HEADERS",
    "SizingResult",
    "budget_table",
    "json_safe",
    "measure_rows",
    "staffing_table",
]


@dataclass
class SizingResult:
    """What :func:`sim.sizing.size.size` returns; every table is a pandas DataFrame.

    ``staffing``: one row per demand level and lever (level, place, label, floor, quota, start,
    full_time = the sized value, mediators, yearly salary). ``budget``: the budget table
    (headcount and yuan per level, township and committee; rewards, expert fees, purchased
    services). ``targets``: the verdict per demand level and target at the confirmation
    replications. ``frontier``: cost against target attainment for every staffing the search
    simulated. ``minimality``: for each lever above its floor, the target that breaks when one
    mediator is removed. ``replications_simulated`` and ``seconds`` measure the effort.

    ``mode`` is ``"package"`` when the search bought measures besides headcount (the cheapest
    package of measures, :mod:`sim.sizing.package`), else ``"headcount"``. In package mode
    ``measures`` has one row per demand level and measure (steps bought, value, yuan a year),
    ``targets`` adds each target's verdict (达标 met / 不可达 unreachable / 未达标 not met), the
    best attainable value and what binds, ``frontier`` is each accepted step (cumulative cost and
    each target's mean) and ``minimality`` covers measures as well as headcount.

    ``townships``: the answer's verdict in each township (乡镇) for the targets that have a
    per-township meaning (小事不出村, 大事不出镇, the P90 of days to resolution, …), by the same
    rule over the confirmation replications — one row per demand level, township and target.
    The targets are the district's; a township read alone is a smaller sample, so its interval
    is wider.
    """

    scenario: Scenario
    staffing: pd.DataFrame
    budget: pd.DataFrame
    targets: pd.DataFrame
    frontier: pd.DataFrame
    minimality: pd.DataFrame
    replications_simulated: int
    seconds: float
    confidence: float
    replications: int
    seed: int
    infeasible: dict[float, list[str]] = field(default_factory=dict)
    mode: str = "headcount"
    measures: pd.DataFrame = field(default_factory=pd.DataFrame)
    townships: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def unreachable(self) -> pd.DataFrame:
        """Targets no package within the catalogue's bounds reaches (package mode), per demand."""
        t = self.targets
        if "verdict" not in t:
            return t.iloc[:0]
        return t[t["verdict"] == "unreachable"]

    def headcount(self, demand: float = 1.0) -> int:
        """Full-time mediators of the sized staffing at one demand level."""
        rows = self.staffing[self.staffing["demand"] == demand]
        return int((rows["full_time"] * rows["mediators"]).sum())

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready dicts and lists (what ``sizing.json`` holds)."""

        def records(df: pd.DataFrame) -> list[dict]:
            return json_safe(df.reset_index().to_dict(orient="records"))

        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": self.replications,
            "confidence": self.confidence,
            "rule": "one-sided Student-t bound of the mean over replications meets the target",
            "replications_simulated": self.replications_simulated,
            "seconds": round(self.seconds, 1),
            "staffing": records(self.staffing),
            "budget": records(self.budget),
            "targets": records(self.targets),
            "minimality": records(self.minimality),
            "frontier": records(self.frontier),
            "infeasible": {str(k): v for k, v in self.infeasible.items()},
            "mode": self.mode,
            "measures": records(self.measures) if len(self.measures) else [],
            "townships": records(self.townships) if len(self.townships) else [],
        }


def json_safe(obj: Any) -> Any:
    """NaN and infinities become None; numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


_ITEM_LABELS = {
    "salary": "专职调解员工资",
    "allowance": "兼职调解员补贴",
    "case_reward": "以奖代补",
    "training": "调解员培训",
    "expert_fee": "专家咨询费",
    "purchased_services": "政府购买服务",
    "gold_mediator_awards": "金牌调解员奖励",
    "petition_agent_allowance": "信访代办员补贴",
    "measure": "措施",
    "total": "合计",
}

BUDGET_HEADERS: dict[str, str] = {
    "demand": "demand 需求倍数",
    "item": "item",
    "item_label": "项目",
    "level": "level",
    "level_label": "层级",
    "place": "place 乡镇/单位",
    "full_time": "full_time 专职人数",
    "count": "count 件数",
    "yuan_per_year": "yuan_per_year 年度成本(元)",
}
"""Bilingual column headers of the budget table in CSV and print."""


def budget_table(lv: Sequence[Lever], x: Staffing, cost_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Budget lines of a staffing: the levers' salaries, then every other cost item.

    ``cost_tables`` are the replications' :func:`sim.measures.costs.cost_table`; their items are
    averaged, and the salaries the levers already cover are not counted twice. A total closes
    the table.
    """
    rows = []
    by_venue: dict[str, float] = {}
    for lever, v in zip(lv, x, strict=True):
        yuan = v * lever.salary
        by_venue[lever.kind] = by_venue.get(lever.kind, 0.0) + yuan
        rows.append(
            {
                "item": "salary",
                "item_label": _ITEM_LABELS["salary"],
                "level": lever.kind,
                "level_label": LEVER_KINDS[lever.kind],
                "place": lever.place,
                "full_time": v * lever.mediators,
                "count": math.nan,
                "yuan_per_year": yuan,
            }
        )
    n = len(cost_tables)
    if n:
        ct = pd.concat(cost_tables, ignore_index=True)
        ct = ct.groupby(["item", "where"], sort=False)[["count", "yuan_per_year"]].sum() / n
        for (item, where), r in ct.iterrows():
            yuan = float(r["yuan_per_year"])
            if item == "salary":
                yuan -= by_venue.get(str(where), 0.0)  # what the levers do not cover
                if yuan < 0.5:
                    continue
            rows.append(
                {
                    "item": item,
                    "item_label": _ITEM_LABELS.get(str(item), str(item)),
                    "level": where,
                    "level_label": LEVEL_LABELS.get(
                        str(where), "专家库" if where == "expert_pool" else ""
                    ),
                    "place": "",
                    "full_time": math.nan,
                    "count": float(r["count"]),
                    "yuan_per_year": yuan,
                }
            )
    out = pd.DataFrame(rows, columns=list(BUDGET_HEADERS)[1:])
    total = {
        "item": "total",
        "item_label": _ITEM_LABELS["total"],
        "level": "",
        "level_label": "",
        "place": "",
        "full_time": float(out["full_time"].sum()),
        "count": math.nan,
        "yuan_per_year": float(out["yuan_per_year"].sum()),
    }
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def measure_rows(budget: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """The budget table with a line per measure of a package (措施), its total recomputed.

    ``measures`` is a package's measure table (lever, label_zh, steps, yuan_per_year,
    in_cost_model). A measure whose cost the simulated cost table already has (training at
    ``costs.training_yuan_per_hour``, petition agents' allowances) gets no line of its own.
    """
    body = budget[budget["item"] != "total"]
    rows = [
        {
            "item": "measure",
            "item_label": f"{_ITEM_LABELS['measure']}·{m['label_zh']}",
            "level": m["lever"],
            "level_label": m["label_zh"],
            "place": "",
            "full_time": math.nan,
            "count": float(m["steps"]),
            "yuan_per_year": float(m["yuan_per_year"]),
        }
        for m in measures.to_dict(orient="records")
        if m["steps"] > 0 and not m["in_cost_model"]
    ]
    out = pd.concat([body, pd.DataFrame(rows, columns=body.columns)], ignore_index=True)
    total = budget[budget["item"] == "total"].copy()
    total["yuan_per_year"] = float(out["yuan_per_year"].sum())
    return pd.concat([out, total], ignore_index=True)


def staffing_table(lv: Sequence[Lever], x: Staffing, demand: float) -> pd.DataFrame:
    """One row per lever: where it is, its floor, quota and start, the value and its salaries."""
    return pd.DataFrame(
        [
            {
                "demand": demand,
                "lever": lever.key,
                "level": lever.kind,
                "level_label": LEVER_KINDS[lever.kind],
                "place": lever.place,
                "value": v,
                "full_time": v * lever.mediators,
                "mediators": lever.mediators,
                "floor": lever.floor,
                "quota": lever.quota,
                "start": lever.start,
                "salary_yuan": lever.salary,
                "yuan_per_year": v * lever.salary,
            }
            for lever, v in zip(lv, x, strict=True)
        ]
    )
