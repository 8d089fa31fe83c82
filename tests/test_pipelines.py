"""Pipeline SLIs from tables: SLO_MATH 5 check values, exact lake buckets against a brute
force, idempotent intervals, time zones, and the demo's own pipelines in the report."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo import pipelines as demo_pipelines
from slo_jobs import compute, lake, spec
from slo_jobs.core import periods
from slo_jobs.core.errors import ExtractError, SpecError
from slo_jobs.run import runner
from slo_jobs.run.runner import extract_days
from slo_jobs.run.sources import Sources
from slo_jobs.sources.pipelines import judge
from slo_jobs.sources.pipelines.judge import US, Run
from slo_jobs.sources.pipelines.record import record_interval
from slo_jobs.spec import catalog
from tests.conftest import ROOT

H = 3600
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def no_airflow(conn: str | None) -> Any:
    raise AssertionError("a table source must not need the Airflow API")


# The sources every run reads pipeline SLOs through (no Prometheus is ever asked).
TABLES = Sources.from_env(airflow_for=no_airflow)


# -- check values (SLO_MATH 5) ---------------------------------------------------------------

def test_age_exactly_max_age_is_fresh_one_second_more_is_stale() -> None:
    loads = np.array([us(T0)], dtype=np.int64)
    at = np.array([us(T0 + timedelta(hours=2)), us(T0 + timedelta(hours=2, seconds=1)),
                   us(T0 - timedelta(seconds=1))], dtype=np.int64)
    ages = judge.ages_at(at, loads)
    assert ages[:2].tolist() == [7200.0, 7201.0] and np.isnan(ages[2])
    # Never loaded yet is stale, not "no data".
    assert judge.fresh(ages, 7200.0).tolist() == [True, False, False]


def test_age_uses_only_rows_loaded_by_then() -> None:
    loads = np.array([us(T0 + timedelta(hours=5)), us(T0)], dtype=np.int64)
    ages = judge.ages_at(np.array([us(T0 + timedelta(hours=4))], dtype=np.int64), loads)
    assert ages.tolist() == [4 * 3600.0]


@pytest.mark.parametrize(("age_h", "expected"), [
    (12, "pass"), (12 + 1 / 3600, "warn"), (24, "warn"), (24 + 1 / 3600, "error"),
    (None, "error")])
def test_dbt_status_is_strict(age_h: float | None, expected: str) -> None:
    age = None if age_h is None else age_h * 3600
    assert judge.dbt_status(age, 12 * 3600, 24 * 3600) == expected


def _run(k: int, state: str, end_after: timedelta | None) -> Run:
    start = us(T0 + timedelta(hours=k))
    end = start + H * US
    return Run(f"r{k}", start, end, end, None if end_after is None else
               end + end_after // timedelta(microseconds=1), state)


def test_run_verdicts_at_the_deadline() -> None:
    within = 3600
    runs = [_run(0, "success", timedelta(minutes=59)),           # on time
            _run(1, "success", timedelta(hours=1)),              # exactly at the deadline
            _run(2, "success", timedelta(hours=1, seconds=1)),   # one second late
            _run(3, "failed", timedelta(minutes=5)),             # failed in time
            _run(4, "success", timedelta(hours=3)),              # failed, retried late
            _run(6, "running", None),                            # not finished
            Run("manual", None, None, None, None, "success")]    # no data interval
    verdicts = judge.judge_runs(runs, within, us(T0), us(T0 + timedelta(days=1)),
                                expect_every_s=H)
    got = {v.run_id: v.good for v in verdicts}
    assert got == {"r0": True, "r1": True, "r2": False, "r3": False, "r4": False,
                   "r6": False, None: False}
    # Every hourly interval whose deadline lies in the day is judged: 24, one missing (k=5)
    # plus the intervals after k=6 that have no run at all.
    ends = sorted(v.interval_end for v in verdicts)
    assert ends == [us(T0 + timedelta(hours=h)) for h in range(0, 24)]
    assert [v.state for v in verdicts].count("missing") == 24 - 6
    late = {v.run_id: v.late_s for v in verdicts if v.run_id}
    assert late["r2"] == 1.0 and late["r4"] == 2 * 3600.0 and late["r1"] is None


# -- tables into the lake ------------------------------------------------------------------

def _spec(folder: Path, indicator: str, method: str = "Timeslices",
          window: str = "{calendar: month}", extra: str = "") -> spec.Slo:
    objective = ("{target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}"
                 if method == "Timeslices" else "{target: 0.99}")
    text = f"""
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: orders-pipeline}}
spec:
  service: orders
  indicator:
{indicator}
  budgetingMethod: {method}
  objective: {objective}
  window: {window}
{extra}"""
    path = folder / "slo.yaml"
    path.write_text(text)
    [slo] = catalog.load([path])
    return slo


def _freshness_loads(folder: Path) -> list[datetime]:
    """Loads every 20-50 minutes, and nothing at all from 06:10 to 11:30 on Sep 2."""
    rng = np.random.default_rng(7)
    t, loads = T0 - timedelta(hours=3), []
    while t < T0 + timedelta(days=3):
        t += timedelta(minutes=int(rng.integers(20, 50)), seconds=int(rng.integers(0, 60)),
                       microseconds=int(rng.integers(0, 1_000_000)))
        if not (datetime(2026, 9, 2, 6, 10, tzinfo=UTC) < t < datetime(2026, 9, 2, 11, 30,
                                                                         tzinfo=UTC)):
            loads.append(t)
    (folder / "loads").mkdir()
    half = len(loads) // 2  # two files: a glob over a folder
    for i, part in enumerate((loads[:half], loads[half:])):
        pq.write_table(pa.table({"loaded_at": part, "rows": [1] * len(part)}),
                       folder / "loads" / f"part-{i}.parquet")
    return loads


def _brute_fresh(loads: list[datetime], day: date, max_age: timedelta) -> list[bool]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for i in range(1440):
        end = start + timedelta(minutes=i + 1)
        seen = [t for t in loads if t <= end]
        out.append(bool(seen) and end - max(seen) <= max_age)
    return out


def test_freshness_from_parquet_equals_brute_force(tmp_path: Path) -> None:
    loads = _freshness_loads(tmp_path)
    slo = _spec(tmp_path, "    freshness: {table: {files: loads/*.parquet}, maxAge: 1h}")
    days = [date(2026, 9, 1), date(2026, 9, 2)]
    extract_days(TABLES, [slo], days, tmp_path / "lake")
    for day in days:
        t = pq.read_table(lake.sli_partition(tmp_path / "lake", slo.name, day))
        assert t.column("has_data").to_pylist() == [True] * 1440  # stale is data, not a gap
        assert t.column("total").to_pylist() == [1.0] * 1440
        assert [g == 1.0 for g in t.column("good").to_pylist()] == _brute_fresh(
            loads, day, timedelta(hours=1))
    # The pipeline did not run from 06:10 to 11:30: those minutes are bad.
    sep2 = pq.read_table(lake.sli_partition(tmp_path / "lake", slo.name, days[1]))
    assert sum(sep2.column("good").to_pylist()[8 * 60:11 * 60]) == 0


def test_hourly_intervals_rebuild_the_whole_day_exactly(tmp_path: Path) -> None:
    _freshness_loads(tmp_path)
    slo = _spec(tmp_path, "    freshness: {table: {files: loads/*.parquet}, maxAge: 1h}")
    day = date(2026, 9, 2)
    extract_days(TABLES, [slo], [day], tmp_path / "whole")
    hourly = tmp_path / "hourly"
    for h in [5, *range(24)]:  # one hour recorded twice: replaced, not added
        start = datetime(2026, 9, 2, h, tzinfo=UTC)
        record_interval(slo, start, start + timedelta(hours=1), hourly, no_airflow)
    for table in ("sli", "pipeline_age"):
        a = next((tmp_path / "whole" / table).rglob("*.parquet")).read_bytes()
        b = next((hourly / table).rglob("*.parquet")).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest(), table


def test_one_hour_replaces_only_its_minutes(tmp_path: Path) -> None:
    _freshness_loads(tmp_path)
    slo = _spec(tmp_path, "    freshness: {table: {files: loads/*.parquet}, maxAge: 1h}")
    start = datetime(2026, 9, 2, 7, tzinfo=UTC)
    record_interval(slo, start, start + timedelta(hours=1), tmp_path / "lake", no_airflow)
    t = pq.read_table(lake.sli_partition(tmp_path / "lake", slo.name, date(2026, 9, 2)))
    has = t.column("has_data").to_pylist()
    assert has == [False] * 420 + [True] * 60 + [False] * 960


def test_completeness_from_a_duckdb_table(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    rng = np.random.default_rng(3)
    rows = []
    for i in range(300):
        at = T0 + timedelta(minutes=int(rng.integers(0, 2880)), seconds=int(rng.integers(0, 60)))
        expected = int(rng.integers(50, 100))
        processed = expected + 5 if i == 17 else int(rng.integers(0, expected + 1))
        rows.append((at, processed, expected))
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE loads (finished_at TIMESTAMPTZ, n_ok INTEGER, n_expected INTEGER)")
    con.executemany("INSERT INTO loads VALUES (?, ?, ?)", rows)
    con.close()
    slo = _spec(tmp_path, "    completeness:\n      table: {database: warehouse.duckdb, "
                "table: loads}\n      columns: {at: finished_at, processed: n_ok, "
                "expected: n_expected}", method="Occurrences")
    out = extract_days(TABLES, [slo], [date(2026, 9, 1), date(2026, 9, 2)], tmp_path / "lake")
    assert sum(r.clipped for r in out) == 1
    for day in (date(2026, 9, 1), date(2026, 9, 2)):
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        mine = [r for r in rows if lo < r[0] <= lo + timedelta(days=1)]
        t = pq.read_table(lake.sli_partition(tmp_path / "lake", slo.name, day)).to_pydict()
        assert sum(t["total"]) == sum(r[2] for r in mine)
        assert sum(t["good"]) == sum(min(r[1], r[2]) for r in mine)  # clipped to expected


def test_freshness_month_in_new_york_counts_local_minutes(tmp_path: Path) -> None:
    """November 2026 in New York: 30 days plus the hour DST gave back on Nov 1."""
    loads = [datetime(2026, 10, 30, tzinfo=UTC) + timedelta(hours=6 * i) for i in range(140)]
    loads = [t for t in loads if not datetime(2026, 11, 10, tzinfo=UTC) < t
             < datetime(2026, 11, 11, 3, tzinfo=UTC)]
    csv = tmp_path / "loads.csv"
    csv.write_text("loaded_at\n" + "".join(
        t.astimezone(ZoneInfo("America/New_York")).isoformat() + "\n" for t in loads))
    slo = _spec(tmp_path, "    freshness: {table: {files: loads.csv}, maxAge: 7h}",
                window="{calendar: month, timeZone: America/New_York}")
    local = periods.calendar("month", "2026-11", "America/New_York")
    days = [local.start.date() + timedelta(days=i) for i in range(32)]
    extract_days(TABLES, [slo], days, tmp_path / "lake")
    [row] = runner.compute_month(tmp_path / "lake", [slo], periods.month("2026-11"))
    minutes = int((local.end - local.start).total_seconds() // 60)
    assert minutes == 30 * 1440 + 60
    good = 0
    for i in range(minutes):
        end = local.start + timedelta(minutes=i + 1)
        seen = [t for t in loads if t <= end]
        good += bool(seen) and end - max(seen) <= timedelta(hours=7)
    assert (row["good"], row["total"]) == (good, minutes)


def test_csv_times_with_offsets_and_naive_times_are_utc(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("loaded_at\n2026-09-01T02:00:00+02:00\n")
    (tmp_path / "b.csv").write_text("loaded_at\n2026-09-01 00:00:00\n")
    for name in ("a.csv", "b.csv"):
        slo = _spec(tmp_path, f"    freshness: {{table: {{files: {name}}}, maxAge: 1m}}")
        extract_days(TABLES, [slo], [date(2026, 9, 1)], tmp_path / f"lake-{name}")
        good = pq.read_table(lake.sli_partition(tmp_path / f"lake-{name}", slo.name,
                                                date(2026, 9, 1))).column("good").to_pylist()
        assert good[:2] == [1.0, 0.0], name  # fresh at 00:01 (age 1 min), stale at 00:02


def test_unreadable_sources_name_the_file_and_column(tmp_path: Path) -> None:
    slo = _spec(tmp_path, "    freshness: {table: {files: nowhere/*.parquet}, maxAge: 1h}")
    with pytest.raises(ExtractError, match=r"nowhere/\*\.parquet: cannot read load times"):
        extract_days(TABLES, [slo], [date(2026, 9, 1)], tmp_path / "lake")
    (tmp_path / "x.csv").write_text("finished\n2026-09-01T00:00:00Z\n")
    slo = _spec(tmp_path, "    freshness: {table: {files: x.csv}, loadedAt: loaded, maxAge: 1h}")
    with pytest.raises(ExtractError) as exc:
        extract_days(TABLES, [slo], [date(2026, 9, 1)], tmp_path / "lake")
    assert "column loaded" in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "lake").exists()  # nothing written


@pytest.mark.parametrize(("indicator", "method", "message"), [
    ("    freshness: {table: {files: a.csv, database: b.duckdb}, maxAge: 1h}", "Timeslices",
     "expected 'files' (Parquet or CSV) or 'database' and 'table'"),
    ("    freshness: {table: {files: a.json}, maxAge: 1h}", "Timeslices",
     "expected Parquet or CSV files"),
    ("    freshness: {table: {files: a.csv}, loadedAt: 'x; DROP TABLE t', maxAge: 1h}",
     "Timeslices", "expected a column name"),
    ("    freshness: {timestamp: 'max(x)', table: {files: a.csv}, maxAge: 1h}", "Timeslices",
     "expected exactly one of 'timestamp'"),
    ("    completion: {dag: 'etl/../x', within: 1h}", "Occurrences",
     "expected an Airflow DAG id"),
    ("    completion: {dag: etl, within: 1h}", "Timeslices",
     "a completion indicator counts runs or records; expected budgetingMethod Occurrences"),
    ("    completeness: {table: {database: w.duckdb, table: 't x'}, "
     "columns: {at: a, processed: p, expected: e}}", "Occurrences", "expected a column name"),
    ("    completeness: {table: {files: a.csv}}", "Occurrences",
     "'table' and 'columns' {at, processed, expected}"),
])
def test_bad_pipeline_specs_get_one_line(tmp_path: Path, indicator: str, method: str,
                                          message: str) -> None:
    with pytest.raises(SpecError) as exc:
        _spec(tmp_path, indicator, method=method)
    text = str(exc.value)
    assert message in text and "slo.yaml:" in text and "\n" not in text


# -- the demo's own pipelines ---------------------------------------------------------------

def test_committed_demo_history_is_the_generators(tmp_path: Path) -> None:
    demo_pipelines.write(tmp_path)
    for name in ("airflow_runs.csv", "extract_loads.csv"):
        assert (tmp_path / name).read_bytes() == (ROOT / "slos" / "pipeline-data" / name
                                                  ).read_bytes(), name


def test_demo_pipelines_september(tmp_path: Path) -> None:
    """The late extraction of Sep 13 and its stale hours, computed from the committed files
    by brute force, are what the month's tables and report show."""
    from slo_jobs.report import monthly as report
    from slo_jobs.report import text as report_text

    slos = [s for s in catalog.load([ROOT / "slos"]) if s.pipeline is not None]
    period = periods.month("2026-09")
    extract_days(TABLES, slos, period.days, tmp_path / "lake")
    rows = {r["slo"]: r for r in runner.compute_month(tmp_path / "lake", slos, period)}
    runs, loads = demo_pipelines.rows()

    def t(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    load_times = sorted(t(r["loaded_at"]) for r in loads)
    stale = 0
    for i in range(30 * 1440):
        end = period.start + timedelta(minutes=i + 1)
        stale += end - max(x for x in load_times if x <= end) > timedelta(hours=25)
    assert rows["lake-freshness"]["total"] - rows["lake-freshness"]["good"] == stale > 0
    extract = [r for r in runs if r["dag_id"] == "slo_extract"
               and period.start < t(r["data_interval_end"]) + timedelta(hours=1) <= period.end]
    late = [r for r in extract if t(r["end_date"]) > t(r["data_interval_end"])
            + timedelta(hours=1)]
    assert (rows["extract-completion"]["total"], rows["extract-completion"]["bad"]) == (
        len(extract), len(late)) == (30, 1)
    files = report.render(tmp_path / "lake", period, tmp_path / "out", source="demo",
                          generated_at=period.end)
    html = files.html.read_text()
    assert "Data pipelines" in html and late[0]["run_id"] in html
    late_by = t(late[0]["end_date"]) - t(late[0]["data_interval_end"]) - timedelta(hours=1)
    assert report_text.duration(late_by.total_seconds()) in html  # "8 h 41 min"
    assert f"stale {stale:,} of 43,200 min" in html


def test_cli_runs_pipeline_slos_without_a_prometheus(tmp_path: Path) -> None:
    """Only pipeline SLOs: `run` needs no Prometheus URL and reports the month."""
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "slos" / "pipelines.yaml", tmp_path)
    shutil.copytree(ROOT / "slos" / "pipeline-data", tmp_path / "pipeline-data")
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("SLO_JOBS_PROMETHEUS")}
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09",
                           "--slos", "pipelines.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "lake-freshness" in proc.stdout and "exhausted" in proc.stdout
    assert "Data pipelines" in (tmp_path / "reports/out/2026-09/report.html").read_text()


