"""Sizing's evaluation store (测算存档): every finished replication on disk, for ``--resume``.

A sizing run simulates hundreds of replications, each of one key (a staffing, or a package of
measures: a plain tuple of ints) at one demand level. ``sim size --out DIR`` writes each one the
moment it finishes, so a run killed at any instant loses at most the replications that were
running, and ``sim size --out DIR --resume`` reads back what is on disk instead of simulating it
again. The search is deterministic given its replications, so the resumed run walks the same
path and reaches the same answer.

Durability rules (those of :mod:`sim.experiments.sweep_store`, which this store follows):

- each outcome is one file, written to a temporary name in its own folder, flushed and renamed
  into place (:func:`sim.experiments.files.write_atomic`): it is there whole or not at all;
- each file carries a SHA-256 digest of its content and names its key, replication and
  context; a file that fails any check (cut short, altered, from another context) is not used:
  the replication is simulated again and the file replaced, and the log says so;
- floats are written exactly: KPIs as JSON (Python writes the shortest text that reads back to
  the same double), the per-township and cost tables as Parquet, so a resumed run computes with
  bit-identical numbers;
- the manifest holds the fingerprint of the run (the scenario table, the seed, the demand
  levels, every option that changes numbers, the version of ``sim``); ``--resume`` with a
  different fingerprint is refused, naming each difference;
- one writer at a time: the run holds :func:`sim.experiments.sweep_store.folder_lock` on the
  store, and a second writer exits 2 naming the holder's pid.

Outcomes are further grouped by *context*: a hash of the table a :class:`Replications` simulates
(the scenario at one demand level), its levers and the seed. A key means something only
within its context, so an outcome can never be read back into a different one.

Layout::

    DIR/.sim-result                         marker: DIR is a result of sim (files.MARKER)
    DIR/evaluations/manifest.json           the fingerprint of the run
    DIR/evaluations/.lock                   pid of the run writing here (locked while it runs)
    DIR/evaluations/<context>/<key>-r<k>.eval   one replication outcome (see _encode)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.files import MARKER, contains_cwd, is_ours, write_atomic, write_marker
from sim.experiments.sweep_store import folder_lock, to_json
from sim.scenario.errors import InputProblem, ScenarioError
from sim.sizing.replications import ReplicationOutcome

__all__ = [
    "EVALUATIONS",
    "EvaluationStore",
    "context_of",
    "fingerprint",
    "prepare_out",
]

EVALUATIONS = "evaluations"
"""The store's folder inside ``sim size --out DIR``."""

MANIFEST = "manifest.json"
SUFFIX = ".eval"
_MAGIC = b"sim-size-evaluation 1\n"

# Keys of a scenario table that name or describe it but change no number: a copy of the
# scenario file under another name or path resumes the same run.
_NAMES_ONLY = ("name", "description", "source_file")

# What `sim size --out` writes (any version): a folder that holds nothing else is an earlier
# result of ours, even without the marker of later versions.
_SIZING_NAMES = frozenset(
    {
        MARKER,
        EVALUATIONS,
        "budget.csv",
        "staffing.csv",
        "targets.csv",
        "frontier.csv",
        "minimality.csv",
        "sizing.json",
        "frontier.png",
        "quota_targets.csv",
        "quota_townships.csv",
        "quotas.json",
        "screen_vs_simulation.csv",
    }
)


