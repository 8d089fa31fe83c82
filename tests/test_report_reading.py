"""The report reads as a leader would read it: a closed month says nothing about the future,
tables fit the A4 page and keep their rows whole (read from the real PDF's text layout), an
allowance under one event is said in words, and summary.json counts in integers.

One month of thirteen SLOs from a hand-built lake, computed and rendered twice: closed, and
to date at an as-of on no hour."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_jobs.core import periods
from slo_jobs.core.verdict import UNJUDGED
from slo_jobs.report import monthly as report
from slo_jobs.report import text as report_text
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests.lakeutil import write_buckets

NOV = periods.month("2026-11")
AS_OF = datetime(2026, 11, 17, 9, 37, tzinfo=UTC)  # the month to date
MM = 72 / 25.4  # PDF points per millimetre
MARGIN_X, MARGIN_Y = 15 * MM, 18 * MM  # report.css: @page margin 18mm 15mm
SERVICES = ("payments-gateway", "search-and-discovery", "customer-notifications")
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
spec:
  service: {service}
  indicator:
    ratio:
      good:  {{selector: 'ok_total{{slo="{name}"}}'}}
      total: {{selector: 'all_total{{slo="{name}"}}'}}
  objective: {{target: {target}}}
  window: {{calendar: month, timeZone: {zone}}}
"""
ZONES = ("UTC", "Europe/Berlin")
RARE = "nightly-export-completion"  # one event in the month, target 90 %: 0.1 allowed


@dataclass(frozen=True)
class Rendered:
    folder: Path
    records: dict[str, dict]
    html: str


def slo_names() -> list[tuple[str, str, int]]:
    """(name, service, bad events per minute) of the twelve busy SLOs."""
    kinds = ("availability-eu-west", "latency-p99-checkout", "availability-us-east",
             "error-free-webhooks")
    return [(f"{SERVICES[i % 3]}-{kinds[i // 3]}", SERVICES[i % 3], i + 1) for i in range(12)]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    base = tmp_path_factory.mktemp("reading")
    folder, lake = base / "slos", base / "lake"
    folder.mkdir()
    minutes = int(NOV.seconds // 60)
    # Every other SLO's month is Berlin's (UTC+1 in November, 30 days as well): the data
    # covers both months, from 2 hours before the UTC one.
    before = NOV.start - timedelta(hours=2)
    for i, (name, service, bad) in enumerate(slo_names()):
        (folder / f"{name}.yaml").write_text(DOC.format(
            name=name, service=service, target=0.99, zone=ZONES[i % 2]))
        write_buckets(lake, name, before, [(1000.0 - bad, 1000.0)] * (minutes + 240))
    (folder / f"{RARE}.yaml").write_text(DOC.format(name=RARE, service="nightly-export",
                                                    target=0.9, zone=ZONES[1]))
    # A quiet minute is data (0 of 0); one run in the month, and it failed.
    write_buckets(lake, RARE, before, [(0.0, 0.0)] * 180 + [(0.0, 1.0)]
                  + [(0.0, 0.0)] * (minutes + 59))
    slos = catalog.load([folder])
    out = {}
    for kind, at in (("running", AS_OF), ("closed", None)):
        runner.compute_month(lake, slos, NOV, at)
        files = report.render(lake, NOV, base / kind, source="test",
                              generated_at=datetime(2026, 12, 7, 5, 3, tzinfo=UTC),
                              as_of=at or NOV.end)
        out[kind] = Rendered(files.html.parent,
                             {r["slo"]: r for r in json.loads(files.json.read_text())},
                             files.html.read_text())
    return out


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    text: str


def pdf_words(pdf: Path) -> tuple[float, float, list[Word]]:
    """Every word of the PDF with its page and box, from ``pdftotext -bbox``."""
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S)
    words = [Word(n, float(a), float(b), float(c), t)
             for n, (_, _, body) in enumerate(pages, 1)
             for a, b, c, t in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" '
                                          r'xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', body)]
    return float(pages[0][0]), float(pages[0][1]), words


@pytest.mark.parametrize("kind", ["closed", "running"])
def test_every_word_of_the_pdf_is_inside_the_page_margins(month: dict[str, Rendered],
                                                         kind: str) -> None:
    width, height, words = pdf_words(month[kind].folder / "report.pdf")
    assert (round(width), round(height)) == (595, 842)  # A4
    body = [w for w in words if MARGIN_Y < w.y0 < height - MARGIN_Y]
    assert len(body) > 1000
    # 0.5 pt: the rounding of the text layout
    assert [(w.page, w.text, round(w.x1)) for w in body if w.x1 > width - MARGIN_X + 0.5
            or w.x0 < MARGIN_X - 0.5] == []


