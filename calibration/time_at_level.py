"""Time at each level: set what the model can hold so that it reproduces the register's days.

The days a step spends at a level (受理时间 → 办结时间) are the wait for a mediator, the effort in
the mediator's working hours, and the parties' delays between sessions. A register shows the
sum; the scenario holds the parts. So the parts are set by simulation: the calibrated scenario
is run over the register's period, the simulated steps' days at each level are fitted exactly
as the register's were (same censoring at the as-of date, same family), and one lever per level
is moved until the two agree:

- the parties' delay between sessions (``ladder.<level>.party_delay_days``, scaled in shape)
  where the level has several sessions — effort comes from the register's 投入工时 or the base
  and stays as it is, the rest of the time is the parties';
- else, when effort is not measured, the effort itself (``ladder.<level>.effort_hours``);
- else (effort measured, one session), a second session with an exponential party delay
  (``sessions = 2``), when the register's days are longer than effort and queueing explain.

A level with party delays has a known slope (each day of delay adds a day per session gap), so
one Newton step per round nearly settles it; effort is scaled by the ratio of the days. The
rounds stop when every level's simulated mean is within what the two estimates' noise allows
(:func:`tolerance`): ``z · √(se_register² + se_simulated²)``, the difference two independent
estimates of the same mean show at the fit's level. A fixed share (5% of the register's days,
or inside the register's interval) was derived from nothing and ignored the simulation's own
noise: for exponential days a register of 40 steps at a level has a 90% interval of about ±26%
of its mean, one of 5,000 about ±2% — where a 5% gap is a real misfit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.experiment import simulate
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS

from .durations import fit_durations
from .variants import restated_at, scale_spec, with_settings

if TYPE_CHECKING:
    from .fitting import Calibration

__all__ = ["LevelMatch", "match_time_at_level", "simulated_days", "tolerance"]

_WARMUP_DAYS = 60.0
_MIN_DELAY_DAYS = 0.01
_DAY = pd.Timedelta(days=1)


@dataclass
class LevelMatch:
    """How one level's days were matched: the lever moved, the register's and the model's."""

    level: str
    lever: str | None  # dotted key written, None when nothing the model holds could move
    register_days: float
    register_ci: tuple[float, float]
    base_days: float  # simulated with the fitted scenario before matching
    simulated_days: float  # simulated with what is written
    matched: bool
    tolerance: float = math.nan  # days: z · √(se_register² + se_simulated²) at the last round


def simulated_days(
    scenario: Scenario,
    start: pd.Timestamp,
    as_of: pd.Timestamp,
    families: dict[str, str],
    *,
    replications: int,
    seed: int,
    level: float = 0.9,
) -> dict[str, tuple[float, float]]:
    """Mean days at each level of ``families`` (level → family) and its standard error, fitted
    on the registers of ``scenario`` run from a warm-up to ``as_of``, as the real register's
    days were fitted (the error from the fit's interval at ``level``)."""
    from .backtest import register_from_sim
    from .fitting import level_times

    sc = restated_at(scenario, start - pd.Timedelta(days=_WARMUP_DAYS))
    run = sc.run.model_copy(
        update={
            "warmup_days": _WARMUP_DAYS,
            "horizon_days": (as_of - start) / _DAY,
            "drain": False,
            "drain_limit_days": 0.0,
        }
    )
    result = simulate(
        sc.model_copy(update={"run": run}), replications=replications, seed=seed, keep_tables=True
    )
    tables = [register_from_sim(r) for r in result.registers]
    table = pd.concat([t[t["entered_date"] >= start] for t in tables], ignore_index=True)
    out: dict[str, tuple[float, float]] = {}
    for lv, family in families.items():
        _, days, cens = level_times(table, lv, as_of)
        fit = fit_durations(lv, days, cens, level=level, families=(family,))
        if fit is None:
            out[lv] = (math.nan, math.nan)
            continue
        one = fit.fits[family]
        out[lv] = (one.summary["mean"], _se(one.ci["mean"], level))
    return out


def _se(interval: tuple[float, float], level: float) -> float:
    """The standard error a symmetric normal interval at ``level`` implies (half-width / z)."""
    lo, hi = interval
    return (hi - lo) / (2.0 * float(stats.norm.ppf(0.5 + level / 2)))


