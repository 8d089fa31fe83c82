"""The report read and written one SLO at a time gives, byte for byte, what rendering the
whole month's rows at once gives: in the report's order (services, then SLOs) though the
tables are stored by SLO name, whatever the tables' batches, with tables stored out of
SLO order, with secrets masked in every file, and with nothing of the spool published."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from markupsafe import Markup

from slo_jobs import compute, lake
from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.compute import categories as category_table
from slo_jobs.compute.breakdown import COLUMNS
from slo_jobs.compute.percentiles import COLUMNS as PERCENTILE_COLUMNS
from slo_jobs.core import periods, redaction
from slo_jobs.decisions import view as decision_view
from slo_jobs.lake import gaps
from slo_jobs.report import breakdown as attribution
from slo_jobs.report import categories as errors
from slo_jobs.report import exports, history
from slo_jobs.report import journeys as journey_view
from slo_jobs.report import monthly as report
from slo_jobs.report import percentiles as latency
from slo_jobs.report import stream as report_stream
from tests.lakeutil import Bucket, write_buckets

NOV = periods.month("2026-11")
RENDERED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SECRET = "s3cr3t-token-value"
# Summary order is by service, then SLO; the detail tables are by SLO name: "zz-api" is
# first in the report and last in the tables.
SLOS = [("zz-api", "api", 0.99), ("aa-web", "web", 0.999), ("mm-web", "web", 0.99),
        ("bb-batch", "batch", 0.95), ("nodata", "api", 0.99)]


def _buckets(i: int) -> list[Bucket]:
    out: list[Bucket] = []
    for m in range(30 * 1440):
        t = NOV.start + timedelta(minutes=m)
        if i == 2 and t.day == 7 and t.hour < 3:  # a gap: the data-quality section
            out.append(None)
        elif t.day == 3 + 4 * i and 12 <= t.hour < 13:  # an outage: incidents
            out.append((0.0, 100.0))
        else:
            out.append((99.9 - i * 0.01, 100.0))
    return out


def _breakdown(slo: str, groups: list[tuple[str, float, int]]) -> list[dict[str, Any]]:
    return [{"slo": slo, "labels": ["code"], "values": [g], "group": g, "bad": bad,
             "total": 1000.0, "sli": 1 - bad / 1000, "bad_share": bad / 10,
             "budget_share": bad / 20, "rank": rank, "days": 30, "days_missing": 0}
            for g, bad, rank in groups]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake_dir = tmp_path_factory.mktemp("stream") / "lake"
    params = [SloParams(n, s, f"{n} <b>served</b> via https://ops:{SECRET}@example.net", "h",
                        t) for n, s, t in SLOS]
    for i, (name, _, _) in enumerate(SLOS[:-1]):
        write_buckets(lake_dir, name, NOV.start, _buckets(i))
    write_result(lake_dir, compute_window(lake_dir, params, NOV))
    # Breakdown rows by SLO name, each SLO's groups stored out of rank order.
    rows = _breakdown("aa-web", [("500", 3.0, 2), ("503", 7.0, 1)]) + \
        _breakdown("zz-api", [("502", 4.0, 1)])
    lake.write_atomic(pa.Table.from_pylist(rows, COLUMNS),
                      lake.monthly_partition(lake_dir, NOV.label).parent / "breakdown.parquet")
    # Error categories of aa-web (the month, then each of its incidents) and of mm-web.
    spans = [("aa-web", "month", NOV.start, None), ("mm-web", "month", NOV.start, None)] + [
        ("aa-web", "incident", i["start"], i["severity"])
        for i in compute.read_table(lake_dir, NOV.label, "incidents") if i["slo"] == "aa-web"]
    rows = [{"slo": slo, "span": span, "start": start, "end": start, "severity": sev,
             "category": c, "events": e, "bad": 10.0, "share": e / 10, "days": 30,
             "days_missing": 0}
            for slo, span, start, sev in sorted(spans, key=lambda s: s[0])
            for c, e in (("server", 6.0), ("uncategorised", 4.0))]
    lake.write_atomic(pa.Table.from_pylist(rows, category_table.COLUMNS),
                      lake.monthly_partition(lake_dir, NOV.label).parent / "categories.parquet")
    # Latency percentiles of two SLOs (a month and two days each), beside SLOs without any.
    lake.write_atomic(pa.Table.from_pylist(_percentiles("aa-web") + _percentiles("mm-web"),
                                           PERCENTILE_COLUMNS),
                      lake.monthly_partition(lake_dir, NOV.label).parent / "percentiles.parquet")
    return lake_dir


def _percentiles(slo: str) -> list[dict[str, Any]]:
    common = {"slo": slo, "threshold": 0.3, "percentile": None, "bounds": [0.1, 0.3],
              "days": 30, "days_missing": 0, "at_or_under": 0.99}
    return [{**common, "day": d, "observations": n, "p50": 0.05, "p95": p95, "p99": 0.29}
            for d, n, p95 in ((NOV.start.date(), 100.0, 0.2),
                              (NOV.start.date() + timedelta(days=1), 50.0, 0.25),
                              (None, 150.0, 0.22))]


def _whole(lake_dir: Path) -> dict[str, bytes]:
    """The month rendered from every row of every table at once, as one document."""
    m = report._read_month(lake_dir, NOV, None)
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in report_stream.DETAIL_TABLES:
        by[name] = {}
        for r in compute.read_table(lake_dir, NOV.label, name):
            by[name].setdefault(r["slo"], []).append(r)
    views, records, months = {}, [], []
    for r in m.rows:
        slo = r["slo"]
        incidents = errors.attach(r, by["incidents"].get(slo, []), by["categories"].get(slo, []))
        trend = report._enrich(r, m, incidents)
        groups = sorted(by["breakdown"].get(slo, []), key=lambda g: g["rank"])
        burn = by["burn"].get(slo, [])
        views[slo] = report_stream.slo_view(
            r, NOV, by["daily"].get(slo, []), {k: [b[k] for b in burn] for k in (
                "hour_end", *report_stream.BURN_SHOWN)},
            by["incidents"].get(slo, []), m.decisions.get(slo, {}), trend, groups)
        points = history.points(r, m.trend_rows, history.labels(NOV))
        views[slo].update(months_chart=history.chart(r, points),
                          months_caption=history.caption(r),
                          percentiles=latency.view(by["percentiles"].get(slo, []),
                                                   by["daily"].get(slo, [])))
        months += [{"slo": slo, "service": r["service"], **p} for p in points]
        records.append({**{k: report.whole(k, r.get(k)) for k in exports.JSON_FIELDS},
                        **decision_view.json_extras(slo, m.choices),
                        **attribution.json_extra(groups), "months": points,
                        **journey_view.json_extra(slo, m.tables["journeys"]),
                        **latency.json_extra(by["percentiles"].get(slo, []))})
    context = report._context(lake_dir, m, "test", RENDERED)
    env = report.template_env()

    def section(slo: str) -> Markup:
        return Markup(env.get_template("report_slo.html.j2").render(v=views[slo],
                                                                    choices=m.choices))

    html = env.get_template("report.html.j2").render(section=section, **context)
    incidents = [{k: i.get(k) for k in exports.INCIDENT_FIELDS} for i in (
        {"period": NOV.label, "service": v["row"]["service"], **i}
        for vs in context["services"].values() for v in vs
        for i in by["incidents"].get(v["row"]["slo"], []))]
    return {name: redaction.redact(text).encode() for name, text in (
        ("report.html", html),
        ("summary.json", json.dumps(records, indent=2, allow_nan=False, default=str) + "\n"),
        ("summary.csv", exports.csv_text(records, exports.JSON_FIELDS)),
        ("incidents.csv", exports.csv_text(incidents, exports.INCIDENT_FIELDS)),
        ("history.csv", exports.csv_text(months, history.HISTORY_FIELDS)))}


def _streamed(lake_dir: Path, out: Path) -> dict[str, bytes]:
    report.render(lake_dir, NOV, out, source="test", generated_at=RENDERED,
                  formats=("html", "json", "csv"))
    folder = out / NOV.label
    assert sorted(p.name for p in folder.iterdir()) == [
        "history.csv", "incidents.csv", "report.html", "summary.csv",
        "summary.json"]  # no spool left
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLO_JOBS_TEST_TOKEN", SECRET)


def test_streamed_files_equal_the_whole_month_render(month: Path, tmp_path: Path,
                                                      secret: None) -> None:
    got, want = _streamed(month, tmp_path / "out"), _whole(month)
    assert got == want
    html = got["report.html"].decode()
    # The report's order (service, then SLO), not the tables' (SLO): zz-api before aa-web.
    shown = [html.index(f'<div class="slo" data-slo="{s}">')
             for s in ("nodata", "zz-api", "bb-batch", "aa-web", "mm-web")]
    assert shown == sorted(shown)
    incidents = csv.DictReader(io.StringIO(got["incidents.csv"].decode()))
    assert list(dict.fromkeys(r["slo"] for r in incidents)) == [
        "zz-api", "bb-batch", "aa-web", "mm-web"]
    # Every SLO's part was there to copy: incidents, breakdown, charts, trend.
    assert html.count('aria-label="Burn rate (log scale)"') == 5
    records = {r["slo"]: r for r in json.loads(got["summary.json"])}
    assert [g["group"] for g in records["aa-web"]["breakdown"]["groups"]] == ["503", "500"]
    assert records["mm-web"]["breakdown"] is None
    for name, data in got.items():
        assert SECRET.encode() not in data, name
    assert b"https://***@example.net" in got["report.html"]


def test_batches_cut_through_an_slos_rows(month: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _streamed(month, tmp_path / "whole")
    monkeypatch.setattr(report_stream, "BATCH_ROWS", 7)
    monkeypatch.setattr(report_stream, "_CHECK_ROWS", 5)
    assert _streamed(month, tmp_path / "small") == whole


def test_tables_out_of_slo_order_are_sorted_first(month: Path, tmp_path: Path) -> None:
    want = _streamed(month, tmp_path / "ordered")
    shuffled = tmp_path / "lake"
    folder = lake.monthly_partition(shuffled, NOV.label).parent
    folder.mkdir(parents=True)
    source = lake.monthly_partition(month, NOV.label).parent
    for path in source.glob("*.parquet"):
        table = pq.read_table(path)
        if path.stem in report_stream.DETAIL_TABLES:
            # SLOs by name descending, each SLO's rows in their own order
            names = table.column("slo").to_pylist()
            table = table.take([i for name in sorted(set(names), reverse=True)
                                for i, n in enumerate(names) if n == name])
            assert table.column("slo").to_pylist() != sorted(names)
        lake.write_atomic(table, folder / path.name)
    for path in month.glob("sli/**/*.parquet"):  # the gaps of the data-quality section
        target = shuffled / path.relative_to(month)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert _streamed(shuffled, tmp_path / "shuffled") == want


def test_one_service_and_the_pdf_from_the_same_document(month: Path, tmp_path: Path) -> None:
    files = report.render(month, NOV, tmp_path / "out", source="test", generated_at=RENDERED,
                          service="web")
    html = files.html.read_text()
    assert html.count('<div class="slo" data-slo="') == 2
    assert [r["slo"] for r in json.loads(files.json.read_text())] == ["aa-web", "mm-web"]
    assert files.pdf.read_bytes().startswith(b"%PDF-")
    only_pdf = report.render(month, NOV, tmp_path / "pdf", source="test",
                             generated_at=RENDERED, formats=("pdf",))
    assert sorted(p.name for p in only_pdf.pdf.parent.iterdir()) == ["report.pdf"]


def test_an_unreadable_table_is_named(month: Path, tmp_path: Path) -> None:
    broken = tmp_path / "lake"
    folder = lake.monthly_partition(broken, NOV.label).parent
    folder.mkdir(parents=True)
    for path in lake.monthly_partition(month, NOV.label).parent.glob("*.parquet"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "burn.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(report.SloJobsError, match=r"burn\.parquet: not a readable Parquet "
                       r"file .*expected the computed burn of 2026-11: recompute it"):
        report.render(broken, NOV, tmp_path / "out", source="test", generated_at=RENDERED,
                      formats=("html",))
    assert not (tmp_path / "out" / NOV.label).exists()


def test_notes_are_read_from_the_footers_that_hold_them(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    write_buckets(lake_dir, "a", NOV.start, [(1.0, 1.0)] * (3 * 1440))
    until = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    first, second, third = (lake.sli_partition(lake_dir, "a", d) for d in NOV.days[:3])
    for path, meta in ((first, lake.partition_metadata(["no series matched good"], None)),
                       (second, lake.partition_metadata(["no series matched good"], None)),
                       (third, lake.partition_metadata([], until))):
        lake.write_atomic(pq.read_table(path).replace_schema_metadata(meta), path)
    assert lake.notes(first) == ["no series matched good"] and lake.notes(third) == []
    assert lake.complete_until(third) == until and lake.complete_until(first) is None
    missing = lake.sli_partition(lake_dir, "a", NOV.days[5])
    (tmp_path / "short.parquet").write_bytes(b"PAR1")
    for path in (missing, tmp_path / "short.parquet"):
        assert lake.notes(path) == [] and lake.complete_until(path) is None
    assert gaps.extract_notes(lake_dir, NOV, ["a", "b"]) == [
        {"slo": "a", "note": "no series matched good", "days": 2, "first": "2026-11-01",
         "last": "2026-11-02"}]
