"""Security: user-controlled fields stay text in the report; the PDF renderer fetches nothing.

Every string a user controls (SLO names, services, descriptions, labels, queries, the source
line) goes through a spec file, the lake and the compute stage into the report. The proof is
structural: a report built from hostile fields has exactly the tags of the same report built
from plain fields, and shows the hostile text as text.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt

from slo_jobs import review, spec
from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import periods
from slo_jobs.report import monthly as report
from slo_jobs.report import pdf
from slo_jobs.run.runner import compute_month
from slo_jobs.spec import catalog
from tests.faults.faultserver import FaultServer, Reply
from tests.lakeutil import write_buckets

NOV = periods.month("2026-11")
HOSTILE = ('<script>alert("x")</script><img src="file:///etc/passwd">'
           '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"> Ünïcødé ✓ 日本語')
SPEC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{tier: critical, team: {team}}}
spec:
  service: {service}
  description: {description}
  indicator:
    ratio:
      good:  {{selector: {good}}}
      total: {{selector: {total}}}
  objective: {{target: 0.99}}
"""


def _spec(tmp: Path, text: str) -> spec.Slo:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "slo.yaml"
    # JSON strings are YAML double-quoted strings: any text survives as written.
    quoted = json.dumps(text, ensure_ascii=False)
    path.write_text(SPEC.format(
        name="web-availability", service="web", description=quoted, team=quoted,
        good=json.dumps(f'http_requests_total{{path={quoted},code!~"5.."}}'),
        total=json.dumps(f"http_requests_total{{path={quoted}}}")))
    return catalog.load([path])[0]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(base: Path, text: str) -> tuple[Page, Page, str]:
    """Spec -> lake -> compute -> HTML report and index, with ``text`` in every free field."""
    slo = _spec(base, text)
    lake = base / "lake"
    write_buckets(lake, slo.name, NOV.start, [(990, 1000)] * 1440)
    write_result(lake, compute_window(lake, [SloParams.of(slo)], NOV))
    files = report.render(lake, NOV, base / "out", source=text, formats=("html",),
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC))
    pages = Page(), Page()
    pages[0].feed(files.html.read_text())
    pages[1].feed(files.index.read_text())
    return pages[0], pages[1], files.html.read_text()


def test_hostile_content_is_text(tmp_path: Path) -> None:
    plain, plain_index, _ = _render(tmp_path / "plain", "plain words")
    page, index, html = _render(tmp_path / "hostile", HOSTILE)
    # Same markup as the plain report: no field added a tag, in the page or the index.
    assert page.tags == plain.tags and index.tags == plain_index.tags
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    shown = "".join(page.text)
    assert HOSTILE in shown  # the description and source, shown as the user wrote them
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("field", ["name", "service"])
def test_names_and_services_cannot_carry_markup(field: str, tmp_path: Path) -> None:
    # They become paths and ids as well as text: only a strict shape passes the spec.
    values = {"name": "web-availability", "service": "web", "description": "d", "team": "t",
              "good": json.dumps('x_total{code!~"5.."}'), "total": "x_total", field: "a<b>c"}
    (tmp_path / "slo.yaml").write_text(SPEC.format(**values))
    slos, problems, _ = catalog.load_all([tmp_path / "slo.yaml"])
    assert slos == [] and len(problems) == 1 and "'a<b>c'" in problems[0]


def _png(path: Path) -> Path:
    # The smallest valid PNG: 1x1, one grey pixel (zlib stream of b"\x00\x80").
    path.write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
        "3a7e9b550000000a49444154789c63680000008200815c2dca9f0000000049454e44ae426082"))
    return path


def _pdf_images(pdf: bytes, tmp: Path) -> int:
    (tmp / "out.pdf").write_bytes(pdf)
    listing = subprocess.run(["pdfimages", "-list", str(tmp / "out.pdf")], check=True,
                             capture_output=True, text=True).stdout
    return len(listing.splitlines()) - 2  # two header lines


def test_pdf_fetches_nothing_the_content_points_at(tmp_path: Path) -> None:
    from weasyprint import HTML, URLFetcher

    image = _png(tmp_path / "local.png")
    # A loopback server answering 404 to everything, counting what it is asked.
    with FaultServer("http://127.0.0.1:9", lambda n, params: Reply(404, body=b"")) as server:
        html = (f'<img src="file://{image}"><img src="file:///etc/passwd">'
                f'<link rel=stylesheet href="{server.url}/x.css"><img src="{server.url}/y.png">')
        # Control: WeasyPrint's own fetcher does read the file and reach the network ...
        opened = HTML(string=html, url_fetcher=URLFetcher()).write_pdf()
        assert _pdf_images(opened, tmp_path) == 1 and len(server.seen) == 2
        # ... the report's fetcher neither reads the file nor makes a request.
        closed = HTML(string=html, url_fetcher=pdf.NoFetch()).write_pdf()
        assert _pdf_images(closed, tmp_path) == 0 and len(server.seen) == 2
    with pytest.raises(ValueError, match="refused"):
        pdf.NoFetch().fetch("file:///etc/passwd")


# Raw HTML, and the Markdown that would make a link, an image or a table cell of its own.
MD_HOSTILE = (HOSTILE + ' <b onclick="x()">bold</b> ![t](http://127.0.0.1:9/t.png) '
              "[click](javascript:alert(1)) | cell *em* _u_ `code`\n# heading")


def _markdown_pages(base: Path, text: str) -> tuple[Page, Page, str]:
    """The weekly review and the stakeholder page of a bad week, ``text`` in every free
    field, as a Markdown renderer that passes raw HTML through (CommonMark) shows them."""
    slo = _spec(base, text)
    lake = base / "lake"
    # 3 % bad events against a 1 % budget: the SLO has issues and actions, owned by its team.
    write_buckets(lake, slo.name, NOV.start, [(970, 1000)] * 1440 * 30)
    at = datetime(2026, 11, 18, 14, 45, tzinfo=ZoneInfo("Asia/Kolkata"))
    compute_month(lake, [slo], NOV, at)  # with the priorities and toil naming the team
    week_md, _ = review.write_weekly(lake, [slo], "2026-W46", base / "out", at, at)
    page_md, _ = review.write_summary_page(lake, NOV, base / "out", at)
    pages = Page(), Page()
    for page, md in zip(pages, (week_md, page_md), strict=True):
        page.feed(MarkdownIt("commonmark").render(md.read_text()))
    return pages[0], pages[1], week_md.read_text() + page_md.read_text()


def test_markdown_pages_show_hostile_content_as_text(tmp_path: Path) -> None:
    plain_week, plain_page, _ = _markdown_pages(tmp_path / "plain", "plain words")
    week, page, md = _markdown_pages(tmp_path / "hostile", MD_HOSTILE)
    # The same structure as from plain words: no tag, link, image or cell added by a field.
    assert week.tags == plain_week.tags and page.tags == plain_page.tags
    assert {"script", "img", "link", "b", "a", "em", "code", "h1"} & set(week.tags + page.tags) \
        <= {"em", "code", "h1"} & set(plain_week.tags + plain_page.tags)
    assert "<script>" not in md and "&lt;script&gt;" in md
    # The team label is shown as the user wrote it (line break as a space) in both pages.
    shown = " ".join(MD_HOSTILE.split("\n"))
    for rendered in (week, page):
        assert shown in "".join(rendered.text)
