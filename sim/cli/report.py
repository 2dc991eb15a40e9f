"""``sim report RESULTS [--out FILE] [--lang zh|en]``: one HTML page from saved results.

Registered through the ``sim.commands`` entry point. Bad input (a missing folder, one that no
``sim`` command wrote, damaged files) raises :class:`~sim.scenario.errors.ScenarioError`: exit
status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from sim.cli.main import EXIT_OK, refuse_outputs_over_inputs
from sim.experiments.files import temporary_name
from sim.scenario.errors import InputProblem, ScenarioError

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Add the ``report`` command to ``sim``."""
    p = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report of a run, sweep or sizing folder",
        description="Write one HTML file with the tables and figures of RESULTS (a folder "
        "written by sim run --out, sim sweep --out, sim sensitivity --out or sim size --out). "
        "The page has everything inside it and opens offline in a browser.",
    )
    p.add_argument("results", metavar="RESULTS", help="results folder")
    p.add_argument(
        "--out", "-o", metavar="FILE", help="HTML file to write (default RESULTS/report.html)"
    )
    p.add_argument(
        "--lang",
        choices=("zh", "en"),
        default="zh",
        help="language of the figures: zh (Chinese, default; English and pinyin if no CJK "
        "font is installed) or en (English, pinyin place names)",
    )
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # a command never needs a window
    from sim.reports.html import write_report

    # Written under a temporary name beside the target and renamed over it: a failure half
    # way leaves the old report (or none), never a cut page under the final name.
    results = Path(args.results)
    target = (
        Path(args.out)
        if args.out is not None
        else (results if results.is_dir() else results.parent) / "report.html"
    )
    # The results folder's own files are inputs: never write the page over one of them.
    read = [p for p in results.iterdir() if p.is_file()] if results.is_dir() else [results]
    refuse_outputs_over_inputs({"--out": target}, read)
    tmp = temporary_name(target)
    try:
        write_report(args.results, tmp, args.lang)
        os.replace(tmp, target)
    except OSError as exc:
        raise ScenarioError(
            [InputProblem("--out", "", str(target), f"a writable file ({exc.strerror or exc})")]
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    print(f"report written to {target}")
    return EXIT_OK
