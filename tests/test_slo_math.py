"""SLO_MATH.md check values (Occurrences, status, coverage), run through the real SQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from slo_jobs import compute
from slo_jobs.core import periods
from slo_jobs.sources.prometheus.extractor import _day_table
from slo_jobs.spec import Query, RatioSli, Slo
from tests.lakeutil import utc, write_buckets

NOV = periods.month("2026-11")


def slo(name: str, target: float, min_coverage: float = 0.0) -> Slo:
    # The arithmetic checks below use a few buckets of a month: judged at any coverage unless
    # a test sets the threshold (spec.minCoverage, 0.9 by default).
    q = Query(selector="x_total")
    return Slo(name=name, service="svc", description="", target=target, good=q, total=q,
               sli=RatioSli(), labels={}, source="test", spec_hash="0", min_coverage=min_coverage)


def summary(lake: Path, *slos: Slo, as_of_days: float | None = None) -> dict[str, dict]:
    as_of = NOV.start + timedelta(days=as_of_days) if as_of_days is not None else None
    month = compute.compute_calendar(lake, slos, "month", NOV.label, as_of=as_of)
    return {r["slo"]: r for r in month.summary}


@pytest.mark.parametrize("total", [1_000_000, 3_000_000])
def test_allowed_bad_events_at_999(tmp_path: Path, total: int) -> None:
    # SLO_MATH 1: 1,000,000 requests at 99.9 % allow 1,000 errors; 3,000,000 allow 3,000.
    write_buckets(tmp_path, "a", NOV.start, [(total / 1000, total / 1000)] * 1000)
    row = summary(tmp_path, slo("a", 0.999))["a"]
    assert row["total"] == total
    assert row["allowed_bad"] == pytest.approx(total / 1000, rel=1e-12)


def test_ratio_of_sums_not_average_of_ratios(tmp_path: Path) -> None:
    # SLO_MATH 1: slices (1000, 10 bad) and (10, 5 bad): Occurrences error 15/1010 = 0.014851.
    write_buckets(tmp_path, "a", NOV.start, [(990, 1000), (5, 10)])
    row = summary(tmp_path, slo("a", 0.99))["a"]
    assert 1 - row["sli"] == pytest.approx(0.014851, abs=5e-7)
    assert row["bad"] == 15
    assert row["budget_consumed"] == pytest.approx(15 / (0.01 * 1010), rel=1e-12)


def test_overspent_budget_goes_negative(tmp_path: Path) -> None:
    write_buckets(tmp_path, "a", NOV.start, [(998_500, 1_000_000)])
    row = summary(tmp_path, slo("a", 0.999))["a"]
    assert row["budget_consumed"] == pytest.approx(1.5)
    assert row["budget_remaining"] == pytest.approx(-0.5)  # reported, not clamped
    assert row["status"] == "exhausted"
    assert row["met"] is False


@pytest.mark.parametrize(("bad", "status"), [
    (10_000, "exhausted"),  # projected C = 10 x 0.1 = 1: R = 0
    (2_500, "critical"),    # C = 0.25 after 10 % of the month: burn 2.5
    (1_600, "warning"),     # burn 1.6
    (1_200, "attention"),   # burn 1.2
    (1_000, "healthy"),     # burn exactly 1 is not above 1
    (500, "healthy"),
])
def test_status_from_even_spend_burn(tmp_path: Path, bad: int, status: str) -> None:
    # SLO_MATH 4: status on C / elapsed_fraction, 3 days into 30, where C is the share of the
    # whole month's (projected) budget spent so far.
    write_buckets(tmp_path, "a", NOV.start, [(1_000_000 - bad, 1_000_000)])
    row = summary(tmp_path, slo("a", 0.999), as_of_days=3)["a"]
    assert row["status"] == status


def test_to_date_and_projected_consumption(tmp_path: Path) -> None:
    # SLO_MATH 2: T = 0.99, 1,000 events a day, 50 bad on day 1 of a 30-day month:
    # to-date 500 %, projected 16.7 %; the burn (C / elapsed) is 5: critical.
    write_buckets(tmp_path, "a", NOV.start, [(950 / 1440, 1000 / 1440)] * 1440)
    row = summary(tmp_path, slo("a", 0.99), as_of_days=1)["a"]
    assert row["budget_consumed_to_date"] == pytest.approx(5.0)
    assert row["budget_consumed"] == pytest.approx(1 / 6)
    assert row["estimated"] is True
    assert row["status"] == "critical"
    full = summary(tmp_path, slo("a", 0.99))["a"]  # at the end both equal the plain definition
    assert full["budget_consumed"] == pytest.approx(full["budget_consumed_to_date"])
    assert full["budget_consumed"] == pytest.approx(5.0)  # only day 1 had traffic
    assert full["estimated"] is False


def test_coverage_counts_missing_buckets(tmp_path: Path) -> None:
    # 10 days of 1-minute buckets out of 30: coverage one third; missing data is not good.
    write_buckets(tmp_path, "a", NOV.start, [(10, 10)] * (10 * 1440))
    row = summary(tmp_path, slo("a", 0.99))["a"]
    assert row["expected_buckets"] == 30 * 1440
    assert row["coverage"] == pytest.approx(1 / 3)
    assert row["sli"] == 1.0


def test_slo_without_data_is_not_met_and_has_zero_coverage(tmp_path: Path) -> None:
    write_buckets(tmp_path, "a", NOV.start, [(10, 10)])
    rows = summary(tmp_path, slo("a", 0.99), slo("b", 0.99))
    assert rows["b"]["status"] == "no data"
    assert rows["b"]["coverage"] == 0
    assert rows["b"]["sli"] is None and rows["b"]["met"] is None


def test_no_files_at_all(tmp_path: Path) -> None:
    rows = summary(tmp_path, slo("a", 0.99))
    assert rows["a"]["status"] == "no data" and rows["a"]["total"] == 0


def test_rows_outside_the_month_are_ignored(tmp_path: Path) -> None:
    # The last minute of October and the first of December must not count toward November.
    write_buckets(tmp_path, "a", utc(2026, 10, 31, 23, 59), [(0, 100), (10, 10)])
    write_buckets(tmp_path, "a", utc(2026, 12, 1), [(0, 100)])
    row = summary(tmp_path, slo("a", 0.99))["a"]
    assert (row["good"], row["total"]) == (10, 10)


def test_clipped_rows_never_claim_good_above_total(tmp_path: Path) -> None:
    # SLO_MATH 6: per-step good > total is clipped to total and counted.
    t0 = int(utc(2026, 11, 1).timestamp())
    table, clipped, _ = _day_table(date(2026, 11, 1), {t0 + 60: 12.5, t0 + 120: 3.0},
                                {t0 + 60: 10.0, t0 + 120: 4.0, t0 + 180: 5.0},
                                timedelta(minutes=1))
    rows = table.to_pylist()
    assert clipped == 1
    assert len(rows) == 1440  # dense: every bucket of the day
    assert [r["good"] for r in rows[:3]] == [10.0, 3.0, 0.0]  # missing good is bad, not good
    assert [r["clipped"] for r in rows[:3]] == [True, False, False]
    assert [r["has_data"] for r in rows[:4]] == [True, True, True, False]
    assert rows[0]["ts"] == utc(2026, 11, 1)  # bucket start = evaluation time - step
    assert rows[-1]["ts"] == utc(2026, 11, 1, 23, 59)


def test_clipped_rows_are_reported(tmp_path: Path) -> None:
    write_buckets(tmp_path, "a", NOV.start, [(12, 10), (5, 10)])
    row = summary(tmp_path, slo("a", 0.99))["a"]
    assert row["clipped_rows"] == 1
    assert row["good"] == 15


def test_calendar_month_lengths() -> None:
    # SLO_MATH 2 (UTC): Feb 2024 = 696 h, Mar 2024 = 744 h, Nov 2024 = 720 h.
    assert periods.month("2024-02").seconds == 696 * 3600
    assert periods.month("2024-03").seconds == 744 * 3600
    assert periods.month("2024-11").seconds == 720 * 3600
    assert periods.month("2026-12").end == utc(2027, 1, 1)
    # ... and in America/New_York: Mar 2024 = 743 h, Nov 2024 = 721 h (DST)
    assert periods.calendar("month", "2024-03", "America/New_York").seconds == 743 * 3600
    assert periods.calendar("month", "2024-11", "America/New_York").seconds == 721 * 3600
    assert periods.calendar("quarter", "2026-Q4", "UTC").end == utc(2027, 1, 1)


def test_a_thinly_covered_month_is_never_met(tmp_path: Path) -> None:
    # Two perfect days of thirty: coverage 2,880 / 43,200 = 6.7 %, below the default 90 %.
    # The SLI is still 100 %, but the month is "insufficient data", not healthy nor met.
    write_buckets(tmp_path, "a", NOV.start, [(5.0, 5.0)] * (2 * 1440))
    row = summary(tmp_path, slo("a", 0.999, min_coverage=0.9))["a"]
    assert row["coverage"] == pytest.approx(2 / 30) and row["sli"] == 1.0
    assert (row["status"], row["met"], row["exhaustion"]) == ("insufficient data", None, None)
    # with a threshold the coverage meets (5 %), the same figures are judged
    row = summary(tmp_path, slo("a", 0.999, min_coverage=0.05))["a"]
    assert (row["status"], row["met"]) == ("healthy", True)
