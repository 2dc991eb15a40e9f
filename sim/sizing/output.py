"""Outputs of sizing (编制测算): budget table as CSV / JSON / printed text.

Kept apart from the search (:mod:`sim.sizing.size`). The cost frontier's figure is drawn by a
higher layer (:func:`sim.reports.planning_figures.sizing_frontier`, through the package's one
font lookup in :mod:`sim.reports.fonts`); ``sim size --out`` writes it beside these files.
Column headers of every CSV carry the Chinese term beside the English identifier (层级, 乡镇,
专职人数, 年度成本(元); :data:`SIZING_HEADERS`) because the budget office reads them; the JSON keeps
the English identifiers only, and :func:`plain_columns` turns a CSV's headers back into them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from sim.experiments.files import safe_cells
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.text import pad as _pad
from sim.scenario.text import yuan
from sim.sizing.confirmation import QuotaVerdict
from sim.sizing.explain_output import verdict_lines
from sim.sizing.results import BUDGET_HEADERS, SizingResult, json_safe

__all__ = [
    "SIZING_HEADERS",
    "format_quotas",
    "format_screen",
    "format_sizing",
    "plain_columns",
    "write_quotas",
    "write_sizing",
]


SIZING_HEADERS: dict[str, str] = {
    **BUDGET_HEADERS,
    # targets.csv, townships.csv, quota_targets.csv, quota_townships.csv: the verdict per target
    "kpi": "kpi 指标",
    "township": "township 乡镇",
    "label": "label 指标名称",
    "sense": "sense 方向",
    "target": "target 目标值",
    "mean": "mean 均值",
    "bound": "bound 单侧置信界",
    "ci_low": "ci_low 区间下限",
    "ci_high": "ci_high 区间上限",
    "n": "n 重复次数",
    "met": "met 达标",
    "p_meet": "p_meet 达标概率(按重复)",
    "shortfall": "shortfall 差距(界值距目标, 占目标比例; 0 = 达标)",
    # staffing.csv: one row per lever
    "lever": "lever 编制项",
    "kind": "kind 类别",
    "value": "value 测算值",
    "mediators": "mediators 每项人数",
    "floor": "floor 下限",
    "quota": "quota 定额",
    "start": "start 现有",
    "salary_yuan": "salary_yuan 每项年薪(元)",
    # frontier.csv and minimality.csv
    "annual_cost_yuan": "annual_cost_yuan 年度成本(元)",
    "salaries_yuan": "salaries_yuan 工资(元)",
    "attainment": "attainment 平均达标概率",
    "targets_met": "targets_met 达标目标数",
    "targets": "targets 目标数",
    "replications": "replications 重复次数",
    "chosen": "chosen 选定",
    "staffing": "staffing 配置",
    "without_one": "without_one 减一项后",
    "breaks": "breaks 减后不达标的目标",
    "minimal": "minimal 已最少",
}
"""Bilingual column headers of the sizing and quota CSVs (identifier, then the Chinese term)."""

_PLAIN = {header: name for name, header in SIZING_HEADERS.items()}


def plain_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` read from one of the CSVs here, with its headers back to the identifiers."""
    return table.rename(columns=_PLAIN)


