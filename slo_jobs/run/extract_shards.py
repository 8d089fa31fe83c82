"""Extraction in shards of SLOs, one orchestrator task per shard: the daily DAG's day and
the monthly DAG's gap fill.

A plan (``tasks.plan_shards``: each shard's SLOs with their spec hashes and the spec files
defining them) is cut once per run; each shard task parses only its files, refuses SLOs
changed since the plan, and reads its SLOs through one bounded thread pool
(``runner.each``: ``concurrency`` SLOs reading at a time). An SLO that cannot be read does
not cost the others their day: every SLO that can be read is written, then the task fails
naming those that could not, each with its reason, so the orchestrator's retry reads the
shard again. A run replaces exactly its SLOs' partitions of its days, so a retry or a
re-run leaves the lake as one uninterrupted run would.

Each result carries, for operations and benchmarks, the shard's size and cost: ``slos``
(how many), ``partitions`` (SLO-days written), ``seconds`` (the shard's wall time),
``cpu_s`` (user + system CPU of the task's process so far) and ``max_rss_mib`` (its peak
resident memory). These measure the run and never change what it writes.
"""

from __future__ import annotations

import logging
import resource
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..core import periods
from ..core.errors import SloJobsError
from ..lake import LakeDir
from ..lake.daytable import DayResult
from ..sources.pipelines.record import AirflowFor
from ..spec import Slo
from . import runner, tasks
from .sources import PrometheusFor, Sources

# Failed SLOs named with their reasons in the task's error line; the rest are in the log.
NAMED_FAILURES = 5
log = logging.getLogger("slo_jobs")


def plan_extract(slos_dir: Path, shard_size: int) -> list[dict[str, Any]]:
    """The daily extraction's shards: the SLOs read from Prometheus (pipeline SLOs are
    recorded hour by hour by their own DAG), ``shard_size`` to a shard."""
    return tasks.plan_shards(slos_dir, shard_size, source="prometheus")


def plan_fill(slos_dir: Path, shard_size: int) -> list[dict[str, Any]]:
    """The monthly gap fill's shards: every SLO, ``shard_size`` to a shard."""
    return tasks.plan_shards(slos_dir, shard_size)


def extract_shard(config_for: PrometheusFor, slos_dir: Path, lake_dir: LakeDir,
                  interval_start: datetime | None, interval_end: datetime | None,
                  shard: dict[str, Any], concurrency: int = runner.EXTRACT_CONCURRENCY,
                  airflow_for: AirflowFor | None = None) -> dict[str, Any]:
    """Write each SLO's partition of the interval's day for one shard of ``plan_extract``,
    as of the interval's end plus the ingest grace the DAG waits (``periods.INGEST_GRACE``):
    a day with a lagging series is written as not final, and read again by the next run
    that needs it."""
    started = time.perf_counter()
    day = tasks.day_of(interval_start, interval_end)
    assert interval_end is not None  # day_of refuses a missing interval
    slos = tasks.planned(slos_dir, shard, "plan_extract")
    as_of = interval_end + periods.INGEST_GRACE
    failed: dict[str, str] = {}
    with Sources(config_for, airflow_for) as sources:
        def one(slo: Slo) -> list[DayResult]:
            try:
                return runner.extract_slo_days(sources, slo, [day], lake_dir, as_of)
            except Exception as exc:  # any error of one SLO: see _why
                failed[slo.name] = _why(exc)
                return []

        results = [r for rs in runner.each(slos, concurrency, one) for r in rs]
    _refuse_failures(shard, f"day {day}", len(slos), failed)
    return {"index": int(shard["index"]), "day": day.isoformat(),
            "names": sorted(s.name for s in slos), "rows": sum(r.rows for r in results),
            "clipped": sum(r.clipped for r in results),
            **_cost(len(slos), len(results), started)}


