"""
### Monthly SLO report

For the calendar month of the run's data interval: extract every SLO's SLI
history from Prometheus into the Parquet lake (one mapped task per SLO),
compute compliance and error budgets with DuckDB, and render the HTML, PDF and
JSON report into ``<out>/<YYYY-MM>/``.

Prometheus is read through the Airflow Connection ``prometheus_default`` (or
``$SLO_JOBS_PROMETHEUS_URL``). Folders come from ``SLO_JOBS_SLOS_DIR``,
``SLO_JOBS_LAKE_DIR`` and ``SLO_JOBS_OUT_DIR``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

default_args: dict[str, Any] = {
    "owner": "sre",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="slo_monthly_report",
    # An explicit data-interval timetable: the run for July covers [Jul 1, Aug 1).
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 7, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["slo", "report"],
    doc_md=__doc__,
)
def slo_monthly_report() -> None:
    @task
    def list_slos() -> list[str]:
        from slo_common import paths
        from slo_jobs import tasks

        return tasks.slo_names(paths().slos)

    @task(map_index_template="{{ slo_name }}")
    def extract(slo_name: str, data_interval_start: datetime | None = None,
                data_interval_end: datetime | None = None) -> dict[str, Any]:
        from slo_common import paths, prometheus_config
        from slo_jobs import tasks

        p = paths()
        return tasks.extract_month(prometheus_config(), p.slos, p.lake, slo_name,
                                   data_interval_start, data_interval_end)

    @task
    def compute(extracted: list[dict[str, Any]], data_interval_start: datetime | None = None,
                data_interval_end: datetime | None = None) -> str:
        from slo_common import paths
        from slo_jobs import tasks

        p = paths()
        return tasks.compute_month(p.slos, p.lake, data_interval_start, data_interval_end)

    @task
    def render(summary_path: str, data_interval_start: datetime | None = None,
               data_interval_end: datetime | None = None) -> dict[str, str]:
        from slo_common import paths, prometheus_config
        from slo_jobs import tasks

        p = paths()
        return tasks.render_month(p.lake, p.out, prometheus_config().url,
                                  data_interval_start, data_interval_end)

    render(compute(extract.expand(slo_name=list_slos())))


slo_monthly_report()
