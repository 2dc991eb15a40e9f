"""Sizing (编制测算): the least-cost full-time staffing that meets the targets, and its budget.

The budget office asks how many full-time mediators (专职人民调解员), at which level and in
which township, next year needs so that 小事不出村、大事不出镇 and the time targets are met with
the scenario's confidence — and what the yearly budget (年度经费) is. The planner asks whether
the seed notice's quotas are enough. docs/sizing.md explains the method; in short:

* **Levers.** Full-time headcount of each township committee, the number of villages of each
  township with a full-time mediator, the district committee, each sector committee, stationed
  room and enterprise committee. Part-time staff stay as the scenario gives them. Headcounts are
  integers, never below the quotas (``Scenario.quotas``) unless ``allow_below_quota``.
* **Meeting a target with confidence.** Over ``n`` replications with the same seeds, the
  one-sided Student-t bound at level ``run.confidence`` (``mean − t·s/√n`` for an ``at_least``
  target, ``mean + t·s/√n`` for ``at_most``) must meet the target. The same rule is applied
  everywhere here; the share of replications meeting the target is reported beside it.
* **Search.** The analytic screen (:func:`sim.sizing.analytic.screen`), corrected by the offset
  between screen and simulation at the current staffing, proposes a staffing (a surrogate greedy by
  gain per yuan); simulation with common random numbers confirms it; a greedy by simulated gain
  per yuan adds mediators while a target fails; a pruning pass removes every mediator whose
  removal keeps every target; a final check at the confirmation replications proves that
  removing any single one breaks a target.
* **Infeasibility.** A target staffing cannot move (the on-the-spot share above what sweeps
  find) or one that fails even at a generous staffing is reported as a
  :class:`~sim.scenario.errors.ScenarioError` (exit 2), before any search.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import heapq
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sim.experiments.experiment import confidence_interval
from sim.measures.costs import cost_table
from sim.measures.kpis import kpis
from sim.measures.register import case_table, register_table
from sim.measures.township_kpis import TOWNSHIP_KPIS, township_kpis
from sim.model.replication import simulate_replication
from sim.scenario.district import District
from sim.scenario.errors import InputProblem, ScenarioError
from sim.scenario.loading import apply_overrides, load_scenario, parse_override, validate_table
from sim.scenario.schema import Scenario
from sim.scenario.vocabulary import KPI_LABELS, LEVEL_LABELS
from sim.sizing.analytic import screen

__all__ = [
    "Lever",
    "QuotaVerdict",
    "SizingResult",
    "check_quotas",
    "compare_screen",
    "judge",
    "levers",
    "size",
]

LEVER_KINDS: dict[str, str] = {
    "district": "区调委会",
    "township": "乡镇(街道)调委会",
    "village": "村(社区)调委会",
    "sector": "行业性专业性调委会",
    "stationed_room": "派驻调解工作室",
    "enterprise": "企业调委会",
}


# --------------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Lever:
    """One integer decision: a headcount (or number of villages with a full-time mediator).

    ``mediators`` is the number of full-time mediators one step of the lever adds (a village
    step adds ``ladder.village.full_time`` of them); ``salary`` the yearly salary of one step.
    """

    key: str
    kind: str  # district | township | village | sector | stationed_room | enterprise
    place: str  # township name, committee key, or "district"
    label: str
    floor: int
    ceiling: int
    start: int
    mediators: int
    salary: float
    quota: int


Staffing = tuple[int, ...]
"""Values of the levers, in the order of :func:`levers`."""


def levers(scenario: Scenario, allow_below_quota: bool = False) -> list[Lever]:
    """The levers of a scenario with their quota floors and generous ceilings.

    Floors: a township committee ≥ ``quotas.township_full_time``; villages with a full-time
    mediator ≥ the number the scenario already has (those villages "have the conditions", so
    the quota ≥ 1 holds for each of them); sector committees, stationed rooms and enterprise
    committees ≥ their quotas; the district committee has no quota (it keeps at least one
    mediator). With ``allow_below_quota`` every floor is 0 (the district keeps one mediator).
    Ceilings are generous (used to tell an infeasible request from a hard one): the larger of
    twice the start, the floor + 4, and the headcount that brings the pool's screened
    utilisation to 0.3; every village for the village lever.
    """
    sc = scenario
    q = sc.quotas
    m = sc.mechanisms
    d = District.from_scenario(sc)
    costs = sc.costs.full_time_salary_yuan
    pools = screen(sc).pools
    below = allow_below_quota
    out: list[Lever] = []

    def need(venue: str, unit: str, part_time: int) -> int:
        """Full-time headcount that brings the screened utilisation of a pool to 0.3."""
        if not len(pools):
            return 0
        row = pools[(pools["venue"] == venue) & (pools["unit"] == unit)]
        if not len(row):
            return 0
        load = float(row["arrivals_per_year"].iloc[0] * row["effort_hours"].iloc[0])
        f_ft, f_pt = _calendar_fractions(sc)
        cap_ft, cap_pt = 24 * 365 * f_ft, 24 * 365 * f_pt
        return max(0, math.ceil((load / 0.3 - part_time * cap_pt) / cap_ft))

    def ceiling(start: int, floor: int, needed: int) -> int:
        return max(2 * start, floor + 4, needed, 1)

    top = sc.ladder.district
    dist_ft = d.staffing["district"][0].full_time
    dist_floor = 0 if top.part_time > 0 else 1
    out.append(
        Lever(
            "district",
            "district",
            "district",
            "区调委会",
            dist_floor,
            ceiling(dist_ft, dist_floor, need("district", "district", top.part_time)),
            dist_ft,
            1,
            costs.district,
            0,
        )
    )
    for t, staff in zip(sc.townships, d.staffing["township"], strict=True):
        floor = 0 if below else q.township_full_time
        out.append(
            Lever(
                f"township:{t.pinyin}",
                "township",
                t.name,
                f"{t.name}调委会",
                floor,
                ceiling(staff.full_time, floor, need("township", t.name, staff.part_time)),
                staff.full_time,
                1,
                costs.township,
                q.township_full_time,
            )
        )
    per_village = sc.ladder.village.full_time
    if per_village > 0:
        villages = d.staffing["village"]
        for ti, t in enumerate(sc.townships):
            mine = [s for s, tj in zip(villages, d.village_township, strict=True) if tj == ti]
            have = sum(1 for s in mine if s.full_time > 0)
            floor = 0 if below else have
            out.append(
                Lever(
                    f"village:{t.pinyin}",
                    "village",
                    t.name,
                    f"{t.name}有专职调解员的村",
                    floor,
                    len(mine),
                    have,
                    per_village,
                    costs.village * per_village,
                    q.village_full_time,
                )
            )
    # Committees around the ladder: one lever each, from its quota up.
    committees = (
        (m.sector_committees, "sector", sc.sectors, q.sector_full_time, costs.sector),
        (
            m.stationed_rooms,
            "stationed_room",
            sc.stationed_rooms,
            q.stationed_room_full_time,
            costs.stationed_room,
        ),
        (
            m.enterprise_committees,
            "enterprise",
            sc.enterprise.committees,
            q.enterprise_full_time,
            costs.enterprise,
        ),
    )
    for on, venue, table, quota, cost in committees:
        if not on:
            continue
        for key, c in table.items():
            floor = 0 if below else quota
            out.append(
                Lever(
                    f"{venue}:{key}",
                    venue,
                    key,
                    c.label or key,
                    floor,
                    ceiling(c.full_time, floor, need(venue, key, c.part_time)),
                    c.full_time,
                    1,
                    cost,
                    quota,
                )
            )
    return out


def _calendar_fractions(sc: Scenario) -> tuple[float, float]:
    if not sc.mechanisms.working_calendar:
        return 1.0, 1.0
    return (
        sc.calendars.full_time.hours_per_week / 168.0,
        sc.calendars.part_time.hours_per_week / 168.0,
    )


def _apply(table: dict[str, Any], lv: Sequence[Lever], x: Staffing) -> dict[str, Any]:
    """A copy of a scenario table with the levers set to ``x``."""
    out = copy.deepcopy(table)
    by_pinyin = {t["pinyin"]: t for t in out["townships"]}
    for lever, value in zip(lv, x, strict=True):
        kind, _, key = lever.key.partition(":")
        if kind == "district":
            out["ladder"]["district"]["full_time"] = value
            out["ladder"]["district"]["full_time_coverage"] = 1.0
        elif kind == "township":
            by_pinyin[key]["full_time"] = value
        elif kind == "village":
            by_pinyin[key]["villages_with_full_time"] = value
        elif kind == "sector":
            out["sectors"][key]["full_time"] = value
        elif kind == "stationed_room":
            out["stationed_rooms"][key]["full_time"] = value
        elif kind == "enterprise":
            out["enterprise"]["committees"][key]["full_time"] = value
    return out


def _scale_demand(table: dict[str, Any], factor: float) -> dict[str, Any]:
    """Demand × ``factor``: the dispute rate and the court referrals of stationed rooms."""
    out = copy.deepcopy(table)
    out["arrivals"]["rate_per_1000_per_year"] = out["arrivals"]["rate_per_1000_per_year"] * factor
    for room in out.get("stationed_rooms", {}).values():
        room["referrals_per_year"] = room.get("referrals_per_year", 0.0) * factor
    return out


# --------------------------------------------------------------------------- the confidence rule


def one_sided_t(confidence: float, n: int) -> float:
    """Student-t quantile for a one-sided bound at ``confidence`` with ``n`` replications."""
    if n < 2:
        return math.inf
    return float(special.stdtrit(n - 1, confidence))


def judge(
    targets: dict,
    per_replication: pd.DataFrame,
    confidence: float,
    planned: int | None = None,
) -> pd.DataFrame:
    """The verdict on each target by the sizing rule (the one-sided bound meets the target).

    Columns: label, sense, target, mean, bound (one-sided at ``confidence``), ci_low, ci_high
    (two-sided, for display), n, met (the rule), p_meet (share of replications meeting the
    target) and shortfall (how far the bound is from the target, relative to the target; 0 if
    met). A KPI with no value in any replication cannot be judged: met is False. With
    ``planned`` > n the bound uses the spread of the n replications at hand but the
    t-quantile and √ of ``planned`` ones: the verdict expected once they are run.
    """
    rows = {}
    for name, target in targets.items():
        values = per_replication[name].to_numpy(dtype=float) if name in per_replication else []
        x = np.asarray(values, dtype=float)
        x = x[~np.isnan(x)]
        n = len(x)
        mean, lo, hi = confidence_interval(x, confidence)
        if n >= 2:
            # During the search the spread is estimated from fewer replications than the
            # final check will use; the bound is then the one expected at ``planned``.
            k = max(n, planned or n)
            half = one_sided_t(confidence, k) * float(x.std(ddof=1)) / math.sqrt(k)
        else:
            half = 0.0 if n == 1 else math.nan
        up = target.sense == ">="
        bound = mean - half if up else mean + half
        met = bool(n > 0 and target.met_by(bound))
        p_meet = float(np.mean([target.met_by(float(v)) for v in x])) if n else 0.0
        if n == 0:
            gap = math.inf
        else:
            gap = max(0.0, (target.value - bound) if up else (bound - target.value))
            gap /= max(abs(target.value), 1e-9)
        rows[name] = {
            "label": target.label or KPI_LABELS.get(name, ""),
            "sense": target.sense,
            "target": target.value,
            "mean": mean,
            "bound": bound,
            "ci_low": lo,
            "ci_high": hi,
            "n": n,
            "met": met,
            "p_meet": p_meet,
            "shortfall": gap,
        }
    out = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=[
            "label", "sense", "target", "mean", "bound", "ci_low", "ci_high", "n", "met",
            "p_meet", "shortfall",
        ],
    )  # fmt: skip
    out.index.name = "kpi"
    return out


# --------------------------------------------------------------------------- simulation engine


@dataclass
class _Rep:
    kpis: dict[str, float]
    townships: pd.DataFrame
    costs: pd.DataFrame


def _run_one(scenario: Scenario, replication: int, seed: int) -> _Rep:
    rep = simulate_replication(scenario, replication=replication, seed=seed)
    cases = case_table(rep)
    register = register_table(rep, cases)
    return _Rep(
        kpis(rep, cases, register), township_kpis(rep, cases, register), cost_table(rep, register)
    )


class _Engine:
    """Runs replications of staffings with common random numbers and remembers every one.

    Replication ``k`` of every staffing uses the same seed and index, so two staffings face the
    same disputes; results are cached by (staffing, replication), so raising the number of
    replications only simulates the new ones. ``simulated`` counts replications actually run.
    """

    def __init__(
        self, table: dict[str, Any], source: str, lv: list[Lever], seed: int, workers: int
    ):
        self.table = table
        self.source = source
        self.levers = lv
        self.seed = seed
        self.workers = max(1, workers)
        self.cache: dict[tuple[Staffing, int], _Rep] = {}
        self.scenarios: dict[Staffing, Scenario] = {}
        self.simulated = 0
        self._pool: cf.ProcessPoolExecutor | None = None

    def scenario(self, x: Staffing) -> Scenario:
        if x not in self.scenarios:
            self.scenarios[x] = validate_table(_apply(self.table, self.levers, x), self.source)
        return self.scenarios[x]

    def run(self, staffings: Iterable[Staffing], replications: int) -> None:
        todo = [
            (x, k) for x in dict.fromkeys(staffings) for k in range(replications)
            if (x, k) not in self.cache
        ]  # fmt: skip
        if not todo:
            return
        if self.workers == 1 or len(todo) == 1:
            for x, k in todo:
                self.cache[(x, k)] = _run_one(self.scenario(x), k, self.seed)
        else:
            if self._pool is None:
                ctx = multiprocessing.get_context("fork")
                self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx)
            futures = {
                self._pool.submit(_run_one, self.scenario(x), k, self.seed): (x, k) for x, k in todo
            }
            for fut in cf.as_completed(futures):
                self.cache[futures[fut]] = fut.result()
        self.simulated += len(todo)

    def per_replication(self, x: Staffing, replications: int) -> pd.DataFrame:
        self.run([x], replications)
        out = pd.DataFrame([self.cache[(x, k)].kpis for k in range(replications)])
        out.index.name = "replication"
        return out

    def townships(self, x: Staffing, replications: int) -> list[pd.DataFrame]:
        self.run([x], replications)
        return [self.cache[(x, k)].townships for k in range(replications)]

    def costs(self, x: Staffing, replications: int) -> list[pd.DataFrame]:
        self.run([x], replications)
        return [self.cache[(x, k)].costs for k in range(replications)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


# --------------------------------------------------------------------------- results


@dataclass
class SizingResult:
    """What :func:`size` returns; every table is a pandas DataFrame.

    ``staffing``: one row per demand level and lever (level, place, label, floor, quota, start,
    full_time = the sized value, mediators, yearly salary). ``budget``: the budget table
    (headcount and yuan per level, township and committee; rewards, expert fees, purchased
    services). ``targets``: the verdict per demand level and target at the confirmation
    replications. ``frontier``: cost against target attainment for every staffing the search
    simulated. ``minimality``: for each lever above its floor, the target that breaks when one
    mediator is removed. ``replications_simulated`` and ``seconds`` measure the effort.
    """

    scenario: Scenario
    staffing: pd.DataFrame
    budget: pd.DataFrame
    targets: pd.DataFrame
    frontier: pd.DataFrame
    minimality: pd.DataFrame
    replications_simulated: int
    seconds: float
    confidence: float
    replications: int
    seed: int
    infeasible: dict[float, list[str]] = field(default_factory=dict)

    def headcount(self, demand: float = 1.0) -> int:
        rows = self.staffing[self.staffing["demand"] == demand]
        return int((rows["full_time"] * rows["mediators"]).sum())

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict]:
            return json_safe(df.reset_index().to_dict(orient="records"))

        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": self.replications,
            "confidence": self.confidence,
            "rule": "one-sided Student-t bound of the mean over replications meets the target",
            "replications_simulated": self.replications_simulated,
            "seconds": round(self.seconds, 1),
            "staffing": records(self.staffing),
            "budget": records(self.budget),
            "targets": records(self.targets),
            "minimality": records(self.minimality),
            "frontier": records(self.frontier),
            "infeasible": {str(k): v for k, v in self.infeasible.items()},
        }


def json_safe(obj: Any) -> Any:
    """NaN and infinities become None; numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------- loading


