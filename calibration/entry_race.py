"""Entry choice (入口选择) and the discovery race (发现竞赛), estimated from a register.

**Entry choice** (sim/model/entry.py): a self-reporting party of village ``v`` enters level ``j``
with probability ∝ ``exp(α_j + shift_j(v))``, where the village's shift is
``full_time_mediator · (ft_v − ref)`` on the village, and ``petition_agent · (pa_v − ref) +
distance_per_10km · (km_v − ref) / 10`` on both the grid and the village — the village's supply
read from the base scenario's district. The conditional logit is fitted by maximum likelihood
(a weak prior on the terms); ``self_report_entry`` are the shares ``softmax(α)`` at the
reference supply. A term whose supply never varies over the register's villages is not
identified: it is kept at the base's value (as an offset) and a note says so.

**Discovery race**: every dispute is found by the sweeps or by its party's report, whichever is
first; a party reports after an exponential delay of rate λ, except a share ``s`` who never
report. A dispute reported after ``r`` days contributes ``(1 − s) λ e^{−λr}`` (times the chance
that no sweep found it before, which does not involve λ or s); one found by a sweep after ``x``
days contributes ``s + (1 − s) e^{−λx}`` (its party had not reported). The likelihood in
(λ, s) is therefore exact whatever the sweep interval, phase, detection or the sweeps' own
workload. The share found by sweeps the closed form of docs/model.md then predicts, with the
base's interval and detection, is reported beside the observed share.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sim.scenario.district import District
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import LEVELS

from .logit_fit import collinear, effect_row, fit_choice_logit, tied_with
from .params import Params
from .params import rounded as _r

__all__ = ["ENTRY_LABELS", "ENTRY_TERMS", "fit_entry_choice", "fit_race", "race_sweep_share"]

ENTRY_TERMS = ("full_time_mediator", "petition_agent", "distance_per_10km")
_TERM_SD = 2.5  # weak prior on a supply term's log-odds (as for the quality effects)
_ALPHA_SD = 10.0  # next to flat: the intercepts are always well identified by their counts
_DRAWS = 4000  # normal draws of the coefficients for the shares' intervals


ENTRY_LABELS = {
    "full_time_mediator": "村专职调解员 full-time mediator in the village",
    "petition_agent": "信访代办员 petition agent",
    "distance_per_10km": "距乡镇驻地 distance to the seat (per 10 km)",
}


def _sum_to_one(shares: np.ndarray) -> list[float]:
    """Round to 6 decimals, the rounding error on the largest, so they sum to 1 (as fitting)."""
    out = [round(float(v), 6) for v in shares]
    big = int(np.argmax(out))
    out[big] = round(1.0 - sum(out[:big]) - sum(out[big + 1 :]), 6)
    return out


def _supply(scenario: Scenario) -> tuple[dict[str, int], np.ndarray]:
    """Village id → index, and each village's (ft − ref, pa − ref, (km − ref) / 10)."""
    d = District.from_scenario(scenario)
    e = scenario.entry
    ft = np.array([s.full_time > 0 for s in d.staffing["village"]], float)
    pa = np.array([n > 0 for n in d.village_petition_agents], float)
    km = np.array([k or 0.0 for k in d.village_seat_distance_km], float)
    terms = np.column_stack(
        [
            ft - e.reference_full_time_share,
            pa - e.reference_petition_agent_share,
            (km - e.reference_seat_distance_km) / 10.0,
        ]
    )
    return {name: i for i, name in enumerate(d.village_names)}, terms


