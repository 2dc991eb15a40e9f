"""Fitting a scenario's parameters to a register, each with an interval.

What the register identifies, and how it is fitted:

- **Arrivals** (``arrivals.*``, :mod:`.arrivals`): disputes that arose in the period, counted
  per calendar-month slice, in a Poisson GLM (quasi-Poisson when the counts are overdispersed)
  with seasonality and a growth trend where the period identifies them; the rates are stated
  at the end of the period, which becomes the scenario's ``run.start_date``.
- **Shares** (categories, severities, sweep vs direct report, on-the-spot settlement, entry level
  of direct reports, sensitive share): binomial proportions with Jeffreys intervals.
- **Resolution** (``ladder.<level>.resolve.<kind>.<severity>``): the share of mediated steps
  that ended resolved, pooled over places and categories (Jeffreys intervals). Per category and
  per village the shares are shrunk by empirical-Bayes beta-binomial (:mod:`.shrinkage`) and
  reported; a scenario has no per-category or per-village probability.
- **Durations** (:mod:`.durations`): time at each level with the open steps right-censored,
  four families by AIC. Hand-over delays (``channels.*``) and direct-report delays.

What it cannot identify, and the report says so: the time a case spends at a level mixes
queueing, the mediator's working hours, sessions and the parties' delays, so it equals effort
only in a scenario with round-the-clock calendars, one session and no queue; staffing, time
limits, worsening and overload are not fitted and come from the base scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KINDS, LEVELS, SEVERITIES

from .arrivals import MONTHS, default_period, fit_arrivals, month_slices
from .durations import DurationFit, fit_durations
from .effects import Effects, fit_effects
from .params import Draw, Params, beta_draw
from .params import rounded as _r
from .reading import Register
from .shrinkage import jeffreys_interval, resolution_by_category, village_resolution
from .time_at_level import LevelMatch, match_time_at_level

__all__ = [
    "MONTHS",
    "Calibration",
    "DurationMode",
    "calibrate_register",
    "case_rows",
    "level_times",
    "month_slices",
]

MEDIATED = ("resolved", "escalated_failed", "unresolved")  # a mediation that concluded here
ESCALATIONS = ("escalated_failed", "escalated_time_limit", "escalated_no_mediator")
# Steps whose mediation had not concluded when they ended: still open when the register was
# taken, passed up by the time limit, or left by a party who petitioned (where the model has
# petitions). Their time at the level is a lower bound on the mediation's: right-censored.
CENSORED = ("open", "escalated_time_limit", "petitioned")
DurationMode = Literal["auto", "elapsed", "effort", "none"]
_DAY = pd.Timedelta(days=1)


@dataclass
class Calibration:
    """Everything fitted from one register: parameters with intervals, and what is written."""

    scenario: Scenario  # the base
    register: Register
    start: pd.Timestamp  # arrivals are counted in [start, end)
    end: pd.Timestamp
    as_of: pd.Timestamp  # open steps are censored here
    level: float
    parameters: pd.DataFrame  # key, group, estimate, ci_low, ci_high, n, written, note
    settings: dict[str, Any]  # dotted scenario key → fitted value to write
    cases: pd.DataFrame
    townships: pd.DataFrame
    township_categories: pd.DataFrame
    resolution_by_category: pd.DataFrame
    villages: pd.DataFrame
    township_resolution: pd.DataFrame
    durations: dict[str, DurationFit] = field(default_factory=dict)  # written/scaled fits
    elapsed: dict[str, DurationFit] = field(default_factory=dict)  # days at level, as seen
    delays: dict[str, DurationFit] = field(default_factory=dict)
    duration_mode: str = "none"
    glm_summary: str = ""
    notes: list[str] = field(default_factory=list)
    draws: list[Draw] = field(default_factory=list)  # settings drawn from their sampling law
    time_matches: list[LevelMatch] = field(default_factory=list)  # days at level, by simulation
    effects: Effects | None = None  # quality, entry choice, discovery race (.effects)

    def draw_settings(self, rng: np.random.Generator) -> dict[str, Any]:
        """The settings to write, each fitted one drawn again from its sampling distribution.

        One draw per replication of the backtest propagates the fit's uncertainty into its
        prediction intervals (a parametric bootstrap).
        """
        out = dict(self.settings)
        for draw in self.draws:
            out.update(draw(rng))
        return out

    @property
    def period_days(self) -> float:
        """Length in days of the period whose arrivals were counted, ``[start, end)``."""
        return (self.end - self.start) / _DAY

    def parameter(self, key: str) -> pd.Series:
        """The row of :attr:`parameters` for the dotted scenario ``key`` (estimate, interval…)."""
        return self.parameters.set_index("key").loc[key]


def case_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per case from its first step: where, what, how it came in, when it arose."""
    first = table.sort_values(["case_id", "step"]).groupby("case_id", sort=False).head(1)
    out = first[
        [
            "case_id",
            "township",
            "village",
            "category",
            "severity_initial",
            "sensitive",
            "initial",
            "channel",
            "level",
            "outcome",
            "severity",
        ]
    ].copy()
    out = out.rename(
        columns={
            "channel": "channel0",
            "level": "level0",
            "outcome": "outcome0",
            "severity": "severity0",
        }
    )
    out["arisen"] = first["arisen_date"].fillna(first["entered_date"]).to_numpy()
    out["entered0"] = first["entered_date"].to_numpy()
    out["arisen_known"] = first["arisen_date"].notna().to_numpy()
    return out.reset_index(drop=True)


