"""Issue 18, items 8 and 13, beyond the CLI corpus of tests/test_hostile.py.

Each test here failed before its fix.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from sim.cli.main import main
from sim.experiments.sweep_plan import plan_sweep
from sim.reports import drawing
from sim.reports.fonts import resolve_language
from sim.scenario.loading import bundled_scenario_path, load_scenario

from .scenarios import ROOT

HOSTILE = Path(__file__).parent / "hostile"


def test_resume_removes_the_temporary_files_of_a_killed_run(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", str(HOSTILE / "sweep_tiny.toml"), "--out", str(out), "--executor", "serial"]
    assert main(args) == 0
    points = next(p for p in out.iterdir() if p.is_dir() and any(p.glob("*.parquet")))
    # What a SIGKILL in the middle of a write leaves: sweep_store's and write_atomic's names.
    stale = [
        points / ".p1.parquet.4242.tmp",
        out / ".manifest.json.4242.tmp",
        out / ".summary.tmp-4242.csv",
    ]
    for path in stale:
        path.write_bytes(b"half a file")
    assert main([*args, "--resume"]) == 0
    assert [p.name for p in stale if p.exists()] == []
    assert (out / "summary.csv").is_file()


@pytest.mark.parametrize("label", [r"$\frac{甲$镇", "cost $5 and $", "$$"])
def test_figures_draw_dollar_signs_as_written(label: str, tmp_path: Path) -> None:
    assert resolve_language("zh") == "zh"  # the CJK font, as every figure of ours sets it up
    fig, ax = plt.subplots()
    ax.bar([label, "b"], [1, 2])
    ax.set_title(label)
    ax.set_yticks([0, 1], [label, "x"])
    assert len(drawing.png_base64(fig, close=False)) > 100
    assert drawing.save(fig, tmp_path / "f.png").stat().st_size > 100
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]  # no temporary file left


def test_a_figure_that_fails_to_save_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.png"
    target.write_bytes(b"old")
    fig, ax = plt.subplots()
    ax.plot([1, 2])

    def broken(path: object, **kwargs: object) -> None:  # half a PNG, then the disk is full
        Path(str(path)).write_bytes(b"cut")
        raise OSError(28, "No space left on device")

    fig.savefig = broken  # type: ignore[method-assign]
    with pytest.raises(OSError):
        drawing.save(fig, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_bundled_scenarios_and_sweeps_pass_the_strict_types() -> None:
    # The docs' examples are validated by tests/test_docs.py.
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        load_scenario(path)
    load_scenario(bundled_scenario_path())
    for path in sorted((ROOT / "scenarios" / "sweeps").glob("*.toml")):
        if "sensitivity" not in path.name:
            assert plan_sweep(path).points


def test_a_whole_number_is_still_a_number_and_a_real_count_is_not() -> None:
    # Strict types refuse text and booleans, not the ordinary TOML a person writes.
    sc = load_scenario(ROOT / "scenarios" / "small.toml", ["run.horizon_days=730"])
    assert sc.run.horizon_days == 730.0
    with pytest.raises(Exception, match="integer"):
        load_scenario(ROOT / "scenarios" / "small.toml", ["ladder.grid.part_time=1.5"])


def test_set_with_a_bad_type_is_blamed_on_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "scenarios" / "small.toml"),
                 "--set", "run.drain=1"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--set: run.drain = 1: expected true or false" in err, err


def test_long_names_are_cut_in_the_key_of_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    name = "镇" * 5000
    assert main(["validate", str(ROOT / "scenarios" / "small.toml"),
                 "--set", f"townships.0.name={name}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "at most 100 characters; this has 5,000" in err
    assert len(err) < 1000, len(err)


def test_png_of_a_string_buffer_is_unaffected() -> None:
    fig, ax = plt.subplots()
    ax.set_title("plain")
    buffer = io.BytesIO()
    with drawing.literal_rc():
        fig.savefig(buffer, format="png")
    plt.close(fig)
    assert matplotlib.rcParams["text.parse_math"] is True  # the setting is put back
