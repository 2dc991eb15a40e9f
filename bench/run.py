"""Paired benchmark: one Qujiang year (A) against the reference SimPy network (B).

Runs ../shared/bench/pairbench.py (A B A B ..., whole processes, medians and pair-by-pair ratios)
with A = ``python bench/qujiang_year.py`` and B = ``python <shared>/simpy_model.py
--township-servers 3 --district-servers 32``, then runs a few more A B pairs (``--captures``) to
keep their JSON (events, disputes, in-process seconds). Writes bench/results/latest.json and
latest.md.

Usage: python bench/run.py [-n 5] [--warmup 1] [--captures 3] [--years 1] [--shared DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
REFERENCE_ARGS = ["--township-servers", "3", "--district-servers", "32"]
# pairbench prints text rows "<name> <min> <median> <max>"; this is the parser for them.
ROW = re.compile(r"^(A/B|A|B) (wall s|cpu s|peak MiB|wall|cpu)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=5, help="timed pairs (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up pairs (default 1)")
    p.add_argument("--years", type=float, default=1.0, help="simulated years for A and B")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder of pairbench.py")
    p.add_argument("--scenario", default=None, help="scenario for A (default: bundled Qujiang)")
    p.add_argument(
        "--captures", type=int, default=3, help="A B runs kept for in-process figures (default 3)"
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    return p.parse_args(argv)


def commands(args: argparse.Namespace, shared: Path) -> dict[str, list[str]]:
    a = [sys.executable, str(HERE / "qujiang_year.py"), "--years", str(args.years)]
    if args.scenario:
        a += ["--scenario", str(args.scenario)]
    b = [sys.executable, str(shared / "simpy_model.py"), *REFERENCE_ARGS]
    return {"A": a, "B": [*b, "--years", str(args.years)]}


def pairbench(shared: Path, cmds: dict[str, list[str]], n: int, warmup: int) -> dict[str, Any]:
    argv = [sys.executable, str(shared / "pairbench.py"), "-n", str(n), "--warmup", str(warmup)]
    argv += ["--a", shlex.join(cmds["A"]), "--b", shlex.join(cmds["B"])]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    if "non-zero exit codes" in out:
        sys.exit(f"a benchmarked command failed:\n{out}")
    stats: dict[str, dict[str, float]] = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            key = f"{m[1]} {m[2]}"
            values = map(float, m.group(3, 4, 5))
            stats[key] = dict(zip(("min", "median", "max"), values, strict=True))
    if "A/B wall" not in stats:
        sys.exit(f"could not read pairbench output:\n{out}")
    return {"argv": argv, "text": out, "stats": stats}


def capture(argv: list[str]) -> dict[str, Any]:
    """One more run of a command, keeping the JSON it prints (its in-process figures)."""
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def git_state() -> dict[str, Any]:
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def capture_pairs(cmds: dict[str, list[str]], pairs: int) -> dict[str, list[dict[str, Any]]]:
    """``pairs`` more runs of A and B in turn, keeping their JSON (in-process figures)."""
    out: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for _ in range(pairs):
        for k in out:
            out[k].append(capture(cmds[k]))
    return out


def derived(cap: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Median pair-by-pair ratios of the in-process seconds, per run, event and dispute."""
    out: dict[str, float] = {}
    for per in ("run", "event", "dispute"):
        ratios = []
        for a, b in zip(cap["A"], cap["B"], strict=True):
            na, nb = (1, 1) if per == "run" else (a[per + "s"], b[per + "s"])
            ratios.append((a["wall_s"] / na) / (b["wall_s"] / nb))
        out[f"A/B in-process s per {per}"] = round(statistics.median(ratios), 3)
    return out


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def markdown(result: dict[str, Any]) -> str:
    s, cap = result["pairbench"]["stats"], result["capture"]

    def med(key: str, fmt: str = "{:.3f}") -> str:
        return fmt.format(s[key]["median"]) if key in s else "-"

    def rng(key: str) -> str:
        v = s[key]
        return f"{v['median']:.3f} ({v['min']:.3f}–{v['max']:.3f})"

    def cells(runs: list[dict[str, Any]]) -> str:
        x, wall = runs[0], median_of(runs, "wall_s")
        ev, n = x.get("events") or 0, x["disputes"]
        per = f"{ev / n:.1f} | {ev / wall:,.0f}" if ev and n and wall else "- | -"
        return f"{wall:.3f} | {n:,} | {ev:,} | {per}"

    lines = [
        f"# Benchmark {result['when']}",
        "",
        f"n = {result['n']} pairs after {result['warmup']} warm-up, {result['years']:g} year(s);"
        f" commit {result['git']['commit'][:10]}{' (dirty)' if result['git']['dirty'] else ''};"
        f" {result['machine']['cpus']} CPUs, Python {result['machine']['python']}.",
        "",
        "| | whole-process wall s | cpu s | peak MiB | in-process s | disputes | events"
        " | events/dispute | events/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, name in (("A", "A: Qujiang year"), ("B", "B: reference SimPy")):
        lines.append(
            f"| {name} | {med(k + ' wall s')} | {med(k + ' cpu s')}"
            f" | {med(k + ' peak MiB', '{:.1f}')} | {cells(cap[k])} |"
        )
    lines += [
        "",
        "Paired ratios (median of the pair-by-pair ratios, min–max):",
        "",
        f"- **A/B wall: {rng('A/B wall')}**",
        f"- A/B cpu: {rng('A/B cpu')}",
    ]
    pairs = len(cap["A"])
    lines += [f"- {k} ({pairs} capture pairs): {v}" for k, v in result["derived"].items()]
    lines += [
        f"- `import sim` inside A (median of captures): {median_of(cap['A'], 'import_s'):.3f} s",
        "",
        "Whole-process figures include interpreter start and imports; in-process seconds"
        " (medians of the capture runs) are model build + run. Read ratios from one paired run,"
        " not seconds across runs.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    shared = args.shared.resolve()
    missing = [f for f in ("pairbench.py", "simpy_model.py") if not (shared / f).is_file()]
    if missing:
        sys.exit(
            f"bench/run.py: {', '.join(missing)} not found in {shared}; the reference benchmark"
            " lives in shared/bench beside the checkout. Pass --shared DIR to point at it."
        )
    cmds = commands(args, shared)
    print(f"pairbench: n={args.n}, warm-up {args.warmup} (this takes a while)...", flush=True)
    pb = pairbench(shared, cmds, args.n, args.warmup)
    print(pb["text"], flush=True)
    cap = capture_pairs(cmds, max(args.captures, 1))
    result: dict[str, Any] = {
        "when": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "n": args.n,
        "warmup": args.warmup,
        "years": args.years,
        "commands": {k: shlex.join(v) for k, v in cmds.items()},
        "git": git_state(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
        "pairbench": pb,
        "capture": cap,
        "derived": derived(cap),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    md = markdown(result)
    (args.out / "latest.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")


if __name__ == "__main__":
    main()
