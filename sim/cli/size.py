"""``sim size``: least-cost staffing (编制测算), the quota verdict and the analytic screen.

Registered through the ``sim.commands`` entry-point group (pyproject.toml). Bad input exits with
status 2 and one line per problem; so does a target no staffing reaches with ``--headcount-only``.
The default package search answers an unreachable target with its verdict (不可达) and exit 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.main import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    add_set_option,
    load_for_command,
    refuse_outputs_over_inputs,
)
from sim.experiments.executors import available_cores
from sim.experiments.files import safe_cells
from sim.scenario.errors import InputProblem, ScenarioError

if TYPE_CHECKING:  # the sizing layer loads only when the command runs
    from sim.scenario.schema import Scenario
    from sim.sizing.analytic import Screen

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sim size`` (编制测算: least-cost staffing, the quota check) to ``sim``."""
    p = subparsers.add_parser(
        "size",
        help="least-cost full-time staffing that meets the targets, and its budget (编制测算)",
        description=(
            "Search staffing per level, township and committee for the least yearly cost that "
            "meets every target of the scenario: a target is met when the one-sided bound of "
            "its mean over replications, at run.confidence, meets it. Quotas are floors "
            "unless --allow-below-quota."
        ),
    )
    p.add_argument("scenario", help="scenario TOML file")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check-quotas",
        action="store_true",
        help="run the scenario at the quota staffing: met / not met per target and township",
    )
    mode.add_argument(
        "--screen-only",
        action="store_true",
        help="print the analytic screen (per pool and KPI) without simulating",
    )
    mode.add_argument(
        "--compare-screen",
        action="store_true",
        help="the analytic screen beside simulation, KPI by KPI",
    )
    p.add_argument(
        "--demand",
        default="1.0",
        metavar="M,M,...",
        help="demand multipliers to size for in one call, e.g. 0.8,1.0,1.2,1.5",
    )
    p.add_argument("--budget", type=float, metavar="YUAN", help="yearly budget ceiling")
    p.add_argument(
        "--allow-below-quota", action="store_true", help="let headcounts go below the quotas"
    )
    p.add_argument(
        "--headcount-only",
        action="store_true",
        help="search full-time headcount alone (the default searches the cheapest package of "
        "measures 最低成本措施组合 when the scenario has an active non-headcount lever)",
    )
    p.add_argument("--replications", "-r", type=int, help="replications of the final check")
    p.add_argument(
        "--search-replications", type=int, help="replications while searching (default half)"
    )
    p.add_argument("--seed", type=int, help="base random seed (common random numbers)")
    p.add_argument(
        "--workers",
        type=int,
        help="processes for replications (default: all cores; the numbers are the same)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write CSV, JSON and the frontier plot here, and every replication as it finishes "
        "(DIR/evaluations)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run that --out DIR holds (same scenario and options), reading the "
        "replications on disk instead of simulating them again",
    )
    p.add_argument("--json", dest="json_out", metavar="PATH|-", help="write the result as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines or bars on stderr")
    add_set_option(p)
    p.set_defaults(func=_size)
    return p


def _demand(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not v > 0 or v != v or v == float("inf") for v in values):
        raise ScenarioError(
            [InputProblem("--demand", "", text, "positive multipliers, e.g. 0.8,1.0,1.2,1.5")]
        )
    return values


