"""Each SQL file as data: small input rows in, expected rows out, in an in-memory DuckDB.

Check values from SLO_MATH.md are marked with their section.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from slo_jobs.compute import SloParams, alert_factor, compute_window, connect
from slo_jobs.core import burnrate, periods, resources
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
            period_s: float = 30 * 86400, slice_seconds: float = 60,
            min_coverage: float = 0.9, page_gap_b: int = 30,
            ticket_gap_b: int = 360, min_events: float = 0) -> dict[str, Any]:
    return {"k": k, "slo": f"s{k}", "service": "svc", "description": "", "spec_hash": "h",
            "target": target, "budget_fraction": round(1 - target, 12), "method": method,
            "slice_seconds": slice_seconds, "min_coverage": min_coverage, "period_s": period_s,
            "page_gap_b": page_gap_b, "ticket_gap_b": ticket_gap_b, "min_events": min_events}


def occ_row(k: int, good: float, total: float, burn: float | None = None,
            buckets: int = 10) -> dict[str, Any]:
    return {"k": k, "good": good, "total": total, "buckets": buckets, "clipped_rows": 0,
            "burn_1d_now": burn}


SLC_EMPTY = [{"k": -1, "good_slices": 0.0, "counted_slices": 0, "no_data_slices": 0,
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
    # stream.py hands over good_slices = the sum of the slice ratios, 0.99 + 0.5 = 1.49, over
    # 2 slices with events; bad = 2 - 1.49 = 0.51 slices of 0.1 * 2 = 0.2 allowed.
    rows = run("budget_status", {
        "slos": [slo_row(0, "RatioTimeslices", target=0.9)],
        "occ": [occ_row(0, 1005, 1010)],
        "slc": [{"k": 0, "good_slices": 0.99 + 0.5, "counted_slices": 2, "no_data_slices": 0,
                 "all_slices": 2, "ratio_mean": (0.99 + 0.5) / 2}]}, expected=10, elapsed=1.0)
    r = rows[0]
    assert 1 - r["sli"] == pytest.approx(0.255)
    # consumed = (1 - SLI) / (1 - target) = 0.255 / 0.1 = 2.55 = bad / allowed = 0.51 / 0.2:
    # the headline, the counts, the status and met say the same thing
    assert r["budget_consumed"] == pytest.approx(2.55)
    assert (r["bad"], r["allowed_bad"]) == pytest.approx((0.51, 0.2))
    assert r["budget_remaining"] == pytest.approx(-1.55)
    assert (r["status"], r["met"]) == ("exhausted", False)


@pytest.mark.parametrize(("buckets", "min_coverage", "status", "met"), [
    (9, 0.9, "healthy", True),               # 9 of 10 buckets = 90 %: enough
    (8, 0.9, "insufficient data", None),     # 80 % < 90 %
    (1, 0.05, "healthy", True),              # 10 % >= a 5 % threshold
    (0, 0.0, "no data", None),               # nothing at all is still "no data"
])
def test_coverage_below_the_threshold_is_insufficient_data(
        buckets: int, min_coverage: float, status: str, met: bool | None) -> None:
    # 1,000,000 requests, 100 bad at 99.9 %: 10 % of the budget spent, healthy when judged
    good = 0.0 if buckets == 0 else 999_900.0
    total = 0.0 if buckets == 0 else 1_000_000.0
    rows = run("budget_status", {
        "slos": [slo_row(0, min_coverage=min_coverage)],
        "occ": [occ_row(0, good, total, burn=0.1, buckets=buckets)],
        "slc": SLC_EMPTY}, expected=10, elapsed=1.0)
    r = rows[0]
    assert (r["status"], r["met"], r["coverage"]) == (status, met, buckets / 10)
    if status == "insufficient data":
        # the figures are still shown, but nothing is projected from 8 % of a month
        assert r["sli"] == pytest.approx(0.9999) and r["exhaustion"] is None
        assert r["exhaustion_days"] is None
        decisions = run("release_decision", {"decisions_in": [{"slo": "s0",
                                                               "status": r["status"]}]})
        assert [d["decision"] for d in decisions] == ["review", "review", "review"]


@pytest.mark.parametrize(("target", "total", "elapsed"), [
    (0.9, 10, 1.0), (0.9, 11, 1.0), (0.999, 1000, 1.0), (0.999, 1001, 1.0),
    (0.95, 5, 0.25), (0.95, 6, 0.25), (0.99, 1, 1.0),
    # projected counts need not be whole: 7 events at 65 % project to 10.8 > 10
    (0.9, 7, 0.65), (0.9, 6, 0.65)])
def test_too_few_events_to_judge(target: float, total: int, elapsed: float) -> None:
    # SLO_MATH 6: one bad event of n spends 1 / (n B) of the budget, less than all of it
    # iff n > 1 / B; a running window counts its events projected to its end (n / e).
    need = burnrate.min_events(target)
    rows = run("budget_status", {
        "slos": [slo_row(0, target=target, min_events=need), slo_row(1, target=target)],
        "occ": [occ_row(0, total - 1, total), occ_row(1, total - 1, total)],
        "slc": SLC_EMPTY}, expected=10, elapsed=elapsed)
    # exact: one bad event spends 1 / (n / e * B) of the budget, all of it or more when
    # n / e * B <= 1
    few = Fraction(total) / Fraction(str(elapsed)) * (1 - Fraction(str(target))) <= 1
    r, judged = rows
    assert (r["status"] == "too few events") is few and r["min_events"] == need
    assert r["sli"] == pytest.approx((total - 1) / total)  # the figures are still shown
    assert r["budget_consumed"] == judged["budget_consumed"]
    if few:
        assert (r["met"], r["outlook"]) == (None, None)
        decisions = run("release_decision", {"decisions_in": [{"slo": "s0",
                                                               "status": r["status"]}]})
        assert [d["decision"] for d in decisions] == ["review", "review", "review"]
    else:
        assert r["status"] == judged["status"] and r["met"] == judged["met"]
    # the rule's n is the smallest n with n B > 1
    b = 1 - Fraction(str(target))
    assert need * b > 1 >= (need - 1) * b
    # the opt-out (min_events 0, spec.judgeFewEvents) judges it whatever its traffic
    assert judged["status"] != "too few events"


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


def test_incidents_are_islands_of_firing_buckets_per_severity() -> None:
    def firing(b: int, page: bool, ticket: bool) -> dict[str, Any]:
        return {"k": 0, "b": b, "bad": 2.0, "slice_bad": 0.0, "page": page, "ticket": ticket,
                "burn_1h": b * 1.0, "burn_5m": 0.0, "is_snap": False}
    # buckets 10-12: a page and a ticket condition hold; 13-15: only a ticket one; 20-21:
    # ticket; 30 is past as-of.
    snap = [firing(b, b <= 12, True) for b in range(10, 16)] + \
        [firing(20, False, True), firing(21, False, True), firing(30, True, True)]
    # Short windows of 3 buckets: the ticket firing again 4 buckets later is a new burn.
    rows = run("incidents", {"snap": snap, "slos": [slo_row(0, page_gap_b=3, ticket_gap_b=3)],
                             "occ": [occ_row(0, 900, 1000)], "slc": SLC_EMPTY},
               origin_s=0, step_s=60, elapsed=1.0, basof=30)
    # The page lasts while a page condition holds (3 buckets), not while the ticket does;
    # the ticket is its own incident over its own 6 buckets.
    assert [(r["start"].timestamp() / 60, r["duration_minutes"], r["severity"],
             r["peak_burn_1h"], r["bad"]) for r in rows] == [
        (10, 3.0, "page", 12.0, 6.0), (10, 6.0, "ticket", 15.0, 12.0),
        (20, 2.0, "ticket", 21.0, 4.0)]
    assert rows[0]["budget_share"] == pytest.approx(6 / 1.0)  # 6 bad of 1 allowed (B*1000)


def test_a_condition_firing_again_within_its_short_window_is_the_same_burn() -> None:
    """The tail of one outage: a page re-firing 2 minutes after it cleared, with 0.1 bad
    events, is the same burn (gap < the 30-minute short window); one firing 30 minutes after
    the burn ended is a new one. Tickets merge over their own 6-hour short window."""
    def firing(b: int, bad: float, page: bool = True) -> dict[str, Any]:
        return {"k": 0, "b": b, "bad": bad, "slice_bad": 0.0, "page": page, "ticket": not page,
                "burn_1h": float(b), "burn_5m": 0.0, "is_snap": False}
    outage = [firing(b, 10.0) for b in range(100, 126)]             # 26 min, 260 bad
    tail = [firing(b, 0.1 / 22) for b in range(128, 150)]           # gap 2, ~0 bad
    later = [firing(b, 5.0) for b in range(180, 190)]               # gap 30: a new burn
    tickets = [firing(b, 1.0, page=False) for b in (200, 201, 500, 900)]  # gaps 298, 399
    rows = run("incidents", {"snap": outage + tail + later + tickets, "slos": [slo_row(0)],
                             "occ": [occ_row(0, 999_000, 1_000_000)], "slc": SLC_EMPTY},
               origin_s=0, step_s=60, elapsed=1.0, basof=1000)
    got = [(r["severity"], r["start"].timestamp() / 60, r["end"].timestamp() / 60,
            r["duration_minutes"], r["peak_burn_1h"]) for r in rows]
    assert got == [("page", 100, 150, 50.0, 149.0), ("page", 180, 190, 10.0, 189.0),
                   ("ticket", 200, 501, 301.0, 500.0), ("ticket", 900, 901, 1.0, 900.0)]
    assert [r["bad"] for r in rows] == pytest.approx([260.1, 50.0, 3.0, 1.0])
    assert rows[0]["budget_share"] == pytest.approx(260.1 / 1000)  # B x 1,000,000 allowed


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
    page, ticket = res.incidents
    # the first bucket with 100 % errors already lifts 5 m and 1 h over 14.4 x B
    assert page["severity"] == "page" and page["start"] == utc(2026, 11, 2, 12, 0)
    assert page["peak_burn_1h"] == pytest.approx(1000)
    # The page lasts while a page condition holds: 6 h / 30 m at factor 6 needs
    # m * 999.5 + (30 - m) * 0.5 > 0.006 * 30,000 bad in the 30 m window, i.e. one outage
    # minute (12:59) in it: up to the bucket [13:28, 13:29).
    assert page["end"] == utc(2026, 11, 2, 13, 29)
    # The ticket is separate: 3 d / 6 h at factor 1 needs m * 999.5 + 2,160 > 4,320 bad in
    # 3 d (m >= 3: from 12:02) and holds until the 6 h window ending with [18:58, 18:59) no
    # longer reaches 12:59.
    assert (ticket["severity"], ticket["start"], ticket["end"]) == \
        ("ticket", utc(2026, 11, 2, 12, 2), utc(2026, 11, 2, 18, 59))


def test_one_hour_outage_in_a_clean_month_pages_for_the_page_conditions_only(
        tmp_path: Path) -> None:
    # 1,000 requests a minute, none bad, from the lookback on; 12:00-13:00 on 2 Nov all bad.
    # Against 99.9 % (B = 0.001), with m outage minutes in a window of n minutes its error
    # ratio is m / n (SLO_MATH 3, 30-day month: factors 14.4, 6, 3, 1):
    # - page 1 h & 5 m over 0.0144: 5 m needs m >= 1 and so does 1 h (1/60 = 0.0167):
    #   the buckets 12:00 .. 13:03 (the 5 m window ending at 13:04 holds no outage minute);
    # - page 6 h & 30 m over 0.006: 6 h needs m/360 > 0.006, m >= 3 (from 12:02); 30 m holds
    #   an outage minute up to the bucket 13:28: page conditions hold 12:00 .. 13:28.
    # - ticket 1 d & 2 h over 0.003: 1 d needs m/1440 > 0.003, m >= 5 (from 12:04) until
    #   14:58; ticket 3 d & 6 h over 0.001: 3 d needs m/4320 > 0.001, m >= 5 (from 12:04),
    #   6 h holds an outage minute up to the bucket 18:58.
    write_buckets(tmp_path, "a", utc(2026, 10, 29), [(1000.0, 1000.0)] * (33 * 1440))
    write_buckets(tmp_path, "a", utc(2026, 11, 2, 12), [(0.0, 1000.0)] * 60)
    res = compute_window(tmp_path, [SloParams("a", "svc", "", "h", 0.999)],
                         periods.month("2026-11"))
    got = [(i["severity"], i["start"], i["end"], i["duration_minutes"]) for i in res.incidents]
    assert got == [("page", utc(2026, 11, 2, 12), utc(2026, 11, 2, 13, 29), 89.0),
                   ("ticket", utc(2026, 11, 2, 12, 4), utc(2026, 11, 2, 18, 59), 415.0)]
    page, ticket = res.incidents
    # the 1 h burn peaks at 60,000 / 60,000 / B = 1000 when the hour is all outage
    assert page["peak_burn_1h"] == pytest.approx(1000)
    # allowed: B * 30 * 1440 * 1000 = 43,200 bad; the page holds all 60,000 of them, the
    # ticket (from 12:04) 56,000
    assert (page["bad"], ticket["bad"]) == (60_000, 56_000)
    assert page["budget_share"] == pytest.approx(60_000 / 43_200)
    assert ticket["budget_share"] == pytest.approx(56_000 / 43_200)
    # the headline: 60,000 bad of 43,200 allowed, exhausted and missed, counted once
    row = res.summary[0]
    assert row["budget_consumed"] == pytest.approx(60_000 / 43_200)
    assert (row["status"], row["met"], row["coverage"]) == ("exhausted", False, 1.0)


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


def _three_days(lake_dir: Path) -> periods.Period:
    # 3 days of 100 requests a minute; day 1 has 10 minutes at 98/100,
    # day 2 has 5 minutes at 0/100, day 3 is clean.
    start = utc(2026, 11, 1)
    write_buckets(lake_dir, "t", start, [(100.0, 100.0)] * (3 * 1440))
    write_buckets(lake_dir, "t", start + timedelta(hours=6), [(98.0, 100.0)] * 10)
    write_buckets(lake_dir, "t", start + timedelta(days=1, hours=6), [(0.0, 100.0)] * 5)
    return periods.Period("3d", start, start + timedelta(days=3))


def test_timeslices_daily_series_and_burn_down_count_slices(tmp_path: Path) -> None:
    # Timeslices, 1-min slices good iff >= 99 % good, target 99 %: 4,320 slices, 43.2
    # allowed bad. Bad slices: 10 on day 1, 5 on day 2 (not the 20 + 500 bad events).
    period = _three_days(tmp_path)
    slo = SloParams("t", "svc", "", "h", 0.99, method="Timeslices", slice_seconds=60,
                    slice_target=0.99)
    res = compute_window(tmp_path, [slo], period)
    row = res.summary[0]
    assert (row["good"], row["total"], row["bad"]) == (4305, 4320, 15)
    assert row["budget_remaining"] == pytest.approx(1 - 15 / 43.2)
    assert [(r["good"], r["total"]) for r in res.daily] == [(1430, 1440), (1435, 1440),
                                                           (1440, 1440)]
    assert [r["budget_remaining"] for r in res.daily] == pytest.approx(
        [1 - 10 / 43.2, 1 - 15 / 43.2, 1 - 15 / 43.2])
    # the burn-down ends at the headline
    assert res.daily[-1]["budget_remaining"] == pytest.approx(row["budget_remaining"])


def test_ratio_timeslices_agree_everywhere(tmp_path: Path) -> None:
    # RatioTimeslices, target 99 %: no slice target; the SLI is the mean slice ratio.
    # Day 1: 10 slices at 0.98 (0.02 bad each, 0.2 in all); day 2: 5 slices at 0 (5 bad).
    # SLI = 1 - 5.2 / 4,320; consumed = (1 - SLI) / 0.01 = 5.2 / 43.2 = 0.1204: healthy, met.
    period = _three_days(tmp_path)
    slo = SloParams("t", "svc", "", "h", 0.99, method="RatioTimeslices", slice_seconds=60)
    res = compute_window(tmp_path, [slo], period)
    row = res.summary[0]
    assert row["sli"] == pytest.approx(1 - 5.2 / 4320)
    assert row["bad"] == pytest.approx(5.2) and row["allowed_bad"] == pytest.approx(43.2)
    assert row["budget_consumed"] == pytest.approx((1 - row["sli"]) / 0.01)
    assert row["budget_consumed"] == pytest.approx(5.2 / 43.2)
    assert (row["status"], row["met"]) == ("healthy", True)
    assert [r["sli"] for r in res.daily] == pytest.approx(
        [1 - 0.2 / 1440, 1 - 5 / 1440, 1.0])
    assert [r["budget_remaining"] for r in res.daily] == pytest.approx(
        [1 - 0.2 / 43.2, 1 - 5.2 / 43.2, 1 - 5.2 / 43.2])
    assert res.daily[-1]["budget_remaining"] == pytest.approx(row["budget_remaining"])
    assert [d["decision"] for d in res.decisions] == ["approve", "approve", "review"]


def test_time_slice_incident_spends_slices(tmp_path: Path) -> None:
    # Timeslices (1-min slices good iff >= 99 %, target 99 %, B = 0.01) over 3 days of 100
    # requests a minute, none bad, except 06:00-06:05 on day 2: 5 minutes at 0 of 50. P = 3 d,
    # so the factors are 1.44, 0.6, 0.3, 0.1 (thresholds 0.0144, 0.006, 0.003, 0.001).
    # Burn rates count slices (docs/slo-math.md): with m bad 1-minute slices so far,
    # - page 1 h & 5 m: 1 h = m / 60 > 0.0144 from m = 1 (06:00); 5 m holds a bad slice up
    #   to the bucket 06:08. Page 6 h & 30 m: 6 h = m / 360 > 0.006 from m = 3 (06:02); 30 m
    #   holds one up to 06:33. Page: 06:00 - 06:34.
    # - ticket 1 d & 2 h: 1 d = m / 1,440 > 0.003 from m = 5 (06:04); 2 h holds a bad slice up
    #   to 08:03. Ticket 3 d & 6 h: the 3 d window counts the slices since 1 Nov (the lookback
    #   has no data: skipped), m / (1,800 + m) > 0.001 from m = 2 (06:01); 6 h holds a bad
    #   slice up to 12:03. Ticket: 06:01 - 12:04.
    # Shares are in slices: the page holds the 5 bad slices 06:00-06:04, the ticket 4, of
    # 0.01 * 4,320 = 43.2 allowed (in events the page would be 250 / 4,317.5 = 5.8 %).
    start = utc(2026, 11, 1)
    write_buckets(tmp_path, "t", start, [(100.0, 100.0)] * (3 * 1440))
    write_buckets(tmp_path, "t", start + timedelta(days=1, hours=6), [(0.0, 50.0)] * 5)
    slo = SloParams("t", "svc", "", "h", 0.99, method="Timeslices", slice_seconds=60,
                    slice_target=0.99)
    res = compute_window(tmp_path, [slo], periods.Period("3d", start, start + timedelta(days=3)))
    day2 = start + timedelta(days=1)
    assert [(i["severity"], i["start"], i["end"]) for i in res.incidents] == [
        ("page", day2 + timedelta(hours=6), day2 + timedelta(hours=6, minutes=34)),
        ("ticket", day2 + timedelta(hours=6, minutes=1), day2 + timedelta(hours=12, minutes=4))]
    assert [i["budget_share"] for i in res.incidents] == pytest.approx([5 / 43.2, 4 / 43.2])
    assert res.summary[0]["budget_consumed"] == pytest.approx(5 / 43.2)