def test_cli_backfill_of_pipeline_slos_needs_no_prometheus(tmp_path: Path) -> None:
    """`backfill` reads pipeline SLOs from their own sources, never through Prometheus."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_JOBS_PROMETHEUS")}
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "backfill", "--from",
                           "2026-09", "--to", "2026-09", "--slos",
                           str(ROOT / "slos" / "pipelines.yaml"), "--lake", "lake", "--out",
                           "out", "--no-progress"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "slo_jobs." not in proc.stderr + proc.stdout  # no internal name reaches the user
    rows = {r["slo"]: r for r in compute.read_summary(tmp_path / "lake",
                                                      periods.month("2026-09"))}
    assert rows["extract-completion"]["total"] == 30 and rows["lake-freshness"]["coverage"] == 1
    html = (tmp_path / "out" / "2026-09" / "report.html").read_text()
    assert "Data pipelines" in html and "pipeline sources" in html


def test_render_task_of_pipeline_slos_looks_up_no_prometheus(tmp_path: Path) -> None:
    from slo_jobs.run import tasks

    slos = [s for s in catalog.load([ROOT / "slos"]) if s.pipeline is not None]
    period = periods.month("2026-09")
    extract_days(TABLES, slos, period.days, tmp_path / "lake")
    runner.compute_month(tmp_path / "lake", slos, period)
    import shutil

    folder = tmp_path / "slos"
    shutil.copytree(ROOT / "slos" / "pipeline-data", folder / "pipeline-data")
    shutil.copy(ROOT / "slos" / "pipelines.yaml", folder)

    def no_prometheus(conn: str | None) -> Any:
        raise AssertionError("pipeline SLOs only: no Prometheus connection may be looked up")

    rendered = datetime(2026, 12, 2, 5, 40, tzinfo=UTC)
    files = tasks.render_month(no_prometheus, folder, tmp_path / "lake", tmp_path / "out",
                               period.start, period.end, rendered_at=rendered)
    assert Path(files["html"]).is_file() and files["period"] == "2026-09"
    assert Path(files["pdf"]).is_file() and "pdf_skipped" not in files
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'href="2026-09/report.pdf"' in index

    # A month of more SLOs than pdf_max_slos: no whole-month PDF, the rest as always, and
    # the earlier PDF gone with the month's previous files (nothing of two renders mixed).
    n = len(slos)
    again = tasks.render_month(no_prometheus, folder, tmp_path / "lake", tmp_path / "out",
                               period.start, period.end, rendered_at=rendered,
                               pdf_max_slos=n - 1)
    assert again["pdf"] == "" and again["pdf_skipped"] == (
        f"no PDF: {n} SLOs, more than pdf_max_slos={n - 1}; render a service's with "
        "slo-jobs report --month 2026-09 --service NAME --format pdf")
    month = tmp_path / "out" / "2026-09"
    assert sorted(p.name for p in month.iterdir()) == [  # each team's PDF all the same
        "history.csv", "incidents.csv", "report-team-slo-platform.pdf", "report.html",
        "summary.csv", "summary.json"]
    assert again["team_pdfs"] == {"slo-platform": str(month / "report-team-slo-platform.pdf")}
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'href="2026-09/report.html"' in index and "report.pdf" not in index
    at_limit = tasks.render_month(no_prometheus, folder, tmp_path / "lake", tmp_path / "out",
                                  period.start, period.end, rendered_at=rendered,
                                  pdf_max_slos=n)
    assert Path(at_limit["pdf"]).is_file()
