"""One SLO-day as every SLI source yields it, and the one writer that puts it in the lake.

Sources (``slo_jobs.sources``) only read: Prometheus, VictoriaMetrics, the Airflow API and
tables all hand back ``DayTable`` values, every day of a request read before any is written,
so a source failing half way leaves the lake as it was. ``write`` is the only place a day's
partitions are written: the detail tables first, then the SLI partition, whose presence marks
the day as extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from . import lake
from .lake import LakeDir


@dataclass(frozen=True)
class DayTable:
    """Every bucket of one UTC day of one SLO (``lake.SLI_SCHEMA``) and its details."""

    day: date
    table: pa.Table
    clipped: int  # buckets whose good events exceeded total (clipped to total)
    unusable: int = 0  # buckets dropped to "no data": a NaN, infinite or negative value
    ages: pa.Table | None = None  # a freshness SLI's age per bucket (lake.AGE_SCHEMA)
    runs: pa.Table | None = None  # a completion SLI's judged runs (lake.RUN_SCHEMA)
    # spec.breakdown: events per minute and label values (lake.BREAKDOWN_SCHEMA)
    breakdown: pa.Table | None = None
    notes: tuple[str, ...] = ()  # what the report's data-quality section should say
    # Set when the day was read before it was complete (it is still running, or the source
    # had not ingested all of it): later buckets are "no data" for now, and the day is
    # extracted again once it can be complete.
    complete_until: datetime | None = None


@dataclass(frozen=True)
class DayResult:
    """What writing one SLO-day produced."""

    slo: str
    day: date
    rows: int  # buckets with data
    clipped: int
    path: LakeDir
    unusable: int = 0
    notes: tuple[str, ...] = ()
    complete_until: datetime | None = None  # None: the whole day; else read again later


def write(lake_dir: LakeDir, slo: str, d: DayTable) -> DayResult:
    """Replace exactly this SLO-day's partitions (each whole, see ``lake.write_atomic``)."""
    if d.ages is not None:
        lake.write_atomic(d.ages, lake.detail_partition(lake_dir, "pipeline_age", slo, d.day))
    if d.runs is not None:
        lake.write_atomic(d.runs, lake.detail_partition(lake_dir, "pipeline_runs", slo, d.day))
    attributed = lake.detail_partition(lake_dir, "breakdown", slo, d.day)
    if d.breakdown is not None:
        lake.write_atomic(d.breakdown, attributed)
    else:
        # A breakdown must describe the SLI partition beside it: one from an earlier
        # definition would attribute events this day's read no longer has.
        attributed.unlink(missing_ok=True)
    path = lake.sli_partition(lake_dir, slo, d.day)
    meta = lake.partition_metadata(d.notes, d.complete_until)
    lake.write_atomic(d.table.replace_schema_metadata(meta) if meta else d.table, path)
    rows = int(pc.sum(d.table.column("has_data").cast(pa.int64())).as_py() or 0)
    return DayResult(slo, d.day, rows, d.clipped, path, d.unusable, d.notes, d.complete_until)


def clear_temps(lake_dir: LakeDir, slo: str, days: list[date]) -> None:
    """Delete temp files a killed writer left in this SLO's day folders (the SLI and the
    detail tables); call under ``lake.slo_lock``."""
    lake.remove_stale_temps(lake_dir, slo, days, ("sli", *lake.DETAIL_TABLES))


def replace(lake_dir: LakeDir, slo: str, days: list[date],
            tables: list[DayTable]) -> list[DayResult]:
    """Replace this SLO's ``days`` with ``tables`` (all read before): under its lock, after
    clearing temp files a killed writer left, so a re-run leaves the lake as an
    uninterrupted run would. The one way every source's days reach the lake."""
    with lake.slo_lock(lake_dir, slo):
        clear_temps(lake_dir, slo, days)
        return [write(lake_dir, slo, d) for d in tables]
