"""The hostile corpus of issue 18 (tests/hostile/cases.toml) run through the `sim` CLI.

Each case is one command, run in process (``sim.cli.main.main``, no subprocess) in a fresh
working folder, with an optional write fault injected (a full disk or a read-only file system
under one folder, by patching ``open``, ``os.open`` and ``os.mkdir``). A case passes when the
exit status is the one expected, stderr holds every expected fragment and no traceback or
"internal error", and every ``keep`` file still holds its old content with no temporary file
left beside it. ``python -m tests.hostile.summary`` runs the same cases and counts them.
"""

from __future__ import annotations

import builtins
import contextlib
import csv
import errno
import io
import os
import shutil
import signal
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sim.cli.main import main

from .scenarios import ROOT, SMALL

HOSTILE = Path(__file__).parent / "hostile"
REGISTER = ROOT / "calibration" / "examples" / "register.csv"
CASES: list[dict[str, Any]] = tomllib.loads((HOSTILE / "cases.toml").read_text("utf-8"))["case"]
OLD = b"old content that must survive\n"
TIME_LIMIT = 240  # seconds; a case past it is a hang (the slowest case takes ~20 s under load)


# --- inputs made at run time (too large or binary to keep in git) ---------------------------


def _extends_chain(tmp: Path) -> None:
    folder = tmp / "chain"
    folder.mkdir()
    shutil.copy(SMALL, folder / "c0.toml")
    for i in range(1, 1501):
        (folder / f"c{i}.toml").write_text(f'extends = "c{i - 1}.toml"\n', encoding="utf-8")


def _nested_arrays(tmp: Path) -> None:
    (tmp / "nested_arrays.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")


def _nested_tables(tmp: Path) -> None:
    (tmp / "nested_tables.toml").write_text("[" + ".".join(["a"] * 200) + "]\nb = 1\n")


def _csv_as_xlsx(tmp: Path) -> None:
    shutil.copy(REGISTER, tmp / "register.xlsx")


