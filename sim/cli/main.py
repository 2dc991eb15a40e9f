"""The ``sim`` command: run and validate scenarios.

Exit status: 0 done, 2 bad input (one line per problem on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.scenario.errors import InputProblem, ScenarioError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "add_executor_options",
    "add_set_option",
    "executor_options",
    "load_for_command",
    "main",
    "refuse_outputs_over_inputs",
]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, where it has one worth showing.

    argparse's ArgumentDefaultsHelpFormatter would print "(default: None)" for every option
    whose default comes from the scenario; those say so in their own help instead.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default:" in text
            or default in (None, False, [], argparse.SUPPRESS)
            or action.option_strings == []
        ):
            return text
        return text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its one-line message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"sim: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


_BUILT_IN = ("run", "validate")


def _parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The ``sim`` parser; without ``plugins``, only the built-in commands (enough to parse a
    ``run`` or ``validate`` command line without loading the other commands' modules)."""
    p = _Parser(prog="sim", description="People's-mediation ladder simulation (三级四步 大调解).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario (default: bundled Qujiang 衢江区)")
    run.add_argument(
        "scenario", nargs="?", help="scenario TOML file (default: the bundled Qujiang scenario)"
    )
    run.add_argument(
        "--replications",
        "-r",
        type=int,
        help="number of replications (default: the scenario's run.replications)",
    )
    run.add_argument("--seed", type=int, help="base random seed (default: the scenario's run.seed)")
    add_set_option(run)
    run.add_argument("--json", dest="json_out", metavar="PATH|-", help="write results as JSON")
    run.add_argument(
        "--register", metavar="PATH", help="write the register of replication 0 (CSV or .parquet)"
    )
    run.add_argument(
        "--out", metavar="DIR", help="save all results and tables to DIR (read by `sim report`)"
    )
    run.add_argument(
        "--spool",
        metavar="DIR",
        help="write each replication's raw records to DIR/replication_<k>/ (Parquet) as they"
        " are made, so that a long or province-size run does not hold them in memory while it"
        " runs (its tables and KPIs are then built from the files, one replication at a time)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run a scenario past the size limits (as run.allow_large = true)",
    )
    add_executor_options(run)
    run.set_defaults(func=_run)

    val = sub.add_parser("validate", help="check a scenario file without running it")
    val.add_argument("scenario", help="scenario TOML file")
    add_set_option(val)
    val.set_defaults(func=_validate)

    # Further commands register themselves: modules listed under the entry-point group
    # "sim.commands" expose add_parser(subparsers). This keeps `sim` free of imports of the
    # packages built on it (calibration), as the layering asks.
    if plugins:
        from importlib.metadata import entry_points

        commands = list(entry_points(group="sim.commands"))
    else:
        commands = []
    for entry in commands:
        try:
            add_parser = entry.load()
        except ImportError as exc:  # a missing optional piece must not take `sim run` down
            print(f"sim: warning: command {entry.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        add_parser(sub)
    for parser in sub.choices.values():
        parser.add_argument(
            "--debug", action="store_true", help="show tracebacks of internal errors"
        )
    return p


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set KEY=VALUE`` option shared by every command that loads a scenario."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key by its dotted path (repeatable)",
    )


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where replications run: ``--executor``, ``--workers``, ``--scheduler`` and
    ``--scheduler-timeout``, shared by ``sim run``, ``sim sweep`` and ``sim sensitivity``."""
    parser.add_argument(
        "--executor",
        choices=("serial", "processes", "dask"),
        default="processes",
        help="where replications run (default: local processes)",
    )
    parser.add_argument("--workers", "-j", type=int, help="worker processes (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (tcp://host:8786)")
    parser.add_argument(
        "--scheduler-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long the --scheduler has to answer as a Dask scheduler (default 5)",
    )


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`add_executor_options` in ``args``, checked before any work: a bad
    value, or a --scheduler that does not answer as a Dask scheduler within
    --scheduler-timeout, is bad input (exit status 2)."""
    from sim.experiments import executors

    timeout = args.scheduler_timeout
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise ScenarioError(
            [InputProblem("--scheduler-timeout", "", timeout, "expected a positive number")]
        )
    executors.check_options(args.executor, args.workers, args.scheduler)
    if timeout is not None:
        executors.HANDSHAKE_TIMEOUT_SECONDS = timeout  # for the executor the command makes
    if args.scheduler and args.executor == "dask":
        executors.check_scheduler(args.scheduler, timeout)
    return {"executor": args.executor, "workers": args.workers, "scheduler": args.scheduler}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sim`` command with ``argv``; returns the exit status (0, 1 or 2)."""
    given = sys.argv[1:] if argv is None else list(argv)
    built_in = bool(given) and given[0] in _BUILT_IN
    # `sim run …` and `sim validate …` need no other command's parser (nor its imports).
    args = _parser(plugins=not built_in).parse_args(given)
    paused = argv is None and built_in and gc.isenabled()
    if paused:
        # A process of its own: the collector waits until the modules are loaded
        # (_modules_loaded), since loading them makes ~100,000 objects and no garbage.
        gc.disable()
        _STARTUP.append(True)
    try:
        return int(args.func(args))
    except ScenarioError as exc:
        for line in exc.shown_lines():
            print(f"sim: error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. `sim run --json - | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("sim: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # status 1 is for our own bugs, never for bad input
        if getattr(args, "debug", False):
            raise
        print(
            f"sim: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if paused:
            _modules_loaded()


_STARTUP: list[bool] = []  # not empty while main() holds the collector paused for start-up


def _modules_loaded() -> None:
    """Start-up is over: what it made stays alive, so it is frozen out of the collector's
    passes (``gc.freeze``), which then scan only what the run makes. A no-op unless
    :func:`main` paused the collector."""
    if _STARTUP:
        _STARTUP.clear()
        gc.freeze()
        gc.enable()


def load_for_command(args: argparse.Namespace):
    """Load ``args.scenario`` with ``args.overrides``; a register given as start is checked."""
    from sim.model.initial_state import open_cases
    from sim.scenario.loading import load_scenario

    _refuse_sweep_file(args.scenario)
    scenario = load_scenario(args.scenario, args.overrides)
    open_cases(scenario)  # a register given as initial state is checked before any run
    return scenario


# Top-level keys of a sweep file (sim.experiments.sweep_spec) and of a sensitivity file that
# no scenario has: given to `sim run`, such a file would otherwise get one "unknown key" line
# per key and one "required key is missing" per scenario table.
_SWEEP_KEYS = frozenset({"axes", "variants", "baseline"})
_SENSITIVITY_KEYS = frozenset({"factors", "method", "samples"})


def refuse_outputs_over_inputs(
    outputs: dict[str, str | Path | None], inputs: Sequence[str | Path | None]
) -> None:
    """Exit 2 (a :class:`ScenarioError`) when an output path would overwrite an input."""
    from sim.experiments.files import output_overwrites_input

    clashes = output_overwrites_input(outputs, inputs)
    if clashes:
        raise ScenarioError(
            [
                InputProblem(option, "", out, f"a path that is not an input ({src} would be lost)")
                for option, out, src in clashes
            ]
        )


def _refuse_sweep_file(path: str | None) -> None:
    """A sweep or sensitivity file where a scenario was expected: say which command reads it."""
    import tomllib

    if path is None:
        return
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except (OSError, ValueError, RecursionError):
        return  # the loader reports a missing, broken or too deeply nested file itself
    if "base" not in table or "townships" in table:
        return
    if _SENSITIVITY_KEYS & table.keys():
        kind, command = "sensitivity", "sim sensitivity"
    elif _SWEEP_KEYS & table.keys():
        kind, command = "sweep", "sim sweep"
    else:
        return
    found = ", ".join(sorted(({"base"} | _SWEEP_KEYS | _SENSITIVITY_KEYS) & table.keys()))
    raise ScenarioError(
        [
            InputProblem(
                path,
                "",
                InputProblem.MISSING,
                f"a scenario file, but this is a {kind} file (it has {found}): "
                f"use `{command} {path}`",
            )
        ]
    )


def _validate(args: argparse.Namespace) -> int:
    from sim.measures.quotas import quota_warnings

    scenario = load_for_command(args)
    for warning in quota_warnings(scenario):
        print(f"sim: warning: {warning}", file=sys.stderr)
    print(
        f"{args.scenario}: valid scenario {scenario.name!r} "
        f"({len(scenario.townships)} townships, population {scenario.population:,})"
    )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from sim.experiments.experiment import prepare_result_folder, simulate, table_writer
    from sim.experiments.files import write_atomic

    if args.replications is not None and args.replications < 1:
        raise ScenarioError(
            [InputProblem("--replications", "", args.replications, "expected a positive integer")]
        )
    if args.seed is not None and args.seed < 0:
        raise ScenarioError(
            [InputProblem("--seed", "", args.seed, "expected a non-negative integer")]
        )
    if args.force:  # the deliberate large run: the size limits of sim.scenario.limits are lifted
        args.overrides = [*args.overrides, "run.allow_large=true"]
    scenario = load_for_command(args)
    _modules_loaded()
    refuse_outputs_over_inputs(
        {"--json": args.json_out, "--register": args.register, "--out": args.out,
         "--spool": args.spool},
        [scenario.source_file, scenario.initial_state.register_file],
    )  # fmt: skip
    where = executor_options(args)
    # Folders are made before the run, so that a bad one costs nothing.
    if args.spool is not None:
        _make_folder("--spool", Path(args.spool), args.spool)
    tables_dir = None
    if args.out is not None:
        # Each replication's tables go to disk as soon as it is done (a province's registers
        # would not fit in memory together), into a staging folder that Results.save swaps
        # into place. A folder that is not an earlier result of ours is refused here, before
        # the run: it is never deleted.
        tables_dir = prepare_result_folder(args.out, "--out") / "tables"
    write_tables = table_writer(tables_dir) if tables_dir is not None else None

    def on_tables(k: int, tables: dict) -> None:
        if write_tables is not None:
            try:
                write_tables(k, tables)
            except OSError as exc:  # e.g. the disk filled up during a long run
                raise _unusable("--out", args.out, exc) from None
        if args.register and k == 0:
            _write_table(tables["registers"], Path(args.register))

    results = simulate(
        scenario,
        replications=args.replications,
        seed=args.seed,
        spool=args.spool,
        on_tables=on_tables if args.register or tables_dir is not None else None,
        **where,
    )
    if args.out:
        try:
            results.save(args.out, tables_written=True, option="--out")
        except OSError as exc:
            raise _unusable("--out", args.out, exc) from None
    if args.json_out == "-":
        json.dump(results.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if args.json_out:
        text = json.dumps(results.to_dict(), ensure_ascii=False, indent=2) + "\n"
        try:
            write_atomic(args.json_out, text)
        except OSError as exc:
            raise _unusable("--json", args.json_out, exc, "a writable file path") from None
    print(_format(results))
    return EXIT_OK


def _make_folder(option: str, folder: Path, given: str) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(option, given, exc) from None
    return folder


def _unusable(option: str, value: str, exc: OSError, what: str = "a writable folder"):
    """The error for a path the operating system refused, naming the option and the path."""
    return ScenarioError([InputProblem(option, "", value, f"{what} ({exc.strerror or exc})")])


def _write_table(table, path: Path) -> None:
    from sim.experiments.files import safe_cells, write_atomic

    try:  # whole or not at all: a register cut mid-row would read back as a valid one
        if path.suffix == ".parquet":
            write_atomic(path, lambda tmp: table.to_parquet(tmp, index=False))
        else:
            write_atomic(path, lambda tmp: safe_cells(table).to_csv(tmp, index=False))
    except OSError as exc:
        folder = path.parent
        if not folder.is_dir():
            what = "a file in an existing folder" + (
                f" ({folder} is a file)" if folder.exists() else f" (no folder {folder})"
            )
            raise ScenarioError([InputProblem("--register", "", str(path), what)]) from None
        raise _unusable("--register", str(path), exc, "a writable file path") from None


def _fmt(x: float) -> str:
    if x is None or math.isnan(x):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"


def _format(results: Any) -> str:
    """A plain-text table: KPI, mean, CI, what a share is a share of; then the targets.

    Columns are padded by display width (a Chinese character takes two terminal columns), so
    they line up after any label.
    """
    from sim.scenario.text import display_width, pad, plural
    from sim.scenario.vocabulary import KPI_LABELS, share_denominator

    sc = results.scenario
    conf = round(sc.run.confidence * 100)
    summary = results.summary_records
    rows = []
    for name, row in summary.items():
        mark = " "
        if name in results.not_modelled:
            ci = "not in this scenario"
        else:
            ci = f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
            # A mark for an interval bent to the KPI's range (clipped at 0, or every
            # replication at 0 or 1); the logit scale of shares is said once, below.
            note = str(row.get("interval") or "")
            if note and note != "logit":
                mark = "°"
        label = KPI_LABELS.get(name, "")
        rows.append((name, label, _fmt(row["mean"]), ci, mark, share_denominator(name)))
    w_name = max([len("KPI"), *(len(r[0]) for r in rows)]) + 2
    w_label = max([4, *(display_width(r[1]) for r in rows)]) + 2
    w_ci = max([12, *(len(r[3]) for r in rows)]) + 2
    lines = [
        f"{sc.name}: {plural(results.replications, 'replication')}, seed {results.seed}, "
        f"{sc.run.horizon_days:g} days after {sc.run.warmup_days:g} days warm-up",
        "",
        pad("KPI", w_name) + pad("指标", w_label) + pad("mean", 12, True)
        + pad(f"{conf}% CI", w_ci, True) + "   share of 分母",
    ]  # fmt: skip
    for name, label, mean, ci, mark, denominator in rows:
        line = pad(name, w_name) + pad(label, w_label) + pad(mean, 12, True) + pad(ci, w_ci, True)
        lines.append((line + mark + "  " + denominator).rstrip())
    lines += ["", *_interval_notes(results, conf)]
    targets = results.target_records
    if targets:
        lines += [
            "",
            pad("target", w_name) + pad("目标", w_label) + pad("goal", 12, True)
            + pad("mean", 12, True) + "  verdict",
        ]  # fmt: skip
        verdicts = []
        for row in targets.values():
            verdict = "met 达标" if row["met"] else "NOT met 未达标"
            if row["met"] and not row["met_with_confidence"]:
                verdict += f" (not with {conf}% confidence)"
            verdicts.append(verdict)
        w_verdict = max(display_width(v) for v in verdicts) + 2
        for (name, row), verdict in zip(targets.items(), verdicts, strict=True):
            goal = f"{row['sense']} {_fmt(row['target'])}"
            label = row["label"] or KPI_LABELS.get(name, "")
            line = (
                pad(name, w_name) + pad(label, w_label) + pad(goal, 12, True)
                + pad(_fmt(row["mean"]), 12, True) + "  " + pad(verdict, w_verdict)
            )  # fmt: skip
            lines.append((line + share_denominator(str(name))).rstrip())
        if not all(row.get("reliable", True) for row in targets.values()):
            share = summary["open_share"]["mean"]
            lines += [
                "",
                f"warning 注意: {share:.0%} of the disputes were still open at the end of the run;"
                " the shares count concluded disputes only, so these verdicts are unreliable"
                " (未办结过多, 结论不可靠). Run longer or let it drain (run.drain).",
            ]
    return "\n".join(lines)


def _interval_notes(results: Any, conf: int) -> list[str]:
    """What the intervals are, under the KPI table (docs/model.md, KPIs)."""
    from sim.scenario.text import plural

    n = results.replications
    if n < 2:
        return [
            f"{plural(n, 'replication')}: no confidence interval (a spread needs at least 2; "
            "use --replications)"
        ]
    return [
        f"{conf}% CI: Student-t over the {n} replications; shares on the logit scale (so inside"
        " 0–1), counts, days and yuan clipped at 0.",
        "° an interval clipped at 0, or a share at 0 (or 1) in every replication: a point, not"
        " certainty.",
    ]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