def calibrate_register(
    register: Register,
    scenario: Scenario,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    level: float = 0.9,
    durations: DurationMode = "auto",
    seed: int = 0,
    match_time: bool | None = None,
) -> Calibration:
    """Fit the parameters the register identifies; everything else stays as in ``scenario``.

    ``start``/``end`` bound the period in which arrivals are counted (default: what the
    register covers, from the first day a case arose to the end of the day it was taken);
    ``as_of`` is when the register was taken (default: the end of its latest day), at which
    open steps are censored. The rates are stated at ``end``, written as ``run.start_date``.
    ``match_time`` sets the parties' delays (or effort) so that the simulated days at each
    level match the register's (:mod:`.time_at_level`); by default whenever the time at a
    level is more than effort (durations mode other than ``elapsed``).
    """
    table = register.table
    if table.empty:
        from sim.scenario.errors import InputProblem, ScenarioError

        raise ScenarioError(
            [InputProblem(register.source, "", InputProblem.MISSING, "no usable rows to fit")]
        )
    cases = case_rows(table)
    latest = pd.concat([table["entered_date"], table["ended_date"]]).max()
    d_start, d_end = default_period(cases, latest)
    if as_of is not None:
        d_end = pd.Timestamp(as_of).ceil("D")  # the register covers up to when it was taken
    t0 = pd.Timestamp(start) if start is not None else d_start
    t1 = pd.Timestamp(end) if end is not None else d_end
    stamp = pd.Timestamp(as_of) if as_of is not None else max(latest, t1)
    params = Params()
    notes: list[str] = []

    arrivals_in = cases[(~cases["initial"]) & (cases["arisen"] >= t0) & (cases["arisen"] < t1)]
    glm_text, townships, township_cats = fit_arrivals(
        arrivals_in, scenario, t0, t1, level, params, notes
    )
    # The model applies the rate at run.start_date and grows it from there: the calibrated
    # scenario starts where the rates are stated, at the end of the period.
    params.settings["run.start_date"] = t1.date()
    notes.append(
        f"run.start_date is set to {t1:%Y-%m-%d}, the end of the period, the date the fitted "
        "arrival rate is stated at (the model grows it from its start date)."
    )
    _fit_shares(arrivals_in, cases, scenario, level, params, notes)
    mediated = table[table["level"].isin(LEVELS) & table["outcome"].isin(MEDIATED)]
    _fit_resolution(mediated, scenario, level, params, notes)
    by_category = resolution_by_category(mediated, level)
    villages, township_res = village_resolution(mediated, level)
    mode, fits, elapsed = _fit_level_durations(
        table, scenario, stamp, level, durations, seed, params, notes
    )
    delays = _fit_delays(table, cases, level, seed, params, notes)
    effects = fit_effects(table, cases, scenario, level, params, notes, seed=seed)
    notes.extend(_identifiability_notes(scenario, mode))
    fit = Calibration(
        scenario=scenario,
        register=register,
        start=t0,
        end=t1,
        as_of=stamp,
        level=level,
        parameters=params.frame(),
        settings=params.settings,
        cases=cases,
        townships=townships,
        township_categories=township_cats,
        resolution_by_category=by_category,
        villages=villages,
        township_resolution=township_res,
        durations=fits,
        elapsed=elapsed,
        delays=delays,
        duration_mode=mode,
        glm_summary=glm_text,
        notes=notes,
        draws=params.draws,
        effects=effects,
    )
    if match_time if match_time is not None else mode != "elapsed":
        fit.time_matches = match_time_at_level(fit, seed=seed)
    return fit


# --- Shares --------------------------------------------------------------------------------


