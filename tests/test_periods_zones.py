"""Months in other time zones through `slo-jobs compute`: a DST change, a half-hour offset,
a quarter and a year, on hand-built lakes with hand-derived figures."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from slo_jobs.core import periods
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: web
  indicator:
    ratio:
      good:  {{selector: 'x_total{{code="200"}}'}}
      total: {{selector: 'x_total'}}
  objective: {{target: 0.999}}
  window: {window}
"""


def compute(tmp: Path, name: str, window: str, month: str, as_of: str) -> dict[str, list]:
    (tmp / "slo.yaml").write_text(DOC.format(name=name, window=window))
    done = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "compute", "--month", month,
                           "--slos", str(tmp / "slo.yaml"), "--lake", str(tmp / "lake"),
                           "--as-of", as_of], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    folder = tmp / "lake" / "monthly" / f"month={month}"
    return {t: pq.read_table(folder / f"{t}.parquet").to_pylist() for t in ("summary", "daily")}


def fill(tmp: Path, name: str, start: datetime, end: datetime,
         bad_from: datetime, bad_to: datetime) -> None:
    """999 good of 1,000 events every minute of [start, end); all bad in [bad_from, bad_to)."""
    minutes = int((end - start) / timedelta(minutes=1))
    write_buckets(tmp / "lake", name, start, [
        (0.0, 1000.0) if bad_from <= start + timedelta(minutes=i) < bad_to else (999.0, 1000.0)
        for i in range(minutes)])


def test_los_angeles_november_has_the_extra_hour(tmp_path: Path) -> None:
    # DST ends on Sunday 1 November 2026 at 02:00 PDT: 01:00-02:00 happens twice. The local
    # month runs from 07:00 UTC on 1 Nov (midnight PDT) to 08:00 UTC on 1 Dec (midnight PST):
    # 30 days and 1 hour, 43,260 minutes. The first 01:00 hour (08:00-09:00 UTC) is all bad.
    fill(tmp_path, "la", datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC),
         datetime(2026, 11, 1, 8, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC))
    out = compute(tmp_path, "la", "{calendar: month, timeZone: America/Los_Angeles}",
                  "2026-11", "2026-12-10T00:00Z")
    row = out["summary"][0]
    minutes = 30 * 1440 + 60
    assert row["expected_buckets"] == minutes and row["coverage"] == 1.0
    assert row["total"] == minutes * 1000
    assert row["bad"] == (minutes - 60) * 1 + 60 * 1000
    assert row["period_start"] == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert row["period_end"] == datetime(2026, 12, 1, 8, tzinfo=UTC)
    daily = {str(d["day"]): d for d in out["daily"]}
    assert len(daily) == 30
    assert daily["2026-11-01"]["total"] == 25 * 60 * 1000  # the 25-hour day
    assert daily["2026-11-02"]["total"] == 24 * 60 * 1000
    assert row["time_zone"] == "America/Los_Angeles" and row["window_label"] == "2026-11"


def test_kolkata_month_starts_at_half_past_six_utc(tmp_path: Path) -> None:
    # Asia/Kolkata is UTC+5:30, no DST: September is [31 Aug 18:30, 30 Sep 18:30) UTC.
    # The 30 minutes before it (18:00-18:30 UTC on 31 Aug) are bad and belong to August.
    fill(tmp_path, "in", datetime(2026, 8, 27, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC),
         datetime(2026, 8, 31, 18, tzinfo=UTC), datetime(2026, 8, 31, 18, 30, tzinfo=UTC))
    out = compute(tmp_path, "in", "{calendar: month, timeZone: Asia/Kolkata}", "2026-09",
                  "2026-10-10T00:00Z")
    row = out["summary"][0]
    assert row["expected_buckets"] == 43_200 and row["bad"] == 43_200
    assert row["period_start"] == datetime(2026, 8, 31, 18, 30, tzinfo=UTC)
    assert {str(d["day"]) for d in out["daily"]} == {f"2026-09-{d:02d}" for d in range(1, 31)}


