"""Verdicts a leader can act on: each SLO judged on its own window (the calendar month beside
it) in every output, and the sparse-SLO rule (too few events to judge) on the demo's own
pipelines. Expected figures are summed from the buckets written, or read from the committed
run history, never typed in."""

from __future__ import annotations

import ast
import csv
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo import pipelines as demo_pipelines
from slo_jobs import compute
from slo_jobs.core import periods
from slo_jobs.decisions import release
from slo_jobs.report import monthly as report
from slo_jobs.report import text as report_text
from slo_jobs.review import summary_page
from slo_jobs.run import runner
from slo_jobs.run.runner import extract_days
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog, io
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

SEPT = periods.month("2026-09")
AS_OF = datetime(2026, 10, 1, 0, 7, tzinfo=UTC)  # after every window below has closed
TARGET = 0.999
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
  objective: {{target: {target}}}
  window: {window}
"""
# name -> window; each SLO's Kolkata or UTC September has one bad hour (60,000 bad events
# against a month's budget of about 43,200), far less than a quarter's or a clean week's.
WINDOWS = {"q-kolkata": "{calendar: quarter, timeZone: Asia/Kolkata}",
           "m-kolkata": "{calendar: month, timeZone: Asia/Kolkata}",
           "r-week": "{rolling: 7d}"}
BAD = (datetime(2026, 9, 10, 3, 17, tzinfo=UTC), datetime(2026, 9, 10, 4, 17, tzinfo=UTC))
DATA = (datetime(2026, 6, 26, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def bucket(t: datetime) -> tuple[float, float]:
    return (0.0, 1000.0) if BAD[0] <= t < BAD[1] else (1000.0, 1000.0)


def events(start: datetime, end: datetime) -> tuple[float, float]:
    """(good, total) of [start, end), summed from ``bucket`` minute by minute."""
    good = total = 0.0
    t = start
    while t < end:
        g, n = bucket(t)
        good, total, t = good + g, total + n, t + timedelta(minutes=1)
    return good, total


def status_of(good: float, total: float, target: float) -> tuple[str, bool, float]:
    """docs/slo-math.md for a closed window: (status, met, consumed)."""
    consumed = (total - good) / ((1 - target) * total)
    status = "exhausted" if consumed >= 1 else "critical" if consumed > 2 else \
        "warning" if consumed > 1.5 else "attention" if consumed > 1 else "healthy"
    return status, good / total >= target, consumed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("verdicts")
    folder = tmp / "slos"
    folder.mkdir()
    minutes = int((DATA[1] - DATA[0]) / timedelta(minutes=1))
    series = [bucket(DATA[0] + timedelta(minutes=i)) for i in range(minutes)]
    for name, window in WINDOWS.items():
        (folder / f"{name}.yaml").write_text(DOC.format(name=name, target=TARGET,
                                                        window=window))
        write_buckets(tmp / "lake", name, DATA[0], series)
    slos = catalog.load([folder])
    rows = runner.compute_month(tmp / "lake", slos, SEPT, AS_OF)
    files = report.render(tmp / "lake", SEPT, tmp / "out", source="test",
                          generated_at=AS_OF)
    # the windows each SLO is judged on, and its calendar month, derived here
    expect: dict[str, dict[str, Any]] = {}
    for s in slos:
        month = periods.containing("month", AS_OF - timedelta(days=2), s.time_zone)
        own = periods.rolling(SEPT.end, timedelta(days=7)) if s.window_kind == "rolling" \
            else periods.containing(s.calendar_unit or "month", month.end - timedelta(
                microseconds=1), s.time_zone)
        expect[s.name] = {"own": own, "month": month,
                          "judged": status_of(*events(own.start, own.end), TARGET),
                          "context": status_of(*events(month.start, month.end), TARGET)}
    return {"tmp": tmp, "rows": rows, "files": files, "expect": expect}


def test_the_expected_windows_differ_where_the_test_needs_them(world: dict[str, Any]) -> None:
    e = world["expect"]
    assert e["q-kolkata"]["own"].label == "2026-Q3" and e["m-kolkata"]["own"].label == "2026-09"
    # the point of the case: the month misses where the SLO's own window meets
    assert e["q-kolkata"]["context"][1] is False and e["q-kolkata"]["judged"][1] is True
    assert e["r-week"]["context"][1] is False and e["r-week"]["judged"][1] is True


def test_summary_json_and_csv_judge_on_the_own_window(world: dict[str, Any]) -> None:
    records = {r["slo"]: r for r in json.loads(world["files"].json.read_text())}
    with world["files"].csv.open() as fh:
        cells = {r["slo"]: r for r in csv.DictReader(fh)}
    for name, e in world["expect"].items():
        status, met, consumed = e["judged"]
        r, c = records[name], cells[name]
        assert (r["status"], r["met"], r["window"]) == (status, met, e["own"].label), name
        assert r["budget_consumed"] == pytest.approx(consumed, rel=1e-9), name
        assert (r["month_status"], r["month_met"]) == e["context"][:2], name
        assert (c["status"], c["met"], c["window"]) == (status, str(met).lower(),
                                                        e["own"].label), name
        assert c["month_status"] == e["context"][0], name


def test_report_counts_and_sections_use_the_own_window(world: dict[str, Any]) -> None:
    html = world["files"].html.read_text()
    judged = [e["judged"][1] for e in world["expect"].values()]
    assert f'<b id="kpi-met">{judged.count(True)}</b>' in html
    assert f'<b id="kpi-missed">{judged.count(False)}</b>' in html
    # each own-window SLO names the window it is judged on, the calendar month beside it
    assert "<td colspan=\"2\"><b>Judged on</b> 2026-Q3 (" in html
    assert "<td colspan=\"2\"><b>Calendar month</b> 2026-09 (" in html
    # "Most at risk" names the SLOs whose own window is not healthy, and only those
    at_risk = html.split("<b>Most at risk:</b>")[1].split("</p>")[0]
    for name, e in world["expect"].items():
        assert (f'<span class="name">{name}</span>' in at_risk) is (
            e["judged"][0] != "healthy"), name
    layout = subprocess.run(["pdftotext", "-layout", str(world["files"].pdf), "-"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    # the PDF's key figures: a line of numbers over a line of their labels
    at = next(i for i, line in enumerate(layout) if {"met", "missed"} <= set(line.split()))
    figures = next(line for line in reversed(layout[:at]) if line.strip()).split()
    kpis = dict(zip(layout[at].split(), figures, strict=True))
    assert (kpis["met"], kpis["missed"]) == (str(judged.count(True)), str(judged.count(False)))
    pdf = " ".join(" ".join(layout).split())
    assert "Judged on 2026-Q3 (" in pdf and "Calendar month 2026-09 (" in pdf
    index = world["files"].index.read_text()
    row = index.split('<tr data-month="2026-09">')[1].split("</tr>")[0]
    assert (f'<td class="num">{len(judged)}</td><td class="num">{judged.count(True)}</td>'
            f'<td class="num">{judged.count(False)}</td>') in row
    page = summary_page.build(world["tmp"] / "lake", SEPT)
    assert (page["met"], page["missed"]) == (judged.count(True), judged.count(False))


def test_priorities_and_release_decisions_use_the_own_window(world: dict[str, Any]) -> None:
    lake = world["tmp"] / "lake"
    ranked = {p["slo"]: p for p in compute.read_table(lake, SEPT.label, "priorities")}
    decided = {(d["slo"], d["risk"]): d["decision"]
               for d in compute.read_table(lake, SEPT.label, "decisions")}
    for name, e in world["expect"].items():
        status, _, consumed = e["judged"]
        # a closed window: overspend is the consumption beyond 100 % of its budget
        assert ranked[name]["overspend"] == pytest.approx(max(0.0, consumed - 1), abs=1e-9)
        assert (ranked[name]["rank"] is None) is (consumed <= 1), name
        for risk in release.RISKS:
            assert decided[name, risk] == release.MATRIX[status][risk], (name, risk)


def test_cli_table_and_show_have_a_window_column(world: dict[str, Any]) -> None:
    table = report_text.table(world["rows"])
    done = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "show", "--month", "2026-09",
                           "--lake", str(world["tmp"] / "lake"), "--out",
                           str(world["tmp"] / "out")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    for text in (table, done.stdout):
        head = next(line for line in text.splitlines() if line.startswith("SLO"))
        assert head.split()[:3] == ["SLO", "window", "target"]
        lines = {line.split()[0]: line for line in text.splitlines() if line[:1].islower()}
        for name, e in world["expect"].items():
            assert lines[name].split()[1] == e["own"].label, name
            assert f"  {e['judged'][0]}" in lines[name], name
            if e["own"] != e["month"]:
                assert f"month {SEPT.label}: {e['context'][0]}" in lines[name], name


# -- the sparse-SLO rule on the demo's own pipelines ----------------------------------------

def _dag_sensor_delta(dag: str) -> timedelta:
    """The delta of the TimeDeltaSensor at the head of ``dags/<dag>.py``, read from source."""
    tree = ast.parse((ROOT / "dags" / f"{dag}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "TimeDeltaSensor":
            delta = next(k.value for k in node.keywords if k.arg == "delta")
            if isinstance(delta, ast.Name):  # a constant of slo_jobs.core.periods (INGEST_GRACE)
                value: timedelta = getattr(periods, delta.id)
                return value
            assert isinstance(delta, ast.Call)
            return timedelta(**{k.arg: ast.literal_eval(k.value) for k in delta.keywords
                                if k.arg})
    raise AssertionError(f"{dag}: no TimeDeltaSensor")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _within(slo: str) -> timedelta:
    """The completion deadline of ``slo`` as written in slos/pipelines.yaml."""
    docs = yaml.safe_load_all((ROOT / "slos" / "pipelines.yaml").read_text())
    doc = next(d for d in docs if d["metadata"]["name"] == slo)
    return io.duration(doc["spec"]["indicator"]["completion"]["within"])


def test_demo_history_and_deadlines_follow_the_dags() -> None:
    waits = {"slo_extract": _dag_sensor_delta("slo_extract"),
             "slo_monthly_report": _dag_sensor_delta("slo_monthly_report")}
    assert (demo_pipelines.EXTRACT_WAIT, demo_pipelines.REPORT_WAIT) == (
        waits["slo_extract"], waits["slo_monthly_report"])
    runs, _ = demo_pipelines.rows()
    for r in runs:
        start, end = _t(r["data_interval_start"]), _t(r["data_interval_end"])
        # daily runs cover one UTC day, monthly ones one UTC month (the DAGs' timetables)
        if r["dag_id"] == "slo_extract":
            assert end - start == timedelta(days=1) and start.time() == datetime.min.time()
        else:
            assert start.day == end.day == 1 and periods.month(f"{start:%Y-%m}").end == end
        assert _t(r["start_date"]) >= end and _t(r["end_date"]) >= end + waits[r["dag_id"]]
    for name, dag in (("report-completion", "slo_monthly_report"),
                      ("extract-completion", "slo_extract")):
        within = _within(name)
        assert within > waits[dag], name  # a deadline the DAG can meet at all
        on_time = [r for r in runs if r["dag_id"] == dag
                   and _t(r["end_date"]) <= _t(r["data_interval_end"]) + within]
        assert len(on_time) >= len([r for r in runs if r["dag_id"] == dag]) - 2, name


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("demo-pipelines")

    def no_airflow(conn: str | None) -> Any:
        raise AssertionError("the demo pipelines read exported files, not the Airflow API")

    slos = [s for s in catalog.load([ROOT / "slos"]) if s.pipeline is not None]
    extract_days(Sources.from_env(airflow_for=no_airflow), slos, SEPT.days, tmp / "lake")
    rows = {r["slo"]: r for r in runner.compute_month(tmp / "lake", slos, SEPT)}
    files = report.render(tmp / "lake", SEPT, tmp / "out", source="demo",
                          generated_at=SEPT.end)
    return {"slos": {s.name: s for s in slos}, "rows": rows, "files": files,
            "lake": tmp / "lake"}


def _month_events(slo: str) -> tuple[int, int]:
    """(total, bad) report-completion runs whose deadline falls in September, from the
    committed history and the spec's deadline."""
    within = _within(slo)
    runs = [r for r in demo_pipelines.rows()[0] if r["dag_id"] == "slo_monthly_report"
            and SEPT.start < _t(r["data_interval_end"]) + within <= SEPT.end]
    late = [r for r in runs if _t(r["end_date"]) > _t(r["data_interval_end"]) + within]
    return len(runs), len(late)


