"""The report: every format agrees, figures and recommendations follow the numbers.

Escaping of user fields and the restricted PDF fetcher: tests/faults/test_security_report.py.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_jobs import periods, report
from slo_jobs.compute import SloParams, compute_window, write_result
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