def _size(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ScenarioError([InputProblem("--workers", "", args.workers, "a positive integer")])
    if args.seed is not None and args.seed < 0:
        raise ScenarioError(
            [InputProblem("--seed", "", args.seed, "expected a non-negative integer")]
        )
    demand = _demand(args.demand)
    _check_resume(args)
    refuse_outputs_over_inputs({"--out": args.out, "--json": args.json_out}, [args.scenario])
    scenario = load_for_command(args)
    # All cores unless told: serial and parallel runs give the same numbers.
    workers = args.workers or available_cores()
    common = {"replications": args.replications, "seed": args.seed, "workers": workers}
    if args.screen_only:
        return _screen_only(args, scenario)
    if args.compare_screen:
        return _compare_screen(args, scenario, common)
    if args.check_quotas:
        return _check_quotas(args, scenario, common)
    return _search(args, scenario, demand, common)


def _check_resume(args: argparse.Namespace) -> None:
    """--resume continues a search written to --out: it needs both."""
    if not args.resume:
        return
    other = next(
        (f"--{m.replace('_', '-')}" for m in ("check_quotas", "screen_only", "compare_screen")
         if getattr(args, m)),
        None,
    )  # fmt: skip
    if other is not None:
        raise ScenarioError(
            [InputProblem("--resume", "", other, "the search (no --check-quotas, --screen-only "
                          "or --compare-screen): only the search keeps its replications")]
        )  # fmt: skip
    if not args.out:
        raise ScenarioError(
            [InputProblem("--resume", "", InputProblem.MISSING, "--out DIR, the folder of the "
                          "run to continue")]
        )  # fmt: skip


def _screen_only(args: argparse.Namespace, scenario: Scenario) -> int:
    from sim.sizing.analytic import screen

    result = screen(scenario)
    if args.json_out:
        _json(
            args.json_out,
            {
                "scenario": scenario.name,
                "exact": result.exact,
                "approximations": result.approximations,
                "overloaded": result.overloaded,
                "kpis": result.kpis,
                "pools": result.pools.to_dict(orient="records"),
            },
        )
        if args.json_out == "-":
            return EXIT_OK
    print(_format_screen_only(result))
    return EXIT_OK


def _compare_screen(args: argparse.Namespace, scenario: Scenario, common: dict[str, Any]) -> int:
    from sim.sizing import output as sizing_output
    from sim.sizing.confirmation import compare_screen

    table = compare_screen(scenario, **common)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        safe_cells(table).to_csv(folder / "screen_vs_simulation.csv", encoding="utf-8-sig")
    print(sizing_output.format_screen(table))
    return EXIT_OK


def _check_quotas(args: argparse.Namespace, scenario: Scenario, common: dict[str, Any]) -> int:
    from sim.sizing import output as sizing_output
    from sim.sizing.confirmation import check_quotas

    verdict = check_quotas(scenario, **common)
    if args.out:
        sizing_output.write_quotas(verdict, args.out)
    if args.json_out:
        _json(args.json_out, verdict.to_dict())
        if args.json_out == "-":
            return EXIT_OK
    print(sizing_output.format_quotas(verdict))
    return EXIT_OK


def _search(
    args: argparse.Namespace, scenario: Scenario, demand: list[float], common: dict[str, Any]
) -> int:
    import contextlib

    from sim.sizing import output as sizing_output
    from sim.sizing.size import size
    from sim.sizing.store import EVALUATIONS, EvaluationStore, prepare_out

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"sim size: {msg}", file=sys.stderr)

    def warn(msg: str) -> None:
        print(f"sim size: warning: {msg}", file=sys.stderr)

    store = None
    if args.out:
        # Checked and marked before any work; the evaluations go in as they finish.
        folder = prepare_out(args.out)
        store = EvaluationStore(folder / EVALUATIONS, args.resume, log=progress, warn=warn)
    # The lock is held until the outputs are written: a second run cannot interleave them.
    with store.locked() if store is not None else contextlib.nullcontext():
        if store is not None and not args.resume:
            _refuse_earlier_run(args.out, store.manifest_path)
        try:
            result = size(
                scenario,
                demand=demand,
                budget=args.budget,
                allow_below_quota=args.allow_below_quota,
                search_replications=args.search_replications,
                progress=None if args.quiet else progress,  # no verdicts computed for nobody
                progress_bars=not args.quiet and sys.stderr.isatty(),
                store=store,
                package=False if args.headcount_only else None,
                **common,
            )
        except KeyboardInterrupt:
            if store is not None:
                print(
                    f"sim size: interrupted; the replications finished are kept in "
                    f"{store.folder}: rerun with --resume to continue",
                    file=sys.stderr,
                )
            raise
        if args.out:
            sizing_output.write_sizing(result, args.out)
            if len(result.frontier):  # the figure is drawn by sim.reports (one font lookup)
                from sim.reports.drawing import save
                from sim.reports.planning_figures import sizing_frontier

                save(sizing_frontier(result.frontier), Path(args.out) / "frontier.png")
    if args.json_out:
        _json(args.json_out, result.to_dict())
    if args.json_out != "-":
        print(sizing_output.format_sizing(result))
    if result.infeasible:
        for demand_level, problems in result.infeasible.items():
            for problem in problems:
                print(f"sim: error: demand ×{demand_level:g}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _refuse_earlier_run(out: str, manifest: Path) -> None:
    """An earlier run's stored replications are work: without --resume they are neither
    continued nor replaced (as ``sim sweep`` refuses a folder that holds a sweep). Checked
    under the store's lock, so no other run can start one in between."""
    from sim.sizing.store import SUFFIX

    if manifest.exists():
        stored = sum(1 for _ in manifest.parent.glob(f"*/*{SUFFIX}"))
        raise ScenarioError(
            [
                InputProblem(
                    "--out",
                    "",
                    out,
                    f"already holds a sizing run ({stored} replications stored); add --resume "
                    "to continue it, or choose another --out folder",
                )
            ]
        )


def _json(target: str, payload: dict[str, Any]) -> None:
    from sim.sizing.results import json_safe

    text = json.dumps(json_safe(payload), ensure_ascii=False, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            [InputProblem("--json", "", target, f"a writable path ({exc.strerror})")]
        ) from None


def _format_screen_only(result: Screen) -> str:
    lines = [
        "analytic screen 解析筛选 (" + ("exact" if result.exact else "approximate") + ")",
        "",
    ]
    for name, value in result.kpis.items():
        if value == value:  # not NaN
            lines.append(f"{name:<34}{value:>14.4g}")
    if result.overloaded:
        lines += ["", "overloaded pools (utilisation ≥ 1): " + ", ".join(result.overloaded)]
    if result.approximations:
        lines += ["", "approximations at work:"]
        lines += [f"  - {a}" for a in result.approximations]
    return "\n".join(lines)