def _shares(
    params: Params, group: str, prefix: str, counts: pd.Series, level: float, suffix: str = ""
) -> None:
    """Shares that sum to one (key ``prefix.<name>suffix``), each with a Jeffreys interval."""
    n = float(counts.sum())
    if n <= 0:
        return
    lo, hi = jeffreys_interval(counts.to_numpy(float), np.full(len(counts), n), level)
    est = counts.to_numpy(float) / n
    written = _sum_to_one(est)
    keys = [f"{prefix}.{name}{suffix}" for name in counts.index]
    for i, key in enumerate(keys):
        params.add(key, group, est[i], lo[i], hi[i], n, write=written[i])
    alpha = counts.to_numpy(float) + 0.5  # Jeffreys: the Dirichlet posterior of the shares
    params.draws.append(lambda rng: dict(zip(keys, _sum_to_one(rng.dirichlet(alpha)), strict=True)))


def _sum_to_one(shares: np.ndarray) -> list[float]:
    """Round to 6 decimals and put the rounding error on the largest, so they sum to 1."""
    out = [round(float(x), 6) for x in shares]
    big = int(np.argmax(out))
    out[big] = round(1.0 - sum(out[:big]) - sum(out[big + 1 :]), 6)
    return out


def _fit_shares(arrivals, cases, scenario, level, params: Params, notes) -> None:
    cats = list(scenario.categories)
    _shares(
        params,
        "categories",
        "categories",
        arrivals["category"].value_counts().reindex(cats, fill_value=0),
        level,
        suffix=".share",
    )
    _shares(
        params,
        "severity",
        "severity",
        arrivals["severity_initial"].value_counts().reindex(SEVERITIES, fill_value=0),
        level,
    )

    known = arrivals[arrivals["sensitive"].notna()]
    if len(known):
        for c in cats:
            here = known[known["category"] == c]
            if len(here):
                k = float(here["sensitive"].astype(bool).sum())
                lo, hi = jeffreys_interval(k, len(here), level)
                params.add(
                    f"categories.{c}.sensitive_share",
                    "categories",
                    k / len(here),
                    float(lo),
                    float(hi),
                    len(here),
                    write=_r(k / len(here), 4),
                    draw=beta_draw(k, len(here)),
                )

    channel0 = arrivals["channel0"]
    if channel0.notna().any():
        found = arrivals[channel0.isin(["sweep", "self_report", "direct"])]
        swept = found["channel0"] == "sweep"
        if len(found):
            k = float(swept.sum())
            lo, hi = jeffreys_interval(k, len(found), level)
            params.add(
                "discovery.sweep_share",
                "discovery",
                k / len(found),
                float(lo),
                float(hi),
                len(found),
                write=_r(k / len(found), 4),
                draw=beta_draw(k, len(found)),
            )
        sweeps = found[swept]
        for sev in SEVERITIES:
            here = sweeps[sweeps["severity0"] == sev]
            if len(here):
                k = float((here["outcome0"] == "resolved_on_the_spot").sum())
                lo, hi = jeffreys_interval(k, len(here), level)
                params.add(
                    f"discovery.on_the_spot.{sev}",
                    "discovery",
                    k / len(here),
                    float(lo),
                    float(hi),
                    len(here),
                    write=_r(k / len(here), 4),
                    draw=beta_draw(k, len(here)),
                )
        direct = found[~swept]
        entry = direct["level0"].value_counts().reindex(LEVELS, fill_value=0)
        if entry.sum() > 0:
            _shares(params, "discovery", "discovery.self_report_entry", entry, level)
    else:
        notes.append(
            "No channel column (报送渠道): the sweep share, on-the-spot settlement and the entry "
            "level of direct reports are not fitted; the base values are kept."
        )


# --- Resolution ----------------------------------------------------------------------------


def _fit_resolution(mediated: pd.DataFrame, scenario, level, params: Params, notes) -> None:
    """Share resolved per level × mediator kind × severity, pooled over places and categories."""
    ok = mediated["outcome"] == "resolved"
    has_kind = mediated["mediator_kind"].notna().mean() >= 0.5 if len(mediated) else False
    if not has_kind:
        notes.append(
            "Mediator kind (调解员类别) missing on most mediated steps: resolution is fitted per "
            "level and severity, and the same value is written for full-time and part-time."
        )
    for lv in LEVELS:
        for sev in SEVERITIES:
            at = (mediated["level"] == lv) & (mediated["severity"] == sev)
            for kind in KINDS:
                here = at & (mediated["mediator_kind"] == kind) if has_kind else at
                n = int(here.sum())
                key = f"ladder.{lv}.resolve.{kind}.{sev}"
                if n == 0:
                    continue
                k = float((here & ok).sum())
                lo, hi = jeffreys_interval(k, n, level)
                # Without the kind, both kinds share one estimate: the first draws for both.
                shared = not has_kind and kind != KINDS[0]
                params.add(
                    key, "resolution", k / n, float(lo), float(hi), n,
                    write=_r(k / n, 4), draw=None if shared else beta_draw(k, n),
                )  # fmt: skip
                if not has_kind and not shared:
                    _share_draw(params, [f"ladder.{lv}.resolve.{o}.{sev}" for o in KINDS])
    if (mediated["outcome"] == "unresolved").any():
        notes.append(
            "An 'unresolved' step at the district counts as a failed mediation; the register "
            "does not say whether it failed or ran out of time."
        )


