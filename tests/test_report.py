"""`sim report`: one self-contained HTML page from a run, sweep or sizing folder; it renders in
headless Chromium; bad folders exit 2."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import sim
from sim.cli.main import main
from sim.reports.html import detect_kind, write_report

from .scenarios import ROOT

SMALL = ROOT / "scenarios" / "small.toml"
SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:|//|file:)""", re.I)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    scenario = sim.load_scenario(SMALL_FULL, ["run.horizon_days=200"])
    results = sim.simulate(scenario, replications=2, seed=3, keep_tables=True)
    return results.save(tmp_path_factory.mktemp("run") / "results")


@pytest.fixture(scope="module")
def run_report(run_dir, tmp_path_factory) -> Path:
    return write_report(run_dir, tmp_path_factory.mktemp("html") / "report.html")


def _self_contained(page: str) -> None:
    assert '<meta charset="utf-8">' in page
    assert not _EXTERNAL.search(page), _EXTERNAL.search(page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page


def test_run_report_is_self_contained_with_tables_and_figures(run_report):
    page = run_report.read_text(encoding="utf-8")
    _self_contained(page)
    assert page.count('src="data:image/png;base64,') >= 5
    assert "minor_kept_in_village" in page and "小事不出村" in page  # the KPI table
    assert "关键指标" in page and "Key indicators" in page  # Chinese heading beside English
    assert "<table" in page and "1减2降1升" in page


def test_report_command_and_languages(tmp_path, capsys):
    """`sim report` on a run saved without tables (sim run --out keeps them; the API may not):
    the KPI tables, no figures, in English."""
    scenario = sim.load_scenario(SMALL, ["run.horizon_days=60"])
    folder = sim.simulate(scenario, replications=2, seed=1).save(tmp_path / "run")
    assert detect_kind(folder) == "run"
    out = tmp_path / "en.html"
    assert main(["report", str(folder), "--out", str(out), "--lang", "en"]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    _self_contained(page)
    assert "Minor kept in village" in page and "no tables were kept" in page


def test_bad_folders_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing: not found" in err and err.count("\n") == 1
    assert main(["report", str(tmp_path)]) == 2
    assert "not a results folder" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{}", encoding="utf-8")
    (broken / "scenario.json").write_text("not json", encoding="utf-8")
    assert main(["report", str(broken)]) == 2
    assert "readable run results" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path), "--lang", "fr"])
    assert exc.value.code == 2


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    spec = {
        "name": "tiny",
        "base": str(SMALL),
        "replications": 2,
        "seed": 1,
        "kpis": ["minor_kept_in_village", "major_kept_in_township", "annual_cost_yuan"],
        "set": {"run.horizon_days": 60, "run.warmup_days": 10},
        "axes": {"ladder.township.full_time": [1, 3], "discovery.sweep_interval_days": [3, 7]},
    }
    folder = tmp_path_factory.mktemp("sweep") / "sw"
    sim.sweep(spec, folder, executor="serial", progress=False)
    return folder


def test_sweep_report(sweep_dir, tmp_path):
    assert detect_kind(sweep_dir) == "sweep"
    page = write_report(sweep_dir, tmp_path / "report.html").read_text(encoding="utf-8")
    _self_contained(page)
    assert page.count("data:image/png;base64,") >= 2  # a heatmap per target KPI
    assert "Paired differences" in page and "p0001" in page


def test_a_drawing_failure_is_reported_as_one_not_as_unreadable_results(
    sweep_dir, tmp_path, capsys, monkeypatch
):
    """The sweep's files read fine; a figure that then fails to draw is our bug (exit 1), named
    with the figure and the cause, and the folder is not called unreadable (it was, before)."""
    from sim.reports import plots

    real = plots.heatmap

    def heatmap(df, kpi, *args, **kwargs):  # the other KPIs' heatmaps draw as before
        if kpi == "minor_kept_in_village":
            raise ValueError("cannot draw this")
        return real(df, kpi, *args, **kwargs)

    monkeypatch.setattr(plots, "heatmap", heatmap)
    out = tmp_path / "report.html"
    assert main(["report", str(sweep_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "readable" not in err
    for fragment in (str(sweep_dir), "heatmap", "minor_kept_in_village", "cannot draw this"):
        assert fragment in err, (fragment, err)
    assert not out.exists()  # no page cut short


def test_sizing_report_from_json(tmp_path):
    """A sizing folder as `SizingResult.to_dict` writes it (the tables as records)."""
    data = {
        "scenario": "small",
        "seed": 7,
        "replications": 4,
        "confidence": 0.9,
        "rule": "one-sided Student-t bound of the mean over replications meets the target",
        "staffing": [
            {
                "demand": d,
                "level": lv,
                "label": lv,
                "place": p,
                "quota": 2,
                "start": 2,
                "full_time": f,
                "mediators": 1,
                "salary": 80000.0,
            }
            for d, f in ((1.0, 2), (1.2, 3))
            for lv, p in (("township", "甲镇"), ("township", "乙乡"))
        ],
        "budget": [
            {"demand": 1.0, "item": "salary", "level": "township", "yuan_per_year": 320000.0},
            {"demand": 1.0, "item": "case_reward", "level": "village", "yuan_per_year": 9000.0},
            {"demand": 1.0, "item": "total", "level": "", "yuan_per_year": 329000.0},
            {"demand": 1.2, "item": "salary", "level": "township", "yuan_per_year": 480000.0},
            {"demand": 1.2, "item": "total", "level": "", "yuan_per_year": 480000.0},
        ],
        "targets": [{"demand": 1.0, "kpi": "minor_kept_in_village", "met": True}],
        "frontier": [
            {"demand": 1.0, "annual_cost_yuan": c, "attainment": a, "chosen": ch, "pareto": True}
            for c, a, ch in ((300000, 0.5, False), (329000, 0.95, True))
        ],
        "minimality": [],
        "infeasible": {},
    }
    (tmp_path / "sizing.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert detect_kind(tmp_path) == "size"
    page = write_report(tmp_path).read_text(encoding="utf-8")
    _self_contained(page)
    assert "测算编制" in page and "甲镇" in page
    assert page.count("data:image/png;base64,") == 2  # budget and frontier


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (CI installs Debian's chromium package)")
def test_report_renders_in_headless_chromium(run_report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1280,2000",
                run_report.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 20  # text, tables and figures, not a blank page
    assert (pixels < 128).mean() > 0.01  # enough dark ink to be content
