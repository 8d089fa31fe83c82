"""The report's long view: each SLO's last 12 months in summary.json (``months``), in
history.csv and as a chart, against figures derived from the buckets written (gaps as nulls,
never zeros), and the demo's last month compared with real earlier months."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from slo_jobs import compute
from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import periods
from slo_jobs.report import history
from slo_jobs.report import monthly as report
from tests.clirun import slo_jobs
from tests.conftest import ROOT, true_counts
from tests.lakeutil import write_buckets
from tests.test_charts import NS, overlapping

TARGETS = {"a": 0.999, "b": 0.99}
PER_MINUTE = 1000.0
# SLO -> month -> bad events a minute (the month's every minute); absent: no data written.
BAD = {"a": {"2026-06": 0.5, "2026-07": 2.0, "2026-09": 0.8},
       "b": {"2026-06": 5.0, "2026-09": 20.0}}
COMPUTED = ("2026-06", "2026-07", "2026-09")  # 2026-08 is never computed: a gap for all
AS_OF = datetime(2026, 9, 16, tzinfo=UTC)  # September is reported to date, half way


def _truth(slo: str, label: str) -> dict[str, Any]:
    """What the month's point must be, from the buckets written (docs/slo-math.md)."""
    p, target = periods.month(label), TARGETS[slo]
    if label not in COMPUTED:
        return {"month": label, "window": None, "target": None, "sli": None,
                "budget_consumed": None, "met": None, "status": None, "events": None,
                "estimated": None}
    end = AS_OF if label == AS_OF.strftime("%Y-%m") else p.end
    minutes = int((end - p.start).total_seconds() // 60)
    if label not in BAD[slo]:
        return {"month": label, "window": label, "target": target, "sli": None,
                "budget_consumed": None, "met": None, "status": "no data", "events": 0,
                "estimated": end < p.end}
    bad = BAD[slo][label]
    elapsed = (end - p.start) / (p.end - p.start)
    consumed_to_date = bad / PER_MINUTE / (1 - target)
    sli = 1 - bad / PER_MINUTE
    return {"month": label, "window": label, "target": target, "sli": sli,
            "budget_consumed": consumed_to_date * elapsed,
            "met": None if end < p.end else sli >= target,
            "events": int(PER_MINUTE * minutes), "estimated": end < p.end}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, report.ReportFiles]:
    tmp = tmp_path_factory.mktemp("history")
    lake = tmp / "lake"
    slos = [SloParams(s, "svc", "Requests served.", "h", t) for s, t in TARGETS.items()]
    for label in COMPUTED:
        p = periods.month(label)
        end = min(p.end, AS_OF)
        minutes = int((end - p.start).total_seconds() // 60)
        for s in slos:
            if label in BAD[s.name]:
                good = PER_MINUTE - BAD[s.name][label]
                write_buckets(lake, s.name, p.start, [(good, PER_MINUTE)] * minutes)
        write_result(lake, compute_window(lake, slos, p, as_of=end if end < p.end else None,
                                          processes=False))
    files = report.render(lake, periods.month("2026-09"), tmp / "out", source="test",
                          generated_at=AS_OF, formats=("html", "json", "csv"))
    return lake, files


def _close(got: Any, want: Any) -> bool:
    return got == pytest.approx(want, rel=1e-9) if isinstance(want, float) else got == want


def test_months_in_summary_json_and_history_csv_are_the_monthly_summaries(
        rendered: tuple[Path, report.ReportFiles]) -> None:
    lake, files = rendered
    labels = history.labels(periods.month("2026-09"))
    assert labels[0] == "2025-10" and labels[-1] == "2026-09" and len(labels) == 12
    records = {r["slo"]: r for r in json.loads(files.json.read_text())}
    lines = list(csv.DictReader(files.history_csv.open()))
    assert [(x["slo"], x["month"]) for x in lines] == [
        (s, m) for s in sorted(TARGETS) for m in labels]
    # The lake's own summaries, read apart from the report, agree with the truth.
    stored = {(r["slo"], label): r for label in COMPUTED
              for r in compute.read_summary(lake, periods.month(label))}
    for slo in TARGETS:
        months = records[slo]["months"]
        assert [m["month"] for m in months] == labels
        for m in months:
            want = _truth(slo, m["month"])
            status = want.pop("status", None)
            if want["window"] is not None:
                row = stored[(slo, m["month"])]
                assert (m["sli"], m["budget_consumed"], m["met"], m["status"], m["events"]) \
                    == (row["sli"], row["budget_consumed"], row["met"], row["status"],
                        row["total"])
                assert status is None or m["status"] == status
            else:
                assert m["status"] is None
            for k, v in want.items():
                assert _close(m[k], v), (slo, m["month"], k, m[k], v)
        csv_rows = [x for x in lines if x["slo"] == slo]
        for m, x in zip(months, csv_rows, strict=True):
            assert x["service"] == "svc"
            for k in history.POINT_FIELDS:
                v = m[k]
                want = "" if v is None else ("true" if v else "false") if isinstance(
                    v, bool) else str(v)
                assert (x[k] == want or (isinstance(v, float) and float(x[k]) == v)), (k, x)


def _chart(html: str, slo: str) -> ET.Element:
    section = html.split(f'<div class="slo" data-slo="{slo}">')[1]
    svg = re.search(r'<svg[^>]*class="months".*?</svg>', section, re.S)
    assert svg is not None
    return ET.fromstring(svg.group(0))


def test_the_chart_has_a_point_per_month_with_data_and_gaps_elsewhere(
        rendered: tuple[Path, report.ReportFiles]) -> None:
    _, files = rendered
    html = files.html.read_text()
    labels = history.labels(periods.month("2026-09"))
    for slo in TARGETS:
        svg = _chart(html, slo)
        truth = {m: _truth(slo, m) for m in labels}
        with_data = [m for m in labels if truth[m]["sli"] is not None]
        dots = {c.get("data-month"): c for c in svg.iter(f"{NS}circle")
                if "sli" in (c.get("class") or "").split()}
        bars = {r.get("data-month"): r for r in svg.iter(f"{NS}rect")
                if "spent" in (r.get("class") or "").split()}
        gaps = [r.get("data-month") for r in svg.iter(f"{NS}rect") if r.get("class") == "gap"]
        assert sorted(dots) == sorted(bars) == with_data
        assert gaps == [m for m in labels if m not in with_data]
        for m in with_data:
            assert float(dots[m].get("data-value", "")) == pytest.approx(truth[m]["sli"])
            assert float(bars[m].get("data-value", "")) == pytest.approx(
                truth[m]["budget_consumed"])
            running = "to-date" in (dots[m].get("class") or "").split()
            assert running == truth[m]["estimated"] == (m == "2026-09")
        # a higher SLI is drawn higher, more budget spent a taller bar
        by_sli = sorted(with_data, key=lambda m: truth[m]["sli"])
        ys = [float(dots[m].get("cy", "")) for m in by_sli]
        assert ys == sorted(ys, reverse=True)
        by_spent = sorted(with_data, key=lambda m: truth[m]["budget_consumed"])
        heights = [float(bars[m].get("height", "")) for m in by_spent]
        assert heights == sorted(heights)
        # the line breaks at every gap: one stroke per run of months with data
        path = next(p for p in svg.iter(f"{NS}path"))
        runs = [r for r in "".join("x" if m in with_data else "." for m in labels).split(".")
                if r]
        assert path.get("d", "").count("M") == len(runs)
        assert overlapping(ET.tostring(svg, encoding="unicode")) == []


def test_the_chart_is_one_small_svg_without_text_per_point() -> None:
    labels = history.labels(periods.month("2026-09"))
    svg = ET.fromstring(history.chart({"target": 0.999}, [
        {"month": m, "sli": 0.9995, "budget_consumed": 0.5, "events": 10, "estimated": False}
        for m in labels]))
    texts = list(svg.iter(f"{NS}text"))
    # title, 4 legend entries, month names, one year, 2 panels' ticks, refs and axis names
    assert len(texts) <= 1 + 4 + 12 + 2 + 2 * (3 + 1 + 1)
    # a dot a month; the legend names "to date" and "no data" only when a month is so
    assert len(list(svg.iter(f"{NS}circle"))) == 12


@pytest.mark.integration
def test_the_demos_last_month_compares_with_real_earlier_months(
        prometheus: str, truth: pd.DataFrame, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """As ``make demo`` does: July and August first, then September."""
    spec = ROOT / "slos" / "checkout.yaml"
    args = ["--slos", str(spec), "--prometheus-url", prometheus, "--lake",
            str(tmp_path / "lake"), "--out", str(tmp_path / "out"), "--no-progress"]
    code, _, err = slo_jobs(capsys, "backfill", "--from", "2026-07", "--to", "2026-08", *args)
    assert code == 0, err
    code, _, err = slo_jobs(capsys, "backfill", "--from", "2026-09", "--to", "2026-09", *args)
    assert code == 0, err
    folder = tmp_path / "out" / "2026-09"
    records = json.loads((folder / "summary.json").read_text())
    assert len(records) == 2
    sli: dict[tuple[str, str], float] = {}
    for r in records:
        for label in ("2026-07", "2026-08", "2026-09"):
            p = periods.month(label)
            good, total = true_counts(truth, r["slo"], f"{p.start:%Y-%m-%d}", f"{p.end:%Y-%m-%d}")
            sli[(r["slo"], label)] = good / total
        months = {m["month"]: m for m in r["months"]}
        for label in ("2026-07", "2026-08", "2026-09"):
            assert months[label]["sli"] == pytest.approx(sli[(r["slo"], label)], rel=1e-12)
            assert months[label]["met"] == (sli[(r["slo"], label)] >= r["target"])
        assert all(m["sli"] is None and m["events"] is None
                   for label, m in months.items() if label < "2026-07")
    html = (folder / "report.html").read_text()
    assert "vs 2026-08" in html
    for r in records:
        row = html.split(f'<tr data-slo="{r["slo"]}">')[1].split("</tr>")[0]
        delta = (sli[(r["slo"], "2026-09")] - sli[(r["slo"], "2026-08")]) * 100
        assert f"{delta:+.3f} pp" in row
        svg = _chart(html, r["slo"])
        assert sorted(c.get("data-month") for c in svg.iter(f"{NS}circle")
                      if c.get("data-month")) == ["2026-07", "2026-08", "2026-09"]
        # the trend table: the two months before with their values
        section = html.split(f'<div class="slo" data-slo="{r["slo"]}">')[1]
        trend = section.split('<table class="trend">')[1].split("</table>")[0]
        assert "<td>2026-07</td>" in trend and "<td>2026-08</td>" in trend


def test_the_legend_names_gaps_and_a_running_month_only_when_shown() -> None:
    labels = history.labels(periods.month("2026-09"))
    rows = [{"month": m, "sli": 0.9995, "budget_consumed": 0.5, "events": 10,
             "estimated": m == labels[-1]} for m in labels]
    rows[3] = {"month": labels[3], "sli": None, "budget_consumed": None, "events": None,
               "estimated": False}
    words = {t.text for t in ET.fromstring(history.chart({"target": 0.999}, rows)).iter(
        f"{NS}text")}
    assert {"to date", "no data"} <= words
    full = [{**r, "estimated": False} for r in rows if r["sli"] is not None]
    words = {t.text for t in ET.fromstring(history.chart({"target": 0.999}, full)).iter(
        f"{NS}text")}
    assert not {"to date", "no data"} & words
