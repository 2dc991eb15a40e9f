"""Sensitivity analysis (SALib Morris / Sobol) over scenario keys, and the sweep plots."""

from __future__ import annotations

import warnings

import pytest

import sim
from sim.cli.main import main
from sim.experiments.sensitivity import plan_sensitivity, run_sensitivity
from sim.reports import fonts, plots

from .scenarios import SMALL

# A factor that cannot change any case KPI (purchased services only add to the cost) beside
# one that does (how often a sweep notices a brewing dispute). Under common random numbers
# the dummy's elementary effects and Sobol' indices on 小事不出村 are exactly zero.
SPEC = {
    "base": str(SMALL),
    "replications": 1,
    "seed": 3,
    "set": {"run.horizon_days": 120},
    "kpis": ["minor_kept_in_village"],
    "factors": {
        "discovery.detect_probability": [0.3, 1.0],
        "costs.purchased_services_yuan": [0, 100000],
    },
}


def test_morris_separates_a_real_factor_from_a_dummy(tmp_path):
    result = run_sensitivity(
        {**SPEC, "method": "morris", "samples": 4}, tmp_path / "m", executor="serial"
    )
    mu = result.indices.set_index("factor")["mu_star"]
    assert mu["costs.purchased_services_yuan"] == 0.0
    assert mu["discovery.detect_probability"] > 0.0
    assert len(result.points) == 4 * (2 + 1)
    assert "minor_kept_in_village" in result.describe()
    fig = plots.tornado(result.indices, "minor_kept_in_village")
    path = plots.save(fig, tmp_path / "tornado.png")
    assert path.stat().st_size > 0


def test_sobol_indices_and_integer_factors(tmp_path):
    spec = {
        **SPEC,
        "method": "sobol",
        "samples": 8,
        "factors": {**SPEC["factors"], "ladder.village.part_time": [1, 3]},
    }
    plan = plan_sensitivity(spec)
    assert len(plan.points) == 8 * (3 + 2)
    assert all(isinstance(p.overrides["ladder.village.part_time"], int) for p in plan.points)
    spec = {**SPEC, "method": "sobol", "samples": 4}  # run the two-factor one: 16 points
    result = run_sensitivity(spec, tmp_path / "s", executor="serial")
    st = result.indices.set_index("factor")["ST"]
    assert st["costs.purchased_services_yuan"] == 0.0
    assert st["discovery.detect_probability"] > 0.0
    plots.save(plots.tornado(result.indices), tmp_path / "sobol.png")