# What a changed fingerprint field means, where its value (a hash) does not say it.
_WHAT_CHANGED = {
    "scenario": "; the scenario file, a file it extends, or a --set differs",
    "sim": "; another version of sim",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _table_hash(table: Mapping[str, Any]) -> str:
    return _digest(to_json({k: v for k, v in table.items() if k not in _NAMES_ONLY}))


def fingerprint(
    table: Mapping[str, Any], seed: int, demand: Sequence[float], options: Mapping[str, Any]
) -> dict[str, Any]:
    """What decides a sizing run's numbers: resuming with any of it changed is refused.

    ``table`` is the validated scenario table the run sizes (its name, description and file
    path left out), ``options`` the search options that change numbers (budget, replications,
    …; not ``workers``, which changes none).
    """
    from sim import __version__

    return {
        "scenario": _table_hash(table),
        "seed": seed,
        "demand": sorted(float(m) for m in demand),
        **{k: options[k] for k in sorted(options)},
        "sim": __version__,
    }


def context_of(table: Mapping[str, Any], levers: Sequence[Any], seed: int) -> str:
    """The context of a :class:`~sim.sizing.replications.Replications`: a key is a point of its
    levers written into its table, simulated with its seed; all three name the outcome."""
    described = [
        dataclasses.asdict(x) if dataclasses.is_dataclass(x) and not isinstance(x, type) else x
        for x in levers
    ]
    return _digest(to_json({"table": _table_hash(table), "levers": described, "seed": seed}))


def prepare_out(out: str | Path) -> Path:
    """Check that ``sim size --out`` may write into ``out``, create it and mark it as ours.

    ``out`` may be absent, empty, marked as a result of sim, or hold only what ``sim size``
    writes; anything else (a folder of the user's) is refused before any work, as is a folder
    that holds the working directory.
    """
    folder = Path(out)

    def refuse(expected: str) -> ScenarioError:
        return ScenarioError([InputProblem("--out", "", str(folder), expected)])

    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise refuse("a folder (not a file or a symbolic link)")
    if folder.exists():
        if contains_cwd(folder):
            raise refuse("a folder that does not hold the working directory")
        try:
            ours = is_ours(folder, lambda f: all(c.name in _SIZING_NAMES for c in f.iterdir()))
        except OSError as exc:
            raise refuse(f"a readable folder ({exc.strerror})") from None
        if not ours:
            raise refuse(
                f"a new or empty folder, or an earlier result of sim size (this one holds other "
                f"files and no {MARKER} marker; nothing was changed: choose another folder)"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / MARKER).is_file():
            write_marker(folder)
    except OSError as exc:
        raise refuse(f"a writable folder ({exc.strerror})") from None
    return folder


class EvaluationStore:
    """The outcomes of one sizing run in ``folder`` (``DIR/evaluations``; module doc).

    Use: ``with store.locked(): store.begin(fingerprint)``, then :meth:`load` and :meth:`save`
    from :class:`~sim.sizing.replications.Replications`. ``resume`` keeps what a run with the
    same fingerprint left; without it an earlier run's outcomes are discarded (the folder is a
    result of ours, replaced by the next run to it). ``log`` receives a line when a run resumes,
    ``warn`` one when an earlier run is discarded and one per damaged file (recomputed).
    ``loaded``, ``saved`` and ``damaged`` count outcomes read, written and found damaged.
    """

    def __init__(
        self,
        folder: str | Path,
        resume: bool = False,
        log: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ):
        self.folder = Path(folder)
        self.resume = resume
        self.log = log or (lambda _msg: None)
        self.warn = warn or self.log
        self.loaded = 0
        self.saved = 0
        self.damaged = 0
        self._held = False

    @property
    def manifest_path(self) -> Path:
        """Where the fingerprint of the run is written."""
        return self.folder / MANIFEST

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's writer lock for the block; another holder is exit 2 naming it."""
        with folder_lock(self.folder, "sizing run"):
            self._held = True
            try:
                yield
            finally:
                self._held = False

    @contextlib.contextmanager
    def opened(self, fingerprint: Mapping[str, Any]) -> Iterator[None]:
        """:meth:`begin` the run of ``fingerprint`` and keep the lock for the block (taking it
        unless the caller holds it already: ``sim size`` holds it until its outputs are
        written)."""
        holding = contextlib.nullcontext() if self._held else self.locked()
        with holding:
            self.begin(fingerprint)
            yield

    def begin(self, fingerprint: Mapping[str, Any]) -> None:
        """Start or resume the run of ``fingerprint`` (call with the lock held).

        Raises :class:`ScenarioError` (exit 2) when resuming a run whose fingerprint differs,
        one problem per field that changed.
        """
        if not self._held:
            raise RuntimeError("EvaluationStore.begin needs the store's lock (use opened())")
        old = self._read_manifest()
        if old is not None and self.resume:
            before = old.get("fingerprint", {})
            fields = {*before, *fingerprint}
            changed = sorted(k for k in fields if before.get(k) != fingerprint.get(k))
            if changed:
                raise ScenarioError(
                    [
                        InputProblem(
                            "--resume",
                            k,
                            fingerprint.get(k),
                            f"the value the run in {self.folder} started with "
                            f"({before.get(k)!r}{_WHAT_CHANGED.get(k, '')}): cannot resume a "
                            f"different run (remove {self.folder} to start afresh, or use "
                            "another --out folder)",
                        )
                        for k in changed
                    ]
                )
            kept = sum(1 for _ in self.folder.glob(f"*/*{SUFFIX}"))
            self.log(f"resuming {self.folder}: {kept} replications on disk")
        elif self.resume:
            self.log(f"{self.folder} holds no run to resume: starting one")
        elif old is not None:
            gone = self._clear()
            self.warn(
                f"{self.folder}: {gone} replications of an earlier run discarded "
                "(--resume continues a run instead)"
            )
        self._remove_temporaries()
        if old is None or not self.resume:
            payload = {"what": "sim size evaluations (测算存档)", "fingerprint": dict(fingerprint)}
            write_atomic(self.manifest_path, to_json(payload) + "\n")

    def _read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.exists():
            return None
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return data
        except (OSError, ValueError) as exc:
            raise ScenarioError(
                [
                    InputProblem(
                        str(self.manifest_path),
                        "",
                        InputProblem.MISSING,
                        f"a readable manifest of a sizing run ({exc}); remove "
                        f"{self.folder} to start afresh",
                    )
                ]
            ) from None

    def _clear(self) -> int:
        """Remove an earlier run's outcomes and manifest; how many outcomes went."""
        gone = 0
        for child in self.folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                gone += sum(1 for _ in child.glob(f"*{SUFFIX}"))
                shutil.rmtree(child)
        self.manifest_path.unlink()
        return gone

    def _remove_temporaries(self) -> None:
        """Half-written files a killed writer left (write_atomic's hidden ``.*.tmp-*`` names).

        Only called with the lock held, so no live writer owns them.
        """
        for tmp in self.folder.glob("*/.*.tmp-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    # --- outcomes -----------------------------------------------------------------------------

    def path(self, context: str, key: tuple[int, ...], replication: int) -> Path:
        """The file of one outcome (the key hashed: a package can have many levers)."""
        name = _digest(json.dumps([int(v) for v in key]))
        return self.folder / context / f"{name}-r{replication}{SUFFIX}"

    def load(
        self, context: str, key: tuple[int, ...], replication: int
    ) -> ReplicationOutcome | None:
        """The stored outcome, or None when there is none or its file fails a check (logged:
        the replication is then simulated again and the file replaced)."""
        path = self.path(context, key, replication)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._damaged(path, f"unreadable ({exc.strerror})")
            return None
        try:
            outcome = _decode(data, context, key, replication)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            # pyarrow's errors derive from these; anything else is a bug, not a damaged file
            self._damaged(path, str(exc) or type(exc).__name__)
            return None
        self.loaded += 1
        return outcome

    def _damaged(self, path: Path, why: str) -> None:
        self.damaged += 1
        self.warn(f"{path}: damaged stored replication ({why}); simulating it again")

    def save(
        self, context: str, key: tuple[int, ...], replication: int, outcome: ReplicationOutcome
    ) -> None:
        """Write one finished outcome, atomically (a kill leaves it whole or absent)."""
        path = self.path(context, key, replication)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(path, _encode(outcome, context, key, replication))
        except OSError as exc:
            raise ScenarioError(
                [InputProblem("--out", "", str(path), f"a writable folder ({exc.strerror})")]
            ) from None
        self.saved += 1


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)  # the index too: the township table is indexed by township
    return buffer.getvalue()


def _encode(
    outcome: ReplicationOutcome, context: str, key: tuple[int, ...], replication: int
) -> bytes:
    """One outcome as bytes: a magic line, the SHA-256 of the rest, a one-line JSON header (the
    key, replication, context, KPIs and the sizes of the tables), then the two Parquet tables.

    NaN and ±inf KPIs are written as JSON's ``NaN``/``Infinity`` extension, which
    :func:`json.loads` reads back.
    """
    townships, costs = _parquet(outcome.townships), _parquet(outcome.costs)
    header = {
        "context": context,
        "key": [int(v) for v in key],
        "replication": replication,
        "kpis": outcome.kpis,  # insertion order kept: it is the column order of every table
        "townships": len(townships),
        "costs": len(costs),
    }
    body = json.dumps(header, ensure_ascii=True).encode("ascii") + b"\n" + townships + costs
    return _MAGIC + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body


def _decode(
    data: bytes, context: str, key: tuple[int, ...], replication: int
) -> ReplicationOutcome:
    """The outcome in ``data``; ValueError naming the first check it fails."""
    if not data.startswith(_MAGIC):
        raise ValueError("not a stored replication (no header)")
    rest = data[len(_MAGIC) :]
    digest, _, body = rest.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise ValueError("content does not match its digest: cut short or altered")
    line, _, tables = body.partition(b"\n")
    header = json.loads(line)
    expected = {"context": context, "key": [int(v) for v in key], "replication": replication}
    for name, value in expected.items():
        if header.get(name) != value:
            raise ValueError(f"holds {name} {header.get(name)!r}, not {value!r}")
    n_town, n_cost = int(header["townships"]), int(header["costs"])
    if len(tables) != n_town + n_cost:
        raise ValueError("tables cut short")
    townships = pd.read_parquet(io.BytesIO(tables[:n_town]))
    costs = pd.read_parquet(io.BytesIO(tables[n_town:]))
    kpis = header["kpis"]
    if not isinstance(kpis, dict):
        raise ValueError("KPIs are not a table")
    return ReplicationOutcome(kpis, townships, costs)
