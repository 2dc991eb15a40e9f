"""The folder a sweep writes into: a manifest, one file per finished point, a log.

Durability is the whole point of this module. A sweep killed at any instant (SIGKILL, power
cut of the process, Ctrl-C) must resume to exactly the results of an uninterrupted run, with
no point lost or computed twice. So:

- every file is written to a temporary name in the same folder, flushed to disk, then renamed
  into place with :func:`os.replace` (atomic on POSIX and Windows): a reader sees the old file
  or the new one, never half of one;
- a point is *done* only when its JSON sidecar exists; the sidecar is renamed into place after
  the point's Parquet file, so a Parquet file without a sidecar is an unfinished write and is
  simply redone;
- the manifest holds a hash of everything that determines the numbers (the sweep spec, the
  base scenario, the model version); ``--resume`` refuses to mix results of different specs;
- ``log.jsonl`` gets one appended line per point computed, naming the run that computed it,
  so "no point computed twice" can be checked, not just believed;
- one writer at a time: a sweep holds an exclusive lock (``flock``) on ``DIR/.lock`` while it
  writes, and a second ``--resume`` on the same folder exits 2 naming the holder's pid instead
  of computing every point a second time. The kernel drops the lock when its holder dies, so a
  killed sweep never leaves the folder locked. (Where ``fcntl`` is missing, Windows, there is
  no lock.)

Layout::

    DIR/manifest.json           spec, its hash, the points (id, overrides, labels), targets
    DIR/points/p0003.parquet    per-replication KPI rows of point p0003
    DIR/points/p0003.json       sidecar: done marker, run id, seconds, spec hash
    DIR/log.jsonl               one line per point computed: {"point", "run_id", "seconds", ...}
    DIR/.lock                   the pid of the sweep writing here (locked while it runs)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.files import remove_stale_temporaries
from sim.scenario.errors import InputProblem, ScenarioError

__all__ = ["SweepStore", "atomic_write_bytes", "folder_lock", "to_json"]

MANIFEST = "manifest.json"
LOG = "log.jsonl"
POINTS = "points"
LOCK = ".lock"

# The lock fds this process holds. flock belongs to the open file, which a forked child
# shares: a process-pool worker forked while a run holds its lock would keep the folder locked
# after the run is killed (until the worker notices its parent is gone), and the --resume that
# follows would be refused. So a forked child closes its copies at once; the parent's hold is
# unchanged.
_held_lock_fds: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _held_lock_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_lock_fds.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


def to_json(data: Any) -> str:
    """Canonical JSON (sorted keys; dates and other objects as text) for files and hashes."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, indent=1)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is either absent/old or complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, so a point and its log line go together.

    The signal is blocked, not lost: it is delivered when the block ends. Where signals cannot
    be blocked (Windows, a thread other than the main one) the block runs unprotected, which
    is still safe: the point is simply redone on resume.
    """
    can = (
        hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    )
    if can:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if can:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def folder_lock(folder: Path, holder: str = "sweep") -> Iterator[None]:
    """Hold the writer lock of ``folder`` (``folder/.lock``, created with the folder) for the
    block; another process holding it is an input problem naming its pid and what it is
    (``holder``: "sweep", "sizing run"). Shared by every store that one writer at a time
    may fill (the sweep store, sizing's evaluation store)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent writers stay the user's care
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise ScenarioError(
                [
                    InputProblem(
                        "--out",
                        "",
                        str(folder),
                        f"another {holder} (pid {pid}) is writing into this folder; "
                        "wait for it to finish or stop it, then --resume",
                    )
                ]
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held_lock_fds.add(fd)
        yield
    finally:
        _held_lock_fds.discard(fd)
        os.close(fd)  # releases the lock; the file stays (removing it would race a waiter)


class SweepStore:
    """Reads and writes one sweep folder (see the module docstring for the layout)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.points_dir = self.folder / POINTS

    # --- manifest ---------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        """Where the sweep's manifest (its spec and hash) is written."""
        return self.folder / MANIFEST

    def read_manifest(self) -> dict[str, Any]:
        """The manifest; a folder that holds no sweep is an input problem."""
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScenarioError(
                [InputProblem(str(self.folder), "", InputProblem.MISSING, "holds no sweep")]
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ScenarioError(
                [
                    InputProblem(
                        str(self.manifest_path), "", InputProblem.MISSING, f"unreadable: {exc}"
                    )
                ]
            ) from None

    def check(self, manifest: Mapping[str, Any], resume: bool) -> None:
        """Raise if this folder cannot take the sweep (writes nothing)."""
        if self.folder.exists() and not self.folder.is_dir():
            raise ScenarioError(
                [InputProblem("--out", "", str(self.folder), "expected a folder, found a file")]
            )
        if self.manifest_path.exists():
            old = self.read_manifest()
            if not resume:
                raise ScenarioError(
                    [
                        InputProblem(
                            "--out",
                            "",
                            str(self.folder),
                            "already holds a sweep; add --resume to continue it, "
                            "or choose another folder",
                        )
                    ]
                )
            if old.get("spec_hash") != manifest["spec_hash"]:
                raise ScenarioError(
                    [
                        InputProblem(
                            str(self.manifest_path),
                            "spec_hash",
                            old.get("spec_hash"),
                            "the sweep file, its base scenario or the model version changed "
                            "since this sweep started; cannot resume (use a new --out folder)",
                        )
                    ]
                )
            return
        if self.folder.is_dir() and not resume and any(self._contents()):
            raise ScenarioError(
                [
                    InputProblem(
                        "--out",
                        "",
                        str(self.folder),
                        "exists and is not empty; expected a new or empty folder",
                    )
                ]
            )

    def _contents(self) -> Iterator[Path]:
        return (p for p in self.folder.iterdir() if p.name != LOCK)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the folder's writer lock for the block (creating the folder); another process
        holding it is an input problem naming its pid (:func:`folder_lock`)."""
        return folder_lock(self.folder, "sweep")

    def start(self, manifest: Mapping[str, Any], resume: bool) -> None:
        """Create the folder and manifest, or check that a resumed sweep is the same sweep."""
        self.check(manifest, resume)
        if resume:  # a killed run's half-written files; the lock says no writer is alive
            remove_stale_temporaries(self.folder)
        self.points_dir.mkdir(parents=True, exist_ok=True)
        if not self.manifest_path.exists():
            atomic_write_bytes(self.manifest_path, to_json(manifest).encode("utf-8"))

    # --- points -----------------------------------------------------------------------------

    def _parquet(self, point: str) -> Path:
        return self.points_dir / f"{point}.parquet"

    def _sidecar(self, point: str) -> Path:
        return self.points_dir / f"{point}.json"

    def done_points(self, spec_hash: str) -> set[str]:
        """Points whose files are complete and belong to this spec."""
        done: set[str] = set()
        if not self.points_dir.is_dir():
            return done
        for sidecar in self.points_dir.glob("*.json"):
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # cannot happen with atomic writes; redo the point if it does
            point = sidecar.stem
            if meta.get("spec_hash") == spec_hash and self._parquet(point).is_file():
                done.add(point)
        return done

    def write_point(self, point: str, rows: pd.DataFrame, meta: Mapping[str, Any]) -> None:
        """Write a finished point: Parquet first, then the sidecar that marks it done, then
        the log line; Ctrl-C waits for all three (SIGKILL cannot be held: see the module doc)."""
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        with _no_interrupt():
            atomic_write_bytes(self._parquet(point), buffer.getvalue())
            atomic_write_bytes(self._sidecar(point), to_json(dict(meta)).encode("utf-8"))
            self.log({"event": "computed", "point": point, **meta})

    def read_points(self, points: list[str]) -> list[pd.DataFrame]:
        """The result rows of finished ``points``, in the order asked."""
        return [pd.read_parquet(self._parquet(p)) for p in points]

    def read_sidecar(self, point: str) -> dict[str, Any]:
        """The metadata written beside a finished point (the mark that it is done)."""
        return json.loads(self._sidecar(point).read_text(encoding="utf-8"))

    # --- log --------------------------------------------------------------------------------

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one line to the log (one ``write`` of a short line: not interleaved)."""
        line = json.dumps(
            {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **record},
            ensure_ascii=False,
            default=str,
        )
        with open(self.folder / LOG, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_log(self) -> list[dict[str, Any]]:
        """Every record of the sweep's log, oldest first; empty if nothing was logged yet."""
        path = self.folder / LOG
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
