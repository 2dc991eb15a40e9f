"""The experiments layer: runs of many replications and what is learnt from them.

Owns replications with confidence intervals and targets (``experiment``), parameter sweeps with
checkpoint and resume (``sweep``, ``sweep_store``), the serial / process / Dask executors
(``executors``), warm-up and replication advice (``output_analysis``) and global sensitivity
(``sensitivity``). Models never run experiments; this layer does. May import ``sim.scenario``,
``sim.model`` and ``sim.measures``.
"""