def fit_entry_choice(
    cases: pd.DataFrame,
    scenario: Scenario,
    level: float,
    params: Params,
    rows: list[dict[str, Any]],
    notes: list[str],
    seed: int = 0,
) -> None:
    """Fit the entry logit on the self-reported cases' first levels and their villages."""
    if "channel0" not in cases or cases["channel0"].isna().all():
        notes.append("Entry choice (入口选择) not fitted: the register has no channel (报送渠道).")
        return
    reported = cases[(cases["channel0"] == "self_report") & cases["level0"].isin(LEVELS)]
    index, supply = _supply(scenario)
    v = reported["village"].map(index)
    reported, v = reported[v.notna()], v[v.notna()].astype(int).to_numpy()
    open_levels = [lv for lv in LEVELS if (reported["level0"] == lv).any()]
    if len(reported) < 20 or len(open_levels) < 2:
        notes.append(
            f"Entry choice (入口选择) not fitted: {len(reported)} self-reported cases "
            f"entering at {len(open_levels)} level(s)."
        )
        return
    n, big_j = len(reported), len(open_levels)
    chosen = reported["level0"].map({lv: j for j, lv in enumerate(open_levels)}).to_numpy(int)
    # Each term on the alternatives it moves: the full-time mediator on the village, the agent
    # and the distance on grid and village (sim/model/entry.py).
    on = {
        "full_time_mediator": ("village",),
        "petition_agent": ("grid", "village"),
        "distance_per_10km": ("grid", "village"),
    }
    x = supply[v]  # (n, 3)
    terms = np.zeros((n, big_j, 3))
    for col, name in enumerate(ENTRY_TERMS):
        for j, lv in enumerate(open_levels):
            if lv in on[name]:
                terms[:, j, col] = x[:, col]
    ref = int(np.bincount(chosen, minlength=big_j).argmax())  # the intercept fixed at 0
    alt = [j for j in range(big_j) if j != ref]
    dummies = np.zeros((n, big_j, len(alt)))
    for k, j in enumerate(alt):
        dummies[:, j, k] = 1.0
    full = np.concatenate([dummies, terms], axis=2)
    centred = (full - full.mean(axis=1, keepdims=True)).reshape(n * big_j, -1)
    names = [f"alpha.{open_levels[j]}" for j in alt] + list(ENTRY_TERMS)
    unsep = collinear(centred, names)
    hidden = set(unsep) | {p for ps in unsep.values() for p in ps}
    free = [t for t in ENTRY_TERMS if t not in hidden]
    fixed = [t for t in ENTRY_TERMS if t in hidden]
    base = scenario.entry
    offset = np.zeros((n, big_j))
    for t in fixed:
        offset += terms[:, :, ENTRY_TERMS.index(t)] * getattr(base, t)
    z_design = np.concatenate([dummies, terms[:, :, [ENTRY_TERMS.index(t) for t in free]]], axis=2)
    sd = np.array([_ALPHA_SD] * len(alt) + [_TERM_SD] * len(free))
    fit = fit_choice_logit(z_design, chosen, offset, sd)
    zq = float(stats.norm.ppf(0.5 + level / 2))
    mech_on = scenario.mechanisms.entry_choice
    labels = ENTRY_LABELS
    for t in ENTRY_TERMS:
        if t in hidden:
            tied = tied_with(t, unsep)
            # Tied to the intercepts only: the supply is the same in every village.
            partners = sorted(p for p in tied if not p.startswith("alpha."))
            why = (
                f"moves with {', '.join(partners)}"
                if partners
                else "is the same in every village the parties came from"
            )
            notes.append(
                f"entry.{t} ({labels[t]}) is not identified: the village supply {why}; the "
                f"base's value {getattr(base, t):g} is kept and no estimate is given."
            )
            rows.append(effect_row("entry", f"entry.{t}", labels[t], n, "not identified", False))
            continue
        k = len(alt) + free.index(t)
        est, se = float(fit.beta[k]), float(fit.se[k])
        lo, hi = est - zq * se, est + zq * se
        value = _r(min(max(est, -10.0), 10.0), 4)
        params.add(
            f"entry.{t}",
            "entry",
            est,
            lo,
            hi,
            n,
            write=value if mech_on else None,
            note="conditional logit of entry on village supply (sim/model/entry.py)",
        )
        rows.append(
            effect_row("entry", f"entry.{t}", labels[t], n, "estimated", mech_on, est, se, zq)
        )
    # The shares at the reference supply: softmax of the intercepts, closed levels 0.
    rng = np.random.default_rng(seed + 40)
    draws = rng.multivariate_normal(fit.beta, fit.cov, size=_DRAWS, method="cholesky")

    def shares(b: np.ndarray) -> np.ndarray:
        a = np.zeros((b.shape[0], big_j))
        a[:, alt] = b[:, : len(alt)]
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    point = shares(fit.beta[None, :])[0]
    spread = shares(draws)
    keys = [f"discovery.self_report_entry.{lv}" for lv in LEVELS]
    full_point = np.zeros(len(LEVELS))
    for j, lv in enumerate(open_levels):
        i = LEVELS.index(lv)
        full_point[i] = point[j]
        lo, hi = np.quantile(spread[:, j], [(1 - level) / 2, (1 + level) / 2])
        params.add(
            f"entry.reference_share.{lv}",
            "entry",
            point[j],
            lo,
            hi,
            n,
            note="self_report_entry at the reference supply",
        )
    if mech_on:
        params.settings.update(zip(keys, _sum_to_one(full_point), strict=True))
        cols = [LEVELS.index(lv) for lv in open_levels]

        def draw(r: np.random.Generator) -> dict[str, Any]:
            s = np.zeros(len(LEVELS))
            s[cols] = shares(r.multivariate_normal(fit.beta, fit.cov, method="cholesky")[None])[0]
            return dict(zip(keys, _sum_to_one(s), strict=True))

        params.draws.append(draw)
        notes.append(
            "Entry choice (入口选择) is on in the base: discovery.self_report_entry is written as "
            "the logit's shares at the reference supply (entry.reference_*), not the raw shares."
        )
    else:
        notes.append(
            "The entry-choice terms (入口选择) are fitted and reported but not written: "
            "mechanisms.entry_choice is off in the base (the raw entry shares are right then)."
        )


