"""Every DAG imports cleanly, does no I/O at parse time, and is set up for production."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.conftest import ROOT

DAG_IDS = {"slo_extract", "slo_monthly_report", "slo_pipeline_freshness", "slo_weekly_review",
           "slo_quarterly_rollup", "slo_yearly_rollup"}


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("network use while parsing a DAG file")


@pytest.fixture(scope="module")
def dagbag(airflow_db: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Connection

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(Connection, "get", classmethod(lambda cls, *a, **k: _no_network()))
        bag = DagBag(dag_folder=str(ROOT / "dags"))
    return bag


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_dag_settings(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert dag.tags and "slo" in dag.tags
    assert dag.doc_md
    # Catchup only where each run records its own interval: a missed day or hour gets a run.
    assert not dag.catchup or dag_id in {"slo_extract", "slo_pipeline_freshness"}
    assert dag.max_active_runs <= 4
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.owner and task.owner != "airflow", task.task_id


def test_monthly_report_has_a_monthly_data_interval(dagbag: Any) -> None:
    from datetime import UTC, datetime

    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("slo_monthly_report")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    interval = dag.timetable.infer_manual_data_interval(
        run_after=datetime(2026, 10, 1, tzinfo=UTC))
    assert (interval.start, interval.end) == (datetime(2026, 9, 1, tzinfo=UTC),
                                              datetime(2026, 10, 1, tzinfo=UTC))


def test_weekly_review_covers_the_week_before_and_waits_for_every_zone(dagbag: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("slo_weekly_review")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    # Monday 16 November 2026: the week before, Monday 9 to Monday 16.
    interval = dag.timetable.infer_manual_data_interval(
        run_after=datetime(2026, 11, 16, 6, tzinfo=UTC))
    assert (interval.start, interval.end) == (datetime(2026, 11, 9, tzinfo=UTC),
                                              datetime(2026, 11, 16, tzinfo=UTC))
    assert dag.get_task("wait_for_local_week_end").delta == timedelta(hours=12, minutes=10)
    assert dag.get_task("review").upstream_task_ids == {"wait_for_local_week_end"}
    assert set(dag.task_ids) == {"review", "wait_for_local_week_end"}


@pytest.mark.parametrize(("dag_id", "run_after", "start", "end"), [
    ("slo_quarterly_rollup", (2026, 10, 1, 6), (2026, 7, 1), (2026, 10, 1)),
    ("slo_quarterly_rollup", (2027, 1, 1, 6), (2026, 10, 1), (2027, 1, 1)),
    ("slo_yearly_rollup", (2027, 1, 1, 6), (2026, 1, 1), (2027, 1, 1))])
def test_rollups_cover_the_period_before_and_wait_for_every_zone(
        dagbag: Any, dag_id: str, run_after: tuple[int, ...], start: tuple[int, ...],
        end: tuple[int, ...]) -> None:
    from datetime import UTC, datetime

    from airflow.timetables.interval import CronDataIntervalTimetable

    from slo_jobs.core.periods import LOCAL_MONTH_SETTLE

    dag = dagbag.get_dag(dag_id)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    interval = dag.timetable.infer_manual_data_interval(
        run_after=datetime(*run_after, tzinfo=UTC))
    assert (interval.start, interval.end) == (datetime(*start, tzinfo=UTC),
                                              datetime(*end, tzinfo=UTC))
    wait = dag.get_task("wait_for_local_period_end")
    assert wait.delta == LOCAL_MONTH_SETTLE and wait.mode == "reschedule"
    assert dag.get_task("compute").upstream_task_ids == {"wait_for_local_period_end"}
    assert dag.get_task("render").upstream_task_ids == {"compute"}


def test_wiring(dagbag: Any) -> None:
    dag = dagbag.get_dag("slo_monthly_report")
    assert dag.get_task("fill_shard").upstream_task_ids == {"plan_fill"}
    assert dag.get_task("check_complete").upstream_task_ids == {"fill_shard"}
    assert dag.get_task("plan_shards").upstream_task_ids == {"check_complete"}
    assert dag.get_task("compute_shard").upstream_task_ids == {"plan_shards"}
    assert dag.get_task("merge").upstream_task_ids == {"compute_shard"}
    assert dag.get_task("render").upstream_task_ids == {"merge"}
    assert dag.get_task("plan_fill").upstream_task_ids == {"wait_for_local_month_end"}
    assert dag.params["missing_days"] == "fill"
    assert dag.params["shard_size"] == 200
    assert dag.params["fill_shard_size"] == 500



def test_monthly_report_waits_until_every_zones_month_has_ended(dagbag: Any) -> None:
    # The sensor's delay is the library's settle delay, by which the tasks' as-of is set.
    from slo_jobs.core.periods import LOCAL_MONTH_SETTLE

    wait = dagbag.get_dag("slo_monthly_report").get_task("wait_for_local_month_end")
    assert wait.delta == LOCAL_MONTH_SETTLE and wait.mode == "reschedule"


def test_extract_has_a_daily_data_interval_and_catches_up(dagbag: Any) -> None:
    from datetime import UTC, datetime

    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("slo_extract")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup
    interval = dag.timetable.infer_manual_data_interval(
        run_after=datetime(2026, 9, 16, tzinfo=UTC))
    assert (interval.start, interval.end) == (datetime(2026, 9, 15, tzinfo=UTC),
                                              datetime(2026, 9, 16, tzinfo=UTC))


def test_extract_waits_the_extractors_ingest_grace(dagbag: Any) -> None:
    from slo_jobs.core.periods import INGEST_GRACE
    from slo_jobs.sources.prometheus.counters import INGEST_GRACE_S

    wait = dagbag.get_dag("slo_extract").get_task("wait_for_late_scrapes")
    assert wait.delta == INGEST_GRACE and wait.delta.total_seconds() == INGEST_GRACE_S


def test_extract_wiring(dagbag: Any) -> None:
    dag = dagbag.get_dag("slo_extract")
    assert dag.get_task("plan_extract").upstream_task_ids == {"wait_for_late_scrapes"}
    assert dag.get_task("extract_shard").upstream_task_ids == {"plan_extract"}
    assert dag.get_task("publish").upstream_task_ids == {"extract_shard"}
    assert dag.get_task("budget_alerts").upstream_task_ids == {"publish"}
    assert dag.params["shard_size"] == 500
    assert [a.name for a in dag.get_task("publish").outlets] == ["slo_sli_days"]


@pytest.mark.parametrize(("dag_id", "reader"), [("slo_extract", "extract_shard"),
                                                ("slo_monthly_report", "fill_shard")])
def test_prometheus_tasks_share_the_pool_and_back_off(dagbag: Any, dag_id: str,
                                                      reader: str) -> None:
    from slo_common import PROMETHEUS_POOL, SHARD_QUERIES

    task = dagbag.get_dag(dag_id).get_task(reader)
    assert task.pool == PROMETHEUS_POOL
    # a slot per query the shard has in flight: the pool's size bounds the queries
    assert task.pool_slots == SHARD_QUERIES
    assert task.retry_exponential_backoff
    for other in dagbag.get_dag(dag_id).tasks:
        if other.task_id != reader:
            assert other.pool != PROMETHEUS_POOL, other.task_id  # slots are for queries only


def test_pipeline_dag_has_an_hourly_data_interval(dagbag: Any) -> None:
    from datetime import UTC, datetime

    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("slo_pipeline_freshness")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    import pendulum

    interval = dag.timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2026, 9, 16, 5, tz="UTC"))
    assert (interval.start, interval.end) == (datetime(2026, 9, 16, 4, tzinfo=UTC),
                                              datetime(2026, 9, 16, 5, tzinfo=UTC))
    # After a scheduler outage the next run is the first hour missed, not the latest hour.
    from airflow.timetables.base import DataInterval, TimeRestriction

    assert dag.catchup
    after = dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(interval.start, interval.end),
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True))
    assert after is not None and (after.data_interval.start, after.data_interval.end) == (
        datetime(2026, 9, 16, 5, tzinfo=UTC), datetime(2026, 9, 16, 6, tzinfo=UTC))
    assert dag.get_task("record").upstream_task_ids == {"list_pipeline_slos"}
    from slo_common import PROMETHEUS_POOL

    assert all(t.pool != PROMETHEUS_POOL for t in dag.tasks)  # no Prometheus queries here


def test_dag_settings_name_the_library_connection() -> None:
    # slo_common keeps its own copy so that parsing a DAG file imports no data stack.
    import slo_common
    from slo_jobs.sources.endpoint import AIRFLOW_CONN_ID

    assert slo_common.AIRFLOW_CONN_ID == AIRFLOW_CONN_ID
