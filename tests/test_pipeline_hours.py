"""The hourly pipeline recorder with missed hours, then the monthly gap fill: the lake and the
month's summary equal a one-shot ``slo-jobs run`` of the same month in a fresh lake.

Two pipeline SLOs of the demo (freshness from the exported load log, completion from the
exported run records) in America/New_York: their September ends at 04:00 UTC on October 1st,
so the hours recorded cross the UTC midnight into a day only the local month needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from slo_jobs import compute, lake
from slo_jobs.core import periods
from slo_jobs.run import extract_shards, runner, tasks
from slo_jobs.spec import catalog
from tests.conftest import ROOT

SLOS = ("lake-freshness", "extract-completion")
ZONE = "America/New_York"
H0 = datetime(2026, 9, 30, 22, tzinfo=UTC)  # the first hour the DAG records
HOURS = [H0 + timedelta(hours=k) for k in range(6)]  # 22:00 on Sep 30 to 03:00 on Oct 1
MISSED = {HOURS[1], HOURS[4]}  # 23:00 on Sep 30 and 02:00 on Oct 1 get no run
DAYS = [date(2026, 9, 30), date(2026, 10, 1)]


def no_connection(conn: str | None) -> Any:
    raise AssertionError("table sources only: no connection may be looked up")


def slo_folder(folder: Path) -> Path:
    """The demo's first two pipeline SLOs, their month in New York."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "slos" / "pipeline-data", folder / "pipeline-data")
    docs = (ROOT / "slos" / "pipelines.yaml").read_text().split("\n---\n")
    text = "\n---\n".join(docs[:2]).replace("window: {calendar: month}",
                                           f"window: {{calendar: month, timeZone: {ZONE}}}")
    (folder / "pipelines.yaml").write_text(text)
    assert sorted(s.name for s in catalog.load([folder])) == sorted(SLOS)
    return folder


def day_files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes()
            for table in ("sli", *lake.DETAIL_TABLES)
            for p in sorted((root / table).glob("*/*/part-0.parquet"))}


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``slo-jobs run --month 2026-09`` into a fresh lake (the CLI, as a user runs it)."""
    base = tmp_path_factory.mktemp("one-shot")
    slos = slo_folder(base / "slos")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_JOBS_")}
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09",
                           "--slos", str(slos), "--lake", "lake", "--out", "out"],
                          cwd=base, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return base / "lake"


def test_missed_hours_are_read_again_and_the_month_equals_a_one_shot_run(
        one_shot: Path, airflow_db: Path, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    slos_dir, hourly = slo_folder(tmp_path / "slos"), tmp_path / "lake"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos_dir))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(hourly))
        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_pipeline_freshness.py")).get_dag(
            "slo_pipeline_freshness")
        # Missed hours get their runs when the scheduler is back (or the DAG unpaused).
        assert dag.catchup and 1 <= dag.max_active_runs <= 4
        for hour in HOURS:
            if hour not in MISSED:
                # The run after hour H records [H, H + 1h), as the scheduler would start it.
                run = dag.test(logical_date=hour + timedelta(hours=1))
                assert run.state == "success", hour
                assert (run.data_interval_start, run.data_interval_end) == (
                    hour, hour + timedelta(hours=1))

    # Each day says how far it is complete: up to its first hour not recorded (on Sep 30,
    # its midnight: only 22:00 was recorded; on Oct 1, the missed 02:00).
    first_gap = {DAYS[0]: datetime(2026, 9, 30, tzinfo=UTC), DAYS[1]: HOURS[4]}
    recorded = {h + timedelta(minutes=m) for h in set(HOURS) - MISSED for m in range(60)}
    for name in SLOS:
        for d in DAYS:
            path = lake.sli_partition(hourly, name, d)
            assert lake.complete_until(path) == first_gap[d], (name, d)
            got, ref = pq.read_table(path).to_pylist(), pq.read_table(
                lake.sli_partition(one_shot, name, d)).to_pylist()
            assert {r["ts"] for r in got if r["has_data"]} == {
                t for t in recorded if t.date() == d}
            # A recorded minute is final: what a whole-day read of the source gives.
            assert [r for r in got if r["has_data"]] == [
                r for r in ref if r["ts"] in recorded], (name, d)
        assert lake.missing_days(hourly, name, DAYS) == DAYS

    # The monthly DAG's gap fill reads the days that are not final again: Sep 30 whole, and
    # Oct 1 up to its as-of (12:10, when every zone's September has ended), which is as far
    # as that day is complete now.
    month = periods.month("2026-09")
    settled = tasks.settled(month)
    [shard] = extract_shards.plan_fill(slos_dir, len(SLOS))
    filled = extract_shards.fill_shard(no_connection, slos_dir, hourly, month.start, month.end,
                                       shard, airflow_for=no_connection)
    assert sorted(filled["filled"]) == sorted(SLOS) and filled["slos"] == len(SLOS)
    # New York's September is [Sep 1 04:00, Oct 1 04:00) UTC: the UTC days Sep 1 to Oct 1,
    # none of them final in the lake before the fill.
    assert filled["filled"] == {name: "2026-09-01..2026-10-01" for name in SLOS}
    for name in SLOS:
        assert lake.missing_days(hourly, name, DAYS, settled) == []
        assert lake.complete_until(lake.sli_partition(hourly, name, DAYS[0])) is None
        oct1 = lake.sli_partition(hourly, name, DAYS[1])
        assert lake.complete_until(oct1) == settled == datetime(2026, 10, 1, 12, 10,
                                                                tzinfo=UTC)
        got, ref = (pq.read_table(p).to_pylist() for p in (
            oct1, lake.sli_partition(one_shot, name, DAYS[1])))
        assert [r for r in got if r["has_data"]] == [r for r in ref if r["ts"] < settled]
    slos = catalog.load([slos_dir])
    runner.compute_month(hourly, slos, month)
    assert compute.read_summary(hourly, month) == compute.read_summary(one_shot, month)
    local = periods.calendar("month", "2026-09", ZONE)
    rows = {r["slo"]: r for r in compute.read_summary(hourly, month)}
    assert rows["lake-freshness"]["total"] == (local.end - local.start) // timedelta(minutes=1)
    assert rows["lake-freshness"]["coverage"] == 1

    # A later backfill reads Oct 1 again, whole: then every partition is the one-shot run's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_JOBS_")}
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "backfill", "--from",
                           "2026-09", "--to", "2026-09", "--slos", str(slos_dir), "--lake",
                           str(hourly), "--out", str(tmp_path / "out"), "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert day_files(hourly) == day_files(one_shot) != {}
    assert compute.read_summary(hourly, month) == compute.read_summary(one_shot, month)
