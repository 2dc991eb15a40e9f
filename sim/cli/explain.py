"""``sim explain``: what binds each target (制约因素), and what each lever buys per 10,000 yuan.

Registered through the ``sim.commands`` entry-point group (pyproject.toml). Bad input exits with
status 2 and one line per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.cli.main import EXIT_OK, add_set_option, load_for_command
from sim.scenario.errors import InputProblem, ScenarioError

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sim explain`` (制约因素分析: ceiling, retention, levers per 10,000 yuan) to ``sim``."""
    p = subparsers.add_parser(
        "explain",
        help="what binds each target, and what each lever buys per 10,000 yuan (制约因素分析)",
        description=(
            "For each target: the ceiling/retention decomposition, whether headcount at its "
            "upper bounds meets it, and each lever of the catalogue ([levers]) moved one step, "
            "ranked by its effect per 10,000 yuan (paired replications with common random "
            "numbers, 95% interval of the paired difference)."
        ),
    )
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--replications", "-r", type=int, help="replications of each variant")
    p.add_argument("--seed", type=int, help="base random seed (common random numbers)")
    p.add_argument("--workers", type=int, default=1, help="processes for replications")
    p.add_argument("--json", dest="json_out", metavar="PATH|-", help="write the result as JSON")
    p.add_argument(
        "--lang",
        help="one language for the printed headers: zh or en (default: both)",
    )
    add_set_option(p)
    p.set_defaults(func=_explain)
    return p


def _explain(args: argparse.Namespace) -> int:
    from sim.sizing.explain import explain
    from sim.sizing.explain_output import LANGUAGES, format_explanation
    from sim.sizing.results import json_safe

    if args.lang is not None and args.lang not in LANGUAGES:
        raise ScenarioError([InputProblem("--lang", "", args.lang, "zh or en")])
    if args.workers is not None and args.workers < 1:
        raise ScenarioError([InputProblem("--workers", "", args.workers, "a positive integer")])
    if args.seed is not None and args.seed < 0:
        raise ScenarioError([InputProblem("--seed", "", args.seed, "a non-negative integer")])
    scenario = load_for_command(args)
    result = explain(scenario, replications=args.replications, seed=args.seed, workers=args.workers)
    if args.json_out:
        text = json.dumps(json_safe(result.to_dict()), ensure_ascii=False, indent=2) + "\n"
        if args.json_out == "-":
            sys.stdout.write(text)
            return EXIT_OK
        try:
            Path(args.json_out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                [InputProblem("--json", "", args.json_out, f"a writable path ({exc.strerror})")]
            ) from None
    print(format_explanation(result, args.lang))
    return EXIT_OK
