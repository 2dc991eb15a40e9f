"""The lever catalogue of a scenario (政策杠杆目录): each lever, one step of it, and its cost.

A lever is something a planner can buy more of: full-time headcount by kind of unit (from
:mod:`sim.sizing.levers`), training hours, the gold-medal share, experts, village petition
agents, sweeps, part-timers' mediation time and the per-case reward (以奖代补). Each has an id,
a Chinese and an English label, a unit, a step (one unit of change), an upper bound and a yearly
cost in yuan per step, from the scenario's ``[costs]`` where it has the figure, else from
``[levers]`` (schema in :mod:`sim.scenario.schema_levers`, [EST] defaults reasoned in
docs/scenario.md). :func:`catalogue` also builds the scenario table of each lever moved one
step, for :mod:`sim.sizing.explain` to simulate beside the base with common random numbers.

A lever that cannot move a KPI in this scenario (its mechanism is off, its effect is 0, it is at
its bound) is listed as inactive with the reason, and not simulated.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.scenario.district import District
from sim.scenario.loading import validate_table
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS
from sim.sizing.levers import LEVER_KINDS, Lever, Staffing, apply_staffing

__all__ = [
    "DEFAULT_PETITION_AGENT_YUAN",
    "DEFAULT_SWEEP_HOURS",
    "DEFAULT_TRAINING_YUAN_PER_HOUR",
    "HEADCOUNT_EN",
    "CatalogueLever",
    "catalogue",
    "generous_table",
    "measure_ids",
    "step_measure",
]

# [EST] defaults used when neither [levers] nor [costs] gives the figure (docs/scenario.md).
DEFAULT_TRAINING_YUAN_PER_HOUR = 50.0  # trainer and venue per mediator-hour
DEFAULT_PETITION_AGENT_YUAN = 2400.0  # 200 yuan a month, of the order of cadres' allowances
DEFAULT_SWEEP_HOURS = 1.0  # one weekly round of a grid of ~1,000 residents

HEADCOUNT_EN: dict[str, str] = {
    "district": "district committee",
    "township": "township committees",
    "village": "villages with a full-time mediator",
    "sector": "sector committees",
    "stationed_room": "stationed rooms",
    "enterprise": "enterprise committees",
}


@dataclass(frozen=True)
class CatalogueLever:
    """One lever of the catalogue as it stands in a scenario.

    ``value`` is where the scenario has it, ``upper`` its bound, ``step`` one unit of change
    (the last step may be shorter, up to the bound: ``moved`` is what the step really moves),
    ``yuan_per_step`` the yearly cost of that step. ``active`` says whether it is simulated;
    ``note`` says why not, or what is assumed of its cost.
    """

    id: str
    zh: str
    en: str
    unit: str
    step: float
    value: float
    upper: float
    moved: float
    yuan_per_step: float
    active: bool
    headcount: bool
    note: str = ""
    table: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def yuan_per_unit(self) -> float:
        """Yearly cost of one unit of the lever (per step ÷ the amount the step moves)."""
        return self.yuan_per_step / self.moved if self.moved else float("nan")

    def row(self) -> dict[str, Any]:
        """The catalogue entry as a plain dict (tables and JSON)."""
        return {
            "lever": self.id,
            "label_zh": self.zh,
            "label_en": self.en,
            "unit": self.unit,
            "step": self.step,
            "value": self.value,
            "upper": self.upper,
            "yuan_per_unit": self.yuan_per_unit,
            "yuan_per_step": self.yuan_per_step,
            "active": self.active,
            "headcount": self.headcount,
            "note": self.note,
        }


def generous_table(table: dict[str, Any], lv: Sequence[Lever]) -> dict[str, Any]:
    """The table with every headcount lever at its upper bound (its ceiling)."""
    return apply_staffing(table, lv, tuple(lever.ceiling for lever in lv))


def catalogue(
    table: dict[str, Any],
    source: str,
    lv: Sequence[Lever],
    staffing: Staffing,
) -> list[CatalogueLever]:
    """Every lever of the catalogue at ``staffing`` (values of ``lv``), with its stepped table.

    ``table`` is the scenario as a plain table; the base of every step is ``table`` with the
    headcount levers at ``staffing``.
    """
    base = apply_staffing(table, lv, staffing)
    sc = validate_table(base, source)
    out: list[CatalogueLever] = []
    if sc.levers.headcount.enabled:
        out += _headcount(base, lv, staffing)
    for build in _MEASURES.values():
        lever = build(base, sc)
        if lever is not None:
            out.append(lever)
    return out


def measure_ids() -> list[str]:
    """Ids of the non-headcount levers in the catalogue's order (a package steps them so)."""
    return list(_MEASURES)


def step_measure(table: dict[str, Any], source: str, lever_id: str) -> CatalogueLever | None:
    """The catalogue entry of non-headcount lever ``lever_id`` at ``table``, as :func:`catalogue`
    builds it: its ``table`` is ``table`` one step up (None at its bound or when inactive).

    A package of measures (:mod:`sim.sizing.package`) is written by calling this repeatedly, so
    a package's steps and their costs are exactly the catalogue's.
    """
    return _MEASURES[lever_id](table, validate_table(table, source))


