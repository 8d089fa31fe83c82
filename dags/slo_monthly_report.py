"""
### Monthly SLO report

For the calendar month of the run's data interval (UTC), each SLO over its own
calendar month in its own time zone:

0. **wait_for_local_month_end**: 12 h 10 min past the UTC month, when every zone's
   month has ended (UTC-12 is the last) and late scrapes have arrived.
1. **plan_fill**, **fill_shard** (one mapped task per shard of ``fill_shard_size``
   SLOs, a run parameter, default 500, in the ``prometheus`` pool as ``slo_extract``'s
   shards): fill the month's gaps, i.e. extract the days that have no partition yet, and
   read again those not final (a series lagged when ``slo_extract`` read them) or without
   data; days already final are kept, and a re-read keeps what the lake holds.  An SLO that
   cannot be read fails its shard once the others are written, naming it.  Trigger with
   ``{"missing_days": "fail"}`` to extract nothing and fail on gaps instead.
2. **check_complete**: fail, naming every SLO and missing day, unless the month
   has a partition for every SLO and day.
3. **plan_shards**, **compute_shard** (one mapped task per shard of
   ``shard_size`` SLOs, a run parameter, default 200) and **merge**: compliance and
   error budgets computed shard by shard, so the workers share the month (the plan
   validates the catalog once and hands each shard its SLOs, their spec hashes and
   the spec files to read, so a shard parses only its own definitions); the merge
   lays the shards end to end, adds what needs every SLO (release reasons,
   priorities, toil) and publishes ``monthly/month=<YYYY-MM>/`` as one set.
4. **render**: HTML, PDF, JSON and CSV into ``<out>/<YYYY-MM>/``, then an event
   on the Asset ``slo_monthly_report`` naming the month.  A month of more than
   ``pdf_max_slos`` SLOs (a run parameter, default 1,000) gets no whole-month PDF;
   ``slo-jobs report --service`` renders one service's.  Then, whatever the month's
   size, each team's PDF (``report-team-<team>.pdf``, the SLOs of that ``team``
   label), named in the task's result under ``team_pdfs``.
5. **deliver_email**, **deliver_chat**, **publish** (each on its own, after the
   render, retried without rendering again): an email per team of the team file with
   addresses (its SLOs' verdicts, the month's PDF attached) through the Connection
   ``smtp_default``, the month's summary to chat through ``slack_default``, and a copy of
   ``<out>/<YYYY-MM>/`` to ``$SLO_JOBS_PUBLISH_URL``.  A channel not set up is skipped
   with a log line; the lake's delivery ledger keeps a re-run or a retry from sending a
   message twice.

Every output belongs to its month: re-running or backfilling a month replaces that
month's files only.  Backfill a range, one month after the other (each month's trend reads
the one before; a backfill is not held to the DAG's ``max_active_runs``), with
``airflow backfill create --dag-id slo_monthly_report --from-date 2026-07-01
--to-date 2026-09-01 --max-active-runs 1``.

Prometheus is read through the Airflow Connection ``prometheus_default`` (or
``$SLO_JOBS_PROMETHEUS_URL``; an SLO may name another connection with the label
``prometheus_conn_id``).  Folders come from ``SLO_JOBS_SLOS_DIR``,
``SLO_JOBS_LAKE_DIR`` and ``SLO_JOBS_OUT_DIR``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from slo_common import EXTRACT_SHARD_SIZE, MONTHLY_REPORT, PROMETHEUS_POOL, SHARD_QUERIES
from slo_jobs.core.periods import LOCAL_MONTH_SETTLE  # the library's own: a small stdlib module

# SLOs per compute_shard task: a month of 200 of them took about 8 s and 0.37 GiB in
# bench/scale.py on 2 cores, two at a time, and a month of 10,000 SLOs is 50 tasks.
SHARD_SIZE = 200

# The whole-month PDF has a page or more per SLO; WeasyPrint laid out 200 SLOs in 22 s and
# 0.6 GiB (bench/report.py), so 10,000 would take the render task most of an hour and many
# GiB. Above this the month gets HTML, JSON and CSV and each team's PDF (always rendered),
# and PDFs per service on demand.
PDF_MAX_SLOS = 1000

default_args: dict[str, Any] = {
    "owner": "sre",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="slo_monthly_report",
    # An explicit data-interval timetable: the run for July covers [Jul 1, Aug 1).
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 7, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    params={"missing_days": Param("fill", enum=["fill", "fail"],
                                  description="Days without a partition: extract or fail."),
            "shard_size": Param(SHARD_SIZE, type="integer", minimum=1,
                                description="SLOs per compute task."),
            "fill_shard_size": Param(EXTRACT_SHARD_SIZE, type="integer", minimum=1,
                                     description="SLOs per fill_shard task."),
            "pdf_max_slos": Param(PDF_MAX_SLOS, type="integer", minimum=0,
                                  description="Months of more SLOs get no whole-month PDF.")},
    tags=["slo", "report"],
    doc_md=__doc__,
)
def slo_monthly_report() -> None:
    wait = TimeDeltaSensor(task_id="wait_for_local_month_end",
                           delta=LOCAL_MONTH_SETTLE, mode="reschedule",
                           poke_interval=600)

    @task
    def plan_fill(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from slo_common import paths
        from slo_jobs.run import extract_shards

        return extract_shards.plan_fill(paths().slos, int(
            (params or {}).get("fill_shard_size", EXTRACT_SHARD_SIZE)))

    @task(pool=PROMETHEUS_POOL, pool_slots=SHARD_QUERIES,
          map_index_template="{{ shard['index'] }}")
    def fill_shard(shard: dict[str, Any], params: dict[str, Any] | None = None,
                   data_interval_start: datetime | None = None,
                   data_interval_end: datetime | None = None) -> dict[str, Any]:
        from slo_common import airflow_config, paths, prometheus_config
        from slo_jobs.run import extract_shards

        p = paths()
        return extract_shards.fill_shard(
            prometheus_config, p.slos, p.lake, data_interval_start, data_interval_end, shard,
            fill=(params or {}).get("missing_days", "fill") == "fill",
            concurrency=SHARD_QUERIES, airflow_for=airflow_config)

    @task
    def check_complete(extracted: list[dict[str, Any]],
                       data_interval_start: datetime | None = None,
                       data_interval_end: datetime | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from slo_common import paths
        from slo_jobs.core.errors import SloJobsError
        from slo_jobs.run import tasks

        p = paths()
        try:
            return tasks.check_month(p.slos, p.lake, data_interval_start, data_interval_end)
        except SloJobsError as exc:
            raise AirflowFailException(str(exc)) from None  # gaps do not fill by retrying

    @task
    def plan_shards(checked: dict[str, Any],
                    params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from slo_common import paths
        from slo_jobs.run import tasks

        return tasks.plan_shards(paths().slos, int((params or {}).get("shard_size",
                                                                      SHARD_SIZE)))

    @task(map_index_template="{{ shard['index'] }}")
    def compute_shard(shard: dict[str, Any], data_interval_start: datetime | None = None,
                      data_interval_end: datetime | None = None) -> dict[str, Any]:
        from slo_common import paths
        from slo_jobs.run import tasks

        p = paths()
        return tasks.compute_shard(p.slos, p.lake, data_interval_start, data_interval_end,
                                   shard)

    @task
    def merge(computed: list[dict[str, Any]], data_interval_start: datetime | None = None,
              data_interval_end: datetime | None = None) -> str:
        from slo_common import paths
        from slo_jobs.run import tasks

        p = paths()
        return tasks.merge_month(p.slos, p.lake, data_interval_start, data_interval_end,
                                 list(computed))

    @task(outlets=[MONTHLY_REPORT])
    def render(summary_path: str, data_interval_start: datetime | None = None,
               data_interval_end: datetime | None = None,
               params: dict[str, Any] | None = None,
               outlet_events: Any = None) -> dict[str, Any]:
        from slo_common import paths, prometheus_config
        from slo_jobs.run import tasks

        p = paths()
        # The render time is the one clock reading a report carries, labelled as such; its
        # figures are as of the data interval's end.
        files = tasks.render_month(prometheus_config, p.slos, p.lake, p.out,
                                   data_interval_start, data_interval_end,
                                   rendered_at=pendulum.now("UTC"),
                                   pdf_max_slos=int((params or {}).get("pdf_max_slos",
                                                                       PDF_MAX_SLOS)))
        outlet_events[MONTHLY_REPORT].extra = files
        return files

    @task
    def deliver_email(files: dict[str, str]) -> dict[str, Any]:
        import os

        from airflow.sdk import get_current_context

        from slo_common import paths, senders
        from slo_jobs.deliver import monthly

        context = get_current_context()
        send, _ = senders(context)
        if send is None:
            return {"skipped": "email"}
        p = paths()
        return monthly.send_emails(p.lake, p.slos, p.out, files["period"], send,
                                   os.environ.get("SLO_JOBS_REPORT_URL"),
                                   context["data_interval_end"], files.get("pdf_skipped", ""))

    @task
    def deliver_chat(files: dict[str, str]) -> dict[str, Any]:
        import os

        from airflow.sdk import get_current_context

        from slo_common import paths, senders
        from slo_jobs.deliver import monthly

        context = get_current_context()
        _, send = senders(context)
        if send is None:
            return {"skipped": "chat"}
        p = paths()
        return monthly.send_chat(p.lake, p.out, files["period"], send,
                                 os.environ.get("SLO_JOBS_REPORT_URL"),
                                 context["data_interval_end"])

    @task
    def publish(files: dict[str, str]) -> dict[str, Any]:
        from slo_common import log, paths, publish_location
        from slo_jobs.deliver import monthly

        dest = publish_location()
        if dest is None:
            log.info("publish: skipped, SLO_JOBS_PUBLISH_URL is not set")
            return {"skipped": "publish"}
        return {"copied": monthly.publish(paths().out, files["period"], dest)}

    fill_plan = plan_fill()
    wait >> fill_plan
    shards = plan_shards(check_complete(fill_shard.expand(shard=fill_plan)))
    files = render(merge(compute_shard.expand(shard=shards)))
    deliver_email(files)
    deliver_chat(files)
    publish(files)


slo_monthly_report()
