"""One SLO-day as every SLI source yields it, and the one writer that puts it in the lake.

Sources (``slo_jobs.run.sources``) only read: Prometheus, VictoriaMetrics, the Airflow API and
tables all hand back ``DayTable`` values, every day of a request read before any is written,
so a source failing half way leaves the lake as it was. ``write`` is the only place a day's
partitions are written: the detail tables first, then the SLI partition, whose presence marks
the day as extracted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import lake
from ..core.errors import LakeError
from . import LakeDir, atomicio


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
    # spec.errorCategories: bad events per minute and category (lake.CATEGORY_SCHEMA)
    categories: pa.Table | None = None
    # spec.indicator.latency.buckets: observations per minute and bound (lake.BUCKETS_SCHEMA)
    buckets: pa.Table | None = None
    notes: tuple[str, ...] = ()  # what the report's data-quality section should say
    # Set when the day was read before it was complete (it is still running, or the source
    # had not ingested all of it): later buckets are "no data" for now, and the day is
    # extracted again once it can be complete.
    complete_until: datetime | None = None
    # Buckets holding the first sample of a series new to the read (extract.samples.Counted
    # .first): where the lake already has data, its value is kept (see ``_kept``).
    unsure: np.ndarray | None = None


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


# The partition note of a day whose re-read found less than the lake holds; one text for
# every day, so the report lists the days it applies to (gaps.extract_notes).
KEPT_NOTE = ("the source no longer holds some minutes the lake has (retention, an outage or "
             "another URL): kept the lake's")
log = logging.getLogger("slo_jobs")


def _kept(old: pa.Table | None, new: pa.Table, before: bool | None = None,
          unsure: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(the buckets to take from ``old``, the lake's partition, instead of ``new``, a
    re-read; those of them where the re-read has no data). None when there are none or the
    two do not align (another bucket width). ``before``: whether the re-read had data in
    the bucket just before this day (None: not read).

    Besides the buckets the re-read has no data for, the lake's value is kept in the first
    bucket with data after such a stretch, when the lake has it too: there the re-read
    counts from a sample before the stretch (the events of a gap land in the bucket after
    it, which the kept buckets already hold) or from no sample at all (the first one a
    source still holds is only a baseline), so only the lake's value adds up."""
    if old is None or old.num_rows != new.num_rows or not old.column("ts").equals(
            new.column("ts")) or not old.column("step_s").equals(new.column("step_s")):
        return None
    had = old.column("has_data").to_numpy(zero_copy_only=False)
    has = new.column("has_data").to_numpy(zero_copy_only=False)
    lost = had & ~has
    doubt = had & has & (unsure if unsure is not None else False)
    if not lost.any() and not doubt.any() and before is not False:
        return None
    prev = np.concatenate([[True if before is None else before], has[:-1]])
    # Buckets kept before each bucket since the re-read last had data.
    kept = np.concatenate([[0], np.cumsum(lost)])
    last = np.maximum.accumulate(np.where(has, np.arange(len(has)), -1))
    since = kept[np.arange(len(has))] - kept[np.concatenate([[-1], last[:-1]]) + 1]
    closing = has & ~prev & had & ((since > 0) | ((np.arange(len(has)) == 0) & (before is False)))
    keep = lost | closing | doubt
    return (keep, lost) if keep.any() else None


def _merged(old: pa.Table, new: pa.Table, keep: np.ndarray) -> pa.Table:
    """``new`` with ``old``'s buckets where ``keep``."""
    cols = {c: np.where(keep, old.column(c).to_numpy(zero_copy_only=False),
                        new.column(c).to_numpy(zero_copy_only=False))
            for c in ("good", "total", "clipped", "has_data")}
    return pa.table({"ts": new.column("ts"), **cols, "step_s": new.column("step_s")},
                    schema=lake.SLI_SCHEMA)


def _old(path: LakeDir) -> pa.Table | None:
    """The lake's partition at ``path``; None when there is none, or none readable (a
    corrupt file is replaced, as before)."""
    try:
        return lake.read_verified(path) if path.exists() else None
    except LakeError:
        return None