def _headcount(base: dict[str, Any], lv: Sequence[Lever], x: Staffing) -> list[CatalogueLever]:
    out = []
    for kind, zh in LEVER_KINDS.items():
        idx = [i for i, lever in enumerate(lv) if lever.kind == kind]
        if not idx:
            continue
        moved = [i for i in idx if x[i] < lv[i].ceiling]
        stepped = list(x)
        for i in moved:
            stepped[i] += 1
        mediators = sum(lv[i].mediators for i in moved)
        per = "township" if kind == "village" else "unit"
        out.append(
            CatalogueLever(
                id=f"headcount.{kind}",
                zh=f"专职人数·{zh}",
                en=f"full-time headcount: {HEADCOUNT_EN[kind]}",
                unit=f"full-time mediators, +1 per {per}",
                step=1.0,
                value=float(sum(x[i] * lv[i].mediators for i in idx)),
                upper=float(sum(lv[i].ceiling * lv[i].mediators for i in idx)),
                moved=float(mediators),
                yuan_per_step=float(sum(lv[i].salary for i in moved)),
                active=bool(moved),
                headcount=True,
                note="" if moved else "every unit at its ceiling",
                table=apply_staffing(base, lv, tuple(stepped)) if moved else None,
            )
        )
    return out


def _mediators(sc: Scenario) -> int:
    """Full- and part-time mediators of the ladder's levels."""
    d = District.from_scenario(sc)
    return sum(d.full_time_mediators().values()) + sum(d.part_time_mediators().values())


def _level_lever(
    base: dict[str, Any],
    sc: Scenario,
    key: str,
    values: list[float],
    step: float,
    upper: float,
) -> tuple[float, float, dict[str, Any] | None]:
    """(value, moved, table) for a key set on every ladder level: value is the mean."""
    value = sum(values) / len(values)
    new = [min(upper, v + step) for v in values]
    moved = sum(n - v for n, v in zip(new, values, strict=True)) / len(values)
    if moved <= 0:
        return value, 0.0, None
    out = copy.deepcopy(base)
    for level, v in zip(LEVELS, new, strict=True):
        out["ladder"][level][key] = v
    return value, moved, out


def _inactive(why: str, on: bool, *reasons: tuple[bool, str]) -> tuple[bool, str]:
    for failed, reason in reasons:
        if failed:
            return False, reason
    return on, why


