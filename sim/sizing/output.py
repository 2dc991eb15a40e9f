"""Outputs of sizing (编制测算): budget table as CSV / JSON / printed text, the cost frontier plot.

Kept apart from the search (:mod:`sim.sizing.size`) so that it imports no plotting library.
Column headers carry the Chinese term beside the English one (层级, 乡镇, 专职人数, 年度成本(元))
because the budget office reads them; the JSON keeps the English identifiers only.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd

from sim.scenario.errors import InputProblem, ScenarioError
from sim.sizing.confirmation import QuotaVerdict
from sim.sizing.explain_output import verdict_lines
from sim.sizing.results import BUDGET_HEADERS, SizingResult, json_safe

__all__ = [
    "format_quotas",
    "format_screen",
    "format_sizing",
    "plot_frontier",
    "write_quotas",
    "write_sizing",
]

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)
_warned_font = False


def _wide(text: str) -> int:
    return sum(1 for ch in str(text) if ord(ch) > 0x2E80)


def _pad(text: str, width: int, right: bool = False) -> str:
    text = str(text)
    gap = max(0, width - len(text) - _wide(text))
    return " " * gap + text if right else text + " " * gap


def _verdict(met: bool) -> str:
    return "  met 达标" if met else "  NOT met 未达标"


def _yuan(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.4g}"


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
                + _pad(_yuan(r.yuan_per_year), 16, True)
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
    for demand, problems in result.infeasible.items():
        lines += ["", f"demand ×{demand:g}: no staffing meets the targets"]
        lines += [f"  {p}" for p in problems]
    lines += [
        "",
        f"{result.replications_simulated} replications simulated in {result.seconds:.1f} s",
    ]
    return "\n".join(lines)


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
    """Write budget.csv, staffing.csv, targets.csv, frontier.csv, sizing.json, frontier.png."""
    folder = _writable(Path(out))
    written = []
    budget = result.budget.rename(columns=BUDGET_HEADERS)
    for name, table in (
        ("budget.csv", budget),
        ("staffing.csv", result.staffing),
        ("targets.csv", result.targets),
        ("frontier.csv", result.frontier),
        ("minimality.csv", result.minimality),
    ):
        path = folder / name
        table.to_csv(path, index=False, encoding="utf-8-sig")  # BOM: Excel reads the Chinese
        written.append(path)
    path = folder / "sizing.json"
    path.write_text(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    written.append(path)
    if len(result.frontier):
        written.append(plot_frontier(result.frontier, folder / "frontier.png"))
    return written


def write_quotas(verdict: QuotaVerdict, out: str | Path) -> list[Path]:
    folder = _writable(Path(out))
    paths = [folder / "quota_targets.csv", folder / "quota_townships.csv", folder / "quotas.json"]
    verdict.targets.to_csv(paths[0], encoding="utf-8-sig")
    verdict.townships.to_csv(paths[1], index=False, encoding="utf-8-sig")
    paths[2].write_text(
        json.dumps(json_safe(verdict.to_dict()), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    return paths


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


def plot_frontier(frontier: pd.DataFrame, path: str | Path) -> Path:
    """Cost (万元/year) against target attainment for every staffing simulated; PNG.

    Attainment is the mean over targets of the share of replications meeting each target; the
    Pareto points (the cheapest for each level of attainment) are joined, the chosen staffing
    is marked. Chinese labels when a CJK font is installed, otherwise English (one warning).
    """
    global _warned_font
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _cjk_font()
    if font is None and not _warned_font:
        warnings.warn("no CJK font found; the frontier plot is labelled in English", stacklevel=2)
        _warned_font = True
    zh = font is not None
    with plt.rc_context():
        if zh:  # set inside the context, so the settings end with it
            plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
            plt.rcParams["axes.unicode_minus"] = False
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for demand, part in frontier.groupby("demand", sort=True):
            cost = part["annual_cost_yuan"] / 1e4
            ax.scatter(cost, part["attainment"], s=12, alpha=0.4)
            front = part[part["pareto"]]
            ax.plot(
                front["annual_cost_yuan"] / 1e4,
                front["attainment"],
                marker="o",
                label=(f"需求 ×{demand:g}" if zh else f"demand ×{demand:g}"),
            )
            chosen = part[part["chosen"]]
            ax.scatter(
                chosen["annual_cost_yuan"] / 1e4,
                chosen["attainment"],
                s=120,
                marker="*",
                color="black",
                zorder=5,
            )
        ax.set_xlabel("年度经费(万元)" if zh else "yearly cost (10,000 yuan)")
        ax.set_ylabel("目标达成概率(均值)" if zh else "target attainment (mean P(meet))")
        ax.set_title(
            "经费与目标达成(★ 最低成本达标方案)"
            if zh
            else "Cost against target attainment (★ least-cost staffing meeting all targets)"
        )
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return Path(path)
