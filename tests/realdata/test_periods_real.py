"""Every window kind and period through the CLI and the monthly DAG, on real scrape shapes.

The expected figures are the generator's truth summed over each SLO's own period, derived here
from the period's definition (its zone's midnight, the ISO week's Monday, 28 days before the
as-of), not from the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo import scrapes
from slo_jobs import lake
from slo_jobs.core import periods
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
REL = 1e-4

DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: {job}
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{job="{job}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{job="{job}"}}'}}
  objective: {{target: 0.99}}
  window: {window}
"""


def write(folder: Path, **windows: tuple[str, str]) -> Path:
    """SLO files named by key: (job, window)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slos.yaml").write_text("---\n".join(
        DOC.format(name=name, job=job, window=window) for name, (job, window) in windows.items()))
    return folder


def truth_between(real: scrapes.Scrapes, job: str, start: datetime, end: datetime
                  ) -> tuple[int, int]:
    t = real.truth
    t = t[(t.job == job) & (t.ts >= pd.Timestamp(start)) & (t.ts < pd.Timestamp(end))]
    return int(t.requests.sum() - t.errors.sum()), int(t.requests.sum())


def local_midnight(tz: str, y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)


def summary(out: Path, label: str = "2026-09") -> dict[str, dict[str, Any]]:
    rows = json.loads((out / label / "summary.json").read_text())
    return {r["slo"]: r for r in rows}


@pytest.fixture(scope="module")
def zoned(real_victoria: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("zoned")
    slos = write(base / "slos",
                 la=("api30", "{calendar: month, timeZone: America/Los_Angeles}"),
                 kolkata=("api15", "{calendar: month, timeZone: Asia/Kolkata}"),
                 quarter=("api60", "{calendar: quarter}"),
                 week=("api60", "{calendar: week}"),
                 rolling=("api30", "{rolling: 28d}"))
    done = run_cli("run", "--month", "2026-09", "--slos", str(slos), "--prometheus-url",
                   real_victoria, "--lake", str(base / "lake"), "--out", str(base / "out"),
                   "--as-of", "2026-11-01T00:00Z")
    assert done.returncode == 0, done.stderr
    return base


@pytest.mark.parametrize("name, job, tz", [("la", "api30", "America/Los_Angeles"),
                                           ("kolkata", "api15", "Asia/Kolkata")])
def test_a_zoned_month_is_its_own_local_month(name: str, job: str, tz: str, zoned: Path,
                                              real_scrapes: scrapes.Scrapes) -> None:
    start, end = local_midnight(tz, 2026, 9, 1), local_midnight(tz, 2026, 10, 1)
    row = summary(zoned / "out")[name]
    good, total = truth_between(real_scrapes, job, start, end)
    assert row["total"] == pytest.approx(total, rel=REL)
    assert row["good"] == pytest.approx(good, rel=REL)
    assert row["time_zone"] == tz and not row["estimated"]
    assert row["expected_buckets"] == (end - start) / timedelta(minutes=1)
    # The month's last local hours lie in the UTC days around it: they were extracted.
    for utc_day in {start.date(), (end - timedelta(seconds=1)).date()}:
        assert lake.sli_partition(zoned / "lake", name, utc_day).exists()


def test_the_report_names_each_zone(zoned: Path) -> None:
    html = (zoned / "out" / "2026-09" / "report.html").read_text()
    assert "America/Los_Angeles" in html and "Asia/Kolkata" in html
    # Each SLO is judged on its own month, in its zone, named with its UTC bounds.
    la = periods.calendar("month", "2026-09", "America/Los_Angeles")
    assert (f"2026-09 ({la.start:%Y-%m-%d %H:%M} to {la.end:%Y-%m-%d %H:%M} UTC, "
            "in America/Los_Angeles)") in html


@pytest.mark.parametrize("name, job, start, end, label, estimated", [
    # Q3 to date at the end of September is the whole quarter (the data begins Aug 30).
    ("quarter", "api60", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC),
     "2026-Q3", False),
    # The ISO week holding Sep 30 (a Wednesday) began on Monday Sep 28: 3 days to date.
    ("week", "api60", datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC),
     "2026-W40", True),
    # 28 days back from the month's end.
    ("rolling", "api30", datetime(2026, 9, 3, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC),
     "rolling-28d@2026-10-01T00:00Z", False),
])
def test_the_own_window_to_date(name: str, job: str, start: datetime, end: datetime,
                                label: str, estimated: bool, zoned: Path,
                                real_scrapes: scrapes.Scrapes) -> None:
    row = summary(zoned / "out")[name]
    assert row["window_label"] == label and row["window_estimated"] is estimated
    good, total = truth_between(real_scrapes, job, start, end)
    sli = good / total
    assert row["window_sli"] == pytest.approx(sli, rel=REL)
    if name == "quarter":  # July and most of August have no data at all
        assert row["window_budget_remaining"] is not None


def test_a_running_month_is_to_date_projected_and_refreshed(
        real_prometheus: str, real_scrapes: scrapes.Scrapes, tmp_path: Path) -> None:
    slos = write(tmp_path / "slos", utc=("api15", "{calendar: month}"))
    args = ["--slos", str(slos), "--prometheus-url", real_prometheus, "--lake",
            str(tmp_path / "lake"), "--out", str(tmp_path / "out")]
    mid = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
    done = run_cli("run", "--month", "2026-09", "--as-of", "2026-09-15T12:00Z", *args)
    assert done.returncode == 0, done.stderr
    row = summary(tmp_path / "out")["utc"]
    good, total = truth_between(real_scrapes, "api15", datetime(2026, 9, 1, tzinfo=UTC), mid)
    assert row["estimated"] is True and row["total"] == pytest.approx(total, rel=REL)
    assert row["good"] == pytest.approx(good, rel=REL)
    # Projected: the consumption so far is of the whole month's budget (elapsed 14.5 / 30).
    bad_ratio = (total - good) / total
    assert row["budget_consumed"] == pytest.approx(bad_ratio / 0.01 * 14.5 / 30, rel=1e-3)
    # Nothing written for days that had not begun; the running day is marked incomplete.
    days = sorted(p.parent.name for p in (tmp_path / "lake" / "sli" / "slo=utc").glob("*/*"))
    assert days[-1] == "date=2026-09-15"
    part = lake.sli_partition(tmp_path / "lake", "utc", mid.date())
    assert lake.complete_until(part) == mid
    has = pq.read_table(part).column("has_data").to_pylist()
    assert all(has[i] is False for i in range(720, 1440)) and sum(has[:720]) >= 719
    # Later, the month is over: the incomplete day is read again, whole.
    done = run_cli("run", "--month", "2026-09", "--as-of", "2026-10-05T00:00Z", *args)
    assert done.returncode == 0, done.stderr
    assert lake.complete_until(part) is None and sum(
        pq.read_table(part).column("has_data").to_pylist()) == 1440
    row = summary(tmp_path / "out")["utc"]
    good, total = truth_between(real_scrapes, "api15", datetime(2026, 9, 1, tzinfo=UTC),
                                datetime(2026, 10, 1, tzinfo=UTC))
    assert row["estimated"] is False and row["total"] == pytest.approx(total, rel=REL)


def test_a_month_that_has_not_begun_is_refused(real_prometheus: str, tmp_path: Path) -> None:
    slos = write(tmp_path / "slos", utc=("api15", "{calendar: month}"))
    done = run_cli("run", "--month", "2026-10", "--as-of", "2026-09-20T00:00Z", "--slos",
                   str(slos), "--prometheus-url", real_prometheus, "--lake",
                   str(tmp_path / "lake"), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: month 2026-10: has not begun at as-of 2026-09-20T00:00Z; expected a month "
        "that has started (or a later --as-of)"]
    assert not (tmp_path / "lake").exists()


def test_the_monthly_dag_reports_a_los_angeles_month(real_prometheus: str, airflow_db: Path,
                                                     real_scrapes: scrapes.Scrapes,
                                                     tmp_path: Path) -> None:
    slos = write(tmp_path / "slos",
                 la=("api60", "{calendar: month, timeZone: America/Los_Angeles}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", real_prometheus)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(tmp_path / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
            "slo_monthly_report")
        run = dag.test(logical_date=datetime(2026, 10, 1, tzinfo=UTC))
    assert run.state == "success"
    start = local_midnight("America/Los_Angeles", 2026, 9, 1)
    end = local_midnight("America/Los_Angeles", 2026, 10, 1)
    row = summary(tmp_path / "out")["la"]
    good, total = truth_between(real_scrapes, "api60", start, end)
    assert row["total"] == pytest.approx(total, rel=REL) and not row["estimated"]
    # October 1st UTC holds LA's last 7 hours; the run read it up to its settled as-of
    # (12:10 UTC) and marked it for a later, whole read.
    oct1 = lake.sli_partition(tmp_path / "lake", "la", end.date())
    assert lake.complete_until(oct1) == datetime(2026, 10, 1, 12, 10, tzinfo=UTC)
