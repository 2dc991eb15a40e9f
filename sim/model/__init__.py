"""The model layer: the SimPy simulation of one replication (docs/model.md).

Owns the engine (``replication``: ``simulate_replication`` and the ``Replication`` it returns),
the record columns it writes (``records``), the named random streams (``streams``) and the
starting state (``initial_state``). May import ``sim.scenario`` only.
"""