def _share_draw(params: Params, keys: list[str]) -> None:
    """Make the last draw set every key of ``keys`` to the value it draws for the first."""
    one = params.draws.pop()
    params.draws.append(lambda rng: dict.fromkeys(keys, next(iter(one(rng).values()))))


# --- Durations -----------------------------------------------------------------------------


def _elapsed_identifiable(scenario: Scenario, lv: str) -> bool:
    """Time at a level equals effort when work runs round the clock in one session."""
    mech, cals = scenario.mechanisms, scenario.calendars
    round_clock = not mech.working_calendar or all(
        c.hours_per_day >= 24 and c.days_per_week == 7 for c in (cals.full_time, cals.part_time)
    )
    spec = scenario.ladder.level(lv)
    one_session = not mech.party_delays or spec.sessions == 1 or spec.party_delay_days is None
    return round_clock and one_session


def _effort_divisor(steps: pd.DataFrame, scenario: Scenario, lv: str) -> np.ndarray:
    """The base scenario's effort_factor × severity_effort of each step (1 if switched off)."""
    if not scenario.mechanisms.effort_factors:
        return np.ones(len(steps))
    cat = steps["category"].map({k: c.effort_factor for k, c in scenario.categories.items()})
    sev_f = scenario.ladder.level(lv).severity_effort
    sev = steps["severity"].map({s: sev_f.of(i) for i, s in enumerate(SEVERITIES)})
    return (cat.fillna(1.0) * sev.fillna(1.0)).to_numpy(float)


