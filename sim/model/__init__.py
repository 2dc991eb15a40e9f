"""The model layer: the SimPy simulation of one replication (docs/model.md).

``replication`` holds ``simulate_replication``, the ``Replication`` it returns and the coordinator
that wires the mechanisms, one module each: ``discovery`` (arrivals, referrals, sweeps, starting
state), ``ladder`` (the climb and hand-overs), ``centre`` (district centre, joint mediation,
top venues), ``mediation`` (a step at a venue), ``petitions`` (信访 and the backlog), ``venues``
(pools and settings per venue), ``pools`` (mediator pools, gauges), ``cases`` (a case's state),
``recorder`` (the rows it writes) and ``layout`` (codes, record fields, uniform rows). Beside them:
the record columns (``records``), the named random streams (``streams``) and the starting state
(``initial_state``). May import ``sim.scenario`` only.
"""