def write(lake_dir: LakeDir, slo: str, d: DayTable, before: bool | None = None,
          held: Collection[str] = lake.DETAIL_TABLES) -> DayResult:
    """Write this SLO-day's partitions (each whole, see ``lake.write_atomic``).

    The lake is the record: where the partition already there has data and this read has
    none (the source's retention ended, an outage, a wrong URL), its buckets (and their
    breakdown and category rows) are kept, and the partition and the log say so; buckets
    both have data for take this read's (but see ``_kept``). ``before``: whether this read
    had data in the bucket just before the day (None: the day was the first of its read).
    ``held``: the detail tables that may hold this SLO (``lake.tables_of``): a table
    without a folder for it has no partition of this day to remove."""
    path = lake.sli_partition(lake_dir, slo, d.day)
    old = _old(path)
    kept = _kept(old, d.table, before, d.unsure)
    table, notes = d.table, d.notes
    # Tables of events per minute beside the SLI partition, merged as its buckets are.
    details = {"breakdown": (d.breakdown, lake.BREAKDOWN_SCHEMA),
               "categories": (d.categories, lake.CATEGORY_SCHEMA),
               "buckets": (d.buckets, lake.BUCKETS_SCHEMA)}
    if old is not None and kept is not None:
        keep, lost = kept
        table = _merged(old, d.table, keep)
        if lost.any():
            notes = (*(n for n in notes if n != KEPT_NOTE), KEPT_NOTE)
            log.warning("SLO %s, %s: the source no longer holds %d minutes the lake has; "
                        "kept the lake's", slo, d.day,
                        int(lost.sum() * table.column("step_s")[0].as_py() // 60))
        taken = table.column("ts").filter(pa.array(keep))
        for name, (found, schema) in list(details.items()):
            stored = lake.detail_partition(lake_dir, name, slo, d.day)
            if found is not None and name in held and stored.exists():
                details[name] = (_with_kept(found, stored, schema, taken), schema)
    if d.ages is not None:
        lake.write_atomic(d.ages, lake.detail_partition(lake_dir, "pipeline_age", slo, d.day))
    if d.runs is not None:
        lake.write_atomic(d.runs, lake.detail_partition(lake_dir, "pipeline_runs", slo, d.day))
    for name, (found, _) in details.items():
        if found is not None:
            lake.write_atomic(found, lake.detail_partition(lake_dir, name, slo, d.day))
        elif name in held:
            # Such a table must describe the SLI partition beside it: one from an earlier
            # definition would attribute events this day's read no longer has.
            lake.detail_partition(lake_dir, name, slo, d.day).unlink(missing_ok=True)
    rows = sum(chunk.true_count for chunk in table.column("has_data").chunks)
    meta = lake.partition_metadata(notes, d.complete_until, no_data=rows == 0)
    lake.write_atomic(table.replace_schema_metadata(meta) if meta else table, path)
    return DayResult(slo, d.day, rows, d.clipped, path, d.unusable, notes, d.complete_until)


def _with_kept(new: pa.Table, path: LakeDir, schema: pa.Schema, taken: pa.Array) -> pa.Table:
    """A detail table's rows of this read, but the lake's own for the buckets it keeps."""
    prior = lake.read_detail(path, schema)
    return pa.concat_tables([new.filter(pc.invert(pc.is_in(new.column("ts"), taken))),
                             prior.filter(pc.is_in(prior.column("ts"), taken))]).sort_by("ts")


def clear_temps(lake_dir: LakeDir, slo: str, days: list[date]) -> None:
    """Delete temp files a killed writer left in this SLO's day folders (the SLI and the
    detail tables); call under ``lake.slo_lock``."""
    lake.remove_stale_temps(lake_dir, slo, days, ("sli", *lake.DETAIL_TABLES))


def replace(lake_dir: LakeDir, slo: str, days: list[date],
            tables: list[DayTable]) -> list[DayResult]:
    """Replace this SLO's ``days`` with ``tables`` (all read before): under its lock, after
    clearing temp files a killed writer left, so a re-run leaves the lake as an
    uninterrupted run would. The one way every source's days reach the lake."""
    # The days' files are synced together and renamed in the order written, at the end.
    with lake.slo_lock(lake_dir, slo), atomicio.synced_together(LakeError):
        clear_temps(lake_dir, slo, days)
        held = lake.tables_of(lake_dir, slo, lake.DETAIL_TABLES)
        out: list[DayResult] = []
        before: bool | None = None
        for i, d in enumerate(tables):
            # The bucket before a day is the previous day's last, when both were read together.
            follows = i > 0 and (d.day - tables[i - 1].day).days == 1
            out.append(write(lake_dir, slo, d, before if follows else None, held))
            before = bool(d.table.column("has_data")[-1].as_py())
        return out
