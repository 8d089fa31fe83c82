"""
### Weekly SLO review

For the ISO week of the run's data interval (Monday to Monday, UTC), each SLO over its
own week in its own time zone:

0. **wait_for_local_week_end**: 12 h 10 min past the UTC week, when every zone's week
   has ended (UTC-12 is the last) and late scrapes have arrived.
1. **review**: the review template filled from the lake (status green/yellow/red per
   service, budget consumption rate and trend, incidents of the week, release
   decisions, the checklist) into ``<out>/weekly/<YYYY-Www>/review.md`` and
   ``review.html``.

It reads the lake only: the days come from ``slo_extract`` (a week whose days are missing
shows them as insufficient data). Folders come from ``SLO_JOBS_SLOS_DIR``,
``SLO_JOBS_LAKE_DIR`` and ``SLO_JOBS_OUT_DIR``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from slo_jobs.core.periods import LOCAL_MONTH_SETTLE  # the library's own: a small stdlib module

default_args: dict[str, Any] = {
    "owner": "sre",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="slo_weekly_review",
    # An explicit data-interval timetable: the run on Monday covers the week before it.
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2026, 7, 6, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["slo", "review"],
    doc_md=__doc__,
)
def slo_weekly_review() -> None:
    wait = TimeDeltaSensor(task_id="wait_for_local_week_end",
                           delta=LOCAL_MONTH_SETTLE, mode="reschedule",
                           poke_interval=600)

    @task
    def review(data_interval_start: datetime | None = None,
               data_interval_end: datetime | None = None) -> dict[str, str]:
        from slo_common import paths
        from slo_jobs.run import tasks

        p = paths()
        # The render time is the one clock reading the review carries, labelled as such.
        return tasks.review_week(p.slos, p.lake, p.out, data_interval_start,
                                 data_interval_end, rendered_at=pendulum.now("UTC"))

    wait >> review()


slo_weekly_review()
