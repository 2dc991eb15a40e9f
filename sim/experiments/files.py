"""Writing outputs so that a crash, a full disk or a kill never leaves a file or folder half done.

Two rules, used by every command that writes:

- a file is written to a temporary name in its own folder, flushed, then renamed over its final
  name (:func:`write_atomic`): a reader sees the old file or the new one, never a cut one;
- a result folder is built beside its final place and swapped in (:func:`swap_in`). Only a
  folder that is provably ours is ever replaced or removed: one that carries the
  :data:`MARKER` file (written into every result folder before anything else), or an empty one.
  A path that holds the working directory is never removed.

And a table written for a spreadsheet never carries a formula: :func:`safe_cells` neutralises
text cells that Excel or LibreOffice would evaluate (a register cell ``=HYPERLINK(...)`` copied
into ``quarantine.csv``, a scenario named ``+SUM(...)`` echoed into ``summary.csv``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.errors import InputProblem, ScenarioError

if TYPE_CHECKING:  # pandas is imported by the callers; this module stays light
    import pandas as pd

__all__ = [
    "FORMULA_START",
    "MARKER",
    "contains_cwd",
    "is_ours",
    "output_errors",
    "output_overwrites_input",
    "remove_ours",
    "remove_stale_temporaries",
    "safe_cells",
    "safe_text",
    "swap_in",
    "temporary_name",
    "write_atomic",
    "write_marker",
]

MARKER = ".sim-result"
"""Name of the file that marks a folder as written by ``sim`` (and so replaceable by it)."""

_MARKER_TEXT = "written by the sim command; this folder is replaced by the next run to it\n"


def temporary_name(path: Path) -> Path:
    """A name beside ``path`` for writing it first: hidden, per process, same suffix.

    The suffix is kept because some writers pick the format from it (matplotlib's savefig).
    """
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def remove_stale_temporaries(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder``: hidden names ending in
    ``.tmp`` or holding ``.tmp-`` (:func:`temporary_name`, ``sweep_store.atomic_write_bytes``).

    Only for a folder whose writer lock the caller holds (a live writer's file would go too).
    Returns what was removed.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.rglob(".*") if recursive else folder.glob(".*"):
        name = path.name
        if path.is_file() and not path.is_symlink() and (name.endswith(".tmp") or ".tmp-" in name):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def write_atomic(path: str | Path, data: str | bytes | Callable[[Path], object]) -> Path:
    """Write ``path`` whole or not at all.

    ``data`` is text (written as UTF-8), bytes, or a callback that writes the file it is given
    (e.g. ``lambda p: table.to_csv(p)``). The temporary file is removed if writing fails; the
    ``OSError`` is raised for the caller to name its option.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        if callable(data):
            data(tmp)
        else:
            with open(tmp, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        with open(tmp, "rb+") as fh:  # flushed to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def write_marker(folder: Path) -> None:
    """Mark ``folder`` as ours: the first file written into a result folder."""
    (folder / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def is_ours(folder: Path, looks_ours: Callable[[Path], bool] | None = None) -> bool:
    """True for a real folder (not a link) that is empty, carries :data:`MARKER`, or passes
    ``looks_ours`` (a check of the exact layout a ``sim`` command writes)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MARKER).is_file() or not any(folder.iterdir()):
        return True
    return looks_ours is not None and looks_ours(folder)


def contains_cwd(path: Path) -> bool:
    """True when ``path`` is the working directory or one of its parents."""
    try:
        here, there = Path.cwd().resolve(), path.resolve()
    except OSError:  # the working directory is gone: nothing of it can be removed
        return False
    return here == there or there in here.parents


def remove_ours(folder: Path) -> None:
    """Remove a folder of ours, its :data:`MARKER` last.

    A kill half-way leaves a marked (or empty) folder, which the next run recognises as its
    own leftover and removes.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    for child in folder.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    with contextlib.suppress(FileNotFoundError):
        (folder / MARKER).unlink()
    folder.rmdir()


def swap_in(staged: Path, folder: Path, aside: Path) -> None:
    """Put the finished folder ``staged`` at ``folder``; remove what ``folder`` held.

    On Linux the two folders are exchanged in one step (``renameat2`` with RENAME_EXCHANGE), so
    at every instant ``folder`` holds the old result or the new one, whole; the old one then
    sits at ``staged`` until it is removed. Elsewhere (or on a file system without the
    exchange) the old folder is renamed to ``aside`` first, the new one renamed in, the old one
    removed: a kill between the two renames leaves both, whole, under their temporary names.
    The caller has checked that ``folder`` (if it exists) and ``aside`` are ours.
    """
    if not folder.exists():
        staged.rename(folder)
        return
    if _exchange(staged, folder):
        remove_ours(staged)
        return
    folder.rename(aside)
    staged.rename(folder)
    remove_ours(aside)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no libc found, or a libc older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


# A spreadsheet reads a cell starting with one of these as a formula (tab and carriage return
# because some strip them and read what follows); OWASP's advice is a leading apostrophe, which
# Excel shows as text and does not display.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would take for a formula.

    Anything that is not a string is returned as it is, and so is a string that is a plain
    number (``-3.5``): numbers, negative ones included, are not formulas.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value if value.strip() == value else "'" + value


def safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for CSV or Excel whose text cells, column names and index labels
    cannot run as formulas (:func:`safe_text`); numeric columns are left untouched."""
    import pandas as pd  # lazy: files.py is imported by light commands too

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories):
                safe = [safe_text(c) for c in categories]
                if len(set(safe)) == len(safe):
                    out[name] = column.cat.rename_categories(safe)
                else:  # renaming would merge two categories: write the text instead
                    out[name] = column.astype(object).map(safe_text)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out[name] = column.map(safe_text)
    out.columns = out.columns.map(_safe_label)
    out.index = out.index.map(_safe_label)
    return out


def _safe_label(label: Any) -> Any:
    """A column name or index label; tuples (a MultiIndex) part by part."""
    if isinstance(label, tuple):
        return tuple(safe_text(part) for part in label)
    return safe_text(label)


def output_overwrites_input(
    outputs: dict[str, str | Path | None], inputs: Iterable[str | Path | None]
) -> list[tuple[str, str, str]]:
    """The outputs that would overwrite or replace an input: (option, output, input) each.

    An output file that is an input file, or an output folder (to be replaced whole) that is or
    holds an input, would destroy what the command reads; the caller refuses it before any work
    (``sim run --json scenario.toml``, ``sim calibrate --quarantine register.csv``,
    ``sim report RUN --out RUN/results.json``). ``-`` (stdout) and ``None`` are no paths.
    """
    found: list[tuple[str, str, str]] = []
    resolved_inputs = [
        (str(i), Path(i).resolve()) for i in inputs if i is not None and str(i) not in ("", "-")
    ]
    for option, out in outputs.items():
        if out is None or str(out) in ("", "-"):
            continue
        target = Path(out).resolve()
        for shown, source in resolved_inputs:
            if target == source or target in source.parents:
                found.append((option, str(out), shown))
    return found


@contextlib.contextmanager
def output_errors(
    option: str, path: str | Path | None, what: str = "a writable path"
) -> Iterator[None]:
    """Turn the operating system's refusal to write ``path`` (given as ``option``) into bad input.

    A full disk, a read-only file system or a missing folder is not our bug: exit status 2 with
    the option, the path and the system's reason. Only an ``OSError`` about ``path``, a file
    inside it or its temporary name (:func:`temporary_name`) is converted; any other is ours.
    """
    try:
        yield
    except OSError as exc:
        if path is None or not _concerns(exc, Path(path)):
            raise
        reason = exc.strerror or str(exc)
        shown = str(path)
        detail = f"; {exc.filename}" if exc.filename and str(exc.filename) != shown else ""
        raise ScenarioError(
            [InputProblem(option, "", shown, f"{what} ({reason}{detail})")]
        ) from None


def _concerns(exc: OSError, path: Path) -> bool:
    """True when ``exc`` names ``path``, something under it, or a temporary file beside it."""
    names = [n for n in (exc.filename, exc.filename2) if n]
    if not names:
        return False
    target = path.absolute()
    for name in names:
        where = Path(os.fsdecode(name)).absolute()
        if where == target or target in where.parents:
            return True
        if where.parent == target.parent and where.name.startswith(f".{target.stem}"):
            return True
        if where in target.parents:  # a folder on the way to it is missing or unwritable
            return True
    return False
