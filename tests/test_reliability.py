"""Issue 18 (reliability): never delete what is not ours, never hang, never leave a cut file.

Each test here failed before its fix (the commit that adds it says how).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.experiments import files
from sim.experiments.experiment import prepare_result_folder

from .scenarios import ROOT, SMALL

SHORT = ["-r", "1", "--seed", "3", "--set", "run.horizon_days=60", "--set", "run.warmup_days=0"]


def _run_out(out: str | Path, *extra: str) -> int:
    return main(["run", str(SMALL), *SHORT, "--out", str(out), *extra])


# --- 1. sim run --out replaces only an earlier result of ours, atomically -------------------


def test_out_refuses_a_folder_that_is_not_ours(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work", encoding="utf-8")
    assert _run_out(out) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "marker" in err
    assert (out / "thesis.docx").read_text(encoding="utf-8") == "years of work"
    assert not (tmp_path / "mine.tmp").exists()  # refused before the run, nothing staged


@pytest.mark.parametrize("given", ["..", "."])
def test_out_never_removes_the_working_directory(given, tmp_path, monkeypatch, capsys):
    here = tmp_path / "work"
    here.mkdir()
    (tmp_path / "precious.txt").write_text("keep", encoding="utf-8")
    monkeypatch.chdir(here)
    assert _run_out(given) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "working directory" in err
    assert here.is_dir() and (tmp_path / "precious.txt").read_text(encoding="utf-8") == "keep"


def test_out_uses_an_empty_folder_and_replaces_its_own_result(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    assert _run_out(out) == 0
    assert (out / files.MARKER).is_file() and (out / "results.json").is_file()
    first = (out / "results.json").read_text(encoding="utf-8")
    assert main(["run", str(SMALL), *SHORT[:2], "--seed", "4", *SHORT[4:], "--out", str(out)]) == 0
    assert (out / "results.json").read_text(encoding="utf-8") != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no leftovers


def test_out_refuses_a_leftover_that_is_not_ours(tmp_path, capsys):
    (tmp_path / "run.tmp").mkdir()
    (tmp_path / "run.tmp" / "notes.txt").write_text("mine", encoding="utf-8")
    assert _run_out(tmp_path / "run") == 2
    assert "run.tmp" in capsys.readouterr().err
    assert (tmp_path / "run.tmp" / "notes.txt").is_file()


def test_out_refuses_a_symbolic_link(tmp_path, capsys):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "data.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(target)
    assert _run_out(tmp_path / "link") == 2
    assert "symbolic link" in capsys.readouterr().err
    assert (target / "data.csv").is_file()


def _result(folder: Path, generation: int, n: int = 50) -> None:
    folder.mkdir()
    files.write_marker(folder)
    for i in range(n):
        (folder / f"f{i}.txt").write_text(str(generation), encoding="utf-8")


def _whole_generation(folder: Path, n: int = 50) -> int:
    found = {p.read_text(encoding="utf-8") for p in folder.glob("f*.txt")}
    assert len(list(folder.glob("f*.txt"))) == n and len(found) == 1, "a result cut in half"
    return int(found.pop())


def test_a_kill_after_the_exchange_leaves_the_new_result_and_a_leftover_of_ours(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    _result(out, 1)
    staged = prepare_result_folder(out)
    (staged / "tables").rmdir()
    for i in range(50):
        (staged / f"f{i}.txt").write_text("2", encoding="utf-8")

    def killed(folder: Path) -> None:
        raise KeyboardInterrupt  # stands for a kill while the old result is being removed

    monkeypatch.setattr(files, "remove_ours", killed)
    with pytest.raises(KeyboardInterrupt):
        files.swap_in(staged, out, tmp_path / "run.old")
    monkeypatch.undo()
    assert _whole_generation(out) in (1, 2)
    prepare_result_folder(out)  # the next run cleans the leftover up
    assert not (tmp_path / "run.old").exists()


def test_fallback_swap_killed_between_renames_keeps_both_whole(tmp_path, monkeypatch):
    out, staged, aside = tmp_path / "run", tmp_path / "run.tmp", tmp_path / "run.old"
    _result(out, 1)
    _result(staged, 2)
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    real_rename = Path.rename

    def rename(self: Path, target):  # the kill lands after the old result is renamed aside
        if self == staged:
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        files.swap_in(staged, out, aside)
    monkeypatch.undo()
    assert _whole_generation(aside) == 1 and _whole_generation(staged) == 2
    prepare_result_folder(out)  # both leftovers are ours: removed
    assert not aside.exists() and (staged / files.MARKER).is_file()


def test_sigkill_during_swaps_leaves_a_whole_result(tmp_path):
    """A process swaps new results in, in a loop; killed at random moments, the folder must
    always hold one whole result (before: rmtree then rename left part of one, or none)."""
    out = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import itertools, shutil
        from pathlib import Path
        from sim.experiments import files
        out = Path({str(out)!r})
        for g in itertools.count():
            staged = out.with_name("run.tmp")
            if staged.exists():
                files.remove_ours(staged)
            staged.mkdir()
            files.write_marker(staged)
            for i in range(50):
                (staged / f"f{{i}}.txt").write_text(str(g), encoding="utf-8")
            files.swap_in(staged, out, out.with_name("run.old"))
            print(g, flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.3, 0.45, 0.6, 0.75):
        proc = subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one result is in place
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        _whole_generation(out)
        assert not (tmp_path / "run.old").exists() or files.is_ours(tmp_path / "run.old")