def _headed(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with bilingual headers (its index name too, e.g. kpi → "kpi 指标")."""
    out = table.rename(columns=SIZING_HEADERS)
    if out.index.name in SIZING_HEADERS:
        out.index.name = SIZING_HEADERS[out.index.name]
    return out


def _verdict(met: bool) -> str:
    return "  met 达标" if met else "  NOT met 未达标"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.4g}"


def _legend(conf: int) -> list[str]:
    """What the verdict columns mean (targets.csv adds shortfall, explained the same way)."""
    return [
        f"bound 单侧置信界: the one-sided {conf}% confidence bound of the mean (lower for >=,"
        " upper for <=); met when it meets the goal",
        "P(meet) 达标概率: the share of replications whose own value meets the goal",
        "shortfall 差距 (targets.csv): how far the bound misses the goal, as a fraction of the"
        " goal (0.05 = 5% short; 0 when met)",
    ]


def format_sizing(result: SizingResult) -> str:
    """The printed answer: staffing and budget per demand level, the targets, the effort."""
    conf = round(result.confidence * 100)
    lines = [
        f"{result.scenario.name}: least-cost staffing 编制测算 (seed {result.seed}, "
        f"{result.replications} replications, targets met when the one-sided {conf}% bound "
        "of the mean meets them)",
    ]
    for demand, budget in result.budget.groupby("demand", sort=True):
        lines += ["", f"demand 需求 ×{demand:g}"]
        header = (
            _pad("item 项目", 30) + _pad("level 层级", 24) + _pad("place 乡镇/单位", 26)
            + _pad("专职人数", 10, True) + _pad("年度成本(元)", 16, True)
        )  # fmt: skip
        lines.append(header)
        for r in budget.itertuples():
            item = f"{r.item} {r.item_label}"
            level = f"{r.level_label or r.level}"
            ft = (
                ""
                if isinstance(r.full_time, float) and math.isnan(r.full_time)
                else f"{r.full_time:g}"
            )
            lines.append(
                _pad(item, 30) + _pad(level, 24) + _pad(r.place, 26) + _pad(ft, 10, True)
                + _pad(yuan(r.yuan_per_year), 16, True)
            )  # fmt: skip
        verdict = result.targets[result.targets["demand"] == demand]
        lines.append("")
        lines.append(
            _pad("target 目标", 40) + _pad("goal", 12, True) + _pad("mean", 10, True)
            + _pad(f"{conf}% bound", 12, True) + _pad("P(meet)", 9, True) + "  verdict"
        )  # fmt: skip
        for r in verdict.itertuples():
            name = f"{r.kpi} {r.label}"
            lines.append(
                _pad(name, 40) + _pad(f"{r.sense} {_num(r.target)}", 12, True)
                + _pad(_num(r.mean), 10, True) + _pad(_num(r.bound), 12, True)
                + _pad(f"{r.p_meet:.2f}", 9, True) + ("  met 达标" if r.met else "  NOT met 未达标")
            )  # fmt: skip
        lines += _township_lines(result.townships, demand)
    if result.mode == "package":
        lines += _package_lines(result)
    lines += ["", *_legend(conf)]
    for demand, problems in result.infeasible.items():
        lines += ["", f"demand ×{demand:g}: no staffing meets the targets"]
        lines += [f"  {p}" for p in problems]
    lines += [
        "",
        f"{result.replications_simulated} replications simulated in {result.seconds:.1f} s",
    ]
    return "\n".join(lines)


def _township_lines(townships: pd.DataFrame, demand: float) -> list[str]:
    """Per target, the townships where the answer meets it and those where it does not
    (each with its mean), in a line or two; the whole table is townships.csv."""
    if not len(townships):
        return []
    here = townships[townships["demand"] == demand]
    lines = [
        "",
        "per township 分乡镇 (the district's targets read in each township's own disputes)",
    ]
    for kpi, rows in here.groupby("kpi", sort=False):
        missed = rows[~rows["met"].astype(bool)]
        met = len(rows) - len(missed)
        head = f"  {kpi} {rows['label'].iloc[0]}: met 达标 in {met} of {len(rows)}"
        if len(missed):
            worst = missed.sort_values("mean", ascending=rows["sense"].iloc[0] == ">=")
            named = ", ".join(f"{r.township} {_num(r.mean)}" for r in worst.itertuples())
            head += f"; not met 未达标: {named}"
        lines.append(head)
    return lines


def _package_lines(result: SizingResult) -> list[str]:
    """Measures bought, each target's verdict and the cost–attainment steps (package mode)."""
    lines: list[str] = []
    for demand, measures in result.measures.groupby("demand", sort=True):
        lines += ["", f"measures 措施 (demand ×{demand:g}; headcount in the budget table above)"]
        for r in measures.itertuples():
            lines.append(
                _pad(f"{r.lever} {r.label_zh}", 30) + _pad(f"{r.start:.4g} → {r.value:.4g}", 20)
                + _pad(f"+{r.steps} of {r.max_steps} steps", 18)
                + _pad(yuan(r.yuan_per_year), 16, True)
            )  # fmt: skip
        targets = result.targets[result.targets["demand"] == demand]
        lines += ["", "verdict 结论:"]
        for r in targets.itertuples():
            ci = f"[{_num(r.best_ci_low)}, {_num(r.best_ci_high)}]"
            best = f"best attainable 最佳可达 {_num(r.best_mean)} {ci}"
            lines.append(f"  {r.kpi} {r.label}: {r.verdict_label}; {best}")
            if r.note:
                lines.append(f"    {r.note}")
        steps = result.frontier[result.frontier["demand"] == demand]
        lines += [
            "",
            "cost–attainment steps 成本—达标路径 (search replications; * the package chosen)",
            _pad("step 步骤", 44) + _pad("yuan 年度成本", 16, True)
            + _pad("P(meet)", 8, True) + "  (mean over the targets 各目标平均达标概率)",
        ]  # fmt: skip
        for r in steps.itertuples():
            lines.append(
                _pad(str(r.step), 44) + _pad(yuan(r.annual_cost_yuan), 16, True)
                + _pad(f"{r.attainment:.2f}", 8, True) + ("  *" if r.chosen else "")
            )  # fmt: skip
    return lines


def format_quotas(verdict: QuotaVerdict) -> str:
    """Are the quotas achievable here? Per target and per township, with P(meet)."""
    conf = round(verdict.confidence * 100)
    lines = [
        f"{verdict.scenario.name}: staffing at the quotas 按定额配备 ({verdict.replications} "
        f"replications, seed {verdict.seed}; met = one-sided {conf}% bound meets the target)",
        "",
        _pad("target 目标", 40) + _pad("goal", 12, True) + _pad("mean", 10, True)
        + _pad(f"{conf}% CI", 22, True) + _pad("P(meet)", 9, True) + "  verdict",
    ]  # fmt: skip
    for name, r in verdict.targets.iterrows():
        ci = f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
        lines.append(
            _pad(f"{name} {r['label']}", 40) + _pad(f"{r['sense']} {_num(r['target'])}", 12, True)
            + _pad(_num(r["mean"]), 10, True) + _pad(ci, 22, True)
            + _pad(f"{r['p_meet']:.2f}", 9, True) + _verdict(r["met"])
        )  # fmt: skip
    if len(verdict.townships):
        lines += ["", "per township 分乡镇"]
        for (town, kpi), r in verdict.townships.set_index(["township", "kpi"]).iterrows():
            ci = f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
            lines.append(
                _pad(town, 14) + _pad(kpi, 26) + _pad(f"{r['sense']} {_num(r['target'])}", 12, True)
                + _pad(_num(r["mean"]), 10, True) + _pad(ci, 22, True)
                + _pad(f"{r['p_meet']:.2f}", 9, True)
                + ("  met 达标" if r["met"] else "  NOT met 未达标")
            )  # fmt: skip
    lines += ["", *_legend(conf)]
    if verdict.all_met or verdict.explanation is None:
        lines += ["", "all targets met 全部达标" if verdict.all_met else "targets NOT met 未达标"]
    else:  # what binds: "quotas NOT enough" only where more headcount closes the gap
        lines += ["", "verdict 结论:", *verdict_lines(verdict.explanation)]
    return "\n".join(lines)


def format_screen(table: pd.DataFrame) -> str:
    """The screen beside simulation, with what makes the screen approximate."""
    exact = table.attrs.get("exact", False)
    lines = [
        "analytic screen vs simulation 解析筛选与仿真对照 "
        f"({table.attrs.get('replications', '?')} replications; screen "
        + ("exact here" if exact else "approximate here")
        + ")",
        "",
        _pad("KPI", 30) + _pad("screen", 12, True) + _pad("sim mean", 12, True)
        + _pad("CI", 24, True) + _pad("z", 8, True),
    ]  # fmt: skip
    for name, r in table.iterrows():
        ci = f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
        lines.append(
            _pad(name, 30) + _pad(_num(r["screen"]), 12, True) + _pad(_num(r["mean"]), 12, True)
            + _pad(ci, 24, True) + _pad(_num(r["z"]), 8, True)
        )  # fmt: skip
    if not exact:
        lines += ["", "approximations at work:"]
        lines += [f"  - {a}" for a in table.attrs.get("approximations", [])]
    return "\n".join(lines)


def _writable(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(
            [InputProblem("--out", "", str(out), f"a writable folder ({exc.strerror})")]
        ) from None
    return out


def write_sizing(result: SizingResult, out: str | Path) -> list[Path]:
    """Write budget.csv, staffing.csv, targets.csv, frontier.csv, minimality.csv,
    townships.csv and sizing.json.

    The frontier figure (frontier.png) is the caller's: ``sim size --out`` draws it with
    :func:`sim.reports.planning_figures.sizing_frontier`.
    """
    folder = _writable(Path(out))
    written = []
    for name, table in (
        ("budget.csv", result.budget),
        ("staffing.csv", result.staffing),
        ("targets.csv", result.targets),
        ("frontier.csv", result.frontier),
        ("minimality.csv", result.minimality),
        ("townships.csv", result.townships),
    ):
        path = folder / name
        # BOM: Excel reads the Chinese
        safe_cells(_headed(table)).to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    path = folder / "sizing.json"
    path.write_text(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    written.append(path)
    return written


def write_quotas(verdict: QuotaVerdict, out: str | Path) -> list[Path]:
    """Write quota_targets.csv, quota_townships.csv and quotas.json (the quota verdict)."""
    folder = _writable(Path(out))
    paths = [folder / "quota_targets.csv", folder / "quota_townships.csv", folder / "quotas.json"]
    safe_cells(_headed(verdict.targets)).to_csv(paths[0], encoding="utf-8-sig")
    safe_cells(_headed(verdict.townships)).to_csv(paths[1], index=False, encoding="utf-8-sig")
    paths[2].write_text(
        json.dumps(json_safe(verdict.to_dict()), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    return paths