def tolerance(se_register: float, se_simulated: float, level: float) -> float:
    """How far two independent estimates of the same mean may differ at ``level``.

    The register's mean and the simulated one each carry sampling error; their difference has
    standard error √(se_r² + se_s²), so at the fit's level a matched model differs by less than
    z times that. Moving a lever further would chase noise. (The simulation reuses its seed in
    every round, so its noise does not change between rounds and Newton steps still converge.)
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    return z * math.hypot(se_register, se_simulated)


def _lever(scenario: Scenario, lv: str, effort_measured: bool) -> str | None:
    spec = scenario.ladder.level(lv)
    delays = scenario.mechanisms.party_delays and spec.party_delay_days is not None
    if delays and spec.sessions > 1:
        return "party_delay_days"
    if not effort_measured:
        return "effort_hours"
    return "sessions" if scenario.mechanisms.party_delays else None


def _step(scenario: Scenario, lv: str, lever: str, target: float, now: float) -> dict[str, Any]:
    """Settings that move level ``lv``'s simulated days ``now`` toward ``target``."""
    spec = scenario.ladder.level(lv)
    key = f"ladder.{lv}"
    if lever == "party_delay_days":
        assert spec.party_delay_days is not None
        mean = spec.party_delay_days.mean
        # Each day of the parties' delay adds a day to each of the sessions − 1 gaps.
        wanted = max(mean + (target - now) / (spec.sessions - 1), _MIN_DELAY_DAYS)
        dump = spec.party_delay_days.model_dump(by_alias=True)
        return {f"{key}.party_delay_days": scale_spec(dump, wanted / mean)}
    if lever == "effort_hours":
        factor = min(max(target / now, 0.2), 5.0)
        dump = spec.effort_hours.model_dump(by_alias=True)
        return {f"{key}.effort_hours": scale_spec(dump, factor)}
    # lever == "sessions": a second session, the parties taking the time not yet explained.
    if target <= now:
        return {}
    delay = spec.party_delay_days.mean if spec.party_delay_days is not None else 0.0
    gaps = max(spec.sessions - 1, 1)
    wanted = max(delay + (target - now) / gaps, _MIN_DELAY_DAYS)
    return {
        f"{key}.sessions": max(spec.sessions, 2),
        f"{key}.party_delay_days": {"dist": "exponential", "mean": float(f"{wanted:.5g}")},
    }


def match_time_at_level(
    fit: Calibration, *, replications: int = 2, rounds: int = 4, seed: int = 0
) -> list[LevelMatch]:
    """Move one lever per level until the simulated days at each level match the register's.

    Updates ``fit.settings`` (what is written), adds rows to ``fit.parameters`` and a note,
    and returns what was done per level. Levels without a fit of their days are left alone.
    """
    targets = {lv: fit.elapsed[lv] for lv in LEVELS if lv in fit.elapsed}
    if not targets:
        return []
    families = {lv: f.chosen for lv, f in targets.items()}
    goal = {lv: f.fits[f.chosen].summary["mean"] for lv, f in targets.items()}
    ci = {lv: f.fits[f.chosen].ci["mean"] for lv, f in targets.items()}
    se_goal = {lv: _se(ci[lv], fit.level) for lv in targets}
    measured = fit.duration_mode == "effort"

    def gap_allowed(lv: str) -> float:
        return tolerance(se_goal[lv], sims[lv][1], fit.level)

    def close(lv: str) -> bool:
        return abs(sims[lv][0] - goal[lv]) <= gap_allowed(lv)

    settings = dict(fit.settings)
    scenario = with_settings(fit.scenario, settings)
    levers = {lv: _lever(scenario, lv, measured) for lv in targets}
    sims = simulated_days(
        scenario, fit.start, fit.as_of, families, replications=replications, seed=seed,
        level=fit.level,
    )  # fmt: skip
    first = {lv: sims[lv][0] for lv in targets}
    for _ in range(rounds - 1):
        moves: dict[str, Any] = {}
        for lv, lever in levers.items():
            if lever is not None and math.isfinite(sims[lv][0]) and not close(lv):
                moves |= _step(scenario, lv, lever, goal[lv], sims[lv][0])
        if not moves:
            break
        settings |= moves
        scenario = with_settings(fit.scenario, settings)
        sims = simulated_days(
            scenario, fit.start, fit.as_of, families, replications=replications, seed=seed,
            level=fit.level,
        )  # fmt: skip
    matches = [
        LevelMatch(
            lv, levers[lv], goal[lv], ci[lv], first[lv], sims[lv][0], close(lv), gap_allowed(lv)
        )
        for lv in targets
    ]
    _record(fit, settings, matches)
    return matches


def _record(fit: Calibration, settings: dict[str, Any], matches: list[LevelMatch]) -> None:
    """Write the moved levers into the fit: settings, parameter rows, a note."""
    moved = {k: v for k, v in settings.items() if fit.settings.get(k) != v}
    fit.settings.update(moved)
    rows = []
    for m in matches:
        lo, hi = m.register_ci
        rows.append(
            {
                "key": f"elapsed_days.{m.level}.simulated",
                "group": "durations (report)",
                "estimate": m.simulated_days,
                "ci_low": lo,
                "ci_high": hi,
                "n": float(fit.elapsed[m.level].n),
                "written": bool(m.lever and any(k.startswith(f"ladder.{m.level}.") for k in moved)),
                "note": (
                    f"register {m.register_days:.2f} d, before matching {m.base_days:.2f} d"
                    + (f"; lever {m.lever}" if m.lever else "; nothing to move")
                    + ("" if m.matched else "; NOT matched")
                ),
            }
        )
    fit.parameters = pd.concat([fit.parameters, pd.DataFrame(rows)], ignore_index=True)
    text = ", ".join(
        f"{m.level} {m.register_days:.1f} d → {m.simulated_days:.1f} d"
        + ("" if m.matched else " (not matched)")
        for m in matches
    )
    fit.notes.append(
        "Time at each level matched by simulation (register → calibrated model, mean days): "
        f"{text}. Moved: {', '.join(sorted(moved)) or 'nothing'}. The parties' delays take "
        "the time effort and queueing do not explain where a level has several sessions; "
        "a level counts as matched when the two means differ by less than their sampling "
        f"errors allow at {fit.level:.0%} (z · √(se_register² + se_simulated²))."
    )
    if any(not np.isfinite(m.simulated_days) for m in matches):
        fit.notes.append("Some levels had too few simulated steps to fit their days.")