def test_a_quarter_slo_gets_its_quarter_to_date_and_at_its_end(tmp_path: Path) -> None:
    # A bad hour in July; the report of August shows Q3 to date (July + August, estimated),
    # the report of September the whole quarter (not estimated).
    fill(tmp_path, "q", datetime(2026, 6, 27, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC),
         datetime(2026, 7, 10, 3, tzinfo=UTC), datetime(2026, 7, 10, 4, tzinfo=UTC))
    aug = compute(tmp_path, "q", "{calendar: quarter}", "2026-08", "2026-12-01T00:00Z")
    row = aug["summary"][0]
    to_date = (31 + 31) * 1440  # July and August
    assert row["window_label"] == "2026-Q3" and row["window_estimated"] is True
    assert row["window_good"] == (to_date - 60) * 999
    assert row["window_total"] == to_date * 1000
    sep = compute(tmp_path, "q", "{calendar: quarter}", "2026-09", "2026-12-01T00:00Z")
    row = sep["summary"][0]
    whole = 92 * 1440
    bad = (whole - 60) * 1 + 60 * 1000
    assert row["window_estimated"] is False
    assert row["window_sli"] == pytest.approx(1 - bad / (whole * 1000), rel=1e-12)
    # Consumed of the quarter's budget: bad / (0.001 x total).
    assert row["window_budget_consumed"] == pytest.approx(bad / (0.001 * whole * 1000),
                                                          rel=1e-9)


def test_calendar_years_and_labels() -> None:
    year = periods.calendar("year", "2026", "Asia/Kolkata")
    assert year.start == datetime(2025, 12, 31, 18, 30, tzinfo=UTC)
    assert year.end == datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    at = datetime(2026, 12, 31, 19, tzinfo=UTC)  # already 2027 in Kolkata
    assert periods.label_of("year", at, "Asia/Kolkata") == "2027"
    assert periods.label_of("week", at, "UTC") == "2026-W53"
    assert periods.label_of("quarter", at, "UTC") == "2026-Q4"
    assert periods.instant("2026-09-15T12:00:30+02:00") == datetime(2026, 9, 15, 10, 0,
                                                                     tzinfo=UTC)


@pytest.mark.parametrize("kind, anchor, start, end", [
    # A fiscal year from 1 February: at the end of September 2026 it began on 1 Feb 2026.
    ("year", "2024-02-01 00:00:00", datetime(2026, 2, 1), datetime(2027, 2, 1)),
    # Quarters from February: Feb-Apr, May-Jul, Aug-Oct.
    ("quarter", "2024-02-01 00:00:00", datetime(2026, 8, 1), datetime(2026, 11, 1)),
    # Months from the 15th at 06:00.
    ("month", "2024-01-15 06:00:00", datetime(2026, 9, 15, 6), datetime(2026, 10, 15, 6)),
    # Weeks from Wednesday (3 January 2024 was one); 30 September 2026 is a Wednesday.
    ("week", "2024-01-03 00:00:00", datetime(2026, 9, 30), datetime(2026, 10, 7)),
    # On the natural boundary: the plain calendar quarter, with its usual label.
    ("quarter", "2024-01-01 00:00:00", datetime(2026, 7, 1), datetime(2026, 10, 1)),
])
def test_a_start_time_anchors_the_calendar_periods(kind: str, anchor: str, start: datetime,
                                                  end: datetime) -> None:
    at = datetime(2026, 9, 30, 12, tzinfo=UTC)  # Wednesday
    got = periods.containing(kind, at, "UTC", anchor)
    assert (got.start, got.end) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_a_fiscal_quarter_slo_gets_its_own_quarter_to_date(tmp_path: Path) -> None:
    fill(tmp_path, "fq", datetime(2026, 7, 28, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC),
         datetime(2026, 8, 10, 3, tzinfo=UTC), datetime(2026, 8, 10, 4, tzinfo=UTC))
    out = compute(tmp_path, "fq", "{calendar: quarter, startTime: '2026-02-01 00:00:00'}",
                  "2026-09", "2026-12-01T00:00Z")
    row = out["summary"][0]
    # The quarter from 1 August to 1 November, to date at the end of September: 61 days.
    to_date = 61 * 1440
    assert row["window_label"] == "quarter from 2026-08-01 00:00"
    assert row["window_estimated"] is True and row["window_total"] == to_date * 1000
    assert row["window_good"] == (to_date - 60) * 999


