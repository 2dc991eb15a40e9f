"""The engine's short cuts (issues 8 and 19) behave as the plain SimPy way would.

A dispute's process is started by its arrival timeout (no Initialize event), a process nobody
waits for ends without an event, and the cyclic collector is paused while a replication runs.
The regression fingerprints check that numbers do not move; these tests check the paths the
fingerprints may not reach.
"""

from __future__ import annotations

import ast
import gc
import inspect
import math
import random
import textwrap

import pytest
import simpy

import sim
import sim.model.replication
from sim.model.processes import _ArrivalProcess, _Process

from .scenarios import SMALL


def test_arrival_process_sets_what_simpy_process_sets() -> None:
    # _ArrivalProcess copies Process.__init__ (SimPy 4.1); a SimPy that adds an attribute
    # there would break it silently, so the two must set the same names.
    env = simpy.Environment()

    def idle():
        yield env.timeout(1)

    plain = simpy.Process(env, idle())
    ours = _ArrivalProcess(env, idle(), env.timeout(1))
    assert set(vars(ours)) == set(vars(plain))
    assert ours.is_alive and ours.target is not None
    env.run()
    assert not ours.is_alive and not plain.is_alive


def _function(source: str) -> ast.FunctionDef:
    """A method's source as a syntax tree, without its docstring."""
    fn = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(fn, ast.FunctionDef)
    if ast.get_docstring(fn) is not None:
        fn.body = fn.body[1:]
    return fn