def fill_shard(config_for: PrometheusFor, slos_dir: Path, lake_dir: LakeDir,
               interval_start: datetime | None, interval_end: datetime | None,
               shard: dict[str, Any], fill: bool = True,
               concurrency: int = runner.EXTRACT_CONCURRENCY,
               airflow_for: AirflowFor | None = None) -> dict[str, Any]:
    """Extract the days each SLO of one shard of ``plan_fill`` needs for the interval's
    month that have no (complete) partition yet.

    An SLO's month is its calendar month in its own time zone (an America/Los_Angeles
    September reaches into October 1st UTC), plus the burn-rate lookback and its own window
    to date (``runner.month_days``). Days final in the lake (written by the daily DAG or an
    earlier run) are left as they are; days not final (a series lagged at the daily read)
    or without data are read again, keeping what the lake holds. With ``fill=False`` nothing
    is extracted; the days of each SLO's month without a partition are only listed.
    ``filled`` / ``missing`` map each SLO concerned to its days (``2026-09-01..2026-09-14``).
    """
    started = time.perf_counter()
    period = tasks.period_of(interval_start, interval_end)
    slos = tasks.planned(slos_dir, shard, "plan_fill")
    as_of = tasks.settled(period)
    failed: dict[str, str] = {}
    with Sources(config_for, airflow_for) as sources:
        def one(slo: Slo) -> tuple[list[date], list[DayResult]]:
            try:
                missing, others = runner.days_to_extract(lake_dir, slo, period, as_of,
                                                         redo=False)
                if not fill:
                    return missing, []
                return missing, runner.extract_slo_days(sources, slo, missing + others,
                                                        lake_dir, as_of)
            except Exception as exc:  # any error of one SLO: see _why
                failed[slo.name] = _why(exc)
                return [], []

        done = runner.each(slos, concurrency, one)
    _refuse_failures(shard, f"month {period.label}", len(slos), failed)
    listed = {s.name: tasks.day_ranges(days) for s, (days, _) in zip(slos, done, strict=True)
              if days}
    return {"index": int(shard["index"]), "period": period.label,
            "filled": listed if fill else {}, "missing": {} if fill else listed,
            **_cost(len(slos), sum(len(written) for _, written in done), started)}


def day_summary(extracted: list[dict[str, Any]]) -> dict[str, Any]:
    """What a finished day of extraction announces from its shards' results: the day, its
    SLOs and row counts."""
    days = sorted({e["day"] for e in extracted})
    if len(days) != 1:
        raise SloJobsError(f"extracted days: found {days}; expected exactly one day")
    return {"day": days[0], "slos": sorted(n for e in extracted for n in e["names"]),
            "rows": sum(e["rows"] for e in extracted),
            "clipped": sum(e["clipped"] for e in extracted)}


def _why(exc: Exception) -> str:
    """One SLO's failure as one line. Whatever stops one SLO (its source refusing, a
    connection it names missing, data that trips a bug) must not cost the others their day,
    so any error is caught per SLO; the shard still fails, naming it and the error."""
    if isinstance(exc, SloJobsError):
        return runner.reason(exc)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _refuse_failures(shard: dict[str, Any], what: str, slos: int,
                     failed: dict[str, str]) -> None:
    """Fail the shard, after the others are written, naming the SLOs that could not be read
    (every one in the log, the first few in the one-line error)."""
    if not failed:
        return
    # a source's error names its SLO and day already
    lines = [r if r.startswith(f"SLO {n}") else f"SLO {n}: {r}" for n, r in sorted(failed.items())]
    for line in lines:
        log.error("shard %s: %s: %s", shard["index"], what, line)
    more = len(lines) - NAMED_FAILURES
    raise SloJobsError(
        f"shard {shard['index']}: {what}: {len(lines)} of {slos} SLOs not read: "
        + "; ".join(lines[:NAMED_FAILURES])
        + (f"; and {more} more (in the log)" if more > 0 else "")
        + f"; expected every SLO read (the other {slos - len(lines)} are written; a retry "
        "reads the shard again)")


def _cost(slos: int, partitions: int, started: float) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"slos": slos, "partitions": partitions,
            "seconds": round(time.perf_counter() - started, 3),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            # ru_maxrss is in KiB on Linux
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1)}
