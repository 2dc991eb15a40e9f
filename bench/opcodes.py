"""Python bytecodes executed per dispute: a measure of work that machine noise cannot move.

Seconds on a shared 2-core machine swing by ±30% from run to run; the number of bytecode
instructions the interpreter executes for one replication does not (it moves only when the code
or the random draws change). Runs the reduced model (bench/reduced_model.py's scenario) or the
reference SimPy script under ``sys.settrace`` with opcode events, and prints JSON: opcodes in
all, per dispute, and the functions that execute the most per dispute. Tracing slows the run
~20×; the default is the reference network (20 townships, 32 district mediators), ~15 s.

``qujiang`` counts the full-featured Qujiang year of bench/qujiang_year.py instead (every
mechanism of issue 13 on; ~2 minutes traced): the figure to read when a change is meant to make
the mechanisms cheaper, since the reduced model does not run them.

Usage: python bench/opcodes.py sim|simpy|qujiang [--townships 20 --district-servers 32] [--top 15]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def count(run: Any) -> tuple[collections.Counter, Any]:
    """Opcodes executed by ``run()``, per (file, function)."""
    counts: collections.Counter = collections.Counter()

    def local(frame, event, arg):
        if event == "opcode":
            code = frame.f_code
            counts["/".join(code.co_filename.rsplit("/", 2)[-2:]), code.co_name] += 1
        return local

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    sys.settrace(tracer)
    try:
        out = run()
    finally:
        sys.settrace(None)
    return counts, out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("engine", choices=["sim", "simpy", "qujiang"])
    p.add_argument("--townships", type=int, default=20)
    p.add_argument("--district-servers", type=int, default=32)
    p.add_argument("--shared", type=Path, default=HERE.parents[1] / "shared" / "bench")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    net = ["--townships", str(args.townships), "--district-servers", str(args.district_servers)]
    if args.engine in ("sim", "qujiang"):
        sys.path.insert(0, str(HERE.parent))
        import sim

        if args.engine == "sim":
            from bench.reduced_model import overrides, parse_args

            reduced = parse_args(net)
            scenario = sim.load_scenario(reduced.scenario, overrides(reduced))
            seed: int | None = 1
        else:
            net = []  # the bundled scenario's own district
            scenario = sim.load_scenario(None, ["run.horizon_days=365"])  # as qujiang_year.py
            seed = None
        # Resolved before counting: `import sim` is lazy, and the first use of
        # simulate_replication imports the model (numpy's docstrings and all), which is not work
        # per dispute.
        replicate = sim.simulate_replication
        counts, rep = count(lambda: replicate(scenario, 0, seed))
        disputes = len(rep.cases)
    else:
        sys.path.insert(0, str(args.shared))
        import common
        import simpy_model

        cfg = common.Config(
            common.make_parser("simpy").parse_args(["--township-servers", "3", *net])
        )
        counts, out = count(lambda: simpy_model.run(cfg))
        disputes = len(out[0])
    total = sum(counts.values())
    json.dump(
        {
            "engine": args.engine,
            "network": net,
            "disputes": disputes,
            "opcodes": total,
            "opcodes_per_dispute": total / disputes,
            "top": {
                f"{f}:{fn}": round(n / disputes, 1) for (f, fn), n in counts.most_common(args.top)
            },
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