def _truncated_xlsx(tmp: Path) -> None:
    data = (REGISTER.parent / "register.xlsx").read_bytes()
    (tmp / "cut.xlsx").write_bytes(data[: len(data) // 2])


def _one_day_register(tmp: Path) -> None:
    """Every step received and concluded within the same hour of one day: durations without
    any spread, which the fit cannot turn into distributions."""
    with REGISTER.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:121]
    at = {name: header.index(name) for name in ("发生时间", "受理时间", "办结时间")}
    for row in body:
        row[at["发生时间"]] = "2023-01-01 07:00"
        row[at["受理时间"]] = "2023-01-01 08:00"
        if row[at["办结时间"]]:
            row[at["办结时间"]] = "2023-01-01 09:00"
    with (tmp / "one_day.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *body])


def _huge_name(tmp: Path) -> None:
    text = SMALL.read_text(encoding="utf-8").replace(
        'name = "甲镇"', f'name = "{"镇" * 1_000_000}"'
    )
    (tmp / "huge_name.toml").write_text(text, encoding="utf-8")


def _dollar_name(tmp: Path) -> None:
    # Unbalanced mathtext: matplotlib fails to draw it unless names are drawn literally.
    text = SMALL.read_text(encoding="utf-8").replace('name = "甲镇"', 'name = "$\\\\frac{甲$镇"')
    text = text.replace('name = "small"', 'name = "cost $5 $\\\\alpha"')
    (tmp / "dollar.toml").write_text(text, encoding="utf-8")


def _formula_xlsx(tmp: Path) -> None:
    """A register written by a program: formula cells carry no stored value."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    with REGISTER.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[:30]
    for row in rows:
        sheet.append(row)
    sheet.cell(row=2, column=rows[0].index("受理时间") + 1, value="=TODAY()")
    book.save(tmp / "formulas.xlsx")


# A starting register (initial_state.register_file) of small.toml: two open cases, one closed.
INITIAL_ROWS = [
    ["case_id", "level", "township", "village", "category", "severity", "outcome"],
    ["1", "village", "甲镇", "Jiazhen-V01", "neighbour", "minor", "open"],
    ["2", "township", "乙乡", "", "land", "major", "open"],
    ["3", "grid", "甲镇", "", "family", "minor", "resolved"],
]


def _initial_scenario(tmp: Path, register: str) -> None:
    """initial.toml: small.toml starting from the register ``register`` beside it."""
    text = f'extends = "{SMALL.as_posix()}"\n\n[initial_state]\nregister_file = "{register}"\n'
    (tmp / "initial.toml").write_text(text, encoding="utf-8")


def _initial_csv(tmp: Path, name: str, encoding: str, rows: list[list[str]]) -> None:
    with (tmp / name).open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    _initial_scenario(tmp, name)


def _initial_gb18030(tmp: Path) -> None:
    """Excel on a Chinese Windows saves CSV as GB18030 (GBK): read like calibration reads it."""
    _initial_csv(tmp, "initial.csv", "gb18030", INITIAL_ROWS)


def _initial_big5(tmp: Path) -> None:
    """A register kept in traditional characters, saved as Big5 (a note column, ignored)."""
    rows = [[*INITIAL_ROWS[0], "note"]]
    rows += [[*r, "甲鎮鄰里糾紛 小事 調解"] for r in INITIAL_ROWS[1:]] * 3
    for r in rows[1:]:
        r[2] = "Jiazhen"
    _initial_csv(tmp, "initial_big5.csv", "big5", rows)


def _initial_folder(tmp: Path) -> None:
    (tmp / "register_folder").mkdir()
    _initial_scenario(tmp, "register_folder")


def _initial_csv_as_xlsx(tmp: Path) -> None:
    _initial_csv(tmp, "initial.xlsx", "utf-8", INITIAL_ROWS)


def _initial_workbook(tmp: Path, name: str, formula: str | None = None) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in INITIAL_ROWS:
        sheet.append([int(c) if c.isdigit() else c for c in row])  # case_id as a number
    if formula is not None:
        sheet.cell(row=2, column=INITIAL_ROWS[0].index("township") + 1, value=formula)
    book.save(tmp / name)
    _initial_scenario(tmp, name)
    return tmp / name


def _initial_xlsx(tmp: Path) -> None:
    _initial_workbook(tmp, "initial.xlsx")


def _initial_formula(tmp: Path) -> None:
    """A workbook written by a program: the formula cell carries no stored value."""
    _initial_workbook(tmp, "initial.xlsx", formula='="甲"&"镇"')


def _initial_truncated(tmp: Path) -> None:
    path = _initial_workbook(tmp, "initial.xlsx")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


MAKERS: dict[str, Callable[[Path], None]] = {
    "extends_chain": _extends_chain,
    "nested_arrays": _nested_arrays,
    "nested_tables": _nested_tables,
    "csv_as_xlsx": _csv_as_xlsx,
    "truncated_xlsx": _truncated_xlsx,
    "one_day_register": _one_day_register,
    "huge_name": _huge_name,
    "dollar_name": _dollar_name,
    "formula_xlsx": _formula_xlsx,
    "initial_gb18030": _initial_gb18030,
    "initial_big5": _initial_big5,
    "initial_folder": _initial_folder,
    "initial_csv_as_xlsx": _initial_csv_as_xlsx,
    "initial_xlsx": _initial_xlsx,
    "initial_formula": _initial_formula,
    "initial_truncated": _initial_truncated,
}


# --- faults -----------------------------------------------------------------------------------


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@contextlib.contextmanager
def write_fault(kind: str, under: Path) -> Iterator[None]:
    """Writing (or making a folder) at or under ``under`` fails with ``kind`` (ENOSPC, EROFS),
    as on a full disk or a read-only file system; reading is untouched. On a full disk a file
    opened for writing is still created (or truncated) first: a writer that writes in place
    loses the old file."""
    code = getattr(errno, kind)
    root = under.absolute()

    def hit(path: Any) -> bool:
        if isinstance(path, int):  # a file descriptor: already open
            return False
        where = Path(os.fsdecode(path)).absolute()
        return where == root or root in where.parents

    def refuse(path: Any) -> OSError:
        return OSError(code, os.strerror(code), os.fsdecode(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and hit(file):
            if code == errno.ENOSPC:  # the file is opened (a "w" truncates it), then the disk
                real_open(file, mode, *args, **kwargs).close()  # is full at the first write
            raise refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and hit(path):
            raise refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if hit(path) and not Path(os.fsdecode(path)).is_dir():
            raise refuse(path)
        real_mkdir(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", fake_open)
        mp.setattr(io, "open", fake_open)
        mp.setattr(os, "open", fake_os_open)
        mp.setattr(os, "mkdir", fake_mkdir)
        yield


# --- running a case ---------------------------------------------------------------------------


class _TimeUp(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` swallows it."""


@dataclass
class Outcome:
    """What one case did: exit status, stderr, time, and how it is judged."""

    case: dict[str, Any]
    status: int | str
    stderr: str
    seconds: float
    verdict: str = "clean"  # clean, internal error, hang, memory, silent, data loss, unclear
    stdout: str = ""  # what a successful command says (an error is on stderr)
    notes: list[str] = field(default_factory=list)


def _fill(text: str, tmp: Path) -> str:
    nested = "[" * 3000 + "]" * 3000
    return (
        text.replace("{hostile}", str(HOSTILE))
        .replace("{small}", str(SMALL))
        .replace("{register}", str(REGISTER))
        .replace("{tmp}", str(tmp))
        .replace("{nested3000}", nested)
    )


def _call(argv: list[str]) -> tuple[int | str, str, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status: int | str = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
        except MemoryError:
            status = "MemoryError"
        except _TimeUp:
            raise
        except Exception as exc:  # an escaped exception is what is counted
            status = f"raised {type(exc).__name__}: {exc}"
    return status, err.getvalue(), out.getvalue()


def run_case(case: dict[str, Any], tmp: Path) -> Outcome:
    """Run ``case`` in the empty folder ``tmp`` and judge it (see the module doc)."""
    if case.get("make"):
        MAKERS[case["make"]](tmp)
    work = tmp / "work"
    work.mkdir()
    keep = [Path(_fill(k, tmp)) for k in case.get("keep", [])]
    for path in keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(OLD)
    here = Path.cwd()
    os.chdir(work)
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT)
    start = time.perf_counter()
    try:
        for before in case.get("before", []):
            status, err, _ = _call([_fill(a, tmp) for a in before])
            if status != 0:
                return Outcome(case, status, err, time.perf_counter() - start, "unclear")
        argv = [_fill(a, tmp) for a in case["args"]]
        fault = case.get("fault")
        with write_fault(fault, Path(_fill(case["fault_path"], tmp))) if fault else _nothing():
            status, err, out = _call(argv)
    except _TimeUp:
        return Outcome(case, "timeout", "", time.perf_counter() - start, "hang")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        os.chdir(here)
    outcome = Outcome(case, status, err, time.perf_counter() - start, stdout=out)
    _judge(outcome, keep)
    return outcome


def _alarm(signum: int, frame: Any) -> None:
    raise _TimeUp


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _judge(outcome: Outcome, keep: list[Path]) -> None:
    case, status, err = outcome.case, outcome.status, outcome.stderr
    if status == "MemoryError" or "MemoryError" in err:
        outcome.verdict = "memory"
    elif status == 1 or isinstance(status, str) or "Traceback" in err or "internal error" in err:
        outcome.verdict = "internal error"
    elif status == 0 and case["exit"] != 0:
        outcome.verdict = "silent"
    for path in keep:
        if not path.is_file() or path.read_bytes() != OLD:
            outcome.verdict = "data loss"
            outcome.notes.append(f"{path.name} was replaced or removed")
        litter = [p.name for p in path.parent.iterdir() if p != path]
        if litter:
            outcome.notes.append(f"left beside {path.name}: {litter}")
    if outcome.verdict != "clean":
        return
    if status != case["exit"]:
        outcome.notes.append(f"exit status {status}, expected {case['exit']}")
    said = err if case["exit"] else outcome.stdout + err
    outcome.notes += [f"no {m!r} in the output" for m in case.get("message", []) if m not in said]
    outcome.notes += [f"{m!r} in the output" for m in case.get("absent", []) if m in said]
    if outcome.notes:
        outcome.verdict = "unclear"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_input_is_handled(case: dict[str, Any], tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path)
    assert outcome.verdict == "clean" and not outcome.notes, (
        f"{case['id']}: {outcome.verdict}; status {outcome.status}; {outcome.notes}\n"
        f"stderr: {outcome.stderr[-2000:]}"
    )
