"""Each SQL file as data: small input rows in, expected rows out, in an in-memory DuckDB.

Check values from SLO_MATH.md are marked with their section.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from slo_jobs import periods, resources
from slo_jobs.compute import SloParams, alert_factor, compute_window, connect
from tests.lakeutil import utc, write_buckets

DECISIONS = {  # SLO_MATH 4: status x risk
    "healthy": ("approve", "approve", "review"),
    "attention": ("approve", "review", "defer"),
    "warning": ("review", "defer", "block"),
    "critical": ("defer", "block", "block"),
    "exhausted": ("block", "block", "block"),
}


def run(sql: str, tables: dict[str, list[dict[str, Any]]], **params: Any) -> list[dict]:
    con = connect()
    for name, rows in tables.items():
        con.register(f"{name}_in", pa.Table.from_pylist(rows))
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_in")  # noqa: S608
    rel = con.execute(resources.sql(sql), params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def test_release_decision_table() -> None:
    rows = run("release_decision", {"decisions_in": [
        {"slo": s, "status": s} for s in DECISIONS]})
    got = {(r["slo"], r["risk"]): r["decision"] for r in rows}
    for status, (low, medium, high) in DECISIONS.items():
        assert (got[status, "low"], got[status, "medium"], got[status, "high"]) == \
            (low, medium, high)


def slo_row(k: int, method: str = "Occurrences", target: float = 0.999,
            period_s: float = 30 * 86400, slice_seconds: float = 60) -> dict[str, Any]:
    return {"k": k, "slo": f"s{k}", "service": "svc", "description": "", "spec_hash": "h",
            "target": target, "budget_fraction": round(1 - target, 12), "method": method,
            "slice_seconds": slice_seconds, "period_s": period_s}


def occ_row(k: int, good: float, total: float, burn: float | None = None) -> dict[str, Any]:
    return {"k": k, "good": good, "total": total, "buckets": 10, "clipped_rows": 0,
            "burn_1d_now": burn}


SLC_EMPTY = [{"k": -1, "good_slices": 0, "counted_slices": 0, "no_data_slices": 0,
              "all_slices": 0, "ratio_mean": 0.0}]


def test_budget_status_occurrences_check_values() -> None:
    # SLO_MATH 1: 1,000,000 at 99.9 % allow 1,000; 3,000,000 allow 3,000.
    rows = run("budget_status", {
        "slos": [slo_row(0), slo_row(1)],
        "occ": [occ_row(0, 999_500, 1_000_000), occ_row(1, 2_997_000, 3_000_000)],
        "slc": SLC_EMPTY}, expected=10, elapsed=1.0)
    assert [r["allowed_bad"] for r in rows] == pytest.approx([1000, 3000])
    assert rows[0]["budget_remaining"] == pytest.approx(0.5)
    assert rows[1]["budget_remaining"] == pytest.approx(0.0) and rows[1]["status"] == "exhausted"


def test_budget_status_ratio_timeslices_check_value() -> None:
    # SLO_MATH 1: slices (1000, 10 bad) and (10, 5 bad): RatioTimeslices error 0.255.
    rows = run("budget_status", {
        "slos": [slo_row(0, "RatioTimeslices", target=0.9)],
        "occ": [occ_row(0, 1005, 1010)],
        "slc": [{"k": 0, "good_slices": 1, "counted_slices": 2, "no_data_slices": 0,
                 "all_slices": 2, "ratio_mean": (0.99 + 0.5) / 2}]}, expected=2, elapsed=1.0)
    assert 1 - rows[0]["sli"] == pytest.approx(0.255)
    assert rows[0]["budget_consumed"] == pytest.approx(2.55)


def test_exhaustion_projection_check_value() -> None:
    # SLO_MATH 4: R = 0.5, burn 2, P = 30 d: exhausted 7.5 days from now.
    rows = run("budget_status", {
        "slos": [slo_row(0)], "occ": [occ_row(0, 999_500, 1_000_000, burn=2.0)],
        "slc": SLC_EMPTY}, expected=10, elapsed=1.0)
    assert rows[0]["exhaustion"] == "projected"
    assert rows[0]["exhaustion_days"] == pytest.approx(7.5)
    never = run("budget_status", {
        "slos": [slo_row(0)], "occ": [occ_row(0, 1_000_000, 1_000_000, burn=0.0)],
        "slc": SLC_EMPTY}, expected=10, elapsed=1.0)
    assert never[0]["exhaustion"] == "never" and never[0]["exhaustion_days"] is None


@pytest.mark.parametrize(("period_days", "factors"), [
    (30, (14.4, 6, 3, 1)),
    (28, (13.44, 5.6, 2.8, 0.9333)),  # SLO_MATH 3: derived from the period, not fixed
])
def test_alert_factors(period_days: int, factors: tuple[float, ...]) -> None:
    p = period_days * 86400
    got = (alert_factor(0.02, p, 3600), alert_factor(0.05, p, 21600),
           alert_factor(0.10, p, 86400), alert_factor(0.10, p, 259200))
    assert got == pytest.approx(factors, abs=5e-5)


@pytest.mark.parametrize(("burn", "hours"), [(14.4, 50.0), (1000, 43.2 / 60)])
def test_budget_at_constant_burn(burn: float, hours: float) -> None:
    # SLO_MATH 3: a full budget at constant burn lasts P / burn: 30 d at 14.4 = 50 h, at
    # 1000 = 43.2 min.
    rows = run("budget_status", {
        "slos": [slo_row(0)], "occ": [occ_row(0, 1_000_000, 1_000_000, burn=burn)],
        "slc": SLC_EMPTY}, expected=10, elapsed=1.0)
    assert rows[0]["exhaustion_days"] * 24 == pytest.approx(hours)


def test_occurrence_measures_from_prefix_sums() -> None:
    snap = [{"k": 0, "b": b, "cgood": c, "ctot": c + 1, "chas": b + 1, "cclip": 0,
             "burn_1d": 0.5, "is_snap": True} for b, c in ((3, 10.0), (7, 30.0), (11, 70.0))]
    rows = run("occurrence_measures", {"snap": snap}, b0=4, basof=12)
    assert rows == [{"k": 0, "good": 60.0, "total": 60.0, "buckets": 8, "clipped_rows": 0,
                     "burn_1d_now": 0.5}]


def test_incidents_are_islands_of_firing_buckets() -> None:
    def firing(b: int, page: bool = False) -> dict[str, Any]:
        return {"k": 0, "b": b, "bad": 2.0, "page": page, "ticket": not page, "burn_1h": b * 1.0,
                "burn_5m": 0.0, "is_snap": False}
    snap = [firing(10, True), firing(11), firing(12), firing(20), firing(21), firing(30)]
    rows = run("incidents", {"snap": snap, "slos": [slo_row(0)],
                             "occ": [occ_row(0, 900, 1000)]},
               origin_s=0, step_s=60, elapsed=1.0, basof=30)
    assert [(r["duration_minutes"], r["severity"], r["peak_burn_1h"], r["bad"]) for r in rows] == \
        [(3.0, "page", 12.0, 6.0), (2.0, "ticket", 21.0, 4.0)]  # bucket 30 is past as-of
    assert rows[0]["budget_share"] == pytest.approx(6 / 1.0)  # 6 bad of 1 allowed (B*1000)


# Timeslices check values (SLO_MATH 1), through the whole computation on an empty lake with a
# no-data policy of "good": every slice of the window counts.
@pytest.mark.parametrize(("target", "period", "minutes"), [
    (0.999, periods.month("2026-11"), 43.2),                        # 30 d
    (0.999, periods.month("2026-02"), 40.32),                       # 28 d
    (0.9995, periods.calendar("week", "2026-W38"), 5.04),           # 5 min 2.4 s
    (0.95, periods.rolling(utc(2026, 11, 15), timedelta(days=14)), 16 * 60 + 48),  # 1,008 slices
])
def test_timeslice_budget_as_time(tmp_path: Path, target: float, period: periods.Period,
                                  minutes: float) -> None:
    slo = SloParams("t", "svc", "", "h", target, method="Timeslices", slice_seconds=60,
                    slice_target=0.99, no_data="good")
    row = compute_window(tmp_path, [slo], period).summary[0]
    assert row["budget_minutes"] == pytest.approx(minutes)
    assert row["unit"] == "slices" and row["sli"] == 1.0


def test_timeslices_no_data_policies(tmp_path: Path) -> None:
    # 3 one-minute slices with data (2 good, 1 bad at 99 %); the other slices have none.
    start = utc(2026, 11, 1)
    write_buckets(tmp_path, "t", start, [(100, 100), (99, 100), (98, 100), None])
    week = periods.Period("w", start, start + timedelta(minutes=60))
    got = {}
    for policy in ("good", "bad", "skip"):
        slo = SloParams("t", "svc", "", "h", 0.9, method="Timeslices", slice_seconds=60,
                        slice_target=0.99, no_data=policy)
        got[policy] = compute_window(tmp_path, [slo], week).summary[0]
    assert (got["good"]["good"], got["good"]["total"]) == (59, 60)
    assert (got["bad"]["good"], got["bad"]["total"]) == (2, 60)
    assert (got["skip"]["good"], got["skip"]["total"]) == (2, 3)
    assert got["skip"]["no_data_slices"] == 57


def test_five_minute_slices(tmp_path: Path) -> None:
    start = utc(2026, 11, 1)
    # slice 1: 495/500 = 0.99 good; slice 2: 490/500 bad
    write_buckets(tmp_path, "t", start, [(99, 100)] * 5 + [(98, 100)] * 5)
    slo = SloParams("t", "svc", "", "h", 0.5, method="Timeslices", slice_seconds=300,
                    slice_target=0.99, no_data="skip")
    row = compute_window(tmp_path, [slo], periods.Period("x", start,
                                                         start + timedelta(minutes=15))).summary[0]
    assert (row["good"], row["total"]) == (1, 2)


def test_stream_burn_rates_and_page(tmp_path: Path) -> None:
    # 4 days at a constant 0.05 % errors against 99.9 %: burn 0.5 on every window, no alert;
    # then one hour of 100 % errors pages (burn 1000 > 14.4 on 1 h and 5 m).
    start = utc(2026, 10, 29)
    buckets = [(999.5, 1000.0)] * (6 * 1440)
    write_buckets(tmp_path, "a", start, buckets)
    write_buckets(tmp_path, "a", utc(2026, 11, 2, 12), [(0.0, 1000.0)] * 60)
    slo = SloParams("a", "svc", "", "h", 0.999)
    res = compute_window(tmp_path, [slo], periods.month("2026-11"))
    first = res.burn[0]
    assert first["hour_end"] == utc(2026, 11, 1, 1)
    assert (first["burn_1h"], first["burn_6h"], first["burn_1d"]) == pytest.approx((.5, .5, .5))
    assert len(res.incidents) == 1
    page = res.incidents[0]
    # the first bucket with 100 % errors already lifts 5 m and 1 h over 14.4 x B
    assert page["severity"] == "page" and page["start"] == utc(2026, 11, 2, 12, 0)
    assert page["peak_burn_1h"] == pytest.approx(1000)
    # it lasts while a window still holds bad buckets: ticket 3 d / 6 h at factor 1 fires
    # until the 6 h window ending with the bucket [18:58, 18:59) no longer reaches 12:59
    assert page["end"] == utc(2026, 11, 2, 18, 59)


def test_calendar_month_in_new_york_is_dst_correct(tmp_path: Path) -> None:
    # SLO_MATH 2: November 2024 in America/New_York has 721 h; Nov 3 is a 25 h day.
    nov = periods.calendar("month", "2024-11", "America/New_York")
    assert nov.start == utc(2024, 11, 1, 4) and nov.end == utc(2024, 12, 1, 5)
    write_buckets(tmp_path, "a", utc(2024, 11, 3, 4), [(1.0, 1.0)] * (25 * 60))
    slo = SloParams("a", "svc", "", "h", 0.99, time_zone="America/New_York")
    res = compute_window(tmp_path, [slo], nov, tz="America/New_York")
    assert res.summary[0]["expected_buckets"] == 721 * 60
    assert res.summary[0]["total"] == 25 * 60
    days = {str(r["day"]): r["total"] for r in res.daily}
    assert len(days) == 30 and days["2024-11-03"] == 25 * 60 and days["2024-11-02"] == 0


def test_rolling_window_at_any_instant(tmp_path: Path) -> None:
    at = utc(2026, 11, 10, 13, 45)
    week = periods.rolling(at, timedelta(days=7))
    write_buckets(tmp_path, "a", week.start - timedelta(minutes=1), [(0.0, 5.0)])  # outside
    write_buckets(tmp_path, "a", week.start, [(9.0, 10.0)])
    write_buckets(tmp_path, "a", at - timedelta(minutes=1), [(10.0, 10.0)])
    write_buckets(tmp_path, "a", at, [(0.0, 5.0)])  # outside: [t - 7 d, t) is half-open
    row = compute_window(tmp_path, [SloParams("a", "svc", "", "h", 0.9)], week).summary[0]
    assert (row["good"], row["total"]) == (19.0, 20.0)
    assert row["expected_buckets"] == 7 * 1440
