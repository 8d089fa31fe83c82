"""
### Daily SLI extraction

Pipeline SLOs (runs from the Airflow API, load times from tables) are recorded hourly by
``slo_pipeline_freshness`` instead.

For the UTC day of the run's data interval: pull every SLO's good/total history
from Prometheus and replace exactly that day's partitions in the Parquet lake
(``sli/slo=<name>/date=<day>/``), in shards of SLOs: ``plan_extract`` validates the
catalog once and cuts it into shards of ``shard_size`` SLOs (a run parameter, default 500),
each with its SLOs' spec hashes and the spec files to read; one mapped ``extract_shard``
task per shard parses only its files (and refuses, in one line, SLOs changed since the
plan) and reads its SLOs two at a time.  10,000 SLOs are 20 tasks a day, not 10,000.
Re-running a day rewrites the same files; other days are never touched.

* **One SLO failing** (Prometheus refusing its query, say) costs the others nothing:
  the shard writes every SLO it can, then fails naming the SLOs not read with their
  reasons, and its retry reads the shard again.
* **Result** of each shard (XCom): its index, day, SLO names, rows, and what it cost:
  ``slos``, ``partitions``, ``seconds``, ``cpu_s`` (the task process's CPU) and
  ``max_rss_mib`` (its peak memory).
* **Catchup** is on: a new deployment fills its history from ``start_date``
  (days older than Prometheus' retention are written empty and show as missing
  coverage in the monthly report).
* **Pool** ``prometheus`` caps concurrent Prometheus queries across all runs: a shard
  task holds two slots (``slo_common.SHARD_QUERIES``) for its two reads in flight, so a
  pool of 4 runs two shards at once; create it once, with at least 2 slots:
  ``airflow pools set prometheus 4 "Prometheus query_range"``.
* **Retries** back off exponentially (1 min, 2 min, 4 min, ... up to 30 min).
* The run waits the ingest grace (``slo_jobs.core.periods.INGEST_GRACE``, 15 minutes) past
  the end of the day so late scrapes are in, and reads the day as of then: a day one of
  whose series still lags is written as not final and read again by the monthly report.
* When every SLO's partition of the day is written, the Asset ``slo_sli_days``
  gets an event whose extra names the day.
* Then ``budget_alerts`` computes each SLO's month to date as of the day's end and warns
  its team once per threshold of the team file's ``budgetAlerts`` it crossed (email through
  the Connection ``smtp_default``, a chat message through ``slack_default``; either may be
  missing). A backfill, or a run started more than a day after its day, sends nothing
  unless triggered with the param ``notify_past`` (docs/report.md, "Budget alerts").

Prometheus comes from the Airflow Connection ``prometheus_default`` (an SLO may
name another with the label ``prometheus_conn_id``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from slo_common import EXTRACT_SHARD_SIZE, PROMETHEUS_POOL, SHARD_QUERIES, SLI_DAYS
from slo_jobs.core.periods import INGEST_GRACE  # the extractor's own: a small stdlib module

default_args: dict[str, Any] = {
    "owner": "sre",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="slo_extract",
    # The run for day D covers [D, D + 1) and starts once D is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 7, 1, tz="UTC"),
    catchup=True,
    max_active_runs=4,
    default_args=default_args,
    params={"notify_past": Param(False, type="boolean",
                                 description="send budget alerts for a day long past "
                                             "(a backfill or catch-up run) too"),
            "shard_size": Param(EXTRACT_SHARD_SIZE, type="integer", minimum=1,
                                description="SLOs per extract_shard task.")},
    tags=["slo", "extract"],
    doc_md=__doc__,
)
def slo_extract() -> None:
    wait = TimeDeltaSensor(task_id="wait_for_late_scrapes", delta=INGEST_GRACE,
                           mode="reschedule", poke_interval=120)

    @task
    def plan_extract(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from slo_common import paths
        from slo_jobs.run import extract_shards

        return extract_shards.plan_extract(paths().slos, int(
            (params or {}).get("shard_size", EXTRACT_SHARD_SIZE)))

    @task(pool=PROMETHEUS_POOL, pool_slots=SHARD_QUERIES,
          map_index_template="{{ shard['index'] }}")
    def extract_shard(shard: dict[str, Any], data_interval_start: datetime | None = None,
                      data_interval_end: datetime | None = None) -> dict[str, Any]:
        from slo_common import paths, prometheus_config
        from slo_jobs.run import extract_shards

        p = paths()
        return extract_shards.extract_shard(prometheus_config, p.slos, p.lake,
                                            data_interval_start, data_interval_end, shard,
                                            SHARD_QUERIES)

    @task(outlets=[SLI_DAYS])
    def publish(extracted: list[dict[str, Any]], outlet_events: Any = None) -> dict[str, Any]:
        from slo_jobs.run import extract_shards

        outlet_events[SLI_DAYS].extra = extract_shards.day_summary(extracted)
        return dict(outlet_events[SLI_DAYS].extra)

    @task
    def budget_alerts(day: dict[str, Any], **context: Any) -> dict[str, Any]:
        from slo_common import paths, senders
        from slo_jobs.run import tasks

        p, run = paths(), context["dag_run"]
        send_email, send_chat = senders(context)
        run_type = str(getattr(run.run_type, "value", run.run_type))
        return tasks.budget_alerts(p.slos, p.lake, context["data_interval_start"],
                                   context["data_interval_end"], run_type,
                                   run.start_date, bool(context["params"]["notify_past"]),
                                   send_email, send_chat)

    plan = plan_extract()
    wait >> plan
    budget_alerts(publish(extract_shard.expand(shard=plan)))


slo_extract()
