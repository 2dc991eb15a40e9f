"""``sim report RESULTS [--out FILE] [--lang zh|en]``: one HTML page from saved results.

Registered through the ``sim.commands`` entry point. Bad input (a missing folder, one that no
``sim`` command wrote, damaged files) raises :class:`~sim.scenario.errors.ScenarioError`: exit
status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from sim.cli.main import EXIT_OK

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

    path = write_report(args.results, args.out, args.lang)
    print(f"report written to {path}")
    return EXIT_OK