def _training(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.training
    if not s.enabled:
        return None
    hours = [sc.ladder.level(lv).training_hours_per_year for lv in LEVELS]
    value, moved, table = _level_lever(base, sc, "training_hours_per_year", hours, s.step, s.upper)
    if s.unit_cost_yuan is not None:
        rate, note = s.unit_cost_yuan, "levers.training.unit_cost_yuan"
    elif sc.costs.training_yuan_per_hour > 0:
        rate, note = sc.costs.training_yuan_per_hour, "costs.training_yuan_per_hour"
    else:
        rate, note = DEFAULT_TRAINING_YUAN_PER_HOUR, "[EST] 50 yuan per mediator-hour"
    active, why = _inactive(
        f"cost: {note}",
        True,
        (not sc.mechanisms.quality, "mechanisms.quality is off"),
        (sc.quality.training_per_10_hours == 0, "quality.training_per_10_hours is 0"),
        (table is None, "at its upper bound"),
    )
    return CatalogueLever(
        "training", "培训时数", "training hours a year, every level", "hours a year per mediator",
        s.step, value, s.upper, moved, moved * _mediators(sc) * rate, active, False, why,
        table if active else None,
    )  # fmt: skip


def _gold_medal(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.gold_medal
    if not s.enabled:
        return None
    shares = [sc.ladder.level(lv).gold_medal_share for lv in LEVELS]
    value, moved, table = _level_lever(base, sc, "gold_medal_share", shares, s.step, s.upper)
    active, why = _inactive(
        "cost: levers.gold_medal.unit_cost_yuan per gold-medal mediator",
        True,
        (not sc.mechanisms.quality, "mechanisms.quality is off"),
        (sc.quality.gold_medal == 0, "quality.gold_medal is 0"),
        (table is None, "at its upper bound"),
    )
    return CatalogueLever(
        "gold_medal", "金牌调解员占比", "gold-medal share, every level", "share of mediators",
        s.step, value, s.upper, moved, moved * _mediators(sc) * s.unit_cost_yuan, active, False,
        why, table if active else None,
    )  # fmt: skip


def _experts(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.experts
    if not s.enabled:
        return None
    value = float(sc.experts.members)
    new = min(s.upper, value + s.step)
    table = None
    if new > value:
        table = copy.deepcopy(base)
        table["experts"]["members"] = int(new)
    required = max(sc.experts.required.model_dump().values()) > 0
    active, why = _inactive(
        "cost: levers.experts.unit_cost_yuan per member (fees per case as simulated)",
        True,
        (not sc.mechanisms.experts, "mechanisms.experts is off"),
        (not required, "experts.required is 0 (no case asks for an expert)"),
        (table is None, "at its upper bound"),
    )
    return CatalogueLever(
        "experts", "专家库人数", "expert pool members", "members", s.step, value, s.upper,
        new - value, (new - value) * s.unit_cost_yuan, active, False, why,
        table if active else None,
    )  # fmt: skip


def _petition_agents(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.petition_agents
    if not s.enabled:
        return None
    value = sc.petition_agents.coverage
    new = min(s.upper, value + s.step)
    table = copy.deepcopy(base)
    table["petition_agents"]["coverage"] = new
    agents = District.from_scenario(sc).petition_agents()
    more = District.from_scenario(validate_table(table, sc.source_file)).petition_agents() - agents
    if s.unit_cost_yuan is not None:
        rate, note = s.unit_cost_yuan, "levers.petition_agents.unit_cost_yuan"
    elif sc.costs.petition_agent_allowance_yuan > 0:
        rate, note = sc.costs.petition_agent_allowance_yuan, "costs.petition_agent_allowance_yuan"
    else:
        rate, note = DEFAULT_PETITION_AGENT_YUAN, "[EST] 2,400 yuan per agent-year"
    active, why = _inactive(
        f"cost: {note}",
        True,
        (not sc.mechanisms.entry_choice, "mechanisms.entry_choice is off"),
        (sc.entry.petition_agent == 0, "entry.petition_agent is 0"),
        (more <= 0, "no village gains an agent (at its bound, or set per township)"),
    )
    return CatalogueLever(
        "petition_agents", "信访代办员覆盖", "village petition agents", "share of villages",
        s.step, value, s.upper, new - value, more * rate, active, False, why,
        table if active else None,
    )  # fmt: skip


def _sweeps(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.sweeps
    if not s.enabled:
        return None
    value = 365.0 / sc.discovery.sweep_interval_days
    new = min(s.upper, value + s.step)
    table = None
    if new > value:
        table = copy.deepcopy(base)
        table["discovery"]["sweep_interval_days"] = 365.0 / new
    if s.hours_per_sweep is not None:
        hours, where = s.hours_per_sweep, "levers.sweeps.hours_per_sweep"
    elif sc.discovery.sweep_hours_per_grid > 0:
        hours, where = sc.discovery.sweep_hours_per_grid, "discovery.sweep_hours_per_grid"
    else:
        hours, where = DEFAULT_SWEEP_HOURS, "[EST] 1 hour a sweep"
    grids = sum(t.grids for t in sc.townships)
    active, why = _inactive(
        f"cost: {where} × levers.sweeps.unit_cost_yuan per grid-worker hour",
        True,
        (not sc.mechanisms.sweeps, "mechanisms.sweeps is off"),
        (table is None, "at its upper bound"),
    )
    return CatalogueLever(
        "sweeps", "排查频次", "sweeps per grid a year", "sweeps a grid-year", s.step, value,
        s.upper, new - value, (new - value) * grids * hours * s.unit_cost_yuan, active, False,
        why, table if active else None,
    )  # fmt: skip


def _share(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.mediation_share
    if not s.enabled:
        return None
    cal = sc.calendars.part_time
    value = cal.mediation_share
    new = min(s.upper, value + s.step)
    table = None
    if new > value:
        table = copy.deepcopy(base)
        table["calendars"]["part_time"]["mediation_share"] = new
    part_time = sum(District.from_scenario(sc).part_time_mediators().values())
    hours = cal.hours_per_week * 52 * part_time
    active, why = _inactive(
        "cost: levers.mediation_share.unit_cost_yuan per bought hour",
        True,
        (not sc.mechanisms.mediator_time, "mechanisms.mediator_time is off"),
        (part_time == 0, "no part-time mediators on the ladder"),
        (table is None, "at its upper bound"),
    )
    return CatalogueLever(
        "mediation_share", "兼职调解精力", "part-timers' mediation share", "share of working time",
        s.step, value, s.upper, new - value, (new - value) * hours * s.unit_cost_yuan, active,
        False, why, table if active else None,
    )  # fmt: skip


def _reward(base: dict[str, Any], sc: Scenario) -> CatalogueLever | None:
    s = sc.levers.case_reward
    if not s.enabled:
        return None
    rewards = sc.costs.case_reward_yuan
    value = max(rewards.of(v) for v in LEVELS)
    # Nothing in the model reads the reward when it decides an outcome: listed, not simulated.
    return CatalogueLever(
        "case_reward", "以奖代补标准", "per-case reward (以奖代补), every venue", "yuan per case",
        s.step, value, s.upper, min(s.step, max(0.0, s.upper - value)), float("nan"), False,
        False, "no mechanism of the model links the per-case reward to outcomes",
    )  # fmt: skip


_MEASURES = {
    "training": _training,
    "gold_medal": _gold_medal,
    "experts": _experts,
    "petition_agents": _petition_agents,
    "sweeps": _sweeps,
    "mediation_share": _share,
    "case_reward": _reward,
}
"""The non-headcount levers' builders, in the catalogue's order."""
