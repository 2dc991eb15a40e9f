"""``sim report``: one self-contained HTML page from the results of a run, a sweep or a sizing.

For people who do not run Python: the page opens offline in any browser, by e-mail or from a
USB stick, because everything is inside it — figures as base64 PNG (``data:`` URIs), tables as
HTML, CSS inline, no script, no web font, no link to fetch. Headings carry the Chinese term
beside the English one; the figures follow ``language`` (``"zh"`` for planners, ``"en"`` for
researchers, with pinyin place names). Built from saved results only: it never runs a model.
The page skeleton (CSS, headings, tables, figures) is :mod:`sim.reports.html_page`; this
module recognises the folder and renders each kind.

The kind of folder is recognised by its files:

* a run (``sim run --out DIR`` / :meth:`sim.Results.save`): ``results.json`` + ``scenario.json``;
* a sweep or sensitivity run (``sim sweep --out DIR``, ``sim sensitivity``): ``manifest.json``;
* a sizing (``sim size --out DIR``): a JSON file with ``staffing`` and ``budget`` tables (what
  :meth:`sim.sizing.results.SizingResult.to_dict` writes), or ``staffing.csv`` + ``budget.csv``;
* a quota verdict (``sim size --check-quotas --out DIR``): ``quotas.json``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sim.reports.fonts import check_language
from sim.reports.html_page import (
    FigureError,
    drawn,
    heading,
    html_table,
    verdict_text,
    whole_page,
)
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.vocabulary import PETITION_KPIS

__all__ = [
    "ReportKind",
    "detect_kind",
    "render_quotas",
    "render_run",
    "render_sizing",
    "render_sweep",
    "write_report",
]

ReportKind = Literal["run", "sweep", "size", "quotas"]
_EXPECTED = (
    "results.json + scenario.json (sim run --out), manifest.json (sim sweep --out), "
    "sizing.json (sim size --out) or quotas.json (sim size --check-quotas --out)"
)

# --------------------------------------------------------------------------- detection


def _problem(
    folder: Path | str, expected: str, value: object = InputProblem.MISSING
) -> ScenarioError:
    return ScenarioError([InputProblem(str(folder), "", value, expected)])


def _sizing_json(folder: Path) -> Path | None:
    for path in sorted(folder.glob("*.json")):
        if path.name in ("results.json", "manifest.json"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "staffing" in data and "budget" in data:
            return path
    return None


def detect_kind(folder: str | Path) -> ReportKind:
    """Which command wrote ``folder``; a :class:`ScenarioError` if it is none of them."""
    folder = Path(folder)
    if not folder.exists():
        raise _problem(folder, f"not found: expected a results folder with {_EXPECTED}")
    if folder.is_file():
        if folder.suffix == ".json" and _sizing_json(folder.parent) == folder:
            return "size"
        raise _problem(folder, f"is a file: expected a results folder with {_EXPECTED}")
    if (folder / "results.json").is_file() and (folder / "scenario.json").is_file():
        return "run"
    if (folder / "manifest.json").is_file():
        return "sweep"
    if _sizing_json(folder) or (
        (folder / "staffing.csv").is_file() and (folder / "budget.csv").is_file()
    ):
        return "size"
    if (folder / "quotas.json").is_file():
        return "quotas"
    raise _problem(folder, f"not a results folder: expected {_EXPECTED}")


# --------------------------------------------------------------------------- run


def render_run(results: Any, language: str = "zh", source: str = "") -> str:
    """The HTML page of one run: targets, KPIs, where disputes end, queues, costs, petitions."""
    from sim.reports import figures as F
    from sim.reports.tables import WHERE_RESOLVED_NOTE

    lang = check_language(language)
    sc = results.scenario
    run = sc.run
    conf = round(run.confidence * 100)
    meta = html.escape(
        f"{sc.name} — {sc.description} · {results.replications} 次重复 replications · "
        f"seed {results.seed} · {run.horizon_days:g} 天 days after {run.warmup_days:g} 天 "
        f"warm-up · {len(sc.townships)} 乡镇 townships, {sc.population:,} 人 residents"
    )
    body: list[str] = []

    if len(results.targets):
        t = F.targets_table(results, lang)
        shown = pd.DataFrame(
            {
                "KPI": t.index,
                "指标 label": t["label"],
                "目标 goal": t["goal"],
                "均值 mean": t["mean"],
                f"{conf}% CI": [
                    F.ci_text(m, lo, hi)
                    for m, lo, hi in zip(t["mean"], t["ci_low"], t["ci_high"], strict=True)
                ],
                "判定 verdict": [verdict_text(bool(m), lang) for m in t["met"]],
                f"{conf}% 置信达标 with confidence": [
                    verdict_text(bool(m), lang) for m in t["met_with_confidence"]
                ],
            }
        )
        body += [heading("目标", "Targets"), html_table(shown)]

    def kpi_rows(kpis: Iterable[str] | None, k: pd.DataFrame | None = None) -> pd.DataFrame:
        k = F.kpi_table(results, lang, kpis) if k is None else k
        return pd.DataFrame(
            {
                "KPI": k.index,
                "指标 label": k["label"],
                **({"含义 part": k["part"]} if "part" in k else {}),
                # What each share is a share of: 网格化解 and the where-resolved table count
                # different wholes, and a reader must see which.
                **({"分母 share of": k["of"]} if "of" in k else {}),
                "均值 mean": k["mean"],
                f"{conf}% CI": [
                    F.ci_text(m, lo, hi)
                    for m, lo, hi in zip(k["mean"], k["ci_low"], k["ci_high"], strict=True)
                ],
                "n": k["n"],
            }
        )

    body += [
        heading("关键指标", "Key indicators"),
        html_table(kpi_rows(F.HEADLINE_KPIS)),
        "<details><summary>全部指标 All KPIs</summary>",
        html_table(kpi_rows(None)),
        "</details>",
    ]
    if results.not_modelled:
        body.append(
            '<p class="note">本情景未启用的机制,其指标不显示 (not modelled in this scenario, '
            f"left out rather than shown as 0): {html.escape(', '.join(results.not_modelled))}</p>"
        )

    parts = F.ladder_targets_explained(results, lang)
    if len(parts):  # results saved before these KPIs existed lack them
        body += [
            heading("小事不出村、大事不出镇的构成", "What the ladder targets are made of"),
            html_table(kpi_rows(None, parts)),
            '<p class="note">小事不出村 = 小事进村率 (上限) × 小事进村后留村率, 每次重复严格成立;'
            " 进村率低说明小事未到村就上交或直接到乡镇、区, 留村率低说明村里调不成或超期上交"
            " (minor_kept_in_village = minor_reached_village × minor_retained_in_village in"
            " every replication: a low ceiling means minor disputes never came to the village,"
            " a low retention that the village did not settle those that did).</p>",
        ]

    if results.registers and results.cases:
        shares = F.where_resolved(results)
        table = shares.copy()
        table.index = [
            {"minor": "小事 minor", "major": "大事 major", "serious": "重大疑难 serious"}.get(
                s, "全部 all"
            )
            for s in table.index
        ]
        table.columns = [f"{F.outcome_label(c, 'zh')} {c}" for c in table.columns]
        body += [
            heading("纠纷在哪一级化解", "Where disputes are resolved"),
            drawn("escalation flow", F.escalation_flow, results, lang),
            html_table(table.map(lambda v: f"{v:.1%}" if pd.notna(v) else "—"), index=True),
            f'<p class="note">{html.escape(" ".join(WHERE_RESOLVED_NOTE))}</p>',
        ]
    if results.timeseries:
        body += [
            heading("各级排队情况", "Queue lengths over the year"),
            drawn("cases waiting", F.queue_lengths, results, "waiting", lang),
            drawn("cases present", F.queue_lengths, results, "present", lang),
        ]
    if results.costs:
        costs = F.cost_summary(results)
        costs.index = [f"{F.level_label(w, 'zh')} {w}" for w in costs.index]
        costs.loc["合计 total"] = costs.sum()
        costs["合计 total"] = costs.sum(axis=1)
        body += [
            heading("年度经费", "Yearly cost (yuan)"),
            drawn("cost breakdown", F.cost_breakdown, results, lang),
            html_table(costs.round(0), index=True),
        ]
    # The petition section needs the petition KPIs (other mechanisms may be off: issue 15's).
    if not set(PETITION_KPIS) & set(results.not_modelled):
        body += [
            heading("信访与积案 “1减2降1升”", "Petitions and backlog"),
            drawn("petition indicators", F.petition_indicators, results, lang),
        ]
        if results.petitions:
            body.append(drawn("backlog over time", F.backlog_over_time, results, lang))
    if not (results.registers and results.cases):
        body.append(
            '<p class="note">这些结果没有保存明细表,只显示指标 (no tables were kept: '
            "run with keep_tables=True or sim run --out for the figures).</p>"
        )
    return whole_page("运行结果报告", f"Run report — {sc.name}", meta, body, source)


# --------------------------------------------------------------------------- sweep


def _axis_labels(df: pd.DataFrame) -> tuple[list[str], bool]:
    meta = df.attrs.get("sweep", {})
    axes = [a.get("label", a.get("key")) for a in meta.get("axes", [])]
    return [a for a in axes if a in df.columns], "variant" in df.columns


def render_sweep(folder: str | Path, language: str = "zh", source: str = "") -> str:
    """The HTML page of a sweep: per-point KPIs, differences from the baseline, figures."""
    from sim.experiments.sweep_results import load_sweep, paired_differences, summarise_sweep
    from sim.reports import figures as F
    from sim.reports import plots

    lang = check_language(language)
    folder = Path(folder)
    df = load_sweep(folder)
    meta = df.attrs["sweep"]
    if meta.get("kind") == "sensitivity":
        return _render_sensitivity(folder, df, lang, source)
    if not len(df):
        raise _problem(folder, "a sweep with at least one finished point (rerun with --resume)")
    axes, has_variants = _axis_labels(df)
    labels = [*(["variant"] if has_variants else []), *axes]
    summary = summarise_sweep(df)
    kpis = list(dict.fromkeys(summary["kpi"]))
    targets = meta.get("targets", {})
    focus = [k for k in targets if k in kpis] or kpis[:3]
    reps = int(df.groupby("point").size().max())
    page_meta = html.escape(
        f"{meta.get('name')} · {meta['points_done']}/{meta['points_total']} 个点 points · "
        f"{reps} 次重复 replications per point · 基准 baseline {meta.get('baseline')} · "
        f"轴 axes: {', '.join(axes) or '—'}"
    )
    body: list[str] = []
    if meta["points_done"] < meta["points_total"]:
        body.append(
            '<p class="note">扫描尚未完成 (unfinished sweep): only the finished points are shown;'
            " resume it with sim sweep --resume.</p>"
        )

    body.append(heading("关注指标图", "Figures"))
    numeric = [a for a in axes if pd.api.types.is_numeric_dtype(df[a])]
    by = "variant" if has_variants else None
    for kpi in focus:
        if len(numeric) >= 2:
            fig = drawn(kpi, plots.heatmap, df, kpi, x=numeric[0], y=numeric[1], language=lang)
        elif len(axes) == 1 or (len(numeric) == 1 and not has_variants):
            fig = drawn(kpi, plots.kpi_over_axis, df, kpi, axes[0], by=by, language=lang)
        else:
            fig = drawn(kpi, F.sweep_bars, summary, kpi, by=by or "point", language=lang)
        body.append(fig)

    wide = summary.assign(
        value=[
            F.ci_text(m, lo, hi)
            for m, lo, hi in zip(
                summary["mean"], summary["ci_low"], summary["ci_high"], strict=True
            )
        ]
    ).pivot_table(index=["point", *labels], columns="kpi", values="value", aggfunc="first")
    wide = wide[[k for k in kpis if k in wide.columns]]
    wide.columns = [f"{F.kpi_label(k, 'zh')} {k}" for k in wide.columns]
    body += [
        heading("各点指标(均值 [95% CI])", "KPIs per point (mean [95% CI])"),
        html_table(wide.reset_index()),
    ]
    if meta.get("baseline") and len(set(df["point"])) > 1:
        diff = paired_differences(df, kpis=focus)
        shown = pd.DataFrame(
            {
                "point": diff["point"],
                **{c: diff[c] for c in labels},
                "KPI": diff["kpi"],
                "基准 baseline": diff["baseline_mean"],
                "均值 mean": diff["mean"],
                "差值 difference [95% CI]": [
                    F.ci_text(m, lo, hi, 4)
                    for m, lo, hi in zip(
                        diff["difference"], diff["ci_low"], diff["ci_high"], strict=True
                    )
                ],
                "方差比 variance ratio (CRN)": diff["variance_ratio"],
            }
        )
        body += [
            heading("与基准的配对差值", "Paired differences from the baseline"),
            "<p>同一随机数(公共随机数)下逐次比较 — each replication compared with the baseline's"
            " replication of the same seed (common random numbers).</p>",
            html_table(shown),
        ]
    return whole_page("参数扫描报告", f"Sweep report — {meta.get('name')}", page_meta, body, source)


def _render_sensitivity(folder: Path, df: pd.DataFrame, lang: str, source: str) -> str:
    from sim.experiments.sensitivity import analyse_sensitivity
    from sim.reports import plots

    meta = df.attrs["sweep"]
    result = analyse_sensitivity(folder)
    body = [heading("哪个假设起决定作用", "Which assumption decides?")]
    for kpi in dict.fromkeys(result.indices["kpi"]):
        body.append(
            drawn(f"sensitivity of {kpi}", plots.tornado, result.indices, kpi, language=lang)
        )
    body += [heading("敏感性指数", "Sensitivity indices"), html_table(result.indices)]
    page_meta = html.escape(
        f"{meta.get('name')} · {result.method} · {meta['points_done']} 个点 points"
    )
    return whole_page(
        "敏感性分析报告", f"Sensitivity report — {meta.get('name')}", page_meta, body, source
    )


# --------------------------------------------------------------------------- size


def _read_sizing(path: Path) -> dict[str, Any]:
    """A sizing as plain tables: from its JSON (SizingResult.to_dict) or CSV files."""
    from sim.sizing.output import plain_columns

    if path.is_dir():
        found = _sizing_json(path)
        if found is None:
            data: dict[str, Any] = {}
            for name in ("staffing", "budget", "targets", "frontier", "minimality"):
                csv = path / f"{name}.csv"
                if csv.is_file():
                    # The CSVs have bilingual headers ("full_time 专职人数"); the page reads
                    # the identifiers, as in the JSON.
                    table = plain_columns(pd.read_csv(csv, encoding="utf-8-sig"))
                    data[name] = table.to_dict(orient="records")
            return data
        path = found
    return json.loads(path.read_text(encoding="utf-8"))


def render_sizing(data: dict[str, Any], language: str = "zh", source: str = "") -> str:
    """The HTML page of a sizing: headcount per level, budget, verdicts, cost frontier."""
    from sim.reports import figures as F

    lang = check_language(language)

    def frame(name: str) -> pd.DataFrame:
        # to_dict() writes records of reset_index(): the RangeIndex comes back as "index"
        return pd.DataFrame(data.get(name) or []).drop(columns=["index"], errors="ignore")

    staffing, budget = frame("staffing"), frame("budget")
    targets, frontier, minimality = frame("targets"), frame("frontier"), frame("minimality")
    meta = html.escape(
        f"{data.get('scenario', '')} · {data.get('replications', '?')} 次重复 replications · "
        f"置信度 confidence {data.get('confidence', '?')} · seed {data.get('seed', '?')} · "
        f"{data.get('rule', '')}"
    )
    body: list[str] = []
    for demand, why in (data.get("infeasible") or {}).items():
        body.append(
            f'<p class="note">需求 ×{html.escape(str(demand))} 无可行配置 (no staffing meets '
            f"the targets): {html.escape('; '.join(map(str, why)))}</p>"
        )
    if len(staffing):
        keep = [
            c
            for c in ("demand", "level", "level_label", "place", "quota", "floor", "start",
                      "value", "full_time", "yuan_per_year")
            if c in staffing
        ]  # fmt: skip
        body += [heading("测算编制", "Sized headcount"), html_table(staffing[keep])]
        if {"demand", "level", "full_time"} <= set(staffing):
            heads = staffing.pivot_table(
                index="level", columns="demand", values="full_time", aggfunc="sum"
            )
            heads.index = [f"{F.level_label(str(i), 'zh')} {i}" for i in heads.index]
            heads.columns = [f"×{c:g}" for c in heads.columns]
            body += [
                heading("各级专职调解员(按需求倍数)", "Full-time mediators per level, by demand"),
                html_table(heads, index=True),
            ]
    if len(budget):
        body += [heading("年度预算", "Yearly budget (yuan)")]
        if "item" in budget and "yuan_per_year" in budget:
            body.append(drawn("budget by level", F.budget_by_level, budget, lang))
        body.append(html_table(budget))
    if len(targets):
        body += [heading("目标判定", "Target verdicts"), html_table(targets)]
    if len(frontier) and {"annual_cost_yuan", "attainment", "demand"} <= set(frontier):
        body += [
            heading("成本—达标前沿", "Cost frontier"),
            drawn("cost frontier", F.sizing_frontier, frontier, lang),
        ]
    if len(minimality):
        body += [
            heading(
                "最小性检验(减一人即不达标)", "Minimality: removing one mediator breaks a target"
            ),
            html_table(minimality),
        ]
    return whole_page(
        "编制与经费测算报告", f"Sizing report — {data.get('scenario', '')}", meta, body, source
    )


def render_quotas(data: dict[str, Any], language: str = "zh", source: str = "") -> str:
    """The HTML page of a quota verdict: are the seed's quotas enough, district and township?"""
    from sim.reports import figures as F

    lang = check_language(language)
    targets = pd.DataFrame(data.get("targets") or [])
    towns = pd.DataFrame(data.get("townships") or [])
    staffing = pd.DataFrame(data.get("staffing") or [])
    verdict = "全部达标 all met" if data.get("all_met") else "未全部达标 not all met"
    meta = html.escape(
        f"{data.get('scenario', '')} · {data.get('replications', '?')} 次重复 replications · "
        f"置信度 confidence {data.get('confidence', '?')} · {verdict} · {data.get('rule', '')}"
    )
    body: list[str] = []
    if len(targets):
        body += [heading("全区目标判定", "District-wide verdict"), html_table(targets)]
    if len(towns) and {"township", "kpi", "mean", "target", "met"} <= set(towns):
        body += [
            heading("分乡镇判定", "Township by township"),
            drawn("township verdict", F.township_verdict, towns, None, lang),
            html_table(towns),
        ]
    if len(staffing):
        body += [heading("按配备标准的编制", "Staffing at the quotas"), html_table(staffing)]
    return whole_page(
        "配备标准检验报告", f"Quota check — {data.get('scenario', '')}", meta, body, source
    )