def level_times(
    table: pd.DataFrame, lv: str, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The steps at level ``lv`` whose time there is a mediation's (or a lower bound on one),
    their days at the level, and which are censored (open ones at ``as_of``)."""
    at = table[(table["level"] == lv)]
    steps = at[at["outcome"].isin([*MEDIATED, *CENSORED])]
    end = steps["ended_date"].where(steps["outcome"] != "open", as_of)
    days = ((end - steps["entered_date"]) / _DAY).to_numpy(float)
    return steps, days, steps["outcome"].isin(CENSORED).to_numpy()


def _fit_level_durations(table, scenario, as_of, level, mode, seed, params: Params, notes):
    elapsed: dict[str, DurationFit] = {}
    fits: dict[str, DurationFit] = {}
    has_effort = table["effort_hours"].fillna(0).gt(0).any()
    if mode == "auto":
        if has_effort:
            mode = "effort"
        elif all(_elapsed_identifiable(scenario, lv) for lv in LEVELS):
            mode = "elapsed"
        else:
            mode = "none"
    for i, lv in enumerate(LEVELS):
        steps, days, cens = level_times(table, lv, as_of)
        if steps.empty:
            continue
        fit = fit_durations(f"days at {lv}", days, cens, level=level, seed=seed + i)
        if fit is not None:
            elapsed[lv] = fit
            s = fit.fits[fit.chosen]
            params.add(
                f"elapsed_days.{lv}.mean",
                "durations (report)",
                s.summary["mean"],
                *s.ci["mean"],
                fit.n,
                note=f"{fit.chosen}; {fit.n_censored} open",
            )
        if mode == "elapsed":
            divisor = _effort_divisor(steps, scenario, lv)
            hours = days * 24.0 / divisor
            wfit = fit_durations(
                f"effort at {lv}", hours, cens, unit="hours", level=level, seed=seed + 10 + i
            )
        elif mode == "effort":
            done = steps[steps["outcome"].isin(MEDIATED) & steps["effort_hours"].gt(0)]
            hours = done["effort_hours"].to_numpy(float) / _effort_divisor(done, scenario, lv)
            wfit = fit_durations(
                f"effort at {lv}", hours, None, unit="hours", level=level, seed=seed + 10 + i
            )
        else:
            wfit = None
        if wfit is None:
            continue
        fits[lv] = wfit
        spec = wfit.spec()
        if wfit.written is None or spec is None:
            continue
        chosen = wfit.fits[wfit.written]
        key = f"ladder.{lv}.effort_hours"
        for q in ("mean", "median", "p90", "cv"):
            params.add(
                f"{key}.{q}",
                "durations",
                chosen.summary[q],
                *chosen.ci[q],
                wfit.n,
                note=wfit.written,
            )
        params.settings[key] = spec
        params.draws.append(_spec_draw(key, wfit))
    if mode == "none":
        notes.append(
            "Effort hours not fitted: the register has no effort column (投入工时) and the base "
            "scenario has working calendars or several sessions, so the time at a level mixes "
            "queueing, working hours, sessions and party delays. The base effort_hours are kept; "
            "the days at each level are fitted and shown for comparison."
        )
    elif mode == "elapsed":
        notes.append(
            "Effort hours are read from the time at each level (×24 h, ÷ the base scenario's "
            "effort factors): right when calendars run round the clock, with one session and "
            "no queue, as in the base scenario. Queueing, if any, inflates them."
        )
    else:
        notes.append(
            "Effort hours fitted from the register's effort column (投入工时) of concluded steps, "
            "÷ the base scenario's effort factors; open steps have no recorded effort, so long "
            "mediations still under way are under-represented."
        )
    return mode, fits, elapsed


def _fit_delays(table, cases, level, seed, params: Params, notes) -> dict[str, DurationFit]:
    out: dict[str, DurationFit] = {}
    t = table.sort_values(["case_id", "step"])
    nxt = t.groupby("case_id", sort=False).shift(-1)
    handed = t["outcome"].isin(ESCALATIONS) & nxt["entered_date"].notna()
    gap = ((nxt["entered_date"] - t["ended_date"]) / _DAY)[handed]
    if table["channel"].notna().any():
        channel = nxt.loc[handed, "channel"]
    else:
        sensitive = t.loc[handed, "sensitive"].fillna(False).astype(bool)
        channel = np.where(sensitive, "offline", "online")
    channel = pd.Series(np.asarray(channel, dtype=object), index=gap.index)
    for i, ch in enumerate(("online", "offline")):
        x = gap[channel == ch].to_numpy(float)
        fit = fit_durations(f"hand-over delay, {ch}", x, None, level=level, seed=seed + 20 + i)
        if fit is None:
            continue
        out[ch] = fit
        key = f"channels.{ch}_delay_days"
        _add_spec(params, key, fit)
    self_rep = cases[cases["channel0"].isin(["self_report", "direct"]) & cases["arisen_known"]]
    x = ((self_rep["entered0"] - self_rep["arisen"]) / _DAY).to_numpy(float)
    fit = fit_durations("direct-report delay", x, None, level=level, seed=seed + 30)
    if fit is not None:
        out["self_report"] = fit
        _add_spec(params, "discovery.self_report_delay_days", fit)
    sweeps = cases[(cases["channel0"] == "sweep") & cases["arisen_known"]]
    x = ((sweeps["entered0"] - sweeps["arisen"]) / _DAY).to_numpy(float)
    fit = fit_durations("time to be found by a sweep", x, None, level=level, seed=seed + 31)
    if fit is not None:
        out["sweep"] = fit  # report only: set by the sweep interval and detect probability
    notes.append(
        "Hand-over delays count only hand-overs already received at the next level; one still "
        "in transit when the register was taken is not seen (a small downward bias)."
    )
    return out


def _spec_draw(key: str, fit: DurationFit) -> Draw:
    """The written distribution of ``fit`` at parameters drawn from their sampling law."""
    return lambda rng: {key: fit.spec(rng=rng)}


def _add_spec(params: Params, key: str, fit: DurationFit) -> None:
    if fit.written is None:
        return
    chosen = fit.fits[fit.written]
    for q in ("mean", "median", "p90"):
        params.add(
            f"{key}.{q}", "delays", chosen.summary[q], *chosen.ci[q], fit.n, note=fit.written
        )
    params.settings[key] = fit.spec()
    params.draws.append(_spec_draw(key, fit))


def _identifiability_notes(scenario: Scenario, mode: str) -> list[str]:
    return [
        "Not fitted, kept from the base scenario: staffing, calendars, time limits, "
        "worsening, overload, costs, targets, sweep interval and detect probability (a "
        "register shows when a case was found, not how many sweeps missed it). Sessions and "
        "the parties' delays are kept too, unless the time at a level is matched by "
        "simulation (then a note below says what moved).",
        "Per-township and per-category arrival rates, and per-category and per-village "
        "resolution shares, are in this report only: a scenario has one district rate scaled "
        "by population and one resolution probability per level, mediator kind and severity.",
    ]