def test_report_completion_has_too_few_events_to_judge(demo: dict[str, Any]) -> None:
    total, bad = _month_events("report-completion")
    row = demo["rows"]["report-completion"]
    target = Fraction(str(row["target"]))
    assert total * (1 - target) <= 1  # one bad run would spend the whole budget
    assert (row["total"], row["bad"]) == (total, bad)
    assert (row["status"], row["met"]) == ("too few events", None)
    assert row["budget_consumed"] == pytest.approx(bad / (float(1 - target) * total))
    # shown with its figures and the mark, in every output
    record = next(r for r in json.loads(demo["files"].json.read_text())
                  if r["slo"] == "report-completion")
    assert (record["status"], record["met"], record["total"]) == ("too few events", None,
                                                                  total)
    with demo["files"].csv.open() as fh:
        assert next(r for r in csv.DictReader(fh) if r["slo"] == "report-completion"
                    )["status"] == "too few events"
    html = demo["files"].html.read_text()
    assert '<b id="kpi-too-few">1</b>too few events to judge' in html
    assert "<b>Too few events to judge</b>" in html
    pdf = " ".join(subprocess.run(["pdftotext", "-layout", str(demo["files"].pdf), "-"],
                                  capture_output=True, text=True, check=True).stdout.split())
    events = f"{total} event{'s' * (total != 1)}"
    assert "Too few events to" in pdf and f"{events} in the window: one bad one" in pdf
    assert f"Too few events to judge: {events}, where one bad one" in pdf  # what to do
    assert "report-completion" in report_text.table(list(demo["rows"].values()))