# --------------------------------------------------------------------------- entry point


def write_report(
    results_dir: str | Path,
    out: str | Path | None = None,
    language: str = "zh",
) -> Path:
    """Write the report of ``results_dir`` (a run, sweep or sizing folder) to one HTML file.

    ``out`` defaults to ``results_dir/report.html``. Bad input (no such folder, not a results
    folder, unreadable files) raises :class:`~sim.scenario.errors.ScenarioError`.
    """
    folder = Path(results_dir)
    kind = detect_kind(folder)
    render: dict[str, Callable[[], str]] = {
        "run": lambda: _render_run_folder(folder, language),
        "sweep": lambda: render_sweep(folder, language, str(folder)),
        "size": lambda: render_sizing(_read_sizing(folder), language, str(folder)),
        "quotas": lambda: render_quotas(
            json.loads((folder / "quotas.json").read_text(encoding="utf-8")), language, str(folder)
        ),
    }
    try:
        page = render[kind]()
    except ScenarioError:
        raise
    except FigureError as exc:  # read fine, drawn wrong: our bug (exit 1), named as such
        raise FigureError(f"sim report {folder}: {exc}") from exc.__cause__
    except (OSError, ValueError, KeyError) as exc:  # a damaged folder is bad input, not a bug
        raise _problem(folder, f"readable {kind} results ({type(exc).__name__}: {exc})") from None
    target = (
        Path(out)
        if out is not None
        else (folder if folder.is_dir() else folder.parent) / "report.html"
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            [InputProblem("--out", "", str(target), f"a writable file ({exc.strerror})")]
        ) from None
    return target


def _render_run_folder(folder: Path, language: str) -> str:
    from sim.experiments.experiment import load_results

    return render_run(load_results(folder), language, str(folder))
