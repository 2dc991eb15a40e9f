"""The measures layer: tables and KPIs read off one replication's records.

Owns the register and case tables (``register``, docs/register.md), the district and township
KPIs (``kpis``, ``township_kpis``, read with NumPy off the record columns or the tables:
``columns``, ``outcomes``), the cost model (``costs``) and the staffing-quota check of a scenario
as written (``quotas``). May import ``sim.scenario`` and ``sim.model``; pandas only for tables.
"""
