"""``sim calibrate``: register in, calibrated scenario (and report, and backtest) out.

Registered with ``sim`` through the ``sim.commands`` entry point, so ``sim`` never imports
this package. Bad input raises :class:`~sim.scenario.errors.ScenarioError`; ``sim`` prints one line
per problem and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.main import EXIT_OK, add_set_option, refuse_outputs_over_inputs
from sim.scenario.errors import InputProblem, ScenarioError

if TYPE_CHECKING:  # pandas is imported by the commands, not by `sim --help`
    import pandas as pd

__all__ = ["add_parser", "run"]

_SHOWN_PROBLEMS = 10  # bad rows listed on stderr; all of them are in the quarantine file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand to ``sim``'s parser."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit a scenario to a case register (登记表), CSV or Excel",
        description=(
            "Read a register (CSV or .xlsx, English or Chinese headers), check every row, fit "
            "arrivals, shares, resolution probabilities and durations with intervals, and "
            "write a calibrated scenario that `sim validate` accepts. See docs/calibration.md."
        ),
    )
    p.add_argument("register", help="register file (.csv or .xlsx)")
    p.add_argument("--base", required=True, help="base scenario TOML: places, staffing, rest")
    p.add_argument("--out", required=True, help="calibrated scenario TOML to write")
    p.add_argument("--report", metavar="DIR", help="write an HTML report with figures here")
    p.add_argument(
        "--holdout",
        metavar="DATE",
        help="fit on the register before DATE and backtest on the part from DATE on",
    )
    p.add_argument("--strict", action="store_true", help="stop at the first bad row")
    p.add_argument(
        "--quarantine",
        metavar="PATH",
        help="CSV for bad rows (default: DIR/quarantine.csv with --report, else beside --out)",
    )
    p.add_argument("--confidence", type=float, default=0.9, help="interval level (0.9)")
    p.add_argument("--start", metavar="DATE", help="count arrivals from DATE (default: first)")
    p.add_argument(
        "--end",
        metavar="DATE",
        help="count arrivals before DATE (default: the end of the register's last day)",
    )
    p.add_argument("--as-of", metavar="DATE", help="date the register was taken (censoring)")
    p.add_argument(
        "--durations",
        choices=("auto", "elapsed", "effort", "none"),
        default="auto",
        help="how effort hours are fitted (see docs/calibration.md)",
    )
    p.add_argument(
        "--no-match-time",
        dest="match_time",
        action="store_false",
        default=None,
        help="do not set party delays / effort by simulation to match the days at each level",
    )
    p.add_argument("--sheet", help="Excel sheet of the register (default: 登记表 or the first)")
    p.add_argument("--name", help="name of the calibrated scenario")
    p.add_argument("--replications", type=int, default=30, help="backtest replications (30)")
    p.add_argument("--seed", type=int, default=1, help="seed of the backtest simulation")
    add_set_option(p)  # overrides of the base scenario
    p.set_defaults(func=run)


def _date(option: str, text: str | None) -> pd.Timestamp | None:
    import pandas as pd

    from .dates import DATE_FORMATS, parse_date

    if text is None:
        return None
    stamp = parse_date(text)
    if stamp is None or stamp is pd.NaT:
        raise ScenarioError([InputProblem(option, "", text, f"a date ({DATE_FORMATS})")])
    return stamp


def _check_options(args: argparse.Namespace) -> None:
    problems = []
    if not 0.5 < args.confidence < 1:
        problems.append(
            InputProblem("--confidence", "", args.confidence, "a level between 0.5 and 1")
        )
    if args.replications < 2:
        problems.append(InputProblem("--replications", "", args.replications, "at least 2"))
    if args.seed < 0:
        problems.append(InputProblem("--seed", "", args.seed, "a non-negative integer"))
    if problems:
        raise ScenarioError(problems)


def run(args: argparse.Namespace) -> int:
    """The command: read, check, fit, write; report and backtest when asked."""
    import pandas as pd

    from sim.scenario.loading import load_scenario

    from .backtest import backtest, truncate
    from .fitting import calibrate_register
    from .reading import read_register, write_quarantine
    from .scenario_out import write_scenario

    _check_options(args)
    start, end = _date("--start", args.start), _date("--end", args.end)
    as_of, holdout = _date("--as-of", args.as_of), _date("--holdout", args.holdout)
    base = load_scenario(args.base, args.overrides)
    refuse_outputs_over_inputs(
        {"--out": args.out, "--quarantine": args.quarantine, "--report": args.report},
        [args.register, args.base],
    )
    out = Path(args.out)
    register = read_register(args.register, base, strict=args.strict, sheet=args.sheet)

    print(
        f"{args.register}: {register.rows_read} rows read, {len(register.table)} used, "
        f"{register.bad_rows} quarantined"
    )
    if register.bad_rows:
        if args.quarantine:
            qpath = Path(args.quarantine)
        elif args.report:
            qpath = Path(args.report) / "quarantine.csv"
        else:
            qpath = out.with_name(out.stem + ".quarantine.csv")
        try:
            write_quarantine(register, qpath)
        except OSError as exc:
            option = "--quarantine" if args.quarantine else "--report" if args.report else "--out"
            raise _unwritable(option, str(qpath), exc) from None
        for problem in register.problems[:_SHOWN_PROBLEMS]:
            print(f"sim: warning: {problem}", file=sys.stderr)
        more = len(register.problems) - _SHOWN_PROBLEMS
        tail = f" ({more} more problems not shown)" if more > 0 else ""
        print(
            f"sim: warning: {register.bad_rows} bad rows set aside in {qpath}{tail}",
            file=sys.stderr,
        )

    full = register.table
    latest = pd.concat([full["entered_date"], full["ended_date"]]).max()
    register_as_of = as_of if as_of is not None else latest
    if holdout is not None:
        if not (full["entered_date"].min() < holdout < register_as_of):
            raise ScenarioError(
                [
                    InputProblem(
                        "--holdout",
                        "",
                        args.holdout,
                        f"a date inside the register ({full['entered_date'].min():%Y-%m-%d} "
                        f"to {register_as_of:%Y-%m-%d})",
                    )
                ]
            )
        register.table = truncate(full, holdout)
        end_fit = min(end, holdout) if end is not None else holdout
        fit = calibrate_register(
            register, base, start=start, end=end_fit, as_of=holdout,
            level=args.confidence, durations=args.durations, match_time=args.match_time,
        )  # fmt: skip
    else:
        fit = calibrate_register(
            register, base, start=start, end=end, as_of=as_of,
            level=args.confidence, durations=args.durations, match_time=args.match_time,
        )  # fmt: skip
    try:
        scenario = write_scenario(fit, args.base, out, name=args.name, overrides=args.overrides)
    except ScenarioError as exc:  # a fit the schema refuses: the register is the cause
        raise ScenarioError(
            p
            if p.source.startswith("--")  # --out could not be written: said as it is
            else InputProblem(
                args.register,
                "",
                InputProblem.MISSING,
                f"a register whose fit is a valid scenario; fitted {p.key} = {p.value!r}: "
                f"{p.expected} (do its times vary?)",
            )
            for p in exc.problems
        ) from None
    written = sum(1 for _ in fit.settings)
    print(
        f"wrote {out}: scenario {scenario.name!r}, {written} fitted keys "
        f"(period {fit.start:%Y-%m-%d} to {fit.end:%Y-%m-%d}, durations: {fit.duration_mode})"
    )
    print(_key_lines(fit))

    test = None
    if holdout is not None:
        register.table = full
        test = backtest(
            scenario, full, holdout, register_as_of,
            replications=args.replications, seed=args.seed, level=args.confidence,
            calibration=fit,
        )  # fmt: skip
        pct = round(args.confidence * 100)
        print(
            f"backtest from {holdout:%Y-%m-%d} to {register_as_of:%Y-%m-%d}: "
            f"{test.table['covered'].sum():.0f} of {test.table['covered'].notna().sum()} "
            f"observed measures inside their {pct}% prediction intervals "
            f"(coverage {test.coverage:.2f})"
        )
    if args.report:
        from .report import write_report

        try:
            index = write_report(fit, Path(args.report), backtest=test, base_path=args.base)
        except OSError as exc:  # a read-only or full disk: bad input, not our bug
            raise _unwritable("--report", args.report, exc) from None
        print(f"report: {index}")
    return EXIT_OK


def _unwritable(option: str, path: str, exc: OSError) -> ScenarioError:
    """The error for an output the operating system refused, naming the option and path."""
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != path else ""
    return ScenarioError([InputProblem(option, "", path, f"a writable path ({reason}{where})")])


def _key_lines(fit) -> str:
    pct = round(fit.level * 100)
    keys = [
        "arrivals.rate_per_1000_per_year",
        "discovery.sweep_share",
        "severity.minor",
        "ladder.village.resolve.full_time.minor",
        "ladder.township.resolve.full_time.major",
    ]
    p = fit.parameters.set_index("key")
    lines = [f"  {'key':<44}{'estimate':>10}  {pct}% interval"]
    for k in keys:
        if k in p.index:
            r = p.loc[k]
            lines.append(
                f"  {k:<44}{r['estimate']:>10.4g}  [{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
            )
    lines.append("  (all fitted values are in the scenario's header and the report)")
    return "\n".join(lines)
