"""The engine's short cuts (issue 8) behave as the plain SimPy way would.

A dispute's process is started by its arrival timeout (no Initialize event), and the cyclic
collector is paused while a replication runs. The regression fingerprints check that numbers do
not move; these tests check the paths the fingerprints may not reach.
"""

from __future__ import annotations

import gc

import pytest
import simpy

import sim
import sim.model.replication
from sim.model.discovery import _ArrivalProcess

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
