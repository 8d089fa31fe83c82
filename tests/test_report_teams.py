"""Per-team reports (the SLOs of one ``team`` label) and the PDF's print form.

The team of each SLO is set here, in its spec file's labels; each team's PDF must hold its
SLOs and no other (read back with pdftotext). The PDF is rendered from a lighter form of
the report's HTML (slo_jobs/report/pdf.py): it must read as WeasyPrint's own rendering of
that HTML does, word for word and page for page.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import weasyprint.svg as svg_draw

from slo_jobs.core import periods
from slo_jobs.core.names import SAFE_NAME_HINT
from slo_jobs.decisions import teams
from slo_jobs.report import monthly as report
from slo_jobs.report import pdf
from slo_jobs.run import runner, tasks
from slo_jobs.sources.endpoint import PrometheusConfig
from slo_jobs.spec import catalog
from tests.clirun import slo_jobs
from tests.lakeutil import write_buckets

NOV = periods.month("2026-11")
AS_OF = "2026-12-02T00:00Z"
# SLO -> (team label, good events per 1,000 a minute); no name is part of another.
SLOS = {"pay-api": ("payments", 990.0), "pay-ledger": ("payments", 999.9),
        "find-search": ("discovery", 985.0), "web-home": ("web", 996.0),
        "web-cdn": ("web", 999.0)}
TEAMS = sorted({team for team, _ in SLOS.values()})
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{tier: standard, team: {team}}}
spec:
  service: {name}
  indicator:
    ratio:
      good:  {{selector: 'ok_total{{service="{name}"}}'}}
      total: {{selector: 'all_total{{service="{name}"}}'}}
  objective: {{target: 0.99}}
"""


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five SLOs of three teams, computed for November through the CLI; a bad day (a burn
    that would page) on each SLO so every chart has something to draw."""
    base = tmp_path_factory.mktemp("teams")
    (base / "slos").mkdir()
    for i, (name, (team, good)) in enumerate(SLOS.items()):
        (base / "slos" / f"{name}.yaml").write_text(DOC.format(name=name, team=team))
        write_buckets(base / "lake", name, NOV.start,
                      [(good, 1000.0)] * (3 + i) * 1440 + [(900.0, 1000.0)] * 1440
                      + [(good, 1000.0)] * (26 - i) * 1440)
    # as slo-jobs compute does
    runner.compute_month(base / "lake", catalog.load([base / "slos"]), NOV,
                         datetime.fromisoformat(AS_OF), teams.load_for([base / "slos"]))
    return base


def _text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _slos_in(text: str) -> set[str]:
    return {name for name in SLOS if name in text}


def test_cli_team_report_holds_exactly_its_slos(month: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = month / "out-cli"
    code, stdout, err = slo_jobs(capsys, "report", "--month", NOV.label, "--team", "payments",
                                 "--lake", str(month / "lake"), "--out", str(out),
                                 "--as-of", AS_OF)
    assert code == 0, err
    folder = out / NOV.label
    mine = {name for name, (team, _) in SLOS.items() if team == "payments"}
    assert sorted(p.name for p in folder.iterdir()) == [
        "history-team-payments.csv", "incidents-team-payments.csv",
        "report-team-payments.html", "report-team-payments.pdf",
        "summary-team-payments.csv", "summary-team-payments.json"]
    assert str(folder / "report-team-payments.pdf") in stdout
    assert {r["slo"] for r in json.loads((folder / "summary-team-payments.json").read_text())
            } == mine
    assert {r["team"] for r in json.loads((folder / "summary-team-payments.json").read_text())
            } == {"payments"}
    assert _slos_in(_text(folder / "report-team-payments.pdf")) == mine
    assert _slos_in((folder / "report-team-payments.html").read_text()) == mine


@pytest.mark.parametrize(("args", "message"), [
    (("--team", "billing"), "--team: found 'billing'; expected the team label of an SLO of "
                            "2026-11"),
    (("--team", "../payments"), f"--team: found '../payments'; {SAFE_NAME_HINT}"),
    (("--team", "payments", "--service", "pay-api"),
     "--team: found 'payments' with --service 'pay-api'; expected one of the two"),
])
def test_cli_team_problems_are_one_line(month: Path, capsys: pytest.CaptureFixture[str],
                                        args: tuple[str, ...], message: str) -> None:
    out = month / "out-bad"
    code, _, err = slo_jobs(capsys, "report", "--month", NOV.label, *args,
                            "--lake", str(month / "lake"), "--out", str(out), "--as-of", AS_OF)
    assert code != 0 and err.strip().splitlines() == [f"error: {message}"]
    assert not (out / NOV.label).exists()


def test_render_task_writes_each_teams_pdf(month: Path) -> None:
    """The monthly DAG's render task: one PDF per team after the month's files, also when
    the month is past pdf_max_slos; a team PDF left from an earlier render of a team that
    has no SLO any more is gone."""
    out = month / "out-task"
    (out / NOV.label).mkdir(parents=True)
    (out / NOV.label / "report-team-gone.pdf").write_bytes(b"%PDF-1.7 old")
    files = tasks.render_month(lambda _conn: PrometheusConfig.from_env("http://127.0.0.1:9"),
                               month / "slos", month / "lake", out, NOV.start, NOV.end,
                               rendered_at=datetime(2026, 12, 2, 6, tzinfo=UTC),
                               pdf_max_slos=len(SLOS) - 1)
    folder = out / NOV.label
    assert files["pdf"] == "" and "pdf_skipped" in files
    assert files["team_pdfs"] == {t: str(folder / f"report-team-{t}.pdf") for t in TEAMS}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["history.csv", "incidents.csv", "report.html", "summary.csv", "summary.json"]
        + [f"report-team-{t}.pdf" for t in TEAMS])
    for team in TEAMS:
        text = _text(folder / f"report-team-{team}.pdf")
        assert _slos_in(text) == {n for n, (t, _) in SLOS.items() if t == team}, team
    # the whole month's HTML still has every SLO
    assert _slos_in((folder / "report.html").read_text()) == set(SLOS)


def test_print_form_reads_as_weasyprints_own_rendering(month: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The PDF from the print form (charts as SVG images, plain labels laid out as one run)
    has the words and the pages of WeasyPrint's own rendering of the report's HTML."""
    from weasyprint import HTML

    files = report.render(month / "lake", NOV, month / "out-print", source="s",
                          generated_at=datetime(2026, 12, 2, tzinfo=UTC), formats=("html", "pdf"))
    folder = files.pdf.parent
    html = (folder / "report.html").read_text()
    assert html.count("<svg ") == 4 * len(SLOS)  # the month's three and the 12 months
    # WeasyPrint's own: the inline charts, each label laid out a character at a time.
    monkeypatch.setattr(svg_draw, "text", pdf._own_text)
    for tag in ("a", "text", "textPath", "tspan"):
        monkeypatch.setitem(svg_draw.TAGS, tag, pdf._own_text)
    (folder / "own.pdf").write_bytes(HTML(string=html, base_url=str(folder),
                                          url_fetcher=pdf.NoFetch()).write_pdf())
    assert _pages(folder / "report.pdf") == _pages(folder / "own.pdf")
    assert _text(folder / "report.pdf").split() == _text(folder / "own.pdf").split()
    assert "Burn rate (log scale)" in _text(folder / "report.pdf")


