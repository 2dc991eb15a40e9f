"""The scenario layer: what a district and its policy are, validated and frozen.

Owns the fixed vocabulary (levels, venues, outcomes, KPI names and their Chinese labels), the
pydantic schema (``schema``), distributions, working calendars, the district tree and its
staffing (``district``), TOML loading with ``extends`` and ``--set`` (``loading``) and the input
errors that exit with status 2 (``errors``). Imports nothing from the rest of ``sim``.
"""
