"""
### Hourly pipeline SLIs

For the hour of the run's data interval: judge every pipeline SLO (run completion from the
Airflow REST API or exported run records, data freshness and completeness from tables) and
replace exactly that hour's minutes in the lake (``sli/``, ``pipeline_age/``,
``pipeline_runs/`` under ``slo=<name>/date=<day>/``), one mapped task per SLO.  Re-running
an hour rewrites the same minutes with the same values; other hours are kept.

* Freshness at a past minute uses only rows loaded by then, so an hour recorded late (or
  re-run) gets the value it had at the time.
* A run is judged at its deadline (interval end + ``within``): the hour holding the
  deadline records it, with its state as the API reports it then.
* **Catchup** is on: hours missed while the scheduler was down or the DAG paused get their
  runs (at most ``max_active_runs`` at a time), as ``slo_extract`` gets its days. A day
  recorded only in part stores how far it is complete (its first minute not recorded), so
  an hour whose run failed for good is filled by the next ``slo-jobs run``, ``backfill`` or
  monthly gap fill, which reads such a day again whole. A long history is faster recorded
  with ``slo-jobs backfill`` (one read per SLO for the whole range).

Runs come from the Airflow Connection ``airflow_api`` (or ``$SLO_JOBS_AIRFLOW_URL``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

default_args: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="slo_pipeline_freshness",
    # The run for hour H covers [H, H + 1h) and starts once the hour is over.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 7, 1, tz="UTC"),
    catchup=True,
    max_active_runs=4,
    default_args=default_args,
    tags=["slo", "pipelines"],
    doc_md=__doc__,
)
def slo_pipeline_freshness() -> None:
    @task
    def list_pipeline_slos() -> list[str]:
        from slo_common import paths
        from slo_jobs.run import tasks

        return tasks.slo_names(paths().slos, source="pipeline")

    @task(map_index_template="{{ slo_name }}")
    def record(slo_name: str, data_interval_start: datetime | None = None,
               data_interval_end: datetime | None = None) -> dict[str, Any]:
        from slo_common import airflow_config, paths
        from slo_jobs.run import tasks

        p = paths()
        return tasks.record_interval(airflow_config, p.slos, p.lake, slo_name,
                                     data_interval_start, data_interval_end)

    record.expand(slo_name=list_pipeline_slos())


slo_pipeline_freshness()
