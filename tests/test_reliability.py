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


# --- 2. No hang in WorkingCalendar.finish; effort distributions bounded up front ------------


def _old_finish(cal, t: float, effort_hours: float) -> float:
    """WorkingCalendar.finish as it was before issue 18, for the bit-identity check."""
    import math

    remaining = effort_hours / 24.0
    if remaining <= 0:
        return t
    day = math.floor(t)
    first = True
    while True:
        if first:
            first = False
        elif remaining > cal._weekly:
            weeks = math.floor((remaining - 1e-12) / cal._weekly)
            day += 7 * weeks
            remaining -= weeks * cal._weekly
            t = float(day)
        if cal.is_working_day(day):
            begin = max(t, day + cal._s)
            end = day + cal._s + cal._h
            if begin < end:
                available = end - begin
                if remaining <= available + 1e-12:
                    return begin + min(remaining, available)
                remaining -= available
        day += 1
        t = float(day)


def test_finish_is_bit_identical_to_the_old_loop_where_it_ended():
    import numpy as np

    from sim.scenario.calendar import WorkingCalendar
    from sim.scenario.schema import Calendar

    rng = np.random.default_rng(18)
    calendars = [
        WorkingCalendar(Calendar(hours_per_day=8, days_per_week=5), 0),
        WorkingCalendar(Calendar(hours_per_day=2, days_per_week=7, day_start_hour=18), 3),
        WorkingCalendar(Calendar(hours_per_day=4, days_per_week=5, day_start_hour=14), 6),
        WorkingCalendar(Calendar(hours_per_day=24, days_per_week=6, day_start_hour=0), 2),
        WorkingCalendar(Calendar(hours_per_day=0.5, days_per_week=1, day_start_hour=23), 5),
    ]
    for cal in calendars:
        for _ in range(4000):
            t = float(rng.uniform(0, 4000)) if rng.random() < 0.8 else float(rng.integers(0, 99))
            effort = float(10 ** rng.uniform(-4, 10)) if rng.random() < 0.9 else 0.0
            assert cal.finish(t, effort) == _old_finish(cal, t, effort), (t, effort)


