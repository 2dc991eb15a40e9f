"""Replications of a scenario, with t-based confidence intervals and the verdict on targets.

A KPI's interval respects what the KPI can be (docs/model.md, KPIs): a share's interval is
computed on the logit scale, so it stays inside [0, 1]; a count, a number of days or a cost
is clipped at 0. :func:`confidence_interval` itself stays the plain t interval: paired
differences and other signed quantities use it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sim.experiments.executors import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    available_cores,
    check_options,
    make_executor,
)
from sim.experiments.files import (
    MARKER,
    contains_cwd,
    is_ours,
    remove_ours,
    safe_cells,
    swap_in,
    write_marker,
)
from sim.experiments.intervals import confidence_interval, kpi_interval
from sim.experiments.summary import (
    SUMMARY_COLUMNS,
    TARGET_COLUMNS,
    UNRELIABLE_OPEN_SHARE,
    Summary,
    Verdicts,
    open_share,
    results_json,
    summary_records,
    target_records,
)
from sim.measures.kpis import PETITION_KPIS, kpis
from sim.measures.notice_kpis import notice_not_modelled
from sim.model.replication import simulate_replication
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.schema import Scenario

if TYPE_CHECKING:  # pandas is imported when a table is made: `sim run` without files needs none
    import pandas as pd

__all__ = [
    "UNRELIABLE_OPEN_SHARE",
    "Results",
    "aside_folder",
    "confidence_interval",
    "kpi_interval",
    "load_results",
    "prepare_result_folder",
    "replication_kpis",
    "simulate",
    "staging_folder",
    "table_writer",
]

_TABLES = ("registers", "cases", "timeseries", "petitions", "costs")


@dataclass
class Results:
    """What :func:`simulate` returns: KPIs per replication, their summary, the targets.

    The summary and verdicts are plain dicts (``summary_records``, ``target_records``:
    :mod:`sim.experiments.summary`); :attr:`per_replication`, :attr:`summary` and
    :attr:`targets` are the same as DataFrames, made (and pandas imported) when first read.
    """

    scenario: Scenario
    seed: int
    rows: list[dict[str, float]]  # one per replication, in order: KPI name -> value
    summary_records: Summary
    target_records: Verdicts
    registers: list[pd.DataFrame] = field(default_factory=list)
    cases: list[pd.DataFrame] = field(default_factory=list)
    timeseries: list[pd.DataFrame] = field(default_factory=list)
    petitions: list[pd.DataFrame] = field(default_factory=list)
    costs: list[pd.DataFrame] = field(default_factory=list)
    events: list[int] = field(default_factory=list)

    @classmethod
    def from_frames(
        cls,
        scenario: Scenario,
        seed: int,
        per_replication: pd.DataFrame,
        summary: pd.DataFrame,
        targets: pd.DataFrame,
        **tables: list[pd.DataFrame],
    ) -> Results:
        """Results whose KPI tables are given as DataFrames (as read back from files)."""
        out = cls(
            scenario=scenario,
            seed=seed,
            rows=cast(list[dict[str, float]], per_replication.to_dict(orient="records")),
            summary_records=_records(summary),
            target_records=_records(targets),
            **tables,
        )
        # The frames as given, not remade from the dicts.
        out.__dict__.update(per_replication=per_replication, summary=summary, targets=targets)
        return out

    @cached_property
    def per_replication(self) -> pd.DataFrame:
        """One row per replication, one column per KPI."""
        import pandas as pd

        out = pd.DataFrame(self.rows)
        out.index.name = "replication"
        return out

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Index KPI; columns mean, ci_low, ci_high, std, n, interval."""
        return _frame(self.summary_records, SUMMARY_COLUMNS)

    @cached_property
    def targets(self) -> pd.DataFrame:
        """Index KPI; columns label, sense, target, mean, ci_low, ci_high, met, ..."""
        out = _frame(self.target_records, TARGET_COLUMNS)
        out.attrs["open_share"] = open_share(self.summary_records)
        return out

    def save(self, folder: str | Path, tables_written: bool = False, option: str = "") -> Path:
        """Write everything to ``folder`` (JSON, CSV and Parquet) for ``sim report``.

        Written to a sibling staging folder (:func:`staging_folder`) first and swapped into
        place (:func:`sim.experiments.files.swap_in`), so a reader never sees half a result and
        a kill leaves the old result or the new one whole. Only a folder of ours (an earlier
        result, or an empty folder) is replaced: see :func:`prepare_result_folder`, whose
        :class:`ScenarioError` names ``option`` (or the folder). With ``tables_written`` the
        staging folder was prepared and its ``tables/`` written already (replication by
        replication, by :func:`table_writer`); they are kept.
        """
        folder = Path(folder)
        tmp = staging_folder(folder)
        if not tables_written or not tmp.is_dir():
            tmp = prepare_result_folder(folder, option)
        (tmp / "results.json").write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (tmp / "scenario.json").write_text(
            self.scenario.model_dump_json(by_alias=True, indent=2), encoding="utf-8"
        )
        self.per_replication.to_parquet(tmp / "per_replication.parquet")
        safe_cells(self.summary).to_csv(tmp / "summary.csv")
        safe_cells(self.targets).to_csv(tmp / "targets.csv")
        for name in _TABLES:
            for k, table in enumerate(getattr(self, name)):
                table.to_parquet(_table_file(tmp / "tables", name, k), index=False)
        # Checked again at the last moment: the run may have taken hours.
        _check_replaceable(folder, option or str(folder), whole=True)
        swap_in(tmp, folder, aside_folder(folder))
        return folder

    @property
    def replications(self) -> int:
        """Number of replications run."""
        return len(self.rows)

    @property
    def not_modelled(self) -> list[str]:
        """KPIs whose mechanism this scenario leaves out: reported as null, never as 0."""
        sc = self.scenario
        off = notice_not_modelled(sc)
        if sc.petitions is None or not sc.mechanisms.petitions:
            return [*PETITION_KPIS, *off]
        return off

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape fixed by DESIGN.md (NaN becomes None)."""
        return results_json(
            self.scenario,
            self.seed,
            self.replications,
            self.summary_records,
            self.target_records,
            self.not_modelled,
        )


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(name): row.to_dict() for name, row in frame.iterrows()}


def _frame(records: dict[str, dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    out = pd.DataFrame.from_dict(records, orient="index", columns=list(columns))
    out.index.name = "kpi"
    return out


TableSink = Callable[[int, dict[str, "pd.DataFrame"]], None]


def _table_file(folder: Path, name: str, k: int) -> Path:
    return folder / f"{name}_{k}.parquet"


def staging_folder(folder: str | Path) -> Path:
    """Where :meth:`Results.save` prepares ``folder`` before swapping it into place."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".tmp")


