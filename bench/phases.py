"""Where `sim run bench/reference.toml -r 1` spends its time, phase by phase, and print JSON.

The modules are imported first, phase by phase, with the collector paused as ``sim run``
pauses it; then the command itself runs (:func:`sim.cli.main.main`, as the ``sim`` entry point
calls it, its ``--json -`` text captured), its steps marked where it calls them:

- ``numpy``, ``pydantic`` (``pydantic.main`` and what it imports), ``scenario_schema`` (our
  pydantic classes, ``sim.scenario.schema``; pydantic builds the validators of the defaults'
  classes here, and looks for its plugins' entry points), ``rest_of_sim`` (the command, the
  model, SimPy, the measures);
- ``load``: the command's start, reading and validating the scenario (pydantic builds the rest
  of its validators);
- ``replication``: up to the end of ``sim.simulate_replication`` inside ``simulate`` (the
  run's setup, then the model: build and run);
- ``measures``: the rest of ``simulate`` (records packed into columns, KPIs, the summary);
- ``output``: the ``--json -`` text, written to a buffer rather than the terminal.

``asyncio_imported`` says whether asyncio got imported (none of our code uses it):
typing_extensions before 4.16 imported it in ``deprecated()``, which pydantic_core applies at
import on Python < 3.13, ~0.07 s of every command (pyproject asks for 4.16 since).

``interpreter_s`` (start-up to this script's first line) is measured by the caller
(bench/run.py), which runs a bare ``python -c`` beside it.

Usage: python bench/phases.py [--scenario PATH]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (after T0: the script's own imports are timed too, as sim run's)
import contextlib  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "reference.toml"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(REFERENCE))
    args = p.parse_args(argv)
    phases: dict[str, float] = {}
    last = T0

    def mark(name: str) -> None:
        """The phase ``name`` ends now: it took the time since the last mark."""
        nonlocal last
        now = time.perf_counter()
        phases[name] = now - last
        last = now

    gc.disable()  # as in sim run, whose _run imports these with the collector paused
    import numpy  # noqa: F401

    mark("numpy")
    import pydantic.main  # noqa: F401

    mark("pydantic")
    import sim.scenario.schema  # noqa: F401

    mark("scenario_schema")
    import sim.cli.main as cli
    import sim.experiments.experiment as experiment

    mark("rest_of_sim")
    gc.enable()  # main() pauses the collector itself and freezes start-up out after the load

    # Then the command itself, as a user types it. Its steps are marked by wrappers where the
    # command looks them up (module attributes, read at call time).
    def mark_after(module, name: str, phase: str) -> None:
        original = getattr(module, name)

        def timed(*a, **k):
            result = original(*a, **k)
            mark(phase)
            return result

        setattr(module, name, timed)

    mark_after(cli, "load_for_command", "load")
    mark_after(experiment, "simulate_replication", "replication")
    mark_after(experiment, "simulate", "measures")
    sys.argv = ["sim", "run", args.scenario, "-r", "1", "--json", "-"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = cli.main()
    mark("output")
    json.dump(
        {
            "phases_s": phases,
            "exit_status": status,
            "kpis": sorted(json.loads(printed.getvalue())["kpis"]) if status == 0 else [],
            "asyncio_imported": "asyncio" in sys.modules,
            "heavy_imports": sorted(
                m for m in ("pandas", "scipy", "statsmodels") if m in sys.modules
            ),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