def test_finish_of_an_enormous_effort_ends():
    code = textwrap.dedent(
        """
        import math
        from sim.scenario.calendar import WorkingCalendar
        from sim.scenario.schema import Calendar
        cal = WorkingCalendar(Calendar(hours_per_day=8, days_per_week=5))
        for effort in (1e17, 1e30, 1e300, math.inf):
            assert cal.finish(0.25, effort) == math.inf, effort
        assert cal.finish(0.25, 1e12) < math.inf
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('{dist="lognormal", median=1.0, p90=1e9}', "ladder.grid.effort_hours"),
        ('{dist="lognormal", median=1e-300, p90=1e300}', "ladder.grid.effort_hours"),
        ('{dist="exponential", mean=1e7}', "ladder.grid.effort_hours"),
        ('{dist="fixed", value=1e308}', "ladder.grid.effort_hours"),
    ],
)
def test_unbounded_effort_is_bad_input(value, key, capsys):
    assert main(["validate", str(SMALL), "--set", f"{key}={value}"]) == 2
    err = capsys.readouterr().err
    assert f"--set: {key}" in err and "p99.9" in err and "hours" in err


def test_a_long_but_sane_effort_is_accepted(capsys):
    value = '{dist="lognormal", median=4.0, p90=40.0}'
    assert main(["validate", str(SMALL), "--set", f"ladder.district.effort_hours={value}"]) == 0


# --- 3. Process-pool workers die with their parent -------------------------------------------


def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died; init reaps it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_sigkill_of_a_sweep_takes_its_workers_with_it(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'base = "{SMALL.as_posix()}"\nreplications = 4\nseed = 5\n'
        "set = { run.horizon_days = 3000 }\n"
        '[axes]\n"discovery.sweep_interval_days" = [3, 7, 14, 21]\n',
        encoding="utf-8",
    )
    args = ["sweep", str(spec), "--out", str(tmp_path / "out"), "--executor", "processes"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *args, "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the sweep never started its two workers"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # clean up after a failure, then report it
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"


# --- 4. --scheduler pointed at something that is not a Dask scheduler ----------------------


class _NotDask:
    """A throwaway TCP server on 127.0.0.1: ``silent`` waits (as an HTTP server waits for a
    request), ``garbage`` answers every connection with an HTTP error at once. It stops when
    the ``with`` block ends, and by itself after 90 s at most."""

    def __init__(self, mode: str):
        import socket
        import threading

        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        held = []
        deadline = time.monotonic() + 90
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            if self.mode == "garbage":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            held.append(conn)
        for conn in held:
            conn.close()
        self.sock.close()

    def __enter__(self) -> _NotDask:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("mode", ["silent", "garbage"])
def test_a_scheduler_that_is_not_dask_is_bad_input(mode, tmp_path):
    pytest.importorskip("distributed")
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'base = "{SMALL.as_posix()}"\nreplications = 1\n[axes]\nrun.seed = [1, 2]\n',
        encoding="utf-8",
    )
    with _NotDask(mode) as server:
        args = ["sweep", str(spec), "--out", str(tmp_path / "out"), "--executor", "dask"]
        args += ["--scheduler", f"tcp://127.0.0.1:{server.port}", "--scheduler-timeout", "2"]
        done = subprocess.run(
            [sys.executable, "-m", "sim", *args],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert "--scheduler" in done.stderr and f"127.0.0.1:{server.port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_real_scheduler_passes_the_check():
    distributed = pytest.importorskip("distributed")
    from sim.experiments.executors import check_scheduler

    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address=None, protocol="tcp"
    ) as cluster:
        check_scheduler(cluster.scheduler_address, timeout=5)


# --- 5. Many problems: linear, deduplicated, capped ---------------------------------------


def test_twenty_thousand_unknown_keys_give_a_capped_report(tmp_path, capsys):
    from sim.scenario.errors import MAX_SHOWN

    scenario = tmp_path / "many.toml"
    extra = "".join(f"nonsense_{i} = {i}\n" for i in range(20_000))
    scenario.write_text(extra + SMALL.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["validate", str(scenario)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == MAX_SHOWN + 1
    assert all(line.startswith(f"sim: error: {scenario}: nonsense_") for line in lines[:-1])
    assert lines[-1] == (
        f"sim: error: … and {20_000 - MAX_SHOWN:,} more problems (fix the ones above first)"
    )


def test_many_unknown_set_keys_are_blamed_on_set_and_capped(capsys):
    # 2,000, not 20,000: argparse itself is quadratic in the number of options given.
    keys = [f"--set=nonsense_{i}=1" for i in range(2_000)]
    assert main(["validate", str(SMALL), *keys]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 51 and "1,950 more problems" in lines[-1]
    assert all(line.startswith("sim: error: --set: nonsense_") for line in lines[:-1])


def test_repeated_problems_are_reported_once():
    from sim.scenario.errors import InputProblem, ScenarioError

    same = InputProblem("a.toml", "x", [1], "expected a number")
    exc = ScenarioError([same, InputProblem("a.toml", "y", 2, "expected 1"), same])
    assert [p.key for p in exc.problems] == ["x", "y"] and exc.more == 0


def test_two_hundred_thousand_unknown_keys_end_in_reasonable_time(tmp_path):
    """A guard on complexity, not a timing test: quadratic collection never finished this."""
    scenario = tmp_path / "many.toml"
    extra = "".join(f"unknown_{i} = {i}\n" for i in range(200_000))
    scenario.write_text(extra + SMALL.read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(scenario)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 51 and "199,950 more problems" in done.stderr


# --- 6. Every output file is written whole or not at all ----------------------------------


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "register.csv"
    target.write_text("old, whole\n", encoding="utf-8")

    def cut(tmp: Path) -> None:
        tmp.write_text("new, cut mi", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.write_atomic(target, cut)
    assert target.read_text(encoding="utf-8") == "old, whole\n"
    assert [p.name for p in tmp_path.iterdir()] == ["register.csv"]  # no temporary left


def test_json_to_an_unwritable_place_exits_2_naming_json(tmp_path, capsys):
    where = tmp_path / "no" / "such" / "folder" / "r.json"
    assert main(["run", str(SMALL), *SHORT, "--json", str(where)]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "r.json" in err and "internal error" not in err


def test_register_on_a_full_disk_leaves_the_old_file_whole(tmp_path, monkeypatch, capsys):
    import pandas as pd

    register = tmp_path / "reg.csv"
    register.write_text("the old register\n", encoding="utf-8")
    real = pd.DataFrame.to_csv

    def full_disk(self, path, *args, **kwargs):
        real(self.head(3), path, *args, **kwargs)  # part of it reaches the disk...
        raise OSError(28, "No space left on device")  # ...then the disk is full

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    assert main(["run", str(SMALL), *SHORT, "--register", str(register)]) == 2
    assert "--register" in capsys.readouterr().err
    assert register.read_text(encoding="utf-8") == "the old register\n"


def test_report_out_is_replaced_whole(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert _run_out(out) == 0
    page = tmp_path / "report.html"
    page.write_text("<html>old</html>", encoding="utf-8")
    from sim.reports import html

    def failing(results, target, language):
        Path(target).write_text("<html>cu", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(html, "write_report", failing)
    assert main(["report", str(out), "--out", str(page)]) == 2
    assert page.read_text(encoding="utf-8") == "<html>old</html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "run"]
    monkeypatch.undo()
    assert main(["report", str(out), "--out", str(page), "--lang", "en"]) == 0
    assert page.read_text(encoding="utf-8") != "<html>old</html>"
