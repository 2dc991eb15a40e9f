"""The sizing layer: the least-cost staffing that meets the targets (docs/sizing.md).

Queueing theory and the analytic screen (``queueing``, ``flows``, ``analytic``); what can be
staffed (``levers``); replications of staffings with common random numbers (``replications``);
the confidence rule and the quota check (``confirmation``); what no staffing can meet
(``feasibility``); the screen-guided search (``surrogate``, ``search``) and its entry point
(``size``); what it returns and writes (``results``, ``output``). May import every layer below
it: ``sim.scenario``, ``sim.model``, ``sim.measures``, ``sim.experiments``.
"""
