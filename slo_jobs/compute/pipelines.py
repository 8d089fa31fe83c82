"""The month of each pipeline SLO, for the report's "Data pipelines" section.

Reads the detail tables the record step wrote (``pipeline_age``, ``pipeline_runs``) and
writes, beside the compute stage's outputs under ``<lake>/monthly/month=<label>/``:

* ``pipelines.parquet``: one row per pipeline SLO: the dbt-style status of the age at the
  period's end, stale minutes, the oldest age seen, and run counts (late, failed, missing);
* ``pipeline_late_runs.parquet``: every run judged bad in the period, with how late;
* ``pipeline_hours.parquet``: per freshness SLO, the five hours with the most stale minutes.

The period is the SLO's own calendar month (its time zone), as in the compute stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from .. import lake
from ..core import periods
from ..core.periods import BUCKET, DAY, Period
from ..lake import AGE_SCHEMA, RUN_SCHEMA, LakeDir, detail_partition
from ..sources.pipelines import judge
from ..spec import FreshnessSli, Slo

PIPELINE_KINDS = ("freshness", "completion", "completeness")
WORST_HOURS = 5


def _rows(lake_dir: LakeDir, table: str, schema: pa.Schema, slo: str, start: datetime,
          end: datetime) -> list[dict[str, Any]]:
    tables = []
    for day in periods.utc_days(Period("", start - DAY, end)):
        path = detail_partition(lake_dir, table, slo, day)
        if path.exists():
            tables.append(lake.read_detail(path, schema))
    return pa.concat_tables(tables).to_pylist() if tables else []


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _freshness(lake_dir: LakeDir, slo: Slo, local: Period, row: dict[str, Any],
               hours: list[dict[str, Any]]) -> None:
    ages = [a for a in _rows(lake_dir, "pipeline_age", AGE_SCHEMA, slo.name, local.start,
                             local.end) if local.start <= a["ts"] < local.end]
    if not ages:
        return  # no ages recorded (a lake written before they were kept): details n/a
    assert isinstance(slo.sli, FreshnessSli)
    fresh = slo.sli
    limit = fresh.max_age.total_seconds()
    stale = [a for a in ages if a["age_s"] is None or a["age_s"] > limit]
    last = ages[-1] if ages and ages[-1]["ts"] == local.end - BUCKET else None
    end_age = None if last is None else last["age_s"]
    row.update(minutes=len(ages), stale_minutes=len(stale),
               oldest_age_s=max((a["age_s"] for a in ages if a["age_s"] is not None),
                                default=None),
               age_at_end_s=end_age,
               status=judge.dbt_status(end_age, _seconds(fresh.warn_after),
                                       _seconds(fresh.error_after)) if last else None)
    by_hour: dict[datetime, list[dict[str, Any]]] = {}
    for a in ages:
        by_hour.setdefault(a["ts"].replace(minute=0, second=0, microsecond=0), []).append(a)
    ranked = sorted(by_hour.items(), key=lambda kv: (
        -sum(1 for a in kv[1] if a["age_s"] is None or a["age_s"] > limit),
        -max((a["age_s"] or float("inf")) for a in kv[1]), kv[0]))
    for hour, minutes in ranked[:WORST_HOURS]:
        bad = sum(1 for a in minutes if a["age_s"] is None or a["age_s"] > limit)
        if bad:
            hours.append({"slo": slo.name, "hour": hour, "stale_minutes": bad,
                          "oldest_age_s": max((a["age_s"] for a in minutes
                                               if a["age_s"] is not None), default=None)})


def _completion(lake_dir: LakeDir, slo: Slo, local: Period, row: dict[str, Any],
                late: list[dict[str, Any]]) -> None:
    runs = [r for r in _rows(lake_dir, "pipeline_runs", RUN_SCHEMA, slo.name, local.start,
                             local.end + DAY)
            if local.start < r["deadline"] <= local.end]
    row.update(runs=len(runs), runs_good=sum(1 for r in runs if r["good"]),
               runs_missing=sum(1 for r in runs if r["state"] == "missing"),
               runs_failed=sum(1 for r in runs if r["state"] not in ("success", "missing")),
               runs_late=sum(1 for r in runs if r["state"] == "success" and not r["good"]))
    late.extend({"slo": slo.name, **r} for r in runs if not r["good"])


def summarise(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
              folder: LakeDir | None = None) -> list[dict[str, Any]]:
    """Write the month's pipeline tables (empty when no SLO is a pipeline SLO) into
    ``folder`` (default: the month's folder in the lake)."""
    rows: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    hours: list[dict[str, Any]] = []
    for slo in slos:
        if slo.kind not in PIPELINE_KINDS:
            continue
        local = periods.calendar("month", period.label, slo.time_zone)
        src = slo.pipeline
        fresh = slo.sli if isinstance(slo.sli, FreshnessSli) else None
        row: dict[str, Any] = {
            "slo": slo.name, "service": slo.service, "kind": slo.kind,
            "source": "prometheus" if src is None else (
                "airflow-api" if src.table is None else src.table.written),
            "max_age_s": _seconds(fresh.max_age if fresh else None),
            "within_s": None if src is None else _seconds(src.within),
            "warn_after_s": _seconds(fresh.warn_after if fresh else None),
            "error_after_s": _seconds(fresh.error_after if fresh else None),
            "minutes": None, "stale_minutes": None, "oldest_age_s": None,
            "age_at_end_s": None, "status": None, "runs": None, "runs_good": None,
            "runs_missing": None, "runs_failed": None, "runs_late": None}
        if slo.kind == "freshness":  # a table or a Prometheus gauge: both keep their ages
            _freshness(lake_dir, slo, local, row, hours)
        elif src is not None and src.kind == "completion":
            _completion(lake_dir, slo, local, row, late)
        rows.append(row)
    folder = folder or lake.monthly_partition(lake_dir, period.label).parent
    for name, table in (("pipelines", rows), ("pipeline_late_runs", late),
                        ("pipeline_hours", hours)):
        data = pa.Table.from_pylist(table) if table else pa.table(
            {"slo": pa.array([], pa.string())})
        lake.write_atomic(data, folder / f"{name}.parquet")
    return rows
