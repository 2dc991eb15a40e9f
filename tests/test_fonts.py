"""Chinese in figures on any machine: the font that comes with pip, a system font preferred,
a font installed after matplotlib cached its list found by a rescan, and the language a choice
of the reader, never a consequence of this machine's fonts (issue 17)."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib import font_manager

import sim
from sim.reports import figures as F
from sim.reports import fonts, html, plots, tables

from .scenarios import ROOT

SMALL = ROOT / "scenarios" / "small.toml"


def _is_cjk_file(path: str) -> bool:
    name = Path(path).name.lower().replace("-", "").replace("_", "")
    return any(hint in name for hint in fonts._FILE_HINTS)


@pytest.fixture
def bare_machine(monkeypatch):
    """As on a fresh machine with nothing but ``pip install``: no system CJK font, neither in
    matplotlib's cached list nor in the system's font folders; no lookup done yet."""
    fm = font_manager.fontManager
    monkeypatch.setattr(fm, "ttflist", [f for f in fm.ttflist if not _is_cjk_file(f.fname)])
    real_scan = font_manager.findSystemFonts
    monkeypatch.setattr(
        font_manager,
        "findSystemFonts",
        lambda *a, **k: [p for p in real_scan(*a, **k) if not _is_cjk_file(p)],
    )
    monkeypatch.setattr(fonts, "_state", {})
    monkeypatch.setitem(matplotlib.rcParams, "font.sans-serif", ["DejaVu Sans"])
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["sans-serif"])
    fm._findfont_cached.cache_clear()
    yield fm
    fm._findfont_cached.cache_clear()


@pytest.fixture(scope="module")
def results() -> sim.Results:
    scenario = sim.load_scenario(SMALL, ["run.horizon_days=60"])
    return sim.simulate(scenario, replications=2, seed=3, keep_tables=True)


def _font_path(family: str) -> str:
    return font_manager.findfont(font_manager.FontProperties(family=family))


def test_the_bundled_font_is_noto_sans_cjk_sc_under_the_ofl():
    path = fonts.bundled_font_file()
    assert path is not None, "mplfonts (a dependency in pyproject.toml) is not installed"
    names = font_manager.get_font(str(path)).get_sfnt()
    licence = b"".join(v for (_, _, _, name_id), v in names.items() if name_id == 13)
    assert b"SIL Open Font License" in licence.replace(b"\x00", b"")
    assert font_manager.FontProperties(fname=path).get_name() == "Noto Sans CJK SC"


def test_a_bare_machine_draws_chinese_with_the_bundled_font(bare_machine, results):
    assert fonts.cjk_font() == "Noto Sans CJK SC"
    assert Path(str(_font_path("Noto Sans CJK SC"))) == fonts.bundled_font_file()
    assert fonts.resolve_language("zh") == "zh"
    runs = {"基准": results, "加人": results}  # user-chosen Chinese run names
    fig = F.compare_kpis(runs, ["minor_kept_in_village", "days_to_resolution.mean"])
    assert fonts.missing_glyphs(fig) == []
    texts = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "基准" in texts
    plt.close(fig)


def test_a_system_font_installed_after_first_use_is_preferred(bare_machine, tmp_path, monkeypatch):
    """Matplotlib's cached list predates the install; the rescan of the font folders finds it,
    and a system font wins over the bundled one."""
    bundled = fonts.bundled_font_file()
    assert bundled is not None
    installed = tmp_path / "NotoSansCJK-Regular.otf"  # as apt would put it, after the cache
    shutil.copyfile(bundled, installed)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [str(installed)])
    assert fonts.cjk_font() == "Noto Sans CJK SC"
    assert str(_font_path("Noto Sans CJK SC")) == str(installed)


def test_one_font_lookup_for_the_whole_package():
    """Sweep plots and sizing outputs use sim.reports.fonts, not a list of their own."""
    assert plots.cjk_font is fonts.cjk_font
    import sim.sizing.output as sizing_output

    for module in (plots, sizing_output):
        assert "font_manager" not in vars(module)
        assert "_CJK_FONTS" not in vars(module)


def test_text_keeps_its_chinese_without_any_font(monkeypatch, results):
    """Tables and the HTML report are text: the reader's browser or spreadsheet draws the
    Chinese, so they never fall back to English, whatever fonts wrote them."""
    monkeypatch.setattr(fonts, "_state", {"font": None})
    monkeypatch.setitem(matplotlib.rcParams, "font.sans-serif", ["DejaVu Sans"])
    table = tables.kpi_table(results)
    assert table.loc["minor_kept_in_village", "label"] == "小事不出村"
    with pytest.warns(fonts.NoCJKFontWarning):
        page = html.render_run(results, "zh")
    assert "小事不出村" in page
    assert tables.kpi_table(results, "en").loc["minor_kept_in_village", "label"] != "小事不出村"


def test_english_is_a_choice_and_other_languages_are_refused():
    assert fonts.check_language("en") == "en"
    assert fonts.resolve_language("en") == "en"
    with pytest.raises(ValueError, match="language"):
        fonts.check_language("fr")


def test_sweep_plot_labels_follow_the_language(tmp_path):
    df = pd.DataFrame(
        {
            "point": [0, 0, 1, 1],
            "replication": [0, 1, 0, 1],
            "ladder.township.full_time": [1, 1, 2, 2],
            "minor_kept_in_village": [0.7, 0.72, 0.8, 0.82],
        }
    )
    df.attrs["sweep"] = {
        "label_columns": ["ladder.township.full_time"],
        "targets": {"minor_kept_in_village": {"value": 0.8, "sense": ">="}},
    }
    zh = plots.kpi_over_axis(df, "minor_kept_in_village", "ladder.township.full_time")
    en = plots.kpi_over_axis(
        df, "minor_kept_in_village", "ladder.township.full_time", language="en"
    )
    try:
        assert zh.axes[0].get_xlabel() == "乡镇(街道)专职调解员(人)"
        assert "小事不出村" in zh.axes[0].get_ylabel()
        assert en.axes[0].get_xlabel() == "Full-time mediators per township"
        assert "小" not in en.axes[0].get_ylabel() + en.axes[0].get_title()
        assert fonts.missing_glyphs(zh) == []
    finally:
        plt.close("all")