def _base_table(
    scenario: Scenario | str | Path | None, overrides: Iterable[str | tuple[str, Any]]
) -> tuple[dict[str, Any], str]:
    """The scenario as a plain table (validated) and the name used in messages."""
    if isinstance(scenario, Scenario):
        table = scenario.model_dump(by_alias=True)
        pairs = [parse_override(o) if isinstance(o, str) else o for o in overrides]
        if pairs:
            table = apply_overrides(table, pairs)
        source = scenario.source_file or scenario.name
        validate_table(table, source)
        return table, source
    sc = load_scenario(scenario, overrides)
    return sc.model_dump(by_alias=True), sc.source_file or sc.name


# --------------------------------------------------------------------------- the search

_DAYS = ("days_to_resolution.mean", "days_to_resolution.p90")


class _Search:
    """Least-cost staffing for one demand level (see the module docstring for the method)."""

    def __init__(
        self,
        engine: _Engine,
        lv: list[Lever],
        targets: dict,
        confidence: float,
        n_search: int,
        n_confirm: int,
        budget: float | None,
        candidates: int,
        max_steps: int,
        log: Callable[[str], None],
    ):
        self.engine = engine
        self.lv = lv
        self.targets = targets
        self.confidence = confidence
        self.n_search = n_search
        self.n_confirm = n_confirm
        self.budget = budget
        self.candidates = candidates
        self.max_steps = max_steps
        self.log = log
        self._screens: dict[Staffing, dict[str, float]] = {}
        self.path: list[tuple[Staffing, str]] = []

    # -- evaluation
    def verdict(self, x: Staffing, n: int) -> pd.DataFrame:
        per_rep = self.engine.per_replication(x, n)
        return judge(self.targets, per_rep, self.confidence, planned=self.n_confirm)

    def met(self, x: Staffing, n: int) -> bool:
        return bool(self.verdict(x, n)["met"].all())

    def score(self, x: Staffing, n: int) -> float:
        s = self.verdict(x, n)["shortfall"].to_numpy(dtype=float)
        return float(np.where(np.isfinite(s), s, 1e6).sum())

    def cost(self, x: Staffing, n: int) -> float:
        return float(self.engine.per_replication(x, n)["annual_cost_yuan"].mean())

    def salary(self, x: Staffing) -> float:
        return float(sum(v * lever.salary for v, lever in zip(x, self.lv, strict=True)))

    def screened(self, x: Staffing) -> dict[str, float]:
        if x not in self._screens:
            self._screens[x] = screen(self.engine.scenario(x)).kpis
        return self._screens[x]

    @staticmethod
    def step(x: Staffing, i: int, delta: int) -> Staffing:
        y = list(x)
        y[i] += delta
        return tuple(y)

    # -- the surrogate: simulation at a reference staffing, screen differences elsewhere
    def predict(self, y: Staffing, ref: Staffing, sim: pd.DataFrame) -> dict[str, float]:
        s_y, s_ref = self.screened(y), self.screened(ref)
        out = {}
        for name in self.targets:
            mean = float(sim.loc[name, "mean"])
            a, b = s_y.get(name, math.nan), s_ref.get(name, math.nan)
            if math.isfinite(a) and math.isfinite(b):
                out[name] = mean + (a - b)
            elif name in _DAYS or name.startswith("waiting_days"):
                a, b = s_y["days_to_resolution.mean"], s_ref["days_to_resolution.mean"]
                out[name] = mean * a / b if b > 0 and math.isfinite(a / b) else mean
            elif name == "resolved_within_limit":
                esc = s_y["escalations_by_time_limit"] - s_ref["escalations_by_time_limit"]
                out[name] = mean - esc / max(s_ref["disputes"], 1.0)
            else:
                out[name] = mean
        return out

    def surrogate_shortfall(self, pred: dict[str, float], sim: pd.DataFrame) -> float:
        total = 0.0
        for name, target in self.targets.items():
            margin = abs(float(sim.loc[name, "mean"] - sim.loc[name, "bound"]))
            margin = margin if math.isfinite(margin) else 0.0
            value = pred[name]
            if not math.isfinite(value):
                total += 1e6
                continue
            if target.sense == ">=":
                gap = target.value + margin - value
            else:
                gap = value - (target.value - margin)
            total += max(0.0, gap) / max(abs(target.value), 1e-9)
        return total

    def surrogate_greedy(self, x: Staffing, n: int) -> Staffing:
        """Add mediators by the screen's gain per yuan until the screen says every target is met.

        Lazy greedy: gains are kept in a heap and only the top one is recomputed after each
        addition (a gain rarely grows when another mediator is added), so a step costs about
        one screen instead of one per lever.
        """
        sim = self.verdict(x, n)
        ref = x
        base = self.surrogate_shortfall(self.predict(x, ref, sim), sim)
        heap = [(-g, i) for g, i in self.rank_from(x, ref, sim)]
        heapq.heapify(heap)
        for _ in range(self.max_steps * 5):
            if base <= 0 or not heap:
                break
            _, i = heapq.heappop(heap)
            if x[i] >= self.lv[i].ceiling or not self.fits(x, ref, i):
                continue
            y = self.step(x, i, +1)
            after = self.surrogate_shortfall(self.predict(y, ref, sim), sim)
            gain = (base - after) / max(self.lv[i].salary, 1.0)
            if heap and gain < -heap[0][0] - 1e-15:
                heapq.heappush(heap, (-gain, i))  # stale: someone else may be better now
                continue
            if gain <= 0:
                break
            x, base = y, after
            heapq.heappush(heap, (-gain, i))
        return x

    def line_search(self, lo: Staffing, hi: Staffing, n: int, rounds: int = 4) -> Staffing:
        """Shrink a proposal that meets the targets back towards ``lo`` (which does not).

        The screen gets the pattern of an allocation right more often than its size; bisecting
        the fraction of the proposed additions that is kept costs ``rounds`` simulations and
        saves the pruning pass most of its work when the screen overshoots.
        """
        a, b = 0.0, 1.0
        best = hi
        for _ in range(rounds):
            mid = (a + b) / 2
            y = tuple(
                max(lever.floor, min(lever.ceiling, u + math.ceil(mid * (v - u))))
                for lever, u, v in zip(self.lv, lo, hi, strict=True)
            )
            if y in (lo, best):
                break
            if self.met(y, n):
                best, b = y, mid
                self.log(f"  line search keeps {mid:.0%}: salaries {self.salary(y):,.0f}")
            else:
                a = mid
        return best

    def fits(self, x: Staffing, ref: Staffing, i: int) -> bool:
        """Whether one more step of lever ``i`` stays within the budget ceiling (if any)."""
        if self.budget is None:
            return True
        extra = self.salary(x) - self.salary(ref) + self.lv[i].salary
        return self.cost(ref, self.n_search) + extra <= self.budget

    def rank_from(self, x: Staffing, ref: Staffing, sim: pd.DataFrame) -> list[tuple[float, int]]:
        base = self.surrogate_shortfall(self.predict(x, ref, sim), sim)
        out = []
        for i, lever in enumerate(self.lv):
            if x[i] >= lever.ceiling:
                continue
            if not self.fits(x, ref, i):
                continue
            y = self.step(x, i, +1)
            gain = base - self.surrogate_shortfall(self.predict(y, ref, sim), sim)
            out.append((gain / max(lever.salary, 1.0), i))
        out.sort(key=lambda t: -t[0])
        return out

    # -- the simulation phases
    def greedy(self, x: Staffing, n: int) -> Staffing:
        """While a target fails: simulate the screen's best few additions, keep the best/yuan."""
        for _ in range(self.max_steps):
            if self.met(x, n):
                return x
            sim = self.verdict(x, n)
            ranked = self.rank_from(x, x, sim)
            if not ranked:
                return x  # at the ceilings or the budget
            top = [i for _, i in ranked[: self.candidates]]
            ys = [self.step(x, i, +1) for i in top]
            self.engine.run(ys, n)
            here = self.score(x, n)
            gains = [
                (here - self.score(y, n)) / max(self.lv[i].salary, 1.0)
                for y, i in zip(ys, top, strict=True)
            ]
            best = int(np.argmax(gains))
            if gains[best] <= 0:
                best = 0  # no simulated gain yet (a threshold ahead): trust the screen
            x = ys[best]
            self.path.append((x, f"add {self.lv[top[best]].key}"))
            self.log(
                f"  + {self.lv[top[best]].key:<28} salaries {self.salary(x):>14,.0f}"
                f"  shortfall {self.score(x, n):.4f}"
            )
        return x

    def prune(self, x: Staffing, n: int) -> Staffing:
        """Remove mediators while every target stays met.

        Levers are tried in the order of the screen's predicted loss per yuan saved (the least
        harmful first); from a lever with many above its floor, half of them are tried at once,
        then a quarter, … down to one (so a lever costs a few simulations, not one per head).
        """
        changed = True
        while changed:
            changed = False
            for i in self.prune_order(x, n):
                step = max(1, (x[i] - self.lv[i].floor) // 2)
                while step >= 1 and x[i] - step >= self.lv[i].floor:
                    y = self.step(x, i, -step)
                    if self.met(y, n):
                        x = y
                        changed = True
                        self.path.append((x, f"remove {step} {self.lv[i].key}"))
                        self.log(
                            f"  - {step} {self.lv[i].key:<26} salaries {self.salary(x):>14,.0f}"
                        )
                        step = min(step, max(1, (x[i] - self.lv[i].floor) // 2))
                    else:
                        step //= 2
        return x

    def prune_order(self, x: Staffing, n: int) -> list[int]:
        """Levers above their floors, least screened harm per yuan saved first."""
        sim = self.verdict(x, n)
        base = self.surrogate_shortfall(self.predict(x, x, sim), sim)
        order = []
        for i, lever in enumerate(self.lv):
            if x[i] <= lever.floor:
                continue
            y = self.step(x, i, -1)
            harm = self.surrogate_shortfall(self.predict(y, x, sim), sim) - base
            order.append((harm / max(lever.salary, 1.0), -lever.salary, i))
        return [i for *_, i in sorted(order)]

    def minimality(self, x: Staffing, n: int) -> pd.DataFrame:
        """For each lever above its floor: remove one step and say which targets break."""
        rows = []
        ys = [self.step(x, i, -1) for i, lever in enumerate(self.lv) if x[i] > lever.floor]
        self.engine.run(ys, n)
        for i, lever in enumerate(self.lv):
            if x[i] <= lever.floor:
                continue
            v = self.verdict(self.step(x, i, -1), n)
            broken = [k for k in v.index if not v.loc[k, "met"]]
            rows.append(
                {
                    "lever": lever.key,
                    "kind": lever.kind,
                    "place": lever.place,
                    "full_time": x[i] * lever.mediators,
                    "without_one": (x[i] - 1) * lever.mediators,
                    "breaks": ", ".join(broken),
                    "minimal": bool(broken),
                }
            )
        return pd.DataFrame(
            rows,
            columns=["lever", "kind", "place", "full_time", "without_one", "breaks", "minimal"],
        )

    def run(self, start: Staffing) -> tuple[Staffing, pd.DataFrame, bool]:
        """Search from ``start``; returns the staffing, its minimality table and whether met."""
        ns, nc = self.n_search, self.n_confirm
        x = start
        self.path.append((x, "start"))
        for _ in range(4):  # screen-guided jumps, each confirmed by simulation
            if self.met(x, ns):
                break
            y = self.surrogate_greedy(x, ns)
            if y == x:
                break
            self.log(f"  screen proposes cost {self.salary(y):,.0f} (from {self.salary(x):,.0f})")
            if self.met(y, ns):
                y = self.line_search(start, y, ns)
            x = y
            self.path.append((x, "screen"))
        x = self.greedy(x, ns)
        for _ in range(self.max_steps):
            if self.met(x, ns):
                x = self.prune(x, ns)
            if nc > ns:
                x = self.greedy(x, nc)
                if self.met(x, nc):
                    x = self.prune(x, nc)
            table = self.minimality(x, nc) if self.met(x, nc) else pd.DataFrame()
            if not len(table) or table["minimal"].all():
                break
            # A removal that keeps every target at the confirmation replications: take it.
            free = table[~table["minimal"]]
            i = next(k for k, lever in enumerate(self.lv) if lever.key == free["lever"].iloc[0])
            x = self.step(x, i, -1)
            self.path.append((x, f"remove {self.lv[i].key}"))
        met = self.met(x, nc)
        return x, (self.minimality(x, nc) if met else pd.DataFrame()), met


# --------------------------------------------------------------------------- feasibility


def on_the_spot_ceiling(sc: Scenario) -> float:
    """The largest on-the-spot share sweeps can find: no staffing changes it.

    A dispute is settled on the spot only if a sweep finds it (``sweep_share`` of those not
    inside a firm) and then with ``on_the_spot.<severity>``; worsening before the sweep can only
    move it to a severity, so the best case is the largest probability at its severity or above.
    """
    m = sc.mechanisms
    if not (m.sweeps and m.on_the_spot):
        return 0.0
    disc = sc.discovery
    committees = sc.enterprise.committees if m.enterprise_committees else {}
    in_firm = sum(c.share * c.enterprise_share for c in sc.categories.values()) if committees else 0
    p = [disc.on_the_spot.of(s) for s in range(3)]
    best = [max(p[s:]) for s in range(3)]
    shares = (sc.severity.minor, sc.severity.major, sc.severity.serious)
    return disc.sweep_share * (1 - in_firm) * sum(a * b for a, b in zip(shares, best, strict=True))


def _structural(sc: Scenario, source: str) -> list[InputProblem]:
    """Targets that no staffing can meet, found without simulating."""
    from sim.measures.kpis import PETITION_KPIS

    problems = []
    for name, target in sc.targets.items():
        key = f"targets.{name}"
        if name == "on_the_spot_share" and target.sense == ">=":
            ceiling = on_the_spot_ceiling(sc)
            if target.value > ceiling + 1e-12:
                problems.append(
                    InputProblem(
                        source,
                        key,
                        target.value,
                        f"at most {ceiling:.3f}: sweeps can settle no more on the spot "
                        "(sweep_share × on_the_spot probabilities), whatever the staffing",
                    )
                )
        if name in PETITION_KPIS and (sc.petitions is None or not sc.mechanisms.petitions):
            problems.append(
                InputProblem(
                    source, key, target.value, "a KPI this scenario models (it has no petitions)"
                )
            )
        if name in ("disputes", "full_time_mediators", "annual_cost_yuan"):
            problems.append(
                InputProblem(
                    source,
                    key,
                    target.value,
                    "a target on an outcome; sizing minimises cost and headcount itself",
                )
            )
    return problems


def _generous_failures(
    search: _Search, x: Staffing, source: str, demand: float
) -> list[InputProblem]:
    v = search.verdict(x, search.n_confirm)
    conf = round(search.confidence * 100)
    head = sum(val * lever.mediators for val, lever in zip(x, search.lv, strict=True))
    problems = []
    for name, row in v[~v["met"]].iterrows():
        if row["n"] == 0:
            what = "the KPI has no value in any replication"
        elif row["target"] != row["target"] or not search.targets[name].met_by(row["mean"]):
            what = f"the mean is {row['mean']:.4g}"
        else:
            what = (
                f"the mean {row['mean']:.4g} meets it but the {conf}% one-sided bound "
                f"{row['bound']:.4g} does not (more --replications may settle it)"
            )
        at = f" at demand ×{demand:g}" if demand != 1.0 else ""
        problems.append(
            InputProblem(
                source,
                f"targets.{name}",
                float(row["target"]),
                f"reachable by some staffing{at}; it is not: with a generous staffing "
                f"({head} full-time mediators, every village with one, committees at their "
                f"ceilings) over {int(row['n'])} replications {what}; what limits it is not "
                "headcount — lower the target or change what it depends on (resolution "
                "probabilities, sweeps, on-the-spot settlement, time limits)",
            )
        )
    return problems


# --------------------------------------------------------------------------- tables


_ITEM_LABELS = {
    "salary": "专职调解员工资",
    "allowance": "兼职调解员补贴",
    "case_reward": "以奖代补",
    "expert_fee": "专家咨询费",
    "purchased_services": "政府购买服务",
    "gold_mediator_awards": "金牌调解员奖励",
    "total": "合计",
}

BUDGET_HEADERS: dict[str, str] = {
    "demand": "demand 需求倍数",
    "item": "item",
    "item_label": "项目",
    "level": "level",
    "level_label": "层级",
    "place": "place 乡镇/单位",
    "full_time": "full_time 专职人数",
    "count": "count 件数",
    "yuan_per_year": "yuan_per_year 年度成本(元)",
}
"""Bilingual column headers of the budget table in CSV and print."""


def _budget_table(
    lv: Sequence[Lever], x: Staffing, cost_tables: list[pd.DataFrame]
) -> pd.DataFrame:
    rows = []
    by_venue: dict[str, float] = {}
    for lever, v in zip(lv, x, strict=True):
        yuan = v * lever.salary
        by_venue[lever.kind] = by_venue.get(lever.kind, 0.0) + yuan
        rows.append(
            {
                "item": "salary",
                "item_label": _ITEM_LABELS["salary"],
                "level": lever.kind,
                "level_label": LEVER_KINDS[lever.kind],
                "place": lever.place,
                "full_time": v * lever.mediators,
                "count": math.nan,
                "yuan_per_year": yuan,
            }
        )
    n = len(cost_tables)
    if n:
        ct = pd.concat(cost_tables, ignore_index=True)
        ct = ct.groupby(["item", "where"], sort=False)[["count", "yuan_per_year"]].sum() / n
        for (item, where), r in ct.iterrows():
            yuan = float(r["yuan_per_year"])
            if item == "salary":
                yuan -= by_venue.get(str(where), 0.0)  # what the levers do not cover
                if yuan < 0.5:
                    continue
            rows.append(
                {
                    "item": item,
                    "item_label": _ITEM_LABELS.get(str(item), str(item)),
                    "level": where,
                    "level_label": LEVEL_LABELS.get(
                        str(where), "专家库" if where == "expert_pool" else ""
                    ),
                    "place": "",
                    "full_time": math.nan,
                    "count": float(r["count"]),
                    "yuan_per_year": yuan,
                }
            )
    out = pd.DataFrame(rows, columns=list(BUDGET_HEADERS)[1:])
    total = {
        "item": "total",
        "item_label": _ITEM_LABELS["total"],
        "level": "",
        "level_label": "",
        "place": "",
        "full_time": float(out["full_time"].sum()),
        "count": math.nan,
        "yuan_per_year": float(out["yuan_per_year"].sum()),
    }
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def _staffing_table(lv: Sequence[Lever], x: Staffing, demand: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "demand": demand,
                "lever": lever.key,
                "level": lever.kind,
                "level_label": LEVER_KINDS[lever.kind],
                "place": lever.place,
                "value": v,
                "full_time": v * lever.mediators,
                "mediators": lever.mediators,
                "floor": lever.floor,
                "quota": lever.quota,
                "start": lever.start,
                "salary_yuan": lever.salary,
                "yuan_per_year": v * lever.salary,
            }
            for lever, v in zip(lv, x, strict=True)
        ]
    )


def _frontier(search: _Search, chosen: Staffing, demand: float) -> pd.DataFrame:
    rows = []
    engine = search.engine
    seen = {x for x, _ in engine.cache}
    for x in seen:
        n = 0
        while (x, n) in engine.cache:
            n += 1
        if n < min(search.n_search, search.n_confirm):
            continue
        v = search.verdict(x, n)
        rows.append(
            {
                "demand": demand,
                "annual_cost_yuan": search.cost(x, n),
                "salaries_yuan": search.salary(x),
                "full_time": sum(a * b.mediators for a, b in zip(x, search.lv, strict=True)),
                "attainment": float(v["p_meet"].mean()) if len(v) else 1.0,
                "targets_met": int(v["met"].sum()),
                "targets": len(v),
                "replications": n,
                "chosen": x == chosen,
                "staffing": ";".join(
                    f"{lever.key}={a}" for lever, a in zip(search.lv, x, strict=True)
                ),
            }
        )
    out = pd.DataFrame(rows).sort_values("annual_cost_yuan", ignore_index=True)
    if len(out):
        best = -np.inf
        pareto = []
        for a in out["attainment"]:
            pareto.append(a > best + 1e-12)
            best = max(best, a)
        out["pareto"] = pareto
    return out


# --------------------------------------------------------------------------- entry points


def _check_replications(replications: int | None, name: str) -> None:
    if replications is not None and replications < 2:
        raise ScenarioError(
            [InputProblem(name, "", replications, "at least 2 (a confidence bound needs a spread)")]
        )


def size(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    demand: Sequence[float] = (1.0,),
    budget: float | None = None,
    allow_below_quota: bool = False,
    replications: int | None = None,
    search_replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    candidates: int = 3,
    max_steps: int = 200,
    progress: Callable[[str], None] | None = None,
) -> SizingResult:
    """The least yearly cost staffing that meets every target with the scenario's confidence.

    ``demand`` lists multipliers of the dispute rate (and of court referrals); they are sized
    in increasing order, each starting from (and never going below) the staffing of the one
    before, so headcount never decreases as demand grows. With ``budget`` (yuan per year) the
    search stops at the ceiling and reports how far the targets are met instead. Raises
    :class:`~sim.scenario.errors.ScenarioError` (exit 2 in the CLI) when no staffing can meet a
    target.
    """
    began = time.perf_counter()
    log = progress or (lambda _msg: None)
    _check_replications(replications, "--replications")
    _check_replications(search_replications, "--search-replications")
    bad = [m for m in demand if not (isinstance(m, int | float) and m > 0 and math.isfinite(m))]
    if bad or not demand:
        raise ScenarioError(
            [
                InputProblem(
                    "--demand", "", bad[0] if bad else "", "positive multipliers, e.g. 0.8,1.0,1.5"
                )
            ]
        )
    if budget is not None and not budget > 0:
        raise ScenarioError([InputProblem("--budget", "", budget, "a positive amount of yuan")])
    table, source = _base_table(scenario, overrides)
    base = validate_table(table, source)
    if not base.targets:
        raise ScenarioError(
            [
                InputProblem(
                    source, "targets", InputProblem.MISSING, "at least one target to size for"
                )
            ]
        )
    seed = base.run.seed if seed is None else seed
    n_confirm = replications or max(base.run.replications, 2)
    n_search = search_replications or max(2, min(n_confirm, math.ceil(n_confirm / 2)))
    problems = _structural(base, source)
    if problems:
        raise ScenarioError(problems)

    staffing, budgets, verdicts, frontiers, minimal = [], [], [], [], []
    infeasible: dict[float, list[str]] = {}
    previous: dict[str, int] = {}
    simulated = 0
    sized: Scenario = base
    for m in sorted(set(float(v) for v in demand)):
        table_m = _scale_demand(table, m)
        sc_m = validate_table(table_m, source)
        lv = []
        for lever in levers(sc_m, allow_below_quota):
            floor = max(lever.floor, previous.get(lever.key, 0))
            lv.append(
                Lever(**{**lever.__dict__, "floor": floor, "ceiling": max(lever.ceiling, floor)})
            )
        engine = _Engine(table_m, source, lv, seed, workers)
        search = _Search(
            engine,
            lv,
            sc_m.targets,
            sc_m.run.confidence,
            n_search,
            n_confirm,
            budget,
            candidates,
            max_steps,
            log,
        )
        try:
            log(f"demand ×{m:g}: {len(lv)} levers, {n_search}/{n_confirm} replications")
            x0 = tuple(lever.floor for lever in lv)
            if budget is None:
                generous = tuple(lever.ceiling for lever in lv)
                failures = _generous_failures(search, generous, source, m)
                if failures:
                    infeasible[m] = [str(p) for p in failures]
                    if not staffing:
                        raise ScenarioError(failures)
                    break
            elif search.cost(x0, n_search) > budget:
                raise ScenarioError(
                    [
                        InputProblem(
                            "--budget",
                            "",
                            budget,
                            f"at least {search.cost(x0, n_search):,.0f} yuan: the staffing at "
                            "the quotas alone costs that much (or use --allow-below-quota)",
                        )
                    ]
                )
            x, table_min, met = search.run(x0)
            if not met and budget is None:
                failures = [
                    InputProblem(
                        source,
                        f"targets.{k}",
                        float(r["target"]),
                        f"a target the search can reach within {max_steps} steps; "
                        f"it stopped at mean {r['mean']:.4g}",
                    )
                    for k, r in search.verdict(x, n_confirm).iterrows()
                    if not r["met"]
                ]
                infeasible[m] = [str(p) for p in failures]
                if not staffing:
                    raise ScenarioError(failures)
                break
            previous = {lever.key: v for lever, v in zip(lv, x, strict=True)}
            staffing.append(_staffing_table(lv, x, m))
            b = _budget_table(lv, x, engine.costs(x, n_confirm))
            b.insert(0, "demand", m)
            budgets.append(b)
            v = search.verdict(x, n_confirm).reset_index()
            v.insert(0, "demand", m)
            verdicts.append(v)
            frontiers.append(_frontier(search, x, m))
            if len(table_min):
                table_min.insert(0, "demand", m)
                minimal.append(table_min)
            if m == 1.0 or not staffing[:-1]:
                sized = engine.scenario(x)
        finally:
            simulated += engine.simulated
            engine.close()
    return SizingResult(
        scenario=sized,
        staffing=pd.concat(staffing, ignore_index=True),
        budget=pd.concat(budgets, ignore_index=True),
        targets=pd.concat(verdicts, ignore_index=True),
        frontier=pd.concat(frontiers, ignore_index=True) if frontiers else pd.DataFrame(),
        minimality=pd.concat(minimal, ignore_index=True) if minimal else pd.DataFrame(),
        replications_simulated=simulated,
        seconds=time.perf_counter() - began,
        confidence=base.run.confidence,
        replications=n_confirm,
        seed=seed,
        infeasible=infeasible,
    )


@dataclass
class QuotaVerdict:
    """What :func:`check_quotas` returns: are the seed's quotas enough in this scenario?

    ``staffing``: the quota staffing that was run. ``targets``: per district-wide target the
    mean, the one-sided bound, the two-sided interval, the probability of meeting it (share of
    replications) and met / not met by the sizing rule. ``townships``: the same per township
    for the targets that have a per-township meaning
    (:data:`sim.measures.township_kpis.TOWNSHIP_KPIS`).
    """

    scenario: Scenario
    staffing: pd.DataFrame
    targets: pd.DataFrame
    townships: pd.DataFrame
    replications: int
    seed: int
    confidence: float

    @property
    def all_met(self) -> bool:
        return bool(self.targets["met"].all())

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "scenario": self.scenario.name,
                "replications": self.replications,
                "seed": self.seed,
                "confidence": self.confidence,
                "rule": "one-sided Student-t bound of the mean over replications meets the target",
                "all_met": self.all_met,
                "staffing": self.staffing.to_dict(orient="records"),
                "targets": self.targets.reset_index().to_dict(orient="records"),
                "townships": self.townships.to_dict(orient="records"),
            }
        )


