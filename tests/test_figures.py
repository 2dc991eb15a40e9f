"""Figures for planners: Chinese text renders without missing-glyph boxes, English and pinyin
fallback, and the tables behind the figures agree with the KPIs."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

import sim
from sim.reports import figures as F
from sim.reports import fonts

from .scenarios import ROOT

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
NOTO = Path("/usr/share/fonts/opentype/noto")


@pytest.fixture(scope="module")
def results() -> sim.Results:
    scenario = sim.load_scenario(SMALL_FULL, ["run.horizon_days=200"])
    return sim.simulate(scenario, replications=2, seed=11, keep_tables=True)


@pytest.fixture
def no_cjk_font(monkeypatch):
    """As on a broken install without any CJK font (not even the one pip brings): DejaVu only,
    nothing found, no warning given yet."""
    monkeypatch.setattr(fonts, "_state", {"font": None})
    monkeypatch.setitem(matplotlib.rcParams, "font.sans-serif", ["DejaVu Sans"])
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["sans-serif"])


FIGURES = {
    "escalation_flow": F.escalation_flow,
    "queue_lengths": F.queue_lengths,
    "cost_breakdown": F.cost_breakdown,
    "petition_indicators": F.petition_indicators,
    "backlog_over_time": F.backlog_over_time,
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figures_have_no_missing_glyphs(results, name, language):
    fig = FIGURES[name](results, language=language)
    try:
        texts = [t.get_text() for t in fig.findobj(Text) if t.get_text()]
        assert texts, "a figure without any text"
        assert fonts.missing_glyphs(fig) == []
        chinese = any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t)
        assert chinese == (fonts.resolve_language(language) == "zh")
    finally:
        plt.close(fig)


def test_compare_and_verdict_figures_render_chinese(results):
    runs = {"基准": results, "加人": results}
    fig = F.compare_kpis(runs, ["minor_kept_in_village", "petitions_per_year"])
    assert fonts.missing_glyphs(fig) == []
    plt.close(fig)
    towns = pd.DataFrame(
        {
            "township": ["甲镇", "乙乡"],
            "kpi": "minor_kept_in_village",
            "label": "小事不出村",
            "sense": ">=",
            "target": 0.8,
            "mean": [0.82, 0.7],
            "ci_low": [0.8, 0.6],
            "ci_high": [0.84, 0.8],
            "met": [True, False],
        }
    )
    fig = F.township_verdict(towns, results.scenario)
    assert fonts.missing_glyphs(fig) == []
    plt.close(fig)


@pytest.mark.skipif(not NOTO.is_dir(), reason="no fonts-noto-cjk: tests/test_fonts.py covers it")
def test_installed_noto_cjk_font_is_found():
    assert fonts.cjk_font() is not None
    assert fonts.resolve_language("zh") == "zh"
    assert matplotlib.rcParams["font.sans-serif"][0] == fonts.cjk_font()


def test_glyph_check_catches_boxes(no_cjk_font):
    """The check itself: Chinese in a font without Chinese glyphs is found, character by
    character, while plain English passes."""
    fig, ax = plt.subplots()
    ax.set_title("小事不出村 minor")
    ax.set_xlabel("days")
    missing = fonts.missing_glyphs(fig)
    plt.close(fig)
    assert {ch for _, ch in missing} == set("小事不出村")


def test_a_broken_install_falls_back_to_english_and_pinyin_with_one_warning(results, no_cjk_font):
    """No CJK font at all, not even the bundled one: figures in English rather than boxes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fonts.resolve_language("zh") == "en"
        fig = F.escalation_flow(results, language="zh")
        towns = pd.DataFrame(
            {
                "township": ["甲镇", "乙乡"],
                "kpi": "major_kept_in_township",
                "label": "大事不出镇",
                "sense": ">=",
                "target": 0.85,
                "mean": [0.9, 0.7],
                "ci_low": [0.85, 0.6],
                "ci_high": [0.95, 0.8],
                "met": [True, False],
            }
        )
        fig2 = F.township_verdict(towns, results.scenario, language="zh")
    ours = [w for w in caught if issubclass(w.category, fonts.NoCJKFontWarning)]
    assert len(ours) == 1
    assert fonts.missing_glyphs(fig) == []
    assert fonts.missing_glyphs(fig2) == []
    ticks = {t.get_text() for t in fig2.axes[0].get_yticklabels()}
    assert ticks == {"Jiazhen", "Yixiang"}  # pinyin from the scenario
    plt.close("all")


def test_language_is_checked():
    with pytest.raises(ValueError, match="language"):
        fonts.resolve_language("fr")


def test_where_resolved_matches_the_kpi(results):
    """The escalation flow counts the same disputes as 小事不出村 / 大事不出镇."""
    one = sim.simulate(results.scenario, replications=1, seed=5, keep_tables=True)
    counts = F.where_resolved(one, counts=True)
    kept = ["on_the_spot", "grid", "village", "enterprise"]
    minor = counts.loc["minor"]
    concluded = minor.sum() - minor.get("open", 0)
    share = sum(minor.get(c, 0) for c in kept) / concluded
    assert share == pytest.approx(one.per_replication["minor_kept_in_village"].iloc[0])
    shares = F.where_resolved(results)
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert list(shares.index) == ["minor", "major", "serious", "all"]


def test_cost_and_queue_tables(results):
    costs = F.cost_summary(results)
    assert costs.to_numpy().sum() == pytest.approx(results.summary.loc["annual_cost_yuan", "mean"])
    queue = F.queue_table(results, "present")
    assert set(queue.columns) <= set(sim.scenario.vocabulary.VENUES)
    assert queue.index.max() <= pd.Timestamp(results.scenario.run.start_date) + pd.Timedelta(
        days=results.scenario.run.warmup_days + results.scenario.run.horizon_days
    )


def test_kpi_table_leaves_out_what_is_not_modelled():
    scenario = sim.load_scenario(ROOT / "scenarios" / "small.toml", ["run.horizon_days=60"])
    res = sim.simulate(scenario, replications=1, seed=1, keep_tables=True)
    table = F.kpi_table(res, kpis=None)
    assert "petitions_per_year" not in table.index
    assert table.loc["minor_kept_in_village", "label"] == "小事不出村"  # whatever the fonts
    fig = F.petition_indicators(res, language="en")
    assert fonts.missing_glyphs(fig) == []
    plt.close(fig)
