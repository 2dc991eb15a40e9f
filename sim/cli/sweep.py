"""Commands for experiments at scale: ``sim sweep``, ``sweep-plot``, ``warmup``, ``advise``,
``sensitivity``.

Registered through the ``sim.commands`` entry point (``add_parser``). Each handler returns an
exit code and raises :class:`~sim.scenario.errors.ScenarioError` for bad input (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.main import (
    EXIT_OK,
    add_executor_options,
    add_set_option,
    executor_options,
    load_for_command,
)
from sim.experiments.files import output_errors, safe_cells, write_atomic
from sim.scenario.errors import InputProblem, ScenarioError

if TYPE_CHECKING:  # pandas is imported by the commands, not by `sim --help`
    import pandas as pd

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Add the sweep, sweep-plot, warmup, advise and sensitivity commands to ``sim``."""
    sw = subparsers.add_parser(
        "sweep",
        help="run a sweep file: a grid of what-if variants with common random numbers",
        description="Run a sweep file (docs/sweeps.md). Each finished point is written to "
        "--out at once; --resume continues an interrupted sweep.",
    )
    sw.add_argument("sweep", help="sweep TOML file")
    sw.add_argument("--out", "-o", required=True, metavar="DIR", help="results folder")
    _add_executor_options(sw)
    sw.add_argument(
        "--plot", action="store_true", help="also draw the standard plots into DIR/plots"
    )
    sw.set_defaults(func=_sweep)

    pl = subparsers.add_parser(
        "sweep-plot",
        help="plot a KPI of a finished sweep over one axis (CI bands) or two (heatmap)",
    )
    pl.add_argument("folder", metavar="DIR", help="sweep results folder")
    pl.add_argument("--kpi", required=True, help="KPI to plot, e.g. minor_kept_in_village")
    pl.add_argument("--x", help="axis along x (default: the first axis)")
    pl.add_argument("--y", help="second axis: draws a heatmap with the target contour")
    pl.add_argument("--by", help="one line per value of this axis (line plot only)")
    pl.add_argument("--out", "-o", metavar="PNG", help="figure file (default DIR/plots/...)")
    pl.add_argument(
        "--lang",
        choices=("zh", "en"),
        default="zh",
        help="labels in Chinese (zh, default) or English (en)",
    )
    pl.set_defaults(func=_sweep_plot)

    wu = subparsers.add_parser(
        "warmup", help="detect the warm-up period of a scenario (MSER-5 on its time series)"
    )
    wu.add_argument("scenario", nargs="?", help="scenario TOML file (default: bundled Qujiang)")
    wu.add_argument("--replications", "-r", type=int, default=5, help="replications (5)")
    wu.add_argument("--seed", type=int, help="base random seed")
    wu.add_argument(
        "--measure",
        default="present",
        choices=("present", "waiting", "busy"),
        help="time series to truncate: cases present (default), waiting or busy, per level",
    )
    wu.add_argument("--batch", type=int, default=5, help="MSER batch size (5: MSER-5)")
    add_set_option(wu)
    wu.add_argument("--json", dest="json_out", metavar="PATH|-", help="write results as JSON")
    wu.set_defaults(func=_warmup)

    ad = subparsers.add_parser(
        "advise", help="how many replications give CIs within a relative precision"
    )
    ad.add_argument("scenario", nargs="?", help="scenario TOML file (default: bundled Qujiang)")
    ad.add_argument(
        "--precision",
        type=float,
        default=0.05,
        help="wanted CI half-width as a share of the mean (0.05 = ±5%%)",
    )
    ad.add_argument("--pilot", type=int, default=10, help="pilot replications (10)")
    ad.add_argument("--seed", type=int, help="base random seed")
    ad.add_argument(
        "--kpi", action="append", default=[], help="KPI or pattern (repeatable; default: all)"
    )
    add_set_option(ad)
    ad.add_argument("--json", dest="json_out", metavar="PATH|-", help="write results as JSON")
    ad.set_defaults(func=_advise)

    se = subparsers.add_parser(
        "sensitivity",
        help="Morris screening or Sobol indices over scenario keys (SALib)",
        description="Run a sensitivity file (docs/sweeps.md): which assumption decides "
        "whether a target such as 小事不出村 is met?",
    )
    se.add_argument("spec", help="sensitivity TOML file")
    se.add_argument("--out", "-o", required=True, metavar="DIR", help="results folder")
    _add_executor_options(se)
    se.set_defaults(func=_sensitivity)


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    add_executor_options(p)
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )


def _executor_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The executor options of ``args`` (checked, see :func:`executor_options`), with the
    sweep's own --resume and --progress."""
    return {**executor_options(args), "resume": args.resume, "progress": args.progress}


