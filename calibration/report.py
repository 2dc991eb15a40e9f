"""The calibration report: one HTML page with PNG figures beside it.

It shows what a reviewer needs to trust (or not) the calibrated scenario: every fitted value
with its interval, observed against fitted (histograms, Kaplan–Meier curves, QQ plots), how far
village estimates were pulled toward their township, what the register cannot identify, and
the backtest. Figures use English labels (a CJK font is not guaranteed on every machine); the
tables carry the Chinese terms.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.experiments.files import write_atomic
from sim.reports.drawing import literal_rc, literal_text

from .arrivals import MONTHS, month_slices
from .backtest import Backtest
from .durations import DurationFit, kaplan_meier
from .fitting import Calibration

__all__ = ["write_report"]

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } .note { color: #555; } code { background: #f6f6f6; }
"""


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(
        index=False, float_format=lambda x: f"{x:.{digits}g}", na_rep="—", border=0
    )


def _save(fig, folder: Path, name: str) -> str:
    # Fixed margins: tight_layout measures every label and doubles the time of a report.
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.22, top=0.9, wspace=0.3)
    literal_text(fig)  # a village named "$…$" is a name, not mathematics
    try:  # whole or not at all, as every output (sim.experiments.files)
        with literal_rc():
            write_atomic(folder / name, lambda tmp: fig.savefig(tmp, dpi=90))
    finally:
        plt.close(fig)
    return f'<img src="{name}" alt="{html.escape(name)}">'


def _arrivals_figure(fit: Calibration, folder: Path) -> str:
    slices = month_slices(fit.start, fit.end)
    arisen = fit.cases.loc[~fit.cases["initial"], "arisen"].to_numpy()
    counts = [int(((arisen >= s.begin) & (arisen < s.finish)).sum()) for s in slices.itertuples()]
    p = fit.parameters.set_index("key")
    rate = float(p.loc["arrivals.rate_per_1000_per_year", "estimate"])
    season = fit.settings.get("arrivals.seasonality", fit.scenario.arrivals.seasonality)
    season = np.asarray(season, float) / np.mean(season)
    expected = [
        rate * season[s.month] * s.days / 365 * fit.scenario.population / 1000
        for s in slices.itertuples()
    ]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    x = np.arange(len(slices))
    ax.bar(x, counts, color="#9ecae1", label="observed")
    ax.plot(x, expected, "o-", color="#d62728", label="fitted mean")
    ax.set_xticks(x, [f"{s.begin:%Y-%m}" for s in slices.itertuples()], rotation=60, fontsize=7)
    ax.set_ylabel("disputes arising")
    ax.legend()
    return _save(fig, folder, "arrivals.png")


def _duration_figure(fit: DurationFit, folder: Path, name: str) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    chosen = fit.fits[fit.chosen].frozen
    ended = fit.times[~fit.censored]
    top = float(np.quantile(fit.times, 0.98))
    grid = np.linspace(max(top / 500, 1e-9), top, 300)
    ax = axes[0]
    ax.hist(ended[ended <= top], bins=30, density=True, color="#c6dbef", label="ended")
    for fam, style in ((fit.chosen, "-"), (fit.written, "--")):
        if fam is None:
            continue
        ax.plot(grid, fit.fits[fam].frozen.pdf(grid), style, label=fam)
    ax.set_title(f"{fit.name}: histogram", fontsize=9)
    ax.set_xlabel(fit.unit)
    ax.legend(fontsize=7)
    note = " (ended steps only)" if fit.n_censored else ""
    ax.set_title(f"{fit.name}{note}", fontsize=9)
    km_t, km_s = kaplan_meier(fit.times, fit.censored)
    ax = axes[1]
    ax.step(km_t, km_s, where="post", label="Kaplan–Meier")
    ax.plot(grid, chosen.sf(grid), "--", label=f"fitted {fit.chosen}")
    ax.set_xlim(0, top)
    ax.set_title(f"survival; sup|KM−fit| = {fit.km_distance:.3f}", fontsize=9)
    ax.set_xlabel(fit.unit)
    ax.legend(fontsize=7)
    ax = axes[2]
    probs = 1 - km_s
    keep = (probs > 0.01) & (probs < 0.99)
    q_fit = chosen.ppf(probs[keep])
    ax.plot(q_fit, km_t[keep], ".", ms=3)
    lim = float(max(q_fit.max(initial=0), km_t[keep].max(initial=0)))
    ax.plot([0, lim], [0, lim], "k:", lw=1)
    ax.set_xlabel(f"fitted {fit.chosen} quantile")
    ax.set_ylabel("observed (KM) quantile")
    ax.set_title("QQ plot", fontsize=9)
    return _save(fig, folder, name)