def quota_staffing(lv: Sequence[Lever]) -> Staffing:
    """Every committee with a quota at exactly its quota; villages and district as they are."""
    return tuple(
        lever.start if lever.kind in ("village", "district") else lever.quota for lever in lv
    )


def check_quotas(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> QuotaVerdict:
    """Run the scenario at the quota staffing; the verdict per target and per township."""
    _check_replications(replications, "--replications")
    table, source = _base_table(scenario, overrides)
    sc = validate_table(table, source)
    seed = sc.run.seed if seed is None else seed
    n = replications or max(sc.run.replications, 2)
    lv = levers(sc, allow_below_quota=True)
    x = quota_staffing(lv)
    engine = _Engine(table, source, lv, seed, workers)
    try:
        per_rep = engine.per_replication(x, n)
        by_town = engine.townships(x, n)
        quota_sc = engine.scenario(x)
    finally:
        engine.close()
    targets = judge(sc.targets, per_rep, sc.run.confidence)
    rows = []
    for name, target in sc.targets.items():
        if name not in TOWNSHIP_KPIS:
            continue
        values = pd.DataFrame({k: t[name] for k, t in enumerate(by_town)}).T
        for town in values.columns:
            v = judge(
                {name: target}, values[[town]].rename(columns={town: name}), sc.run.confidence
            )
            r = v.iloc[0].to_dict()
            rows.append({"township": town, "kpi": name, **r})
    townships = pd.DataFrame(rows)
    staffing = _staffing_table(lv, x, 1.0).drop(columns=["demand", "floor"])
    return QuotaVerdict(quota_sc, staffing, targets, townships, n, seed, sc.run.confidence)


def compare_screen(
    scenario: Scenario | str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """The analytic screen beside simulation, KPI by KPI.

    Columns: screen, mean, ci_low, ci_high (two-sided at ``run.confidence``), se, z (screen
    minus mean in standard errors) and within (the screen lies inside the interval). The
    DataFrame's ``attrs`` hold ``exact`` and the list of ``approximations`` at work.
    """
    _check_replications(replications, "--replications")
    table, source = _base_table(scenario, overrides)
    sc = validate_table(table, source)
    seed = sc.run.seed if seed is None else seed
    n = replications or max(sc.run.replications, 2)
    scr = screen(sc)
    engine = _Engine(table, source, [], seed, workers)
    try:
        per_rep = engine.per_replication((), n)
    finally:
        engine.close()
    rows = {}
    for name, value in scr.kpis.items():
        if name not in per_rep:
            continue
        x = per_rep[name].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        mean, lo, hi = confidence_interval(x, sc.run.confidence)
        se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
        if not (math.isfinite(value) or math.isfinite(mean)):
            continue
        rows[name] = {
            "label": KPI_LABELS.get(name, ""),
            "screen": value,
            "mean": mean,
            "ci_low": lo,
            "ci_high": hi,
            "se": se,
            "z": (value - mean) / se if se and se > 0 else math.nan,
            "within": bool(lo - 1e-12 <= value <= hi + 1e-12)
            if math.isfinite(lo)
            else value == mean,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kpi"
    out.attrs["exact"] = scr.exact
    out.attrs["approximations"] = list(scr.approximations)
    out.attrs["replications"] = n
    return out