def aside_folder(folder: str | Path) -> Path:
    """Where the old result waits while a new one is renamed in (file systems that cannot
    exchange two folders in one step)."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".old")


_RESULT_FILES = frozenset(
    {
        MARKER,
        "results.json",
        "scenario.json",
        "per_replication.parquet",
        "summary.csv",
        "targets.csv",
        "tables",
    }
)
_TABLE_FILE = re.compile(rf"(?:{'|'.join(_TABLES)})_\d+\.parquet")


def _result_layout(folder: Path, whole: bool) -> bool:
    """True when ``folder`` holds only what :meth:`Results.save` writes (``whole``: with its
    results.json and scenario.json) — a result, or a leftover, of a version before the marker."""
    names = set()
    for child in folder.iterdir():
        if child.name not in _RESULT_FILES or child.is_symlink():
            return False
        names.add(child.name)
        if child.name == "tables":
            if not child.is_dir() or not all(
                f.is_file() and not f.is_symlink() and _TABLE_FILE.fullmatch(f.name)
                for f in child.iterdir()
            ):
                return False
        elif not child.is_file():
            return False
    return not whole or {"results.json", "scenario.json"} <= names


def _check_replaceable(folder: Path, shown: str, whole: bool) -> None:
    """Raise :class:`ScenarioError` unless ``folder`` is absent or may be replaced by ours."""

    def refuse(expected: str) -> ScenarioError:
        return ScenarioError([InputProblem(shown, "", str(folder), expected)])

    if folder.is_symlink():
        raise refuse("a folder, not a symbolic link (it is never replaced)")
    if not folder.exists():
        return
    if not folder.is_dir():
        raise refuse("a folder, not a file")
    if contains_cwd(folder):
        raise refuse("a folder that does not hold the working directory (it would be replaced)")
    try:
        ours = is_ours(folder, lambda f: _result_layout(f, whole))
    except OSError as exc:
        raise refuse(f"a readable folder ({exc.strerror})") from None
    if not ours:
        raise refuse(
            f"a new or empty folder, or an earlier result of sim (this one holds other files "
            f"and no {MARKER} marker; nothing was changed: move it or choose another folder)"
        )


def prepare_result_folder(folder: str | Path, option: str = "") -> Path:
    """Check that ``folder`` may receive a result; return a fresh, marked staging folder.

    ``folder`` may be absent, empty, or an earlier result of ours; anything else is refused
    before any work is done (a :class:`ScenarioError` naming ``option``, or the folder). Leftovers
    of a killed run at the staging and aside names are removed if they are ours, refused if
    not. The staging folder gets its marker before anything else, so that whatever a kill
    leaves of it is recognisably ours.
    """
    folder = Path(folder)
    shown = option or str(folder)
    _check_replaceable(folder, shown, whole=True)
    staged, aside = staging_folder(folder), aside_folder(folder)
    for leftover in (staged, aside):
        _check_replaceable(leftover, shown, whole=False)
        try:
            remove_ours(leftover)
        except OSError as exc:
            raise ScenarioError(
                [InputProblem(shown, "", str(leftover), f"a removable folder ({exc.strerror})")]
            ) from None
    try:
        staged.mkdir(parents=True)
        write_marker(staged)
        (staged / "tables").mkdir()
    except OSError as exc:
        raise ScenarioError(
            [InputProblem(shown, "", str(folder), f"a writable folder ({exc.strerror})")]
        ) from None
    return staged


def table_writer(folder: Path) -> TableSink:
    """A sink for :func:`simulate` that writes each replication's tables to ``folder`` at once,
    as ``<registers|cases|timeseries|petitions|costs>_<k>.parquet`` (the layout of
    :meth:`Results.save`), so that they need not be kept in memory."""

    def write(k: int, tables: dict[str, pd.DataFrame]) -> None:
        for name, table in tables.items():
            table.to_parquet(_table_file(folder, name, k), index=False)

    return write


def simulate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    keep_tables: bool = False,
    first_replication: int = 0,
    spool: str | Path | None = None,
    on_tables: TableSink | None = None,
    *,
    executor: str | Executor | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Results:
    """Run independent replications of ``scenario`` and summarise the KPIs.

    Replication ``k`` uses streams derived from (``seed``, ``k``), so the same seed gives the
    same numbers however the replications are split between workers. With ``spool`` (a
    folder) each replication writes its raw records to ``spool/replication_<k>/`` as Parquet
    while it runs (see :func:`sim.simulate_replication`), for runs too long to keep in memory.
    ``on_tables(k, tables)`` receives the tables of replication ``k`` (keyed registers, cases,
    timeseries, petitions, costs) as soon as it is done, e.g. :func:`table_writer`; with
    ``keep_tables`` they are also kept in the returned :class:`Results`.

    Where replications run: ``executor`` ``"serial"`` (in this process), ``"processes"``
    (``workers`` local processes, default all cores) or ``"dask"`` (``scheduler``, else a local
    cluster of ``workers``), or an :class:`~sim.experiments.executors.Executor` the caller
    made (and closes). The default is serial, or processes when ``workers`` > 1. Processes are
    never more than the replications; one process means this one. The numbers are the same to
    the bit on every executor. In parallel, ``on_tables`` is called in the order replications
    finish (in replication order when serial), each worker holds one replication in memory,
    and with Dask on other machines ``spool`` must be a folder they all see.
    """
    n = scenario.run.replications if replications is None else replications
    seed = scenario.run.seed if seed is None else seed
    want_tables = keep_tables or on_tables is not None
    tasks = [
        (
            k,
            (
                scenario,
                seed,
                k,
                str(Path(spool) / f"replication_{k}") if spool is not None else None,
                want_tables,
            ),
        )
        for k in range(first_replication, first_replication + n)
    ]
    done: dict[int, _Replicated] = {}
    with _executor_for(executor, workers, scheduler, n) as ex:
        for key, result in ex.map_unordered(_replicate, tasks):
            k = cast(int, key)
            row, events, tables = cast(_Replicated, result)
            if on_tables is not None and tables is not None:
                on_tables(k, tables)
            # Without keep_tables, tables are dropped here: a sink has written them.
            done[k] = (row, events, tables if keep_tables else None)
    order = sorted(done)  # KPIs and kept tables in replication order, whatever finished first
    rows = [done[k][0] for k in order]
    summary = summary_records(rows, scenario.run.confidence)
    kept: dict[str, list[pd.DataFrame]] = {name: [] for name in _TABLES}
    if keep_tables:
        for k in order:
            tables = done[k][2]
            assert tables is not None  # asked for with keep_tables
            for name in _TABLES:
                kept[name].append(tables[name])
    return Results(
        scenario=scenario,
        seed=seed,
        rows=rows,
        summary_records=summary,
        target_records=target_records(scenario, summary),
        events=[done[k][1] for k in order],
        **kept,
    )


_Replicated = tuple[dict[str, float], int, "dict[str, pd.DataFrame] | None"]
"""What one replication sends back: its KPI row, its event count and (if asked) its tables."""


def _replicate(
    scenario: Scenario, seed: int, k: int, spool: str | None, want_tables: bool
) -> _Replicated:
    """One work unit of :func:`simulate`: replication ``k``; depends only on its arguments."""
    # The collector stays paused, as the model pauses it, until the records are packed: the
    # model hands its last chunk back as tuples, tens of thousands of tracked objects that a
    # collector pass right after the run would scan only to find them alive (0.05-0.1 s for
    # 12,000 disputes, a tenth of the run). Packed first, the pass is short, and it frees the
    # model's own objects before the KPIs are measured.
    collecting = gc.isenabled()
    gc.disable()
    try:
        rep = simulate_replication(
            scenario, replication=k, seed=seed, spool=Path(spool) if spool is not None else None
        )
        for log in (rep.cases, rep.steps, rep.petitions, rep.timeseries):
            log.pack()
    finally:
        if collecting:
            gc.enable()
    row = kpis(rep)  # off the records, streaming: no table needed
    tables = None
    if want_tables:
        from sim.measures.costs import cost_table
        from sim.measures.register import (
            case_table,
            petition_table,
            register_table,
            timeseries_table,
        )

        cases = case_table(rep)
        register = register_table(rep, cases)
        tables = {
            "registers": register,
            "cases": cases,
            "timeseries": timeseries_table(rep),
            "petitions": petition_table(rep),
            "costs": cost_table(rep, register),
        }
    return row, rep.events, tables


def replication_kpis(scenario: Scenario, seed: int, k: int) -> dict[str, float]:
    """The KPIs of replication ``k`` alone: :func:`simulate`'s work unit without the rest of an
    experiment (no executor, intervals or verdicts), for sweeps that gather replications
    themselves."""
    return _replicate(scenario, seed, k, None, False)[0]


def _executor_for(
    executor: str | Executor | None, workers: int | None, scheduler: str | None, n: int
) -> contextlib.AbstractContextManager[Executor]:
    """The executor :func:`simulate` runs on; one it makes is closed after the run.

    No more local workers than replications are started, and a single local worker is this
    process (a pool would only add its start-up and the pickling of results).
    """
    if isinstance(executor, Executor):
        return contextlib.nullcontext(executor)
    kind = executor or ("processes" if workers is not None and workers > 1 else "serial")
    check_options(kind, workers, scheduler)
    local = min(workers or available_cores(), max(n, 1))
    if kind == "serial" or (kind == "processes" and local <= 1):
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(local)
    return make_executor("dask", None if scheduler else local, scheduler)


def load_results(folder: str | Path) -> Results:
    """Read back what :meth:`Results.save` wrote."""
    import pandas as pd

    folder = Path(folder)
    meta = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    scenario = Scenario.model_validate_json((folder / "scenario.json").read_text(encoding="utf-8"))
    per_rep = pd.read_parquet(folder / "per_replication.parquet")
    summary = pd.read_csv(folder / "summary.csv", index_col="kpi")
    # Results saved before intervals said how they were made have no such column.
    if "interval" not in summary or summary["interval"].isna().all():
        summary["interval"] = ""  # a column of blanks reads back as NaN (or is absent)
    else:
        summary["interval"] = summary["interval"].fillna("")
    targets = pd.read_csv(folder / "targets.csv", index_col="kpi")
    targets["label"] = targets["label"].fillna("")
    tables: dict[str, list[pd.DataFrame]] = {}
    for name in _TABLES:
        files = sorted(
            (folder / "tables").glob(f"{name}_*.parquet"),
            key=lambda p: int(p.stem.rsplit("_", 1)[1]),
        )
        tables[name] = [pd.read_parquet(f) for f in files]
    return Results.from_frames(scenario, int(meta["seed"]), per_rep, summary, targets, **tables)


def summarise(per_replication: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """KPI × (mean, ci_low, ci_high, std, n, interval): each KPI's :func:`kpi_interval`
    (:func:`sim.experiments.summary.summary_records` as a DataFrame)."""
    rows = cast(list[dict[str, float]], per_replication.to_dict(orient="records"))
    return _frame(summary_records(rows, confidence), SUMMARY_COLUMNS)


def judge_targets(scenario: Scenario, summary: pd.DataFrame) -> pd.DataFrame:
    """The verdict on each target (:func:`sim.experiments.summary.target_records`) as a
    DataFrame, with the mean ``open_share`` in ``attrs``."""
    records = _records(summary)
    out = _frame(target_records(scenario, records), TARGET_COLUMNS)
    out.attrs["open_share"] = open_share(records)
    return out
