"""How bench judges and prints the scaling part (issue 19, item 4); no timing here."""

from __future__ import annotations

from bench.run import markdown, targets


def _row(disputes: int, wall_s: float, rss: float = 100.0) -> dict:
    return {
        "wall_s": wall_s,
        "pack_s": 0.0,
        "run_s": wall_s,
        "disputes": disputes,
        "events": 3 * disputes,
        "proc_wall_s": wall_s + 1.0,
        "peak_rss_mib": rss,
        "us_per_dispute": 1e6 * wall_s / disputes,
    }


def _scaling(with_85: bool) -> dict:
    rows = {"years 1": _row(1000, 0.05), "scale 10": _row(10_000, 0.65, 300.0)}
    simpy = {"years 1": _row(1000, 0.04), "scale 10": _row(10_000, 0.80)}
    heapq = {"years 1": _row(1000, 0.01), "scale 10": _row(10_000, 0.15)}
    if with_85:
        rows["scale 85"] = _row(85_000, 5.95, 900.0)  # 70 µs against 50: 1.4
        simpy["scale 85"] = _row(85_000, 8.5)  # 100 µs against 40: 2.5
        heapq["scale 85"] = _row(85_000, 2.55)  # 30 µs against 10: 3.0
    for table in (rows, simpy, heapq):
        table["scale 1"] = table["years 1"]
    return {
        "rows": rows,
        "simpy_rows": simpy,
        "heapq_rows": heapq,
        "exponent_years": 1.0,
        "exponent_scale": 1.1,
        "simpy_exponent_years": 1.0,
        "simpy_exponent_scale": 1.3,
        "rss_mib_per_scale_unit": 10.0,
        **(
            {}
            if with_85
            else {"estimate_scale_85": {"wall_s": 60.0, "peak_rss_mib": 940.0, "how": "fit"}}
        ),
    }


def _result(scaling: dict) -> dict:
    result = {
        "when": "now",
        "n": 1,
        "warmup": 0,
        "git": {"commit": "abc", "dirty": False},
        "machine": {"cpus": 2, "load_avg": [0.5, 0.5, 0.5], "python": "3.11"},
        "scaling": scaling,
    }
    result["targets"] = targets(result)
    return result


def test_growth_per_dispute_is_judged_on_a_run_of_85_only():
    judged = {t["target"]: t for t in _result(_scaling(with_85=True))["targets"]}
    growth = judged["µs per dispute, ×85 / ×1 (records packed)"]
    assert abs(growth["value"] - 70 / 50) < 1e-9
    assert growth["limit"] == 1.25 and growth["issue"] == "19.4" and not growth["met"]
    assert judged["province district-year peak RSS MiB"]["met"]
    # Without ×85 an extrapolated time says nothing about growth: no verdict either way.
    estimated = {t["target"] for t in _result(_scaling(with_85=False))["targets"]}
    assert not any(name.startswith("µs per dispute") for name in estimated)
    assert "province district-year peak RSS MiB (estimate)" in estimated


def test_scaling_section_prints_our_growth_beside_the_reference_loops():
    text = markdown(_result(_scaling(with_85=True)))
    assert (
        "µs per dispute, ×85 / ×1: **1.40** (ours, records packed), 2.50 (the SimPy script),"
        " 3.00 (the heapq loop)" in text
    )
    text = markdown(_result(_scaling(with_85=False)))
    assert "×10 / ×1: **1.30** (ours, records packed), 2.00 (the SimPy script), 1.50" in text
