"""
### Quarterly and yearly SLO roll-ups

``slo_quarterly_rollup`` runs after each calendar quarter (UTC), ``slo_yearly_rollup``
after each year; each SLO's quarter or year is its own in its time zone:

0. **wait_for_local_period_end**: 12 h 10 min past the UTC period, when every zone's
   period has ended (UTC-12 is the last) and late scrapes have arrived.
1. **compute**: the period's SLI, budget and verdict per SLO from the period's own
   events in the lake, its months side by side from the monthly summaries (a month not
   computed is shown as missing: run ``slo_monthly_report`` for it, then clear this
   task), its alert-level burns, and per team and for the organisation the share of
   SLOs met and the budget spent; published into ``rollup/period=<label>/``.
2. **render**: HTML, PDF, JSON and CSV into ``<out>/<label>/`` (``2026-Q3``,
   ``2026``) and the index page.

It reads the lake only: the days come from ``slo_extract`` and ``slo_monthly_report``.
Folders come from ``SLO_JOBS_SLOS_DIR``, ``SLO_JOBS_LAKE_DIR`` and ``SLO_JOBS_OUT_DIR``.
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
# kind -> (dag_id, cron): the run on the first day after a quarter (a year) covers it.
SCHEDULES = {"quarter": ("slo_quarterly_rollup", "0 0 1 1,4,7,10 *"),
             "year": ("slo_yearly_rollup", "0 0 1 1 *")}


def rollup_dag(kind: str) -> Any:
    dag_id, cron = SCHEDULES[kind]

    @dag(
        dag_id=dag_id,
        # An explicit data-interval timetable: the run on Oct 1 covers [Jul 1, Oct 1).
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=default_args,
        tags=["slo", "report", "rollup"],
        doc_md=__doc__,
    )
    def rollup() -> None:
        wait = TimeDeltaSensor(task_id="wait_for_local_period_end",
                               delta=LOCAL_MONTH_SETTLE, mode="reschedule",
                               poke_interval=600)

        @task
        def compute(data_interval_start: datetime | None = None,
                    data_interval_end: datetime | None = None) -> dict[str, Any]:
            from slo_common import paths
            from slo_jobs.run import tasks

            p = paths()
            return tasks.compute_rollup(p.slos, p.lake, kind, data_interval_start,
                                        data_interval_end)

        @task
        def render(computed: dict[str, Any], data_interval_start: datetime | None = None,
                   data_interval_end: datetime | None = None) -> dict[str, str]:
            from slo_common import paths
            from slo_jobs.run import tasks

            p = paths()
            # The render time is the one clock reading the report carries, labelled as such.
            return tasks.render_rollup(p.lake, p.out, kind, data_interval_start,
                                       data_interval_end, rendered_at=pendulum.now("UTC"))

        computed = compute()
        wait >> computed
        render(computed)

    return rollup()


slo_quarterly_rollup = rollup_dag("quarter")
slo_yearly_rollup = rollup_dag("year")