def _shrinkage_figure(fit: Calibration, folder: Path) -> str:
    v = fit.villages
    if v.empty:
        return "<p class='note'>No grid or village mediation in the register.</p>"
    fig, ax = plt.subplots(figsize=(8, 4))
    n = v["n"].to_numpy(float)
    for row in v.itertuples():
        ax.plot([row.n, row.n], [row.raw, row.estimate], color="#999", lw=0.8)
    ax.scatter(n, v["raw"], facecolors="none", edgecolors="#1f77b4", label="raw share k/n")
    ax.scatter(n, v["estimate"], color="#d62728", s=14, label="shrunk (posterior mean)")
    for t in fit.township_resolution.itertuples():
        ax.axhline(t.estimate, color="#2ca02c", lw=0.6, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("mediated steps at grid and village level (n, log scale)")
    ax.set_ylabel("share resolved")
    kappa = float(v["kappa"].iloc[0])
    ax.set_title(f"village estimates pulled toward their township (dashed); κ = {kappa:.3g}")
    ax.legend(fontsize=8)
    return _save(fig, folder, "shrinkage.png")


def _backtest_figure(test: Backtest, folder: Path) -> str:
    t = test.table
    groups = [
        ("volume", "disputes per month"),
        ("resolved_share", "share resolved at level"),
        ("days_to_resolution", "days to resolution"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (prefix, label) in zip(axes, groups, strict=True):
        part = t[t["measure"].str.startswith(prefix)]
        x = np.arange(len(part))
        ax.errorbar(
            x,
            part["predicted_median"],
            yerr=[
                part["predicted_median"] - part["predicted_low"],
                part["predicted_high"] - part["predicted_median"],
            ],
            fmt="o",
            color="#999",
            capsize=3,
            label="predicted interval",
        )
        colours = ["#2ca02c" if c else "#d62728" for c in part["covered"]]
        ax.scatter(x, part["observed"], color=colours, zorder=3, label="observed")
        names = [m.split(" ", 1)[-1].split(".", 1)[-1] for m in part["measure"]]
        ax.set_xticks(x, names, rotation=60, fontsize=7)
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    return _save(fig, folder, "backtest.png")


_EFFECT_GROUPS = {
    "quality": "Quality of mediation 调解质量 (log-odds effects on a step's success)",
    "entry": "Entry choice 入口选择 (log-odds toward local entry per unit of village supply)",
    "discovery race": "Discovery race 发现竞赛 (sweeps against the parties' own reports)",
}


def _effects_section(fit: Calibration) -> list[str]:
    """The effects that make staffing matter (人员配置的效应): estimates, intervals, status."""
    effects = fit.effects
    if effects is None:
        return []
    parts = [
        "<h2>Effects of staffing 人员配置的效应</h2>",
        "<p class='note'>Each estimate matches the model's own equation (docs/model.md): a "
        "logistic regression of step success with one base log-odds per level × severity "
        "(partially pooled), a conditional logit of where self-reporting parties entered, and "
        "the race likelihood of both channels' delays. A term the register cannot separate is "
        "named, not estimated; the base's value is kept.</p>",
    ]
    shown = effects.table.rename(
        columns={"label": "effect 效应", "status": "status 状态", "written": "written 写入"}
    )
    for group, title in _EFFECT_GROUPS.items():
        here = shown[shown["group"] == group].drop(columns="group")
        if here.empty:
            continue
        parts += [f"<h3>{html.escape(title)}</h3>", _table(here)]
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in effects.notes]
    return parts


def write_report(
    fit: Calibration,
    folder: Path,
    *,
    backtest: Backtest | None = None,
    base_path: str | Path = "",
) -> Path:
    """Write ``folder/index.html`` and its figures; returns the page's path."""
    from .scenario_out import provenance_header

    folder.mkdir(parents=True, exist_ok=True)
    pct = round(fit.level * 100)
    reg = fit.register
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>Calibration report — {html.escape(Path(reg.source).name)}</title>",
        f"<style>{_CSS}</style>",
        f"<h1>Calibration report 校准报告: {html.escape(Path(reg.source).name)}</h1>",
        "<h2>Provenance 数据来源</h2>",
        "<pre>" + html.escape(provenance_header(fit, base_path).split("\n#\n")[0]) + "</pre>",
        f"<p>Rows read {reg.rows_read}; used {len(reg.table)}; set aside (quarantined) "
        f"{reg.bad_rows}. Intervals are {pct}%.</p>",
        "<h2>What the register can and cannot identify 可识别性</h2><ul>",
        *[f"<li>{html.escape(n)}</li>" for n in fit.notes],
        "</ul>",
        "<h2>Fitted parameters 参数估计</h2>",
        "<p class='note'>`written` marks values set in the calibrated scenario; the others "
        "are for this report (the scenario schema has no place for them).</p>",
        _table(fit.parameters),
        "<h2>Arrivals 纠纷发生</h2>",
        _arrivals_figure(fit, folder),
        "<h3>Per township 各乡镇(街道)</h3>",
        _table(fit.townships),
        "<h3>Per township and category 乡镇 × 纠纷类型</h3>",
        _table(fit.township_categories),
        "<details><summary>Poisson GLM</summary><pre>"
        + html.escape(fit.glm_summary)
        + "</pre></details>",
        "<h2>Resolution 调解成功率</h2>",
        "<h3>Villages borrow strength from their township 村级估计的收缩</h3>",
        "<p class='note'>Empirical-Bayes beta-binomial: each village's share is drawn around "
        "its township's, with concentration κ (worth κ prior cases) fitted by marginal "
        "likelihood. Few cases: near the township; many: near its own share.</p>",
        _shrinkage_figure(fit, folder),
        _table(fit.villages) if not fit.villages.empty else "",
        "<h3>Per level × severity × category (shrunk toward level × severity)</h3>",
        _table(fit.resolution_by_category) if not fit.resolution_by_category.empty else "",
        *_effects_section(fit),
        "<h2>Durations 调处时长</h2>",
        "<p class='note'>Days at a level mix queueing, working hours, sessions and party "
        "delays; open steps (在办) and steps escalated by the time limit are right-censored. "
        "Families compared by AIC; a scenario cannot hold a Weibull law, so the best of "
        "exponential, gamma and lognormal is written.</p>",
    ]
    figures = 0
    for title, fits in (
        ("Days at each level (as seen in the register)", fit.elapsed),
        (f"Effort hours written to the scenario ({fit.duration_mode})", fit.durations),
        ("Delays 上报与申请延迟", fit.delays),
    ):
        if not fits:
            continue
        parts.append(f"<h3>{html.escape(title)}</h3>")
        for key, d in fits.items():
            figures += 1
            ks = "" if math.isnan(d.ks_pvalue) else f"; KS p = {d.ks_pvalue:.3g}"
            parts += [
                f"<h4>{html.escape(d.name)}: n = {d.n}, censored {d.n_censored}; "
                f"best AIC {d.chosen}, written {d.written}{ks}</h4>",
                *[f"<p class='note'>{html.escape(n)}</p>" for n in d.notes],
                _table(d.table().reset_index()),
                _duration_figure(d, folder, f"durations_{figures}_{key}.png"),
            ]
    if backtest is not None:
        parts += [
            "<h2>Backtest 回测</h2>",
            f"<p>Fitted on the register before {backtest.holdout:%Y-%m-%d}; "
            f"{backtest.replications} simulated replications of the calibrated scenario from "
            f"then to {backtest.as_of:%Y-%m-%d}. {pct}% prediction intervals cover "
            f"<b>{backtest.coverage:.0%}</b> of the observed measures. The intervals hold the "
            + (
                "simulation's randomness and the parameters' uncertainty (each replication "
                "with the fitted values drawn again from their sampling distribution).</p>"
                if backtest.parameter_draws
                else "simulation's randomness, not the parameters' uncertainty.</p>"
            ),
            _backtest_figure(backtest, folder),
            _table(backtest.table),
        ]
    parts.append("<p class='note'>Month order of seasonality: " + ", ".join(MONTHS) + ".</p>")
    index = folder / "index.html"
    write_atomic(index, "\n".join(parts))
    return index
