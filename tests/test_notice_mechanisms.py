"""The notice's 交办属地 and township centres (issue 15, items 1 and 2).

Both are switched in ``[mechanisms]`` (``assign_down``, ``township_centres``) and off by default.
These tests check that at neutral values they leave today's tables untouched, that switched on
they route as docs/model.md says (a second township step after an assignment down, with no
third; joint steps at the township that hold one member of each chosen department at once and
fail on up to the district centre), that conservation and Little's law still hold, and bad input.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.experiments.intervals import t_quantile
from sim.measures.register import case_table, petition_table, register_table, timeseries_table
from sim.model import pools
from sim.model.township_centre import case_uniform

from .scenarios import ROOT, SMALL

SMALL_FULL = ROOT / "scenarios" / "small_full.toml"
BASE = ["run.horizon_days=300"]
JOINT_LEVEL = {
    "effort_hours": {"dist": "lognormal", "median": 6.0, "p90": 18.0},
    "sessions": 2,
    "party_delay_days": {"dist": "exponential", "mean": 3.0},
    "time_limit_days": 30,
    "resolve": {
        "full_time": {"minor": 0.9, "major": 0.8, "serious": 0.6},
        "part_time": {"minor": 0.9, "major": 0.8, "serious": 0.6},
    },
}
# 派出所、司法所、法庭、信访: one member each per township (the proposed Qujiang stations).
DEPARTMENTS = {
    "police": {"label": "派出所", "staff": 1},
    "justice": {"label": "司法所", "staff": 1},
    "court": {"label": "法庭", "staff": 1},
    "petitions": {"label": "信访", "staff": 1},
}


def _township_centre(share: float, per_case: int = 2) -> list:
    return [
        (
            "township_centre",
            {
                "departments": DEPARTMENTS,
                "joint_share": {"minor": 0.0, "major": share, "serious": share},
                "departments_per_case": per_case,
                "joint": JOINT_LEVEL,
            },
        )
    ]


def _digest(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def _run(sc: sim.Scenario, replication: int = 2, seed: int = 7):
    rep = sim.simulate_replication(sc, replication, seed)
    cases = case_table(rep)
    return rep, cases, register_table(rep, cases)


def _digests(rep, cases, register) -> dict[str, str]:
    return {
        "cases": _digest(cases),
        "register": _digest(register),
        "petitions": _digest(petition_table(rep)),
        "timeseries": _digest(timeseries_table(rep)),
    }


# --------------------------------------------------------------------------- draws
def test_case_uniforms_are_uniform_and_depend_only_on_the_case() -> None:
    u = np.array([case_uniform(12345, cid, 0) for cid in range(20000)])
    assert ((u >= 0) & (u < 1)).all()
    # Mean of 20,000 uniforms: standard error 1/sqrt(12·20000) ≈ 0.002; 4 SE.
    assert abs(u.mean() - 0.5) < 0.008
    v = np.array([case_uniform(12345, cid, 1) for cid in range(20000)])
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(20000)  # counters j are independent
    assert case_uniform(12345, 77, 3) == case_uniform(12345, 77, 3)
    assert case_uniform(12345, 77, 3) != case_uniform(54321, 77, 3)


# --------------------------------------------------------------------------- neutral
def test_neutral_keys_reproduce_todays_tables() -> None:
    today = _digests(*_run(sim.load_scenario(SMALL_FULL, BASE)))
    neutral = sim.load_scenario(
        SMALL_FULL,
        [
            *_township_centre(0.0),
            *BASE,
            "mechanisms.assign_down=true",
            "mechanisms.township_centres=true",
            "district_centre.assign_down_share={minor=0, major=0, serious=0}",
            'district_centre.assign_down_delay_days={dist="exponential", mean=2.0}',
        ],
    )
    assert _digests(*_run(neutral)) == today
    # Off, the keys are ignored however set.
    off = sim.load_scenario(
        SMALL_FULL,
        [
            *_township_centre(1.0),
            *BASE,
            "district_centre.assign_down_share={minor=1, major=1, serious=1}",
        ],
    )
    assert _digests(*_run(off)) == today


# --------------------------------------------------------------------------- 交办属地
def _check_conservation_and_little(run) -> None:
    from .test_model import test_every_case_is_accounted_for, test_littles_law_per_level

    test_every_case_is_accounted_for([run])
    test_littles_law_per_level([run])
    rep, _cases, register = run
    for venue in ("joint", "township_joint"):
        steps = register[register["level"] == venue]
        ended = steps["ended"].fillna(rep.end_time).clip(upper=rep.end_time)
        assert rep.areas_total[venue] == pytest.approx((ended - steps["entered"]).sum(), rel=1e-9)


def test_assign_down_gives_a_second_township_step_and_no_third() -> None:
    sc = sim.load_scenario(
        SMALL,
        [
            "mechanisms.assign_down=true",
            "district_centre.assign_down_share={minor=1, major=1, serious=1}",
            'district_centre.assign_down_delay_days={dist="exponential", mean=2.0}',
        ],
    )
    run = _run(sc, 0, 5)
    register = run[2]
    _check_conservation_and_little(run)
    levels = register.assign(level=register["level"].astype(str))
    township_steps = levels[levels["level"] == "township"].groupby("case_id").size()
    twice = township_steps[township_steps == 2].index
    assert len(twice) > 20, "with every case assigned down, many get a second township step"
    assert township_steps.max() == 2, "assigned down once at most: no loop"
    # Every case the centre reached was assigned down: no district step right after the first
    # township failure, and a district step only after the second township step failed.
    for cid in twice[:50]:
        path = levels[levels["case_id"] == cid].sort_values("step")
        where = list(path["level"])
        first, second = (i for i, lv in enumerate(where) if lv == "township")
        assert second == first + 1, where
        assert path["entered"].iloc[second] >= path["ended"].iloc[first]
        assert path["outcome"].astype(str).iloc[first] in {
            "escalated_failed",
            "escalated_time_limit",
            "escalated_no_mediator",
        }
        assert all(lv != "district" for lv in where[:second])
    # With share 1, no case reaches the district committee without a second township step
    # (apart from those whose own entry is the district: they get their first one).
    district_cases = set(levels.loc[levels["level"] == "district", "case_id"])
    assert district_cases <= set(township_steps.index)


# --------------------------------------------------------------------------- township centres
def test_township_joint_steps_hold_one_member_of_each_department(monkeypatch) -> None:
    grants: list[tuple[int, ...]] = []
    acquire, release = pools._JointPool.acquire_now, pools._JointPool.release

    def checked_acquire(self, case):
        kind = acquire(self, case)
        assert min(self.free) >= 0
        if kind == 0:
            grants.append(case.departments)
        return kind

    def checked_release(self, kind, case):
        release(self, kind, case)
        assert min(self.free) >= 0
        assert all(f <= s for f, s in zip(self.free, self.staff, strict=True))

    monkeypatch.setattr(pools._JointPool, "acquire_now", checked_acquire)
    monkeypatch.setattr(pools._JointPool, "release", checked_release)
    monkeypatch.setattr(
        pools._JointPool,
        "__init__",
        _recording_init(pools._JointPool.__init__),
    )
    sc = sim.load_scenario(
        SMALL, [*_township_centre(1.0), *BASE, "mechanisms.township_centres=true"]
    )
    run = _run(sc)
    rep, _cases, register = run
    _check_conservation_and_little(run)
    level = register["level"].astype(str)
    tj = register[level == "township_joint"]
    assert len(tj) > 20
    assert set(tj["township"].astype(str)) <= set(rep.district.township_names)
    assert rep.unit_names["township_joint"] == list(rep.district.township_names)
    assert grants and all(len(g) == 2 and len(set(g)) == 2 for g in grants)
    # A joint township step never ends a case unresolved: a failure goes on to the district
    # centre (区乡联动) or the case petitions; minor disputes (share 0) stay with the committee.
    outcomes = set(tj["outcome"].astype(str))
    assert "unresolved" not in outcomes and "resolved" in outcomes
    assert (tj["severity"].astype(str) != "minor").all()
    failed = tj[tj["outcome"].astype(str).isin(["escalated_failed", "escalated_time_limit"])]
    assert len(failed) > 0
    nxt = register.set_index(["case_id", "step"])
    top = {"district", "joint", "sector"}
    for cid, step in zip(failed["case_id"], failed["step"], strict=True):
        if (cid, step + 1) in nxt.index:
            assert str(nxt.loc[(cid, step + 1), "level"]) in top
    # No deadlock: every joint step that began well before the end ended.
    steps = tj[tj["entered"] < rep.window[1] - 60]
    assert len(steps) and steps["ended"].notna().all()
    # 大事不出镇 counts the township centre: its resolutions are "at or below the township".
    k = sim.kpis(rep)
    assert k["resolved_share.township_joint"] > 0
    assert not math.isnan(k["utilization.township_joint"])


def _recording_init(init):
    def wrapped(self, env, staff):
        init(self, env, staff)
        self.staff = list(staff)

    return wrapped


def test_township_joint_resolutions_raise_major_kept_in_township_with_crn() -> None:
    # The same disputes (common random numbers): township joint mediation keeps more major and
    # serious disputes there. Not dispute by dispute (joint steps change queues), so the paired
    # differences of 10 replications are judged by their one-sided 97.5% Student-t bound (as the
    # capacity test of test_mediator_time.py).
    off = sim.load_scenario(SMALL_FULL, BASE)
    on = sim.load_scenario(
        SMALL_FULL, [*_township_centre(1.0), *BASE, "mechanisms.township_centres=true"]
    )
    d = np.array(
        [
            sim.kpis(sim.simulate_replication(on, r, 3))["major_kept_in_township"]
            - sim.kpis(sim.simulate_replication(off, r, 3))["major_kept_in_township"]
            for r in range(10)
        ]
    )
    assert d.mean() - t_quantile(0.975, len(d)) * d.std(ddof=1) / np.sqrt(len(d)) > 0, d


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("district_centre.assign_down_share.major=1.5", "district_centre.assign_down_share"),
        ("township_centre.joint_share.serious=-0.1", "township_centre.joint_share"),
        ("township_centre.joint_share.serious=0.5", "township_centre"),
        ("township_centre.departments_per_case=1", "township_centre.departments_per_case"),
        ("mechanisms.township_centres=maybe", "mechanisms.township_centres"),
        ("district_centre.assign_down_delay_days=3", "district_centre.assign_down_delay_days"),
    ],
)
def test_bad_input_exits_2_naming_the_key(
    setting: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(SMALL), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err
