"""Printed text of what binds (sim explain) and the verdict lines the quota check shares.

Headers carry Chinese beside English unless one language is asked for (``lang`` ``"zh"`` or
``"en"``); identifiers (KPI names, lever ids) stay as they are in every language.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.scenario.text import pad, yuan
from sim.scenario.vocabulary import KPI_LABELS
from sim.sizing.explain import DECOMPOSITION, Explanation

__all__ = ["LANGUAGES", "binds_text", "format_explanation", "verdict_lines"]

LANGUAGES: tuple[str, ...] = ("zh", "en")

_PART_WORDS = {
    "minor_reached_village": ("ceiling", "进村率(天花板)"),
    "minor_retained_in_village": ("retention", "留村率"),
    "major_only_kept_in_township": ("major", "大事"),
    "serious_kept_in_township": ("serious", "重大疑难"),
}

_BINDS = {
    "met": ("met", "达标"),
    "headcount": ("more full-time headcount closes the gap", "增加专职人员可以补足"),
    "ceiling": (
        "the ceiling: where parties enter and what sweeps find, not headcount",
        "天花板:当事人从哪一级进入、排查发现多少,而非人手",
    ),
    "retention": (
        "retention: the quality of resolution, not headcount",
        "留存:调解成功率(质量),而非人手",
    ),
    "other": ("something other than headcount", "人手以外的因素"),
}


def _t(en: str, zh: str, lang: str | None) -> str:
    if lang == "en":
        return en
    if lang == "zh":
        return zh
    return f"{en} {zh}"


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "free 免费" if x > 0 else "−∞"
    return f"{x + 0.0:.{digits}g}"  # + 0.0: no "-0" for a negative zero


def binds_text(binds: str, lang: str | None = None) -> str:
    """What limits a target, in words."""
    en, zh = _BINDS[binds]
    return _t(en, zh, lang)


def _label(name: str, lang: str | None) -> str:
    zh = KPI_LABELS.get(name, "")
    return name if lang == "en" or not zh else f"{name} {zh}"


def verdict_lines(expl: Explanation, lang: str | None = None) -> list[str]:
    """One line per target missed, then the overall verdict (used by the quota check too).

    "quotas NOT enough 定额不足" appears only for targets that headcount at its upper bounds
    meets; any other miss names what limits it and the levers that move it most per 10,000 yuan.
    """
    t = expl.targets
    lines = []
    for name, row in t.iterrows():
        if row["binds"] == "met":
            continue
        what = binds_text(str(row["binds"]), lang)
        line = f"  {_label(str(name), lang)}: {what}"
        parts = DECOMPOSITION.get(str(name))
        if parts and row["binds"] != "headcount":
            shown = []
            for i, part in enumerate(parts, 1):
                en, zh = _PART_WORDS[part]
                shown.append(f"{_t(en, zh, lang)} {_num(row[f'part{i}_generous'], 3)}")
            joiner = " × " if str(name) == "minor_kept_in_village" else ", "
            line += " [" + _t("at upper headcount", "人手到上限时", lang) + ": "
            line += joiner.join(shown) + "]"
        if row["binds"] != "headcount":
            best = list(row["best"])
            line += "; " + _t("levers per 10,000 yuan", "每万元最有效的措施", lang) + ": "
            line += ", ".join(best) if best else _t("none in the catalogue", "目录中无", lang)
        lines.append(line)
    if not lines:
        return [_t("all targets met", "全部达标", lang)]
    short, other = expl.headcount_short, expl.not_headcount
    if short:
        lines.append(
            _t("quotas NOT enough", "定额不足", lang) + ": " + ", ".join(short) + " — "
            + _t("more headcount closes the gap", "增加专职人员可补足", lang)
        )  # fmt: skip
    if other:
        lines.append(
            _t("headcount is not what limits", "制约因素不是人手", lang) + ": " + ", ".join(other)
        )
    return lines


def format_explanation(expl: Explanation, lang: str | None = None) -> str:
    """The printed answer of ``sim explain``: per target, the decomposition and ranked levers."""
    sc = expl.scenario
    conf = round(sc.run.confidence * 100)
    lines = [
        f"{sc.name}: " + _t("what binds", "制约因素分析", lang)
        + f" ({expl.replications} " + _t("replications", "次重复", lang)
        + f", seed {expl.seed}; "
        + _t("paired differences with common random numbers, 95% CI",
             "共同随机数配对差分, 95%置信区间", lang) + ")",
    ]  # fmt: skip
    for name, row in expl.targets.iterrows():
        lines += ["", _target_header(str(name), row, conf, lang)]
        parts = DECOMPOSITION.get(str(name))
        if parts:
            lines.append(_decomposition(str(name), row, lang))
        lines.append(
            "  " + _t("headcount at upper bounds", "人手到上限", lang)
            + f": {_num(row['generous_mean'])} → "
            + (_t("meets it", "可达标", lang) if row["generous_met"]
               else _t("still misses it", "仍不达标", lang))
        )  # fmt: skip
        lines.append("  " + _t("verdict", "结论", lang) + ": " + binds_text(row["binds"], lang))
        mine = expl.effects[expl.effects["kpi"] == name].sort_values("rank")
        if len(mine):
            lines += _effects_table(mine, bool(parts), lang)
    inactive = expl.catalogue[~expl.catalogue["active"]] if len(expl.catalogue) else pd.DataFrame()
    if len(inactive):
        lines += ["", _t("levers not simulated", "未模拟的措施", lang) + ":"]
        lines += [f"  {r['lever']}: {r['note']}" for _, r in inactive.iterrows()]
    lines += ["", _t("verdict", "结论", lang) + ":", *verdict_lines(expl, lang)]
    return "\n".join(lines)


def _target_header(name: str, row: pd.Series, conf: int, lang: str | None) -> str:
    met = _t("met", "达标", lang) if row["met"] else _t("NOT met", "未达标", lang)
    return (
        _t("target", "目标", lang) + f" {_label(name, lang)} {row['sense']} {_num(row['target'])}: "
        + _t("mean", "均值", lang) + f" {_num(row['mean'])} "
        + f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}], "
        + f"{conf}% " + _t("bound", "单侧界", lang) + f" {_num(row['bound'])} → {met}"
    )  # fmt: skip


def _decomposition(name: str, row: pd.Series, lang: str | None) -> str:
    shown = []
    for i in (1, 2):
        en, zh = _PART_WORDS[row[f"part{i}"]]
        shown.append(
            f"{_t(en, zh, lang)} {_num(row[f'part{i}_base'], 3)}"
            f" ({_t('upper headcount', '人手上限', lang)} {_num(row[f'part{i}_generous'], 3)})"
        )
    joiner = " × " if name == "minor_kept_in_village" else "; "
    return "  " + joiner.join(shown)


def _effects_table(rows: pd.DataFrame, parts: bool, lang: str | None) -> list[str]:
    head = (
        pad(_t("#", "序", lang), 5) + pad(_t("lever", "措施", lang), 46)
        + pad(_t("step", "一档", lang), 10, True)
        + pad(_t("Δ per step", "每档变化", lang), 21, True)
        + pad(_t("95% CI", "95%区间", lang), 24, True)
        + pad(_t("yuan/step", "每档年成本(元)", lang), 26, True)
        + pad(_t("per 10k yuan", "每万元", lang), 21, True)
    )  # fmt: skip
    if parts:
        head += pad(_t("Δ parts", "分项变化", lang), 20, True)
    out = ["", head]
    for _, r in rows.iterrows():
        label = r["lever"] if lang == "en" else f"{r['lever']} {r['label_zh']}"
        ci = f"[{_num(r['ci_low'], 3)}, {_num(r['ci_high'], 3)}]"
        line = (
            pad(str(r["rank"]), 5) + pad(label, 46) + pad(_num(r["step"], 3), 10, True)
            + pad(_num(r["delta"], 3), 21, True) + pad(ci, 24, True)
            + pad(yuan(r["yuan_per_step"]), 26, True)
            + pad(_num(r["per_10k_yuan"], 3), 21, True)
        )  # fmt: skip
        if parts:
            line += pad(f"{_num(r['part1_delta'], 2)} / {_num(r['part2_delta'], 2)}", 20, True)
        if r["includes_zero"]:
            line += "  " + _t("CI includes 0", "区间含0", lang)
        out.append(line)
    return out
