"""The report: every format agrees, figures and recommendations follow the numbers.

Escaping of user fields and the restricted PDF fetcher: tests/faults/test_security_report.py.
"""

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
from slo_jobs.spec import BurnRateAlert
from tests.lakeutil import write_buckets

NOV = periods.month("2026-11")
HOSTILE = ('<script>alert("x")</script><img src="file:///etc/passwd">'
           '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"> Ünïcødé ✓ 日本語')


def build(lake: Path, n: int = 3, description: str = HOSTILE) -> list[SloParams]:
    slos = []
    for i in range(n):
        name = f"svc{i % 3}-{'very-long-name-' * 3}{i}"[:63].rstrip("-")
        slos.append(SloParams(name, f"svc{i % 3}", description, "h", 0.99))
        if i != 1:  # slo 1 has no data at all
            write_buckets(lake, name, NOV.start, [(990 - i, 1000)] * 1440)
    write_result(lake, compute_window(lake, slos, NOV))
    return slos


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, report.ReportFiles]:
    base = tmp_path_factory.mktemp("report")
    build(base / "lake")
    files = report.render(base / "lake", NOV, base / "out", source="<b>src</b>",
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC))
    return base, files


def test_formats_agree(rendered: tuple[Path, report.ReportFiles]) -> None:
    _, files = rendered
    records = json.loads(files.json.read_text())
    with files.csv.open() as fh:
        rows = list(csv.DictReader(fh))
    pdf = subprocess.run(["pdftotext", "-layout", str(files.pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    html = files.html.read_text()
    assert [r["slo"] for r in rows] == [r["slo"] for r in records]
    for rec, row in zip(records, rows, strict=True):
        assert float(row["total"]) == rec["total"] and row["status"] == rec["status"]
        sli = "n/a" if rec["sli"] is None else f"{rec['sli'] * 100:.4f} %"
        assert sli in pdf and sli in html
        assert rec["slo"][:30] in pdf.replace("\n", "")
    assert records[1]["status"] == "no data" and records[1]["coverage"] == 0
    assert "never as 100 %" in re.sub(r"\s+", " ", pdf)  # the missing SLO is said, not hidden


def test_index_lists_every_month(rendered: tuple[Path, report.ReportFiles]) -> None:
    base, files = rendered
    html = files.index.read_text()
    assert 'data-month="2026-11"' in html and "2026-11/report.pdf" in html


def test_two_hundred_slos(tmp_path: Path) -> None:
    build(tmp_path / "lake", n=200, description="plain")
    files = report.render(tmp_path / "lake", NOV, tmp_path / "out", source="s",
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC),
                          formats=("html", "json", "csv"))
    assert len(json.loads(files.json.read_text())) == 200
    assert files.html.read_text().count('<tr data-slo="') == 200
    assert not files.pdf.exists()


def test_service_filter_and_bad_format(rendered: tuple[Path, report.ReportFiles]) -> None:
    base, _ = rendered
    files = report.render(base / "lake", NOV, base / "out", source="s",
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC), service="svc0",
                          formats=("json",))
    assert {r["service"] for r in json.loads(files.json.read_text())} == {"svc0"}
    with pytest.raises(report.SloJobsError, match="--format: found docx"):
        report.render(base / "lake", NOV, base / "out", source="s",
                      generated_at=datetime(2026, 12, 1, tzinfo=UTC), formats=("docx",))


def test_recommendations_follow_the_numbers() -> None:
    row = {"status": "exhausted", "coverage": 0.9, "clipped_rows": 2, "budget_remaining": -0.3}
    inc = [{"start": datetime(2026, 11, 3, 4, 5, tzinfo=UTC), "budget_share": 0.25},
           {"start": datetime(2026, 11, 4, tzinfo=UTC), "budget_share": 0.05}]
    recs = report.recommendations(row, inc)
    assert recs[0].startswith("Error budget exhausted: freeze high-risk releases")
    assert sum("Postmortem" in r for r in recs) == 1  # only the incident above 20 %
    assert any("90.0 %" in r for r in recs) and any("clipped" in r for r in recs)


def test_thin_month_is_insufficient_data_everywhere(tmp_path: Path) -> None:
    # "full" has every minute of November, all good: SLI 100 %, healthy, met. "thin" has
    # two good days of thirty: coverage 2/30 = 6.7 % < 90 %, so "insufficient data": never
    # met, never approved, and counted apart from met on the index.
    lake = tmp_path / "lake"
    write_buckets(lake, "full", NOV.start, [(10.0, 10.0)] * (30 * 1440))
    write_buckets(lake, "thin", NOV.start, [(10.0, 10.0)] * (2 * 1440))
    slos = [SloParams(n, "svc", "d", "h", 0.99) for n in ("full", "thin")]
    write_result(lake, compute_window(lake, slos, NOV))
    files = report.render(lake, NOV, tmp_path / "out", source="s",
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC),
                          formats=("html", "json"))
    got = {r["slo"]: r for r in json.loads(files.json.read_text())}
    assert (got["full"]["status"], got["full"]["met"]) == ("healthy", True)
    thin = got["thin"]
    assert (thin["status"], thin["met"], thin["sli"]) == ("insufficient data", None, 1.0)
    assert thin["coverage"] == pytest.approx(2 / 30)
    assert [thin[f"release_{r}"] for r in ("low", "medium", "high")] == ["review"] * 3
    html = files.html.read_text()
    assert re.search(r'id="kpi-met">1<', html) and re.search(r'id="kpi-missed">0<', html)
    assert re.search(r'id="kpi-insufficient">1<', html)
    assert "6.7 % (needs 90 %)" in html
    index = files.index.read_text()
    row = re.search(r'<tr data-month="2026-11">(.*?)</tr>', index, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
    # SLOs, met, missed, no data, insufficient data, pages, tickets
    assert cells == ["2", "1", "0", "0", "1", "0", "0"]


def _definitions(html: str, slo: str) -> str:
    m = re.search(rf'<tr data-definition="{slo}">(.*?)</tr>', html, re.S)
    assert m is not None
    return m.group(1)


def _chart_refs(html: str, slo: str) -> list[str]:
    block = html.split(f'<div class="slo" data-slo="{slo}">')[1].split('<div class="slo"')[0]
    burn = block.split('aria-label="Burn rate (log scale)"')[1].split("</svg>")[0]
    # a label wider than the margin is wrapped: its further lines are "ref-more"
    refs: list[str] = []
    for kind, text in re.findall(r'<text class="(ref|ref-more)"[^>]*>([^<]+)</text>', burn):
        refs += [text] if kind == "ref" else []
        refs[-1] += "" if kind == "ref" else " " + text
    return refs


def test_chart_and_definitions_use_the_slos_own_factors(tmp_path: Path) -> None:
    # f = share * P / L (SLO_MATH 3). December has 31 days: page 1 h at 0.02 * 744 h / 1 h
    # = 14.88, 6 h at 0.05 * 744 / 6 = 6.2, ticket 1 d at 0.1 * 31 = 3.1, 3 d at 3.1 / 3.
    # A rolling 28 d SLO uses P = 28 d whatever month is reported: 13.44, 5.6, 2.8, 0.9333.
    # The override: a page over 4 h / 20 min at factor 10 and a ticket over 1 d / 2 h
    # spending 5 % of 28 d: 0.05 * 28 = 1.4.
    dec = periods.month("2026-12")
    lake = tmp_path / "lake"
    rolling = 28 * 86400.0
    slos = [SloParams("calendar", "svc", "", "h", 0.999),
            SloParams("rolling", "svc", "", "h", 0.999, alert_period_s=rolling),
            SloParams("override", "svc", "", "h", 0.999, alert_period_s=rolling, burn_rates=(
                BurnRateAlert("page", timedelta(hours=4), timedelta(minutes=20), factor=10.0),
                BurnRateAlert("ticket", timedelta(days=1), timedelta(hours=2),
                              budget_consumed=0.05)))]
    write_result(lake, compute_window(lake, slos, dec))
    html = report.render(lake, dec, tmp_path / "out", source="s",
                         generated_at=datetime(2027, 1, 1, tzinfo=UTC),
                         formats=("html",)).html.read_text()
    assert _chart_refs(html, "calendar") == [
        "page 1 h &amp; 5 min x14.88", "page 6 h &amp; 30 min x6.2",
        "ticket 1 d &amp; 2 h x3.1", "ticket 3 d &amp; 6 h x1.033"]
    assert _chart_refs(html, "rolling") == [
        "page 1 h &amp; 5 min x13.44", "page 6 h &amp; 30 min x5.6",
        "ticket 1 d &amp; 2 h x2.8", "ticket 3 d &amp; 6 h x0.9333"]
    assert _chart_refs(html, "override") == ["page 4 h &amp; 20 min x10",
                                             "ticket 1 d &amp; 2 h x1.4"]
    assert "page 4 h &amp; 20 min: 10; ticket 1 d &amp; 2 h: 1.4" in \
        _definitions(html, "override")
    assert "page 1 h &amp; 5 min: 13.44;" in _definitions(html, "rolling")
    assert "page 1 h &amp; 5 min: 14.88;" in _definitions(html, "calendar")
    assert "14.4" not in _definitions(html, "rolling") + _definitions(html, "override")


def test_one_postmortem_for_a_page_and_its_overlapping_ticket() -> None:
    # A 60-minute outage: the page 12:00-13:29 and the ticket 12:04-18:59 both hold more
    # than 20 % of the budget; a later ticket on its own gets its own postmortem.
    def at(h: int, m: int = 0) -> datetime:
        return datetime(2026, 11, 2, h, m, tzinfo=UTC)
    inc = [{"severity": "page", "start": at(12), "end": at(13, 29), "budget_share": 1.39},
           {"severity": "ticket", "start": at(12, 4), "end": at(18, 59), "budget_share": 1.3},
           {"severity": "ticket", "start": at(20), "end": at(23), "budget_share": 0.3}]
    row = {"status": "exhausted", "coverage": 1.0, "clipped_rows": 0, "budget_remaining": -1}
    posts = [r for r in report.recommendations(row, inc) if r.startswith("Postmortem")]
    assert [p.split(" UTC")[0][-5:] for p in posts] == ["12:00", "20:00"]
