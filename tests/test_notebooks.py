"""The six notebooks in notebooks/: committed clean, run as users run them, and in agreement
with the command line.

* **Default mode** (``slow``; CI runs it): each notebook top to bottom with the parameters it is
  committed with — what a planner gets on opening it — only ``OUTPUT_DIR`` moved outside the
  repository. The defaults are chosen to take minutes, not hours; each notebook says why its
  replications suffice.
* **Quick mode** follows the papermill convention without needing papermill: the cell tagged
  ``parameters`` holds the defaults, and a cell injected right after it sets ``QUICK = True``.
* **The printed verdicts follow the code**: notebook 03 prints the quota verdict and 04 the
  sizing answer from the result objects, and each prints the ``sim size`` command with the same
  scenario and settings; the tests run that command and require the same verdict.

A notebook that fails, or that draws a figure with missing glyphs (matplotlib warns "Glyph …
missing from font"), fails its test.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from sim.cli.main import main

from .scenarios import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_what_if",
    "03_quota_check",
    "04_budget",
    "05_calibration",
    "06_petitions",
]
QUOTA, BUDGET = ROOT / "notebooks" / "03_quota_check.ipynb", ROOT / "notebooks" / "04_budget.ipynb"


def test_the_six_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    """Outputs stripped, one parameters cell with QUICK, a Chinese one-line summary."""
    text = path.read_text(encoding="utf-8")
    assert '"output_type"' not in text
    nb = json.loads(text)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") is None and not c.get("outputs") for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    assert re.search(r"^QUICK = False", "".join(params[0]["source"]), re.M)
    assert "一句话" in "".join(nb["cells"][0]["source"])


def execute(path: Path, workdir: Path, **parameters: object):
    """Run ``path`` with ``parameters`` injected after its parameters cell (papermill-style)."""
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Injected by tests/test_notebooks.py\n" + "\n".join(
        f"{k} = {v!r}" for k, v in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    client = nbclient.NotebookClient(
        nb,
        # Per cell: a default-mode sizing or sweep takes a few minutes on an idle machine; the
        # margin is for a CI machine shared with the other test worker.
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


def _outputs(nb, name: str | None = None) -> str:
    """The text a notebook printed (``name`` "stdout" or "stderr" for one stream only)."""
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if name is None or o.get("name") == name
    )


def _images(nb) -> int:
    return sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    )


def _check_ran(nb, figures: bool = True) -> None:
    """No glyph missing from the fonts, no stray object reprs, and figures where expected."""
    stderr = _outputs(nb, "stderr")
    assert "missing from font" not in stderr
    # tqdm.auto in a kernel without ipywidgets warns "IProgress not found" (a notebook reader
    # would think something is broken); the library uses plain tqdm.
    assert "IProgress" not in stderr and "TqdmWarning" not in stderr, stderr[:500]
    plain = "".join(
        o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" not in o.get("data", {})
    )
    # A cell ending in ax.legend() or fig.suptitle() prints the object's repr (issue 17, 8).
    assert not re.search(r"<matplotlib\.|^Text\(", plain, re.M), plain[:500]
    # Tables print shares as 0.725, not 7.250000e-01 (issue 17, item 8).
    assert not re.search(r"\d\.\d{6}e[-+]\d\d", plain), plain[:500]
    # ... nor as pandas' raw six decimals (0.725000, 33.239798): tables are rounded to be read.
    raw = re.search(r"\d\.\d{6}(?!\d)", plain)
    assert not raw, plain[max(0, raw.start() - 300) : raw.end() + 100]
    if figures:
        assert _images(nb) >= 1, "a notebook that answers with figures drew none"


def _command(nb) -> list[str]:
    """The ``sim …`` command a notebook printed as its command-line equivalent."""
    line = next(
        ln for ln in _outputs(nb, "stdout").splitlines() if ln.startswith("命令行 command line:")
    )
    argv = shlex.split(line.split(":", 1)[1])
    assert argv[0] == "sim"
    return argv[1:]


def _quota_lines(text: str) -> list[str]:
    """The verdict lines of the quota check: after "verdict 结论:", else its last line."""
    lines = text.rstrip("\n").splitlines()
    if "verdict 结论:" in lines:
        lines = lines[lines.index("verdict 结论:") + 1 :]
        return lines[: lines.index("")] if "" in lines else lines
    return lines[-1:]


@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p not in (QUOTA, BUDGET)], ids=lambda p: p.stem
)
def test_notebook_runs_in_quick_mode(path, tmp_path):
    nb = execute(path, tmp_path, QUICK=True, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb)


def test_quota_notebook_prints_the_verdict_of_sim_size_check_quotas(tmp_path, capsys, monkeypatch):
    """Quick mode, and the command it prints: the same verdict lines, word for word."""
    nb = execute(QUOTA, tmp_path, QUICK=True, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb)
    printed = _quota_lines(_outputs(nb, "stdout"))
    capsys.readouterr()
    monkeypatch.chdir(ROOT)
    assert main(_command(nb)) == 0
    cli = _quota_lines(capsys.readouterr().out)
    assert printed == cli
    # The verdict is the one the result object holds, however it came out at these settings.
    verdict = json.loads((tmp_path / "out" / "quotas.json").read_text(encoding="utf-8"))
    _check_quota_verdict(printed, verdict)


def _check_quota_verdict(lines: list[str], verdict: dict) -> None:
    """``lines`` say "quotas NOT enough" exactly for the targets headcount would meet."""
    text = "\n".join(lines)
    if verdict["all_met"]:
        assert lines == ["all targets met 全部达标"]
        return
    short, other = verdict["headcount_short"], verdict["not_headcount"]
    assert ("quotas NOT enough" in text) == bool(short)
    assert ("headcount is not what limits" in text) == bool(other)
    for name in short:
        assert re.search(rf"quotas NOT enough.*\b{re.escape(name)}\b", text)
    for name in other:
        assert re.search(rf"headcount is not what limits.*\b{re.escape(name)}\b", text)


_ANSWER = re.compile(r"demand ×([\d.]+): (\d+) full-time mediators, ([\d,]+) yuan a year")


def test_budget_notebook_prints_the_answer_of_sim_size(tmp_path, capsys, monkeypatch):
    """Quick mode (a staffing exists), and the command it prints: the same headcount and
    yearly budget at each demand level."""
    nb = execute(BUDGET, tmp_path, QUICK=True, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb)
    answers = _ANSWER.findall(_outputs(nb, "stdout"))
    assert answers, "the notebook printed no sizing answer"
    capsys.readouterr()
    monkeypatch.chdir(ROOT)
    assert main([*_command(nb), "--quiet", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = []
    for m in sorted({r["demand"] for r in result["staffing"]}):
        staff = [r for r in result["staffing"] if r["demand"] == m]
        total = sum(
            r["yuan_per_year"]
            for r in result["budget"]
            if r["demand"] == m and r["item"] == "total"
        )
        head = sum(round(r["full_time"] * r["mediators"]) for r in staff)
        expected.append((f"{m:g}", str(head), f"{total:,.0f}"))
    assert answers == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p not in (QUOTA, BUDGET)], ids=lambda p: p.stem
)
def test_notebook_runs_in_its_default_mode(path, tmp_path):
    """As a planner opens it: the committed parameters, only the output folder moved."""
    nb = execute(path, tmp_path, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb)
    if path.stem == "06_petitions":  # the conclusion is printed from the runs, per indicator
        text = _outputs(nb, "stdout")
        for kpi in ("repeat_petitions_per_year", "backlog_resolution_rate"):
            assert re.search(rf"^  {kpi} +[-+]\d", text, re.M), text[-2000:]


@pytest.mark.slow
def test_quota_notebook_in_its_default_mode(tmp_path):
    """The bundled Qujiang scenario at the quotas: the verdict printed is the verdict computed
    (quotas.json, what ``sim size --check-quotas --out`` writes): "quotas NOT enough" only for
    a target more headcount would meet, otherwise what limits it (issue 14)."""
    nb = execute(QUOTA, tmp_path, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb)
    text = _outputs(nb, "stdout")
    verdict = json.loads((tmp_path / "out" / "quotas.json").read_text(encoding="utf-8"))
    _check_quota_verdict(_quota_lines(text), verdict)
    if verdict["not_headcount"]:
        assert "Next: headcount is not what limits" in text
    if verdict["headcount_short"]:
        assert "Next: more full-time mediators close the gap" in text


@pytest.mark.slow
def test_budget_notebook_in_its_default_mode(tmp_path):
    """Notebook 04 as a budget office opens it: the bundled Qujiang scenario. It ends with the
    sizing answer, or — its targets being out of headcount's reach (issue 14) — with what
    limits them, never with a traceback."""
    nb = execute(BUDGET, tmp_path, OUTPUT_DIR=str(tmp_path / "out"))
    _check_ran(nb, figures=False)  # no staffing, no figure: the answer is text
    text = _outputs(nb, "stdout")
    if "Verdict: no headcount meets every target" in text:
        limits = [ln for ln in text.splitlines() if ln.startswith("  - ")]
        assert limits and all("what limits it is not headcount" in ln for ln in limits), limits
    else:
        assert _ANSWER.search(text), text[-2000:]
        assert _images(nb) >= 1
