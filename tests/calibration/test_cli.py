"""`sim calibrate` end to end: a validated scenario with provenance, a report, a backtest; bad
input exits 2 with one line per problem."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import sim
from calibration.backtest import backtest, truncate
from calibration.reading import file_sha256, read_register
from sim.cli.main import main
from tests.calibration.test_reading import EXAMPLES, _broken_register
from tests.scenarios import SMALL

CSV = EXAMPLES / "register.csv"


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("sim: error:")]


def test_calibrate_writes_a_scenario_sim_validate_accepts_a_report_and_a_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = tmp_path / "fitted" / "2024.toml", tmp_path / "report"
    code = main(
        ["calibrate", str(CSV), "--base", str(SMALL), "--out", str(out), "--report",
         str(report), "--holdout", "2024-07-01", "--replications", "5"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert main(["validate", str(out)]) == 0
    header = out.read_text(encoding="utf-8")
    assert f"# register sha256: {file_sha256(CSV)}" in header
    assert "# period (arrivals counted): 2023-01-01 to 2024-07-01" in header
    assert re.search(r"# date of fit: \d{4}-\d\d-\d\d", header)
    assert "arrivals.rate_per_1000_per_year = " in header
    fitted = sim.load_scenario(out)
    assert fitted.name == "small-calibrated"
    assert (
        fitted.arrivals.rate_per_1000_per_year
        != sim.load_scenario(SMALL).arrivals.rate_per_1000_per_year
    )

    coverage = re.search(r"prediction intervals \(coverage ([\d.]+)\)", printed)
    assert coverage and 0 <= float(coverage[1]) <= 1
    page = (report / "index.html").read_text(encoding="utf-8")
    for part in ("Provenance", "Fitted parameters", "shrinkage.png", "durations_", "Backtest"):
        assert part in page, part
    for image in re.findall(r'src="([^"]+\.png)"', page):
        assert (report / image).stat().st_size > 1000


def test_bad_rows_go_to_the_quarantine_file_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, bad, _ = _broken_register(tmp_path)
    out, qpath = tmp_path / "f.toml", tmp_path / "bad.csv"
    code = main(["calibrate", str(path), "--base", str(SMALL), "--out", str(out),
                 "--quarantine", str(qpath)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert f"{len(bad)} bad rows set aside in {qpath}" in err
    quarantined = pd.read_csv(qpath, dtype=str)
    assert sorted(quarantined["row"].astype(int)) == sorted(bad)


def test_strict_exits_2_with_one_line_for_the_first_bad_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, bad, _ = _broken_register(tmp_path)
    code = main(["calibrate", str(path), "--base", str(SMALL), "--out",
                 str(tmp_path / "f.toml"), "--strict"])  # fmt: skip
    lines = _errors(capsys.readouterr().err)
    assert code == 2
    assert len(lines) == 1 and f"row {min(bad)}, column" in lines[0]
    assert not (tmp_path / "f.toml").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.csv"], "register file not found"),
        ([str(CSV), "--holdout", "2024-13-01"], "--holdout = '2024-13-01': a date"),
        ([str(CSV), "--holdout", "2030-01-01"], "a date inside the register"),
        ([str(CSV), "--confidence", "1.5"], "--confidence = 1.5"),
    ],
)
def test_bad_input_exits_2_with_one_line_per_problem(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["calibrate", *args, "--base", str(SMALL), "--out", str(tmp_path / "f.toml")])
    lines = _errors(capsys.readouterr().err)
    assert code == 2
    assert len(lines) == 1 and expected in lines[0], lines


def test_backtest_of_the_true_scenario_covers_most_observed_measures() -> None:
    """The example register came from small.toml: its own predictions should cover it.

    Twelve measures at 90% (from 20 replications' empirical quantiles, nearer 85%): fewer
    than half covered would have probability < 1e-4, so this fails only if observed and
    simulated measures are computed differently (censoring, windows, warm-up).
    """
    base = sim.load_scenario(SMALL)
    table = read_register(CSV, base).table
    holdout, as_of = pd.Timestamp("2024-07-01"), pd.Timestamp("2025-01-01")
    test = backtest(base, table, holdout, as_of, replications=20, seed=3)
    t = test.table
    assert len(t) == 6 + 4 + 2  # six months, four levels, mean and median days
    assert (t["predicted_low"] <= t["predicted_median"]).all()
    assert (t["predicted_median"] <= t["predicted_high"]).all()
    assert test.coverage >= 0.5, t
    # Truncating at the holdout leaves nothing after it, and open steps have no end.
    early = truncate(table, holdout)
    assert (early["entered_date"] < holdout).all()
    assert early.loc[early["outcome"] == "open", "ended_date"].isna().all()


def test_set_overrides_used_in_the_fit_are_kept_in_the_written_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fit saw the base with --set applied; the written scenario must be that base too."""
    out = tmp_path / "f.toml"
    base = sim.load_scenario(SMALL)
    assert base.categories["land"].effort_factor != 3 and base.ladder.township.full_time != 4
    overrides = [
        "categories.land.effort_factor=3",
        "ladder.township.full_time=4",
        "arrivals.rate_per_1000_per_year=999",  # a fitted key: the fit's value is written
    ]
    code = main(
        ["calibrate", str(CSV), "--base", str(SMALL), "--out", str(out),
         *(a for o in overrides for a in ("--set", o))]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    fitted = sim.load_scenario(out)
    assert fitted.categories["land"].effort_factor == 3
    assert fitted.ladder.township.full_time == 4
    header = out.read_text(encoding="utf-8")
    assert "# base overrides (--set): categories.land.effort_factor=3" in header
    assert fitted.arrivals.rate_per_1000_per_year != 999
    assert "# overrides replaced by the fitted value: arrivals.rate_per_1000_per_year=999" in header
