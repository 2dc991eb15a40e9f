"""Where `sim run bench/reference.toml -r 1` spends its time, phase by phase, and print JSON.

The phases follow what ``sim run`` does, in its order and with its garbage-collector handling
(paused while modules load, then frozen out, as :func:`sim.cli.main.main` does):

- ``numpy``, ``pydantic`` (``pydantic.main`` and what it imports), ``scenario_schema`` (our
  pydantic classes, ``sim.scenario.schema``; pydantic builds the validators of the defaults'
  classes here, and looks for its plugins' entry points), ``rest_of_sim`` (the command, the
  model, SimPy, the measures);
- ``load``: reading and validating the scenario (pydantic builds the rest of its validators);
- ``replication``: ``sim.simulate_replication`` inside ``simulate`` (the model: build and run);
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
    marks: list[tuple[str, float]] = [("start", T0)]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    gc.disable()  # as sim run: no collections while modules load
    import numpy  # noqa: F401

    mark("numpy")
    import pydantic.main  # noqa: F401

    mark("pydantic")
    import sim.scenario.schema  # noqa: F401

    mark("scenario_schema")
    import sim.experiments.experiment as experiment
    from sim.cli.main import _modules_loaded, load_for_command

    mark("rest_of_sim")
    scenario = load_for_command(argparse.Namespace(scenario=args.scenario, overrides=[]))
    gc.freeze()  # as _modules_loaded: what start-up made stays out of the collector's passes
    gc.enable()
    _modules_loaded()
    mark("load")

    # The replication apart from what simulate() does around it: simulate looks the function
    # up in its module's namespace, so a timing wrapper there sees each call.
    replication_s: list[float] = []
    simulate_replication = experiment.simulate_replication

    def timed(*a, **k):
        t = time.perf_counter()
        rep = simulate_replication(*a, **k)
        replication_s.append(time.perf_counter() - t)
        return rep

    experiment.simulate_replication = timed
    results = experiment.simulate(scenario, replications=1)
    mark("simulate")
    buffer = io.StringIO()
    json.dump(results.to_dict(), buffer, ensure_ascii=False, indent=2)
    mark("output")

    phases = {name: t - marks[i][1] for i, (name, t) in enumerate(marks[1:])}
    simulate_s = phases.pop("simulate")
    phases = {
        **{k: v for k, v in phases.items() if k != "output"},
        "replication": replication_s[0],
        "measures": simulate_s - replication_s[0],
        "output": phases["output"],
    }
    heavy = sorted(m for m in ("pandas", "scipy", "statsmodels") if m in sys.modules)
    json.dump(
        {
            "phases_s": phases,
            "wall_s": marks[-1][1] - T0,
            "asyncio_imported": "asyncio" in sys.modules,
            "heavy_imports": heavy,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