def _page_images(path: Path, folder: Path) -> list[bytes]:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(folder / path.stem)],
                   check=True)
    return [p.read_bytes() for p in sorted(folder.glob(f"{path.stem}-*.png"))]


def test_the_print_forms_shapes_and_labels_are_painted_as_weasyprint_paints_them(
        month: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The charts' shapes drawn directly and the labels' colour set directly give the same
    pixels, page for page, as WeasyPrint's own ``draw_node`` and graphical state."""
    from weasyprint import HTML

    files = report.render(month / "lake", NOV, month / "out-paint", source="s",
                          generated_at=datetime(2026, 12, 2, tzinfo=UTC), formats=("html",))
    printed = pdf.print_html(files.html.read_text())
    assert printed.count('<img class="chart"') == 4 * len(SLOS)
    fast = tmp_path / "fast.pdf"
    fast.write_bytes(pdf.write(files.html.read_bytes(), files.html.parent))
    monkeypatch.setattr(svg_draw.SVG, "draw_node", pdf._own_draw_node)
    monkeypatch.setattr(pdf, "_paint", lambda svg, node, size: svg.set_graphical_state(node, size))
    own = tmp_path / "own.pdf"
    own.write_bytes(HTML(string=printed, base_url=str(files.html.parent),
                         url_fetcher=pdf.NoFetch()).write_pdf())
    pages = _page_images(fast, tmp_path)
    assert len(pages) == _pages(own) > 1
    assert pages == _page_images(own, tmp_path)