def test_sensitivity_command_and_bad_factors(tmp_path, capsys):
    spec = tmp_path / "sens.toml"
    spec.write_text(
        f"""
base = "{SMALL.as_posix()}"
method = "morris"
samples = 2
replications = 1
set = {{ run.horizon_days = 90 }}
kpis = ["minor_kept_in_village"]
[factors]
"discovery.detect_probability" = [0.5, 1.0]
"ladder.village.part_time" = [1, 4]
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sensitivity", str(spec), "--out", str(out), "--executor", "serial"]) == 0
    assert (out / "indices.csv").is_file()
    assert (out / "plots" / "sensitivity_minor_kept_in_village.png").is_file()
    assert "mu_star" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text(
        f"""
base = "{SMALL.as_posix()}"
[factors]
"ladder.village.fulltime" = [0, 1]
"discovery.detect_probability" = [1.0, 0.5]
"discovery.sweep_share" = []
""",
        encoding="utf-8",
    )
    assert main(["sensitivity", str(bad), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "factors.ladder.village.fulltime" in err and "unknown key" in err
    assert "factors.discovery.detect_probability" in err and "low < high" in err
    assert "factors.discovery.sweep_share" in err and "[low, high]" in err


# --- Plots ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plots")
    spec = {
        "base": str(SMALL),
        "replications": 2,
        "seed": 4,
        "set": {"run.horizon_days": 90},
        "kpis": ["minor_kept_in_village", "days_to_resolution.mean"],
        "axes": {
            "discovery.detect_probability": [0.3, 0.6, 0.9],
            "ladder.village.full_time_coverage": [0.0, 1.0],
        },
    }
    return sim.sweep(spec, folder / "sweep", executor="serial"), folder


def test_line_and_heatmap_plots(grid_sweep, tmp_path):
    df, _ = grid_sweep
    fig = plots.kpi_over_axis(
        df,
        "minor_kept_in_village",
        "discovery.detect_probability",
        by="ladder.village.full_time_coverage",
    )
    ax = fig.axes[0]
    assert len(ax.lines) >= 2  # one line per coverage, plus the target line
    assert ax.collections  # the CI bands
    plots.save(fig, tmp_path / "line.png")
    fig = plots.heatmap(
        df, "minor_kept_in_village", "discovery.detect_probability",
        "ladder.village.full_time_coverage", target=float(df["minor_kept_in_village"].median()),
    )  # fmt: skip
    assert "目标" in fig.axes[0].get_title()  # Chinese by default; language="en" for English
    assert plots.save(fig, tmp_path / "heat.png").stat().st_size > 0


def test_labels_are_chinese_or_english_by_choice():
    assert plots.kpi_label("minor_kept_in_village") == "小事不出村 (minor_kept_in_village)"
    en = plots.kpi_label("minor_kept_in_village", "en")
    assert en == "Minor kept in village (minor_kept_in_village)"


def test_labels_fall_back_to_english_with_one_warning_on_a_broken_install(monkeypatch):
    """No CJK font at all (not even the bundled one): English rather than boxes, one warning."""
    monkeypatch.setattr(fonts, "_state", {"font": None})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plots.kpi_label("minor_kept_in_village") == (
            "Minor kept in village (minor_kept_in_village)"
        )
        assert plots.kpi_label("major_kept_in_township").startswith("Major kept in township")
    assert len([w for w in caught if issubclass(w.category, fonts.NoCJKFontWarning)]) == 1


def test_sweep_plot_command(grid_sweep, capsys):
    _, folder = grid_sweep
    out = folder / "fig.png"
    argv = ["sweep-plot", str(folder / "sweep"), "--kpi", "minor_kept_in_village"]
    assert main([*argv, "--y", "ladder.village.full_time_coverage", "--out", str(out)]) == 0
    assert out.is_file()
    assert main([*argv, "--x", "nope"]) == 2
    assert "expected one of the sweep's axes" in capsys.readouterr().err


def test_sweep_plot_axes_must_differ(grid_sweep, capsys, tmp_path):
    """issue 17: --y equal to the default x was an internal error (exit 1), --by equal to it a
    meaningless plot; now x defaults to another axis, and x against itself is exit 2."""
    _, folder = grid_sweep
    first, second = "discovery.detect_probability", "ladder.village.full_time_coverage"
    argv = ["sweep-plot", str(folder / "sweep"), "--kpi", "minor_kept_in_village"]
    out = tmp_path / "heat.png"
    assert main([*argv, "--y", first, "--out", str(out)]) == 0  # x: the other axis
    assert out.is_file()
    capsys.readouterr()
    assert main([*argv, "--x", first, "--y", first]) == 2
    err = capsys.readouterr().err
    assert "--y" in err and first in err and "an axis other than --x" in err
    assert "internal error" not in err
    assert main([*argv, "--x", second, "--by", second]) == 2
    assert "--by" in capsys.readouterr().err
    assert main([*argv, "--y", first, "--by", second]) == 2
    assert "give one" in capsys.readouterr().err
    out = tmp_path / "line.png"
    assert main([*argv, "--by", first, "--lang", "en", "--out", str(out)]) == 0
    df, _ = grid_sweep
    with pytest.raises(ValueError, match="same axis"):
        plots.heatmap(df, "minor_kept_in_village", first, first)
    with pytest.raises(ValueError, match="same axis"):
        plots.kpi_over_axis(df, "minor_kept_in_village", first, by=first)
