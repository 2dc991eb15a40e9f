"""A register simulated from known parameters, and the truth each fitted key should recover.

The overrides make each fitted quantity identifiable from a register (docs/calibration.md):
round-the-clock calendars, one session, no party delays, no queue (ample mediators), no time
limits, no worsening, no overload, no effort factors — so a step's time at its level is its
effort / 24 and each mediation is one Bernoulli trial with the scenario's probability. The
committees around the ladder and petitions, where the model has them, are switched off: the
register of the ladder is what calibration fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from calibration.backtest import register_from_sim
from calibration.fitting import MONTHS, Calibration, calibrate_register
from calibration.reading import Register
from tests.scenarios import SMALL

MECHANISMS = list(sim.Scenario.model_fields["mechanisms"].annotation.model_fields)
OFF = [
    "working_calendar", "party_delays", "time_limits", "worsening", "overload", "effort_factors",
    "sector_committees", "enterprise_committees", "stationed_rooms", "joint_mediation",
    "experts", "petitions",
]  # fmt: skip
ROUND_TRIP = [
    *(f"mechanisms.{m}=false" for m in OFF if m in MECHANISMS),
    "run.start_date=2020-01-01",
    "run.warmup_days=0",
    "run.horizon_days=366",  # the calendar year 2020 (a leap year)
    "run.drain=true",
    "arrivals.rate_per_1000_per_year=60",
    "ladder.grid.full_time=0",
    "ladder.grid.part_time=20",
    "ladder.village.full_time=20",
    "ladder.village.part_time=20",
    "ladder.township.full_time=20",
    "ladder.township.part_time=0",
    "ladder.district.full_time=20",
    "ladder.district.part_time=0",
]
START, END = pd.Timestamp("2020-01-01"), pd.Timestamp("2021-01-01")


def scenario(*extra: str) -> sim.Scenario:
    return sim.load_scenario(SMALL, [*ROUND_TRIP, *extra])


def simulated_register(sc: sim.Scenario, seed: int) -> Register:
    """A simulated register wrapped as if read from a file (it needs no checking)."""
    reg = sim.simulate(sc, replications=1, seed=seed, keep_tables=True).registers[0]
    table = register_from_sim(reg)
    empty = pd.DataFrame(columns=["row", "problems"])
    return Register(f"simulated seed {seed}", "-", table, empty, rows_read=len(table))


def fit(sc: sim.Scenario, seed: int, level: float = 0.9) -> Calibration:
    return calibrate_register(
        simulated_register(sc, seed), sc, start=START, end=END, level=level,
        durations="elapsed", seed=seed,
    )  # fmt: skip


def truth(sc: sim.Scenario) -> dict[str, float]:
    """The value each fitted key should recover, from the scenario the register came from."""
    out: dict[str, float] = {"arrivals.rate_per_1000_per_year": sc.arrivals.rate_per_1000_per_year}
    season = np.asarray(sc.arrivals.seasonality) / np.mean(sc.arrivals.seasonality)
    out |= {f"arrivals.seasonality.{m}": float(s) for m, s in zip(MONTHS, season, strict=True)}
    for name, cat in sc.categories.items():
        out[f"categories.{name}.share"] = cat.share
        out[f"categories.{name}.sensitive_share"] = cat.sensitive_share
    out |= {f"severity.{k}": v for k, v in sc.severity.model_dump().items()}
    d = sc.discovery
    out["discovery.sweep_share"] = d.sweep_share
    out |= {f"discovery.on_the_spot.{k}": v for k, v in d.on_the_spot.model_dump().items()}
    out |= {
        f"discovery.self_report_entry.{k}": v for k, v in d.self_report_entry.model_dump().items()
    }
    for lv in sim.LEVELS:
        level = sc.ladder.level(lv)
        for kind in ("full_time", "part_time"):
            for sev, p in getattr(level.resolve, kind).model_dump().items():
                out[f"ladder.{lv}.resolve.{kind}.{sev}"] = p
        eff = level.effort_hours
        out[f"ladder.{lv}.effort_hours.median"] = eff.median
        out[f"ladder.{lv}.effort_hours.p90"] = eff.p90
    out["channels.online_delay_days.mean"] = sc.channels.online_delay_days.mean
    out["channels.offline_delay_days.mean"] = sc.channels.offline_delay_days.mean
    out["discovery.self_report_delay_days.mean"] = d.self_report_delay_days.mean
    return out


def intervals(cal: Calibration) -> pd.DataFrame:
    """Each fitted key's interval; durations are judged in their true family.

    The true laws are lognormal (effort) and exponential (delays); AIC may prefer another
    family on one sample, and a wrong family's interval is not meant to cover the truth.
    """
    rows = cal.parameters.set_index("key")[["group", "estimate", "ci_low", "ci_high", "n"]]
    rows = rows[~rows.index.str.startswith(("ladder.", "channels.", "discovery.self_report_d"))
                | rows.index.str.contains(".resolve.")]  # fmt: skip
    extra = []
    for lv, f in cal.durations.items():
        ln = f.fits["lognormal"]
        for q in ("median", "p90"):
            extra.append((f"ladder.{lv}.effort_hours.{q}", "durations", ln.summary[q],
                          *ln.ci[q], f.n))  # fmt: skip
    for name, key in (("online", "channels.online_delay_days"),
                      ("offline", "channels.offline_delay_days"),
                      ("self_report", "discovery.self_report_delay_days")):  # fmt: skip
        if name in cal.delays:
            ex = cal.delays[name].fits["exponential"]
            extra.append((f"{key}.mean", "delays", ex.summary["mean"], *ex.ci["mean"],
                          cal.delays[name].n))  # fmt: skip
    more = pd.DataFrame(extra, columns=["key", "group", "estimate", "ci_low", "ci_high", "n"])
    return pd.concat([rows.reset_index(), more], ignore_index=True)