THREE = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: thin}
spec:
  service: web
  indicator: {ratio: {good: {selector: 'x_total{code="200"}'}, total: {selector: x_total}}}
  objective: {target: 0.99}
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: hourly}
spec:
  service: web
  indicator: {ratio: {good: {selector: 'x_total{code="200"}'}, total: {selector: x_total}}}
  budgetingMethod: RatioTimeslices
  objective: {target: 0.99, timeSliceWindow: 1h}
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: paged}
spec:
  service: web
  indicator: {ratio: {good: {selector: 'x_total{code="200"}'}, total: {selector: x_total}}}
  objective: {target: 0.999}
  alerting:
    burnRates:
      - {severity: page, longWindow: 4h, shortWindow: 20m, factor: 10}
"""


def test_coverage_slices_and_overrides_through_the_cli(tmp_path: Path) -> None:
    nov = datetime(2026, 11, 1, tzinfo=UTC)
    # thin: two days of thirty have data: 6.7 % coverage, below the 90 % threshold.
    write_buckets(tmp_path / "lake", "thin", nov, [(10.0, 10.0)] * (2 * 1440))
    # hourly: 99 of 100 good every minute, one hour all bad: 720 one-hour slices with
    # ratios 0.99 (719 of them) and 0: SLI = mean = 719 x 0.99 / 720, consumed = (1 - SLI) / 0.01.
    fill_minutes = [(0.0, 100.0) if 600 <= i < 660 else (99.0, 100.0) for i in range(30 * 1440)]
    write_buckets(tmp_path / "lake", "hourly", nov - timedelta(days=3),
                  [(99.0, 100.0)] * (3 * 1440) + fill_minutes)
    write_buckets(tmp_path / "lake", "paged", nov - timedelta(days=3),
                  [(999.0, 1000.0)] * (33 * 1440))
    (tmp_path / "slos.yaml").write_text(THREE)
    base = [sys.executable, "-m", "slo_jobs.cli"]
    done = subprocess.run([*base, "compute", "--month", "2026-11", "--slos",
                           str(tmp_path / "slos.yaml"), "--lake", str(tmp_path / "lake"),
                           "--as-of", "2026-12-05T00:00Z"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*base, "report", "--month", "2026-11", "--lake",
                           str(tmp_path / "lake"), "--out", str(tmp_path / "out"), "--format",
                           "html,json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    rows = {r["slo"]: r for r in json.loads(
        (tmp_path / "out" / "2026-11" / "summary.json").read_text())}
    assert (rows["thin"]["status"], rows["thin"]["met"]) == ("insufficient data", None)
    assert rows["thin"]["coverage"] == pytest.approx(2 / 30)
    sli = 719 * 0.99 / 720
    assert rows["hourly"]["sli"] == pytest.approx(sli, rel=1e-12)
    assert rows["hourly"]["budget_consumed"] == pytest.approx((1 - sli) / 0.01, rel=1e-9)
    assert rows["hourly"]["met"] is False and rows["hourly"]["status"] == "exhausted"
    html = (tmp_path / "out" / "2026-11" / "report.html").read_text()
    definition = html.split('data-definition="paged"')[1].split("</tr>")[0]
    assert "4 h" in definition and "20 min" in definition and "10" in definition
    # report --as-of: a month not begun at it is refused; inside it, the index marks it running.
    early = subprocess.run([*base, "report", "--month", "2026-11", "--lake",
                            str(tmp_path / "lake"), "--out", str(tmp_path / "out2"),
                            "--as-of", "2026-10-31T23:00Z"], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    assert early.returncode == 1 and early.stderr.strip() == (
        "error: month 2026-11: has not begun at as-of 2026-10-31T23:00Z; expected a month that "
        "has started")
    mid = subprocess.run([*base, "report", "--month", "2026-11", "--lake",
                          str(tmp_path / "lake"), "--out", str(tmp_path / "out2"), "--format",
                          "html", "--as-of", "2026-11-20T00:00Z"], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert mid.returncode == 0, mid.stderr
    index = (tmp_path / "out2" / "index.html").read_text()
    row = index.split('data-month="2026-11"')[1].split("</tr>")[0]
    assert "running" in row