def test_too_few_events_drive_no_priority_toil_block_or_postmortem(
        demo: dict[str, Any]) -> None:
    lake = demo["lake"]
    ranked = {p["slo"]: p for p in compute.read_table(lake, SEPT.label, "priorities")}
    assert ranked["report-completion"]["rank"] is None
    assert ranked["report-completion"]["score"] == 0
    toil = {t["team"]: t for t in compute.read_table(lake, SEPT.label, "toil")}
    team = demo["slos"]["report-completion"].team
    assert toil[team]["worst_slo"] != "report-completion"
    judged = [r for r in demo["rows"].values()
              if demo["slos"][r["slo"]].team == team and r["status"] not in
              ("no data", "insufficient data", "too few events")]
    assert toil[team]["judged"] == len(judged)
    decided = [d["decision"] for d in compute.read_table(lake, SEPT.label, "decisions")
               if d["slo"] == "report-completion"]
    assert decided == ["review"] * 3
    row = demo["rows"]["report-completion"]
    advice = report_text.recommendations(row, [{"start": SEPT.start, "end": SEPT.end,
                                                "severity": "page", "budget_share": 10.0}])
    assert not any("Postmortem" in a for a in advice) and "Too few events" in advice[0]


def test_judge_few_events_opts_in(demo: dict[str, Any], tmp_path: Path) -> None:
    spec = (ROOT / "slos" / "pipelines.yaml").read_text()
    marker = "  objective: {target: 0.9}\n"
    assert spec.count(marker) == 1
    shutil.copytree(ROOT / "slos" / "pipeline-data", tmp_path / "pipeline-data")
    (tmp_path / "pipelines.yaml").write_text(spec.replace(
        marker, marker + "  judgeFewEvents: true\n"))
    slo = next(s for s in catalog.load([tmp_path]) if s.name == "report-completion")
    extract_days(Sources.from_env(airflow_for=lambda conn: None), [slo], SEPT.days,
                 tmp_path / "lake")
    (row,) = runner.compute_month(tmp_path / "lake", [slo], SEPT)
    total, bad = _month_events("report-completion")
    status, met, _ = status_of(total - bad, total, row["target"])
    assert (row["status"], row["met"]) == (status, met)
    decided = {d["risk"]: d["decision"] for d in compute.read_table(
        tmp_path / "lake", SEPT.label, "decisions")}
    assert decided == {risk: release.MATRIX[status][risk] for risk in release.RISKS}


def test_judge_few_events_is_named_when_exported_to_openslo(tmp_path: Path) -> None:
    from slo_jobs.spec import openslo

    (tmp_path / "slo.yaml").write_text(DOC.format(name="few", target=0.9,
                                                  window="{calendar: month}")
                                       + "  judgeFewEvents: true\n")
    (slo,) = catalog.load([tmp_path])
    text, warnings = openslo.export([slo])
    assert [w for w in warnings if "spec.judgeFewEvents: has no OpenSLO v1 equivalent" in w]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "openslo.yaml").write_text(text)
    # imported back, the SLO falls back to the sparse-SLO rule, as the warning says
    (back,) = catalog.load([tmp_path / "out"])
    assert (back.judge_few_events, back.target) == (False, slo.target)
