"""A report someone else can publish and trust: it says when it was rendered apart from what
time its figures describe, its CSVs read back without guessing, the data-quality section says
when data was missing, the index lists no month that has not begun, and no PDF page is a
stray heading or a single bullet."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import periods
from slo_jobs.report import monthly as report
from tests.lakeutil import Bucket, write_buckets

NOV = periods.month("2026-11")
RENDERED = datetime(2027, 3, 15, 8, 0, tzinfo=UTC)  # months after the period, as in the issue
GAPS = [(datetime(2026, 11, 3, 2, 0, tzinfo=UTC), 90),  # (start, minutes without data)
        (datetime(2026, 11, 20, 23, 50, tzinfo=UTC), 20)]  # across midnight
OUTAGE = (datetime(2026, 11, 10, 12, 0, tzinfo=UTC), 60)  # every request failed


def buckets() -> list[Bucket]:
    out: list[Bucket] = []
    for i in range(30 * 1440):
        t = NOV.start + timedelta(minutes=i)
        if any(s <= t < s + timedelta(minutes=m) for s, m in GAPS):
            out.append(None)
        elif OUTAGE[0] <= t < OUTAGE[0] + timedelta(minutes=OUTAGE[1]):
            out.append((0.0, 1000.0))
        else:
            out.append((1000.0, 1000.0))
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, report.ReportFiles]:
    base = tmp_path_factory.mktemp("publish")
    lake = base / "lake"
    slos = [SloParams("api-availability", "api", "Requests without a 5xx.", "h", 0.99),
            SloParams("web-availability", "web", "Pages served.", "h", 0.999)]
    write_buckets(lake, "api-availability", NOV.start, buckets())
    write_buckets(lake, "web-availability", NOV.start, [(999.0, 1000.0)] * (30 * 1440))
    write_result(lake, compute_window(lake, slos, NOV))
    # A month that has not begun when the report is rendered (someone ran compute for it).
    write_result(lake, compute_window(lake, slos, periods.month("2027-05")))
    files = report.render(lake, NOV, base / "out", source="test", generated_at=RENDERED)
    return base, files


def test_render_time_and_data_as_of_are_separate(
        published: tuple[Path, report.ReportFiles]) -> None:
    html = published[1].html.read_text()
    assert re.search(r'Figures as of <span id="data-as-of">2026-12-01 00:00 UTC</span> '
                     r"\(the data's time\)", html)
    assert re.search(r'Rendered <span id="rendered-at">2027-03-15 08:00 UTC</span> by slo-jobs '
                     r"[\d.]+ \(when this file was made, not the data's time\)", html)
    assert "Generated" not in html


def test_summary_csv_reads_back_without_guessing(
        published: tuple[Path, report.ReportFiles]) -> None:
    files = published[1]
    records = {r["slo"]: r for r in json.loads(files.json.read_text())}
    text = files.csv.read_text()
    assert "True" not in text and "False" not in text
    with files.csv.open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        rec = records[row["slo"]]
        assert row["met"] == str(rec["met"]).lower() and row["met"] in {"true", "false"}
        for field in ("good", "total", "bad", "buckets", "expected_buckets", "incidents"):
            assert re.fullmatch(r"\d+", row[field]), (field, row[field])
            assert int(row[field]) == rec[field]
    web = next(r for r in rows if r["slo"] == "web-availability")
    assert web["total"] == "43200000"  # 30 days x 1440 min x 1000 requests, not 43200000.0
    assert web["allowed_bad"] == "43200"  # whole here; a fraction stays a fraction


def test_incident_times_are_iso_8601(published: tuple[Path, report.ReportFiles]) -> None:
    with published[1].incidents_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "the hour-long outage must be an incident"
    outage = [r for r in rows if r["slo"] == "api-availability"]
    for r in rows:
        for field in ("start", "end"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r[field]), r[field]
            assert datetime.fromisoformat(r[field]).tzinfo is not None
    start = datetime.fromisoformat(outage[0]["start"])
    assert OUTAGE[0] <= start < OUTAGE[0] + timedelta(minutes=OUTAGE[1])


def test_data_quality_says_when_data_was_missing(
        published: tuple[Path, report.ReportFiles]) -> None:
    html = published[1].html.read_text()
    item = re.search(r'<li class="gaps" data-slo="api-availability">(.*?)</li>', html, re.S)
    assert item is not None
    shown = re.findall(r'<span class="gap">([^<]*)</span>', item.group(1))
    assert shown == ["2026-11-03 02:00 to 2026-11-03 03:30 (1 h 30 min)",
                     "2026-11-20 23:50 to 2026-11-21 00:10 (20 min)"]
    assert 'data-slo="web-availability"' not in html.split('id="data-quality"')[1]


def test_index_lists_no_month_that_has_not_begun(
        published: tuple[Path, report.ReportFiles], tmp_path: Path) -> None:
    base, files = published
    html = files.index.read_text()
    assert 'data-month="2026-11"' in html and 'data-month="2027-05"' not in html
    assert re.search(r'<tr data-month="2026-11"><td>2026-11</td>', html)
    # computed to date (as of 20 November): listed, marked as still running
    slos = [SloParams("web-availability", "web", "Pages served.", "h", 0.999)]
    mid = datetime(2026, 11, 20, tzinfo=UTC)
    write_result(tmp_path / "lake", compute_window(base / "lake", slos, NOV, mid))
    index = report.write_index(tmp_path / "lake", tmp_path / "out", RENDERED)
    row = re.search(r'<tr data-month="2026-11"><td>([^<]*)</td>', index.read_text())
    assert row is not None and row.group(1) == "2026-11 (still running)"


def pdf_pages(pdf: Path) -> list[list[str]]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = []
    for page in text.split("\f"):
        lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
        # drop the running header (report title) and footer (page x of y)
        pages.append([ln for ln in lines if not re.match(r"(SLO report \d{4}-\d\d|page \d+ of)",
                                                         ln)])
    return [p for p in pages if p]


def test_no_pdf_page_is_a_stray_heading_or_a_single_bullet(
        published: tuple[Path, report.ReportFiles]) -> None:
    pages = pdf_pages(published[1].pdf)
    assert len(pages) > 3
    for number, lines in enumerate(pages, 1):
        bullets = sum(ln.startswith("•") for ln in lines)
        assert len(lines) > 3 or bullets > 1, (number, lines)
        # a heading is never the last thing on a page
        assert lines[-1] not in ("What to do", "Trend", "Data quality", "Definitions",
                                 "Burns that would have alerted (from the SLI history)"), \
            (number, lines[-3:])
        if "What to do" in lines:
            assert any(ln.startswith("•") for ln in lines[lines.index("What to do"):]), number
    appendix = [n for n, lines in enumerate(pages) if "Data quality" in lines or
                "Definitions" in lines]
    assert len(set(appendix)) == 1  # one page for both, not a page for one bullet