def test_quiet_process_resume_is_simpys_but_for_its_end() -> None:
    # _Process._resume is a copy of SimPy's (a wrapper would cost a call per event). Undo its
    # one change (the end is scheduled only if someone waits) and the two must be the same
    # code, statement for statement: a SimPy whose _resume changed fails here, not in a run.
    ours = _function(inspect.getsource(_Process._resume))
    theirs = _function(inspect.getsource(simpy.Process._resume))
    changed = [
        node
        for node in ast.walk(ours)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "self.callbacks"
    ]
    assert len(changed) == 1, "the one change, `if self.callbacks:`, is not found"
    for node in ast.walk(ours):
        for field in ("body", "orelse", "handlers", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and changed[0] in block:
                block[block.index(changed[0])] = changed[0].body[0]  # schedule, as SimPy
    assert ast.dump(ours) == ast.dump(theirs)


def _trace(process: type[simpy.Process], seed: int) -> tuple[list[tuple], int]:
    """What 300 processes do, in order, when started as ``process``; and the events stepped.

    Times are whole numbers, so many things happen at once and the order among them (SimPy's
    priority and event numbers) shows. A third of the processes are waited for by a parent.
    """
    rng = random.Random(seed)
    env = simpy.Environment()
    trace: list[tuple] = []
    resource = simpy.Resource(env, capacity=30)

    def worker(k: int):
        yield env.timeout(rng.randint(0, 4))
        with resource.request() as req:
            yield req
            trace.append((env.now, "got", k))
            yield env.timeout(rng.randint(0, 2))
        trace.append((env.now, "end", k))
        return k

    def parent(k: int):
        child = process(env, worker(k))
        if rng.random() < 0.5:
            yield env.timeout(rng.randint(0, 40))  # maybe after the child ended
        value = yield child
        trace.append((env.now, "parent", value))

    for k in range(300):
        if k % 3 == 0:
            process(env, parent(k))
        else:
            process(env, worker(k))
    steps = 0
    while env.peek() < math.inf:
        env.step()
        steps += 1
    return trace, steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quiet_process_keeps_the_order_of_everything_else(seed: int) -> None:
    # The same things happen in the same order as with simpy.Process, parents told of their
    # children's ends as before; only the events of ends nobody waits for are gone.
    plain, plain_steps = _trace(simpy.Process, seed)
    quiet, quiet_steps = _trace(_Process, seed)
    assert quiet == plain
    assert len(plain) == 2 * 300 + 100  # each worker got and ended, each parent heard
    # 400 processes end: the 200 lone workers and the 100 parents without an event, the 100
    # children with one, unless their parent came to wait only after the end (then at once).
    late = plain_steps - quiet_steps - 300
    assert 0 < late < 100, (plain_steps, quiet_steps)


def test_quiet_process_that_fails_still_stops_the_run() -> None:
    env = simpy.Environment()

    def broken():
        yield env.timeout(1)
        raise ValueError("model failed")

    _Process(env, broken())
    with pytest.raises(ValueError, match="model failed"):
        env.run()


def test_quiet_process_ended_is_processed_with_its_value() -> None:
    env = simpy.Environment()

    def short():
        yield env.timeout(1)
        return "done"

    proc = _Process(env, short())
    env.run()
    assert not proc.is_alive and proc.processed and proc.value == "done"


def test_a_dispute_queueing_in_its_first_step_is_timed_out() -> None:
    # Every labour dispute goes first to an enterprise committee of one mediator, whose cases
    # take 48 working hours while the limit is half a day: most queue in their very first
    # step (inside the process the arrival started) and must be interrupted by their timer.
    scenario = sim.load_scenario(
        SMALL.with_name("small_full.toml"),
        [
            "run.horizon_days=1500",
            "categories.labour.enterprise_share=1.0",
            "enterprise.committees.zone.part_time=0",
            "enterprise.committees.chamber.full_time=0",
            'enterprise.effort_hours={dist="fixed", value=48.0}',
            "enterprise.time_limit_days=0.5",
        ],
    )
    rep = sim.simulate_replication(scenario, 0, 2)
    reg = sim.register_table(rep)
    first = reg[(reg["step"] == 0) & (reg["level"] == "enterprise")]
    timed_out = first[first["outcome"] == "escalated_time_limit"]
    assert len(timed_out) >= 10, f"only {len(timed_out)} first steps timed out"
    assert timed_out["started"].isna().all()  # never reached the mediator
    # Each waited exactly the half day: a party whose patience ran out first would have
    # petitioned instead, and a case granted a mediator would have started.
    waited = timed_out["ended"] - timed_out["entered"]
    assert (waited - 0.5).abs().max() < 1e-9
    # ... and went on to the township, as escalate_to says.
    nxt = reg.set_index(["case_id", "step"])
    for case_id in timed_out["case_id"]:
        assert nxt.loc[(case_id, 1), "level"] == "township"


def test_collector_is_restored_as_found(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = sim.load_scenario(SMALL, ["run.horizon_days=30"])
    assert gc.isenabled()
    sim.simulate_replication(scenario)
    assert gc.isenabled()
    gc.disable()
    try:
        sim.simulate_replication(scenario)
        assert not gc.isenabled()  # a caller who had it off keeps it off
    finally:
        gc.enable()

    def broken(self):
        raise RuntimeError("model failed")

    monkeypatch.setattr(sim.model.replication._Model, "run", broken)
    with pytest.raises(RuntimeError, match="model failed"):
        sim.simulate_replication(scenario)
    assert gc.isenabled()


def test_one_replication_makes_almost_no_cyclic_garbage() -> None:
    # Why pausing the collector is safe: a replication of the full-featured small district
    # (interrupts, petitions, joint mediation) leaves few objects that only the collector can
    # free. Measured: ~170 per 1,800 disputes; a leak per event would be tens of thousands.
    scenario = sim.load_scenario(SMALL.with_name("small_full.toml"), ["run.horizon_days=2000"])
    gc.collect()
    gc.disable()
    try:
        rep = sim.simulate_replication(scenario, 0, 1)
        garbage = gc.collect()
    finally:
        gc.enable()
    assert len(rep.cases) > 1000
    assert garbage < 0.5 * len(rep.cases), f"{garbage} cyclic objects for {len(rep.cases)}"