# --- The discovery race ---------------------------------------------------------------------


def race_sweep_share(rate: float, never: float, interval: float, detect: float) -> float:
    """The share found first by sweeps (docs/model.md): ``s + (1 − s) · g(λ)``."""
    lt = rate * interval
    if lt <= 0:
        return 1.0
    g = (-math.expm1(-lt) / lt) * detect / (1.0 - (1.0 - detect) * math.exp(-lt))
    return never + (1.0 - never) * g


def _race_loglik(log_rate: float, never: float, r: np.ndarray, x: np.ndarray) -> float:
    lam = math.exp(log_rate)
    if never >= 1.0:
        return -math.inf
    out = len(r) * (math.log1p(-never) + log_rate) - lam * float(r.sum())
    # log(s + (1 − s) e^{−λx}) without underflow: a log-sum-exp (s = 0 gives −λx exactly).
    log_s = math.log(never) if never > 0 else -math.inf
    return out + float(np.logaddexp(log_s, math.log1p(-never) - lam * x).sum())


def fit_race(
    cases: pd.DataFrame,
    scenario: Scenario,
    level: float,
    params: Params,
    rows: list[dict[str, Any]],
    notes: list[str],
) -> None:
    """Fit the parties' report rate and never-reporting share from both channels' delays."""
    if "channel0" not in cases or not cases["arisen_known"].any():
        notes.append(
            "Discovery race (发现竞赛) not fitted: the register needs the channel "
            "(报送渠道) and the date each dispute arose (发生时间)."
        )
        return
    known = cases[cases["arisen_known"] & ~cases["initial"]]
    days = (known["entered0"] - known["arisen"]) / pd.Timedelta(days=1)
    r = days[known["channel0"] == "self_report"].to_numpy(float)
    x = days[known["channel0"] == "sweep"].to_numpy(float)
    if len(r) < 10 or len(x) < 10:
        notes.append(
            f"Discovery race (发现竞赛) not fitted: {len(r)} self-reported and {len(x)} "
            "swept disputes with a date they arose (need 10 of each)."
        )
        return
    r, x = np.clip(r, 0.0, None), np.clip(x, 0.0, None)
    zq = float(stats.norm.ppf(0.5 + level / 2))

    def best_rate(s: float) -> optimize.OptimizeResult:
        return optimize.minimize_scalar(
            lambda lr: -_race_loglik(lr, s, r, x),
            bounds=(-20.0, 10.0),
            method="bounded",
            options={"xatol": 1e-10},
        )

    def best_never(lr: float) -> optimize.OptimizeResult:
        return optimize.minimize_scalar(
            lambda s: -_race_loglik(lr, s, r, x),
            bounds=(0.0, 0.999),
            method="bounded",
            options={"xatol": 1e-10},
        )

    # Maximum likelihood by profiling: the rate's optimum for each share is one-dimensional.
    outer = optimize.minimize_scalar(
        lambda s: float(best_rate(s).fun),
        bounds=(0.0, 0.999),
        method="bounded",
        options={"xatol": 1e-8},
    )
    never = float(outer.x)
    if -_race_loglik(float(best_rate(0.0).x), 0.0, r, x) <= float(outer.fun):
        never = 0.0  # the bounded search never lands on the bound itself
    log_rate = float(best_rate(never).x)
    best = _race_loglik(log_rate, never, r, x)
    # Interval of the rate: profile likelihood ratio, which stays right near s = 0 (a bound).
    crit = float(stats.chi2.ppf(level, 1))

    def profile_rate(lr: float) -> float:
        return 2 * (best + float(best_never(lr).fun)) - crit

    def profile_never(s: float) -> float:
        return 2 * (best + float(best_rate(s).fun)) - crit

    lr_lo = _root(profile_rate, log_rate, -20.0)
    lr_hi = _root(profile_rate, log_rate, 10.0)
    s_lo = _root(profile_never, never, 0.0) if profile_never(0.0) > 0 else 0.0
    s_hi = _root(profile_never, never, 0.999)
    mean, mean_lo, mean_hi = math.exp(-log_rate), math.exp(-lr_hi), math.exp(-lr_lo)
    d = scenario.discovery
    race_on = scenario.mechanisms.discovery_race
    n = float(len(r) + len(x))
    params.add(
        "discovery.race.report_delay_mean",
        "discovery race",
        mean,
        mean_lo,
        mean_hi,
        n,
        note="the parties' own report delay (exponential), net of the sweeps' wins",
    )
    if race_on:
        params.settings["discovery.self_report_delay_days"] = {
            "dist": "exponential",
            "mean": _r(mean, 4),
        }
    params.add(
        "discovery.never_self_report_share",
        "discovery race",
        never,
        s_lo,
        s_hi,
        n,
        write=_r(never, 4) if race_on else None,
        note="race likelihood of both channels' delays, profile-likelihood interval",
    )
    if race_on:
        se_lr = (lr_hi - lr_lo) / (2 * zq)
        se_s = (s_hi - s_lo) / (2 * zq)

        def draw(rng: np.random.Generator) -> dict[str, Any]:
            m = math.exp(-(log_rate + se_lr * rng.standard_normal()))
            s = min(max(never + se_s * rng.standard_normal(), 0.0), 0.999)
            return {
                "discovery.self_report_delay_days": {"dist": "exponential", "mean": _r(m, 4)},
                "discovery.never_self_report_share": _r(s, 4),
            }

        params.draws.append(draw)
    share = race_sweep_share(1 / mean, never, d.sweep_interval_days, d.detect_probability)
    lo_share = race_sweep_share(1 / mean_lo, s_lo, d.sweep_interval_days, d.detect_probability)
    hi_share = race_sweep_share(1 / mean_hi, s_hi, d.sweep_interval_days, d.detect_probability)
    params.add(
        "discovery.race.sweep_share_closed_form",
        "discovery race (report)",
        share,
        min(lo_share, hi_share),
        max(lo_share, hi_share),
        n,
        note=f"observed {len(x) / n:.3f}; base interval and detection",
    )
    labels = {
        "report_delay_mean": "自行申请时长 parties' report delay, mean (days)",
        "never_self_report_share": "不主动申请比例 share never reporting",
    }
    for term, est, lo, hi in (
        ("report_delay_mean", mean, mean_lo, mean_hi),
        ("never_self_report_share", never, s_lo, s_hi),
    ):
        rows.append(
            {
                "group": "discovery race",
                "term": term,
                "label": labels[term],
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "n": n,
                "status": "estimated",
                "written": race_on,
            }
        )
    notes.append(
        f"Discovery race (发现竞赛): parties report after {mean:.2g} days on average "
        f"[{mean_lo:.2g}, {mean_hi:.2g}], {never:.1%} never do [{s_lo:.1%}, {s_hi:.1%}] "
        f"(profile-likelihood intervals); the closed form with the base's sweeps every "
        f"{d.sweep_interval_days:g} days and detection {d.detect_probability:g} gives a sweep "
        f"share of {share:.3f} against {len(x) / n:.3f} observed"
        + (
            " (sweeps that take the grid worker's time end later than the closed form assumes)"
            if d.sweep_hours_per_grid > 0
            else ""
        )
        + ("." if race_on else "; not written: mechanisms.discovery_race is off in the base.")
    )


def _root(f, inside: float, edge: float) -> float:
    """Where ``f`` crosses 0 between the estimate (f < 0) and ``edge`` (the bound if never)."""
    if f(edge) <= 0:
        return edge
    return float(optimize.brentq(f, min(inside, edge), max(inside, edge), xtol=1e-8))
