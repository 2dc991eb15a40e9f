"""The sizing layer: the least-cost staffing that meets the targets (docs/sizing.md).

Owns the analytic queueing screen (``analytic``: Erlang C, traffic equations), the search and
its confirmation (``search``) and the budget tables and frontier it writes (``output``). May
import every layer below it: ``sim.scenario``, ``sim.model``, ``sim.measures``,
``sim.experiments``.
"""