@pytest.mark.parametrize("kind", ["closed", "running"])
def test_no_row_of_the_slo_table_splits_across_pages(month: dict[str, Rendered],
                                                     kind: str) -> None:
    _, height, found = pdf_words(month[kind].folder / "report.pdf")
    words = sorted(found, key=lambda w: (w.page, w.y0, w.x0))
    # The table is the first place each SLO's SLI is printed: a row's band runs from its SLI
    # down to the next row's SLI (or the page's bottom margin).
    heading = next(i for i, w in enumerate(words) if w.text == "Service" and
                   words[i + 1].text == "SLO")
    slis = {name: next(w for w in words[heading:] if w.text == f"{r['sli'] * 100:.4f}")
            for name, r in month[kind].records.items()}
    for name, r in month[kind].records.items():
        sli = slis[name]
        below = [w.y0 for w in slis.values() if w.page == sli.page and w.y0 > sli.y0 + 1]
        bottom = min(below, default=height - MARGIN_Y)
        band = [w.text for w in words if w.page == sli.page and sli.y0 - 1 <= w.y0 < bottom - 1
                and w.x0 > sli.x1]
        # the bad count and the last line of the allowance ("events", or "(0.1)")
        last = "events" if r["allowed_bad"] >= 1 else f"({report_text.num(r['allowed_bad'])})"
        assert report_text.num(r["bad"]) in band and last in band, (name, band)
    assert len({w.page for w in slis.values()}) == 2  # the table crosses a page


def test_a_closed_month_says_nothing_ahead(month: dict[str, Rendered]) -> None:
    closed, running = month["closed"], month["running"]
    end = f"{NOV.end:%Y-%m-%d}"
    for text in (closed.html, re.sub(r"\s+", " ", pdf_text(closed.folder / "report.pdf"))):
        assert "Budget lasts" not in text
        assert "budget resets" not in text and "Wait for the new budget" not in text
        assert f"until {end}" not in text and f"at {end}" not in text
    assert all((r["met"] is not None or r["status"] in UNJUDGED) and r["outlook"] is None
               for r in closed.records.values())
    # The same month to date looks ahead, and says until when.
    assert running.html.count("Budget lasts") >= 13
    assert f"budget resets at {end} 00:00 UTC" in running.html


def test_an_allowance_under_one_event_is_said_in_words(month: dict[str, Rendered]) -> None:
    r = month["closed"].records[RARE]
    assert (r["total"], r["bad"], r["allowed_bad"]) == (1, 1, pytest.approx(0.1))
    row = month["closed"].html.split(f'<tr data-slo="{RARE}">')[1].split("</tr>")[0]
    assert "allowed: less than one event (0.1)" in row and "of 0.1" not in row
    busy = month["closed"].html.split(f'<tr data-slo="{slo_names()[0][0]}">')[1]
    assert "of 432,000 events" in busy.split("</tr>")[0]


def test_summary_json_counts_are_integers(month: dict[str, Rendered]) -> None:
    minutes = int(NOV.seconds // 60)
    for kind, rendered in month.items():
        for name, bad, total in [(n, b, 1000) for n, _, b in slo_names()] + [(RARE, 0, 0)]:
            r = rendered.records[name]
            for field in ("good", "total", "bad", "buckets", "expected_buckets", "incidents",
                          "pages", "tickets", "clipped_rows"):
                assert type(r[field]) is int, (kind, name, field, r[field])
            if kind == "closed" and name != RARE:
                assert (r["total"], r["bad"]) == (total * minutes, bad * minutes)
        # a fraction stays a fraction
        assert rendered.records[RARE]["allowed_bad"] != int(rendered.records[RARE]["allowed_bad"])


def test_burns_are_named_for_what_they_would_have_done(month: dict[str, Rendered]) -> None:
    html = month["closed"].html
    pages = sum(r["pages"] for r in month["closed"].records.values())
    assert f'<b id="kpi-pages">{pages}</b>burns that would have paged' in html
    assert "page incident" not in html and "ticket incident" not in html
    # one release table per service, none in an SLO's own section
    services = {r["service"] for r in month["closed"].records.values()}
    assert len(re.findall(r'<table class="release" data-release=', html)) == len(services)
    assert all('class="release"' not in part.split('<div class="slo-tail">')[1].split(
        "</ul>")[0] for part in html.split('<div class="slo" data-slo=')[1:])


def test_release_conditions_every_risk_shares_are_said_once(month: dict[str, Rendered]) -> None:
    html = month["closed"].html
    records = month["closed"].records.values()
    for service in {r["service"] for r in records}:
        block = html.split(f'<table class="release" data-release="{service}">')[1] \
            .split('<section')[0]
        blocked = [r for r in records if r["service"] == service and r["status"] == "exhausted"]
        shared = "Only rollbacks and reliability fixes ship until the budget recovers."
        # an exhausted SLO blocks every risk: the shared condition once, below the table
        assert block.count(shared) == (1 if blocked else 0), service
        if blocked:
            assert f"<b>For every risk:</b> {shared}" in block