@contextlib.contextmanager
def _plain_warnings() -> Iterator[None]:
    """Warnings (no CJK font) as ``sim: warning:`` lines, once each, without source lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"sim: warning: {message}", file=sys.stderr)


# --- sim sweep -----------------------------------------------------------------------------


def _sweep(args: argparse.Namespace) -> int:
    with output_errors("--out", args.out, "a writable folder"):
        return _run_sweep(args)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    """A table for a spreadsheet, whole or not at all, without formulas (files.safe_cells)."""
    safe = safe_cells(table)
    write_atomic(path, lambda tmp: safe.to_csv(tmp, index=False))


def _run_sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.experiments.sweep import run_points
    from sim.experiments.sweep_plan import plan_sweep
    from sim.experiments.sweep_results import load_sweep, paired_differences, summarise_sweep

    plan = plan_sweep(args.sweep)
    print(
        f"sweep {plan.name!r}: {len(plan.points)} points × {plan.replications} replications, "
        f"seed {plan.seed}, executor {args.executor} → {args.out}",
        file=sys.stderr,
    )
    done = run_points(plan, args.out, **_executor_kwargs(args))
    if done["skipped"]:
        print(
            f"resumed: {len(done['skipped'])} points already done, "
            f"{len(done['computed'])} computed now",
            file=sys.stderr,
        )
    df = load_sweep(args.out)
    out = Path(args.out)
    summary = summarise_sweep(df)
    _write_csv(summary, out / "summary.csv")
    diffs = paired_differences(df) if len(plan.points) > 1 else pd.DataFrame()
    if not diffs.empty:
        _write_csv(diffs, out / "differences.csv")
    print(_format_sweep(df, summary, diffs))
    if args.plot:
        with _plain_warnings():
            written = _standard_plots(df, out / "plots")
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _shown_kpis(df: pd.DataFrame) -> list[str]:
    """The KPIs with targets (the planners' questions) if kept, else the first few."""
    meta = df.attrs.get("sweep", {})
    labels = set(meta.get("label_columns", [])) | {"point", "replication", "seed"}
    kept = [c for c in df.columns if c not in labels]
    targeted = [k for k in meta.get("targets", {}) if k in kept]
    return targeted or kept[:3]


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _format_sweep(df: pd.DataFrame, summary: pd.DataFrame, diffs: pd.DataFrame) -> str:
    meta = df.attrs["sweep"]
    labels = meta["label_columns"]
    kpis = _shown_kpis(df)
    lines = [f"{meta['points_done']} of {meta['points_total']} points; mean [95% CI]:"]
    table = summary[summary["kpi"].isin(kpis)].copy()
    table["value"] = [
        f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"
        for m, lo, hi in zip(table["mean"], table["ci_low"], table["ci_high"], strict=True)
    ]
    wide = table.pivot_table(
        index=["point", *labels], columns="kpi", values="value", aggfunc="first", sort=False
    )
    lines.append(wide[[k for k in kpis if k in wide.columns]].to_string())
    if not diffs.empty:
        d = diffs[diffs["kpi"].isin(kpis)].copy()
        d["value"] = [
            f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"
            for m, lo, hi in zip(d["difference"], d["ci_low"], d["ci_high"], strict=True)
        ]
        wide = d.pivot_table(
            index=["point", *labels], columns="kpi", values="value", aggfunc="first", sort=False
        )
        lines.append(f"\npaired difference from baseline {meta['baseline']} (CRN) [95% CI]:")
        lines.append(wide[[k for k in kpis if k in wide.columns]].to_string())
    return "\n".join(lines)


def _standard_plots(df: pd.DataFrame, folder: Path) -> list[Path]:
    """One figure per shown KPI: a line over the first axis, or a heatmap of the first two."""
    from sim.reports import plots

    folder.mkdir(parents=True, exist_ok=True)
    axes = [a["label"] for a in df.attrs["sweep"]["axes"]]
    written = []
    for kpi in _shown_kpis(df):
        path = folder / f"{_safe(kpi)}.png"
        if len(axes) >= 2:
            fig = plots.heatmap(df, kpi, axes[0], axes[1])
        elif axes:
            fig = plots.kpi_over_axis(df, kpi, axes[0])
        elif "variant" in df.columns:
            fig = plots.kpi_over_axis(df, kpi, "variant")
        else:
            continue
        plots.save(fig, path)
        written.append(path)
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _plot_axes(args: argparse.Namespace, labels: list[str]) -> str:
    """The x axis of ``sweep-plot``: ``--x``, else the first axis that is not ``--y``/``--by``.

    A plot needs distinct axes: x against itself (``--y`` or ``--by`` equal to x) is a
    ScenarioError naming the options, as is a second axis on a one-axis sweep.
    """
    if args.y and args.by:
        raise ScenarioError(
            [InputProblem("--by", "", args.by, "--by draws lines, --y a heatmap: give one")]
        )
    other = args.y or args.by
    option = "--y" if args.y else "--by"
    x = args.x or next((a for a in labels if a != other), None)
    if x is None:
        expected = f"a second axis; this sweep has only {labels[0]}: leave {option} out"
        raise ScenarioError([InputProblem(option, "", other, expected)])
    if x == other:
        expected = f"an axis other than --x ({x}); the sweep's axes: {', '.join(labels)}"
        raise ScenarioError([InputProblem(option, "", other, expected)])
    return x


def _sweep_plot(args: argparse.Namespace) -> int:
    from sim.experiments.sweep_results import load_sweep
    from sim.reports import plots

    df = load_sweep(args.folder)
    meta = df.attrs["sweep"]
    labels = meta["label_columns"]
    problems = [
        InputProblem(f"--{opt}", "", val, f"expected one of the sweep's axes: {', '.join(labels)}")
        for opt, val in (("x", args.x), ("y", args.y), ("by", args.by))
        if val is not None and val not in labels
    ]
    if args.kpi not in df.columns or args.kpi in labels:
        problems.append(InputProblem("--kpi", "", args.kpi, "not a KPI kept by this sweep"))
    if not labels:
        problems.append(InputProblem(args.folder, "", InputProblem.MISSING, "sweep has no axes"))
    if problems:
        raise ScenarioError(problems)
    x = _plot_axes(args, labels)
    with _plain_warnings():
        if args.y:
            fig = plots.heatmap(df, args.kpi, x, args.y, language=args.lang)
        else:
            fig = plots.kpi_over_axis(df, args.kpi, x, by=args.by, language=args.lang)
    path = Path(args.out) if args.out else Path(args.folder) / "plots" / f"{_safe(args.kpi)}.png"
    with output_errors("--out" if args.out else args.folder, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        plots.save(fig, path)
    print(f"wrote {path}")
    return EXIT_OK


# --- sim warmup / advise -------------------------------------------------------------------


def _check_positive(name: str, value: int | float | None) -> None:
    if value is not None and value <= 0:
        raise ScenarioError([InputProblem(name, "", value, "expected a positive number")])


def _write_json(data: Any, target: str) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        with output_errors("--json", target):
            write_atomic(target, text)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", force_ascii=False))


def _warmup(args: argparse.Namespace) -> int:
    from sim.experiments.output_analysis import detect_warmup

    _check_positive("--replications", args.replications)
    _check_positive("--batch", args.batch)
    if args.seed is not None and args.seed < 0:
        raise ScenarioError(
            [InputProblem("--seed", "", args.seed, "expected a non-negative integer")]
        )
    scenario = load_for_command(args)
    result = detect_warmup(
        scenario,
        replications=args.replications,
        seed=args.seed,
        measure=args.measure,
        batch=args.batch,
    )
    if args.json_out:
        _write_json(
            {
                "scenario": scenario.name,
                "suggested_warmup_days": result.suggested_days,
                "scenario_warmup_days": scenario.run.warmup_days,
                "levels": _records(result.table.reset_index()),
            },
            args.json_out,
        )
        if args.json_out == "-":
            return EXIT_OK
    print(result.describe())
    return EXIT_OK


def _advise(args: argparse.Namespace) -> int:
    from sim.experiments.output_analysis import advise_replications
    from sim.experiments.sweep_spec import select_kpis

    _check_positive("--precision", args.precision)
    _check_positive("--pilot", args.pilot)
    if args.pilot is not None and args.pilot < 2:
        raise ScenarioError([InputProblem("--pilot", "", args.pilot, "expected at least 2")])
    scenario = load_for_command(args)
    kpis = select_kpis(args.kpi, "--kpi", key="")
    table = advise_replications(
        scenario, rel_precision=args.precision, pilot=args.pilot, seed=args.seed, kpis=kpis
    )
    if args.json_out:
        _write_json(
            {"scenario": scenario.name, "kpis": _records(table.reset_index())}, args.json_out
        )
        if args.json_out == "-":
            return EXIT_OK
    shown = table.copy()
    for col in ("mean", "std", "half_width", "relative_half_width"):
        shown[col] = shown[col].map(_fmt)
    print(
        f"{scenario.name}: {args.pilot} pilot replications; replications needed for a "
        f"{scenario.run.confidence:.0%} CI within ±{args.precision:.0%} of the mean:"
    )
    print(shown.to_string())
    need = table["replications_needed"].dropna()
    if len(need):
        print(f"\nlargest: {int(need.max())} ({need.idxmax()})")
    return EXIT_OK


# --- sim sensitivity -----------------------------------------------------------------------


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.experiments.sensitivity import run_sensitivity
    from sim.reports import plots

    with output_errors("--out", args.out, "a writable folder"):
        result = run_sensitivity(args.spec, args.out, **_executor_kwargs(args))
        out = Path(args.out)
        _write_csv(result.indices, out / "indices.csv")
        plot_dir = out / "plots"
        plot_dir.mkdir(exist_ok=True)
        for kpi in result.indices["kpi"].unique():
            path = plot_dir / f"sensitivity_{_safe(kpi)}.png"
            with _plain_warnings():
                plots.save(plots.tornado(result.indices, kpi), path)
            print(f"wrote {path}", file=sys.stderr)
    print(result.describe())
    return EXIT_OK
