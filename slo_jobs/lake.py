"""The Parquet lake: layout, atomic partition writes, and reads.

Layout (all times UTC)::

    <lake>/sli/slo=<name>/date=YYYY-MM-DD/part-0.parquet     one row per SLI bucket of the day
    <lake>/monthly/month=YYYY-MM/summary.parquet              one row per SLO and month

A partition is written to a temporary file in its own folder and renamed over
the old one (:mod:`atomicio`), so readers see the old or the new file, never half of one.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from . import atomicio
from .errors import LakeError
from .names import SAFE_NAME

SLI_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # bucket start
    pa.field("good", pa.float64(), nullable=False),
    pa.field("total", pa.float64(), nullable=False),
    pa.field("clipped", pa.bool_(), nullable=False),  # good > total was clipped to total
    pa.field("has_data", pa.bool_(), nullable=False),  # false: Prometheus returned nothing
    pa.field("step_s", pa.int32(), nullable=False),
])
PART = "part-0.parquet"
# Parquet key-value metadata of an SLI partition: what the extractor noticed about the day's
# data (e.g. a selector that matched no series), one note per line, for the report.
NOTES_KEY = b"slo_jobs.notes"
# Set on a partition read before its day was complete: the instant up to which it is.
COMPLETE_UNTIL_KEY = b"slo_jobs.complete_until"
_TS = pa.timestamp("us", tz="UTC")
# Detail tables of pipeline SLIs, partitioned like the SLI buckets (see docs/architecture.md).
AGE_SCHEMA = pa.schema([
    pa.field("ts", _TS, nullable=False),  # bucket start
    pa.field("age_s", pa.float64()),  # freshness: age at the bucket's end; null: none loaded
])
RUN_SCHEMA = pa.schema([
    pa.field("run_id", pa.string()),  # null: no run for an expected interval
    pa.field("data_interval_start", _TS, nullable=False),
    pa.field("data_interval_end", _TS, nullable=False),
    pa.field("deadline", _TS, nullable=False),
    pa.field("start_date", _TS),
    pa.field("end_date", _TS),
    pa.field("state", pa.string(), nullable=False),
    pa.field("good", pa.bool_(), nullable=False),
    pa.field("finished_after_s", pa.float64()),
    pa.field("late_s", pa.float64()),
])

# spec.breakdown: per minute and label-value combination of a counter SLI, the events behind
# the SLI partition's buckets (rows only for buckets with data and events; see daytable.py).
BREAKDOWN_SCHEMA = pa.schema([
    pa.field("ts", _TS, nullable=False),  # bucket start, as in the SLI partition
    pa.field("labels", pa.list_(pa.string()), nullable=False),  # spec.breakdown, in order
    pa.field("values", pa.list_(pa.string()), nullable=False),  # "" where a series lacks one
    pa.field("bad", pa.float64(), nullable=False),
    pa.field("total", pa.float64(), nullable=False),
])
DETAIL_TABLES = ("pipeline_age", "pipeline_runs", "breakdown")


def _checked(name: str) -> str:
    # Names were validated in the spec, but paths are built here: check again.
    if not SAFE_NAME.match(name):
        raise LakeError(f"SLO name {name!r} is not safe as a partition path")
    return name


def sli_partition(lake: Path, slo: str, day: date) -> Path:
    return lake / "sli" / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def detail_partition(lake: Path, table: str, slo: str, day: date) -> Path:
    """``<lake>/<table>/slo=<name>/date=<day>/part-0.parquet``: pipeline_age, pipeline_runs,
    breakdown."""
    if table not in DETAIL_TABLES:
        raise LakeError(f"detail table {table!r}: expected one of {', '.join(DETAIL_TABLES)}")
    return lake / table / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def monthly_partition(lake: Path, label: str) -> Path:
    return lake / "monthly" / f"month={label}" / "summary.parquet"


# Integer columns that grow by a constant step (bucket starts, widths): delta-encoded.
_DELTA = ("ts", "step_s")


def write_options(schema: pa.Schema) -> dict[str, Any]:
    """How every lake file is written. Page checksums let a read tell a flipped bit from
    real data. No dictionaries: a day's 1,440 distinct bucket starts make a dictionary page
    as large as the data, and plain/delta pages decode in about half the time (the compute
    stage reads every partition whole), in half the bytes."""
    return {"compression": "zstd", "write_page_checksum": True, "use_dictionary": False,
            "column_encoding": {c: "DELTA_BINARY_PACKED" for c in _DELTA
                                if c in schema.names}}


def write_atomic(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` whole (temp file and rename, see :mod:`atomicio`)."""
    atomicio.write_file(target, lambda fh: pq.write_table(table, fh,
                                                          **write_options(table.schema)),
                        LakeError)


def reextract_hint(path: Path) -> str:
    slo, day = path.parent.parent.name.removeprefix("slo="), path.parent.name.removeprefix("date=")
    return (f"re-extract it: slo-jobs extract --month {day[:7]} (SLO {slo}, day {day}; "
            "or delete the file and run slo-jobs backfill)")


def read_verified(path: Path, rows: int | None = None,
                  schema: pa.Schema = SLI_SCHEMA) -> pa.Table:
    """The whole partition at ``path``, every page's checksum verified while it is read.

    Verification and the read the computation needs are one pass over the file, so a
    corrupt partition costs nothing extra to catch. ``rows``: the row count a dense
    partition must have (one per bucket of the day). Raises a LakeError naming the file.
    """
    try:
        # A small file: reading it whole first skips Arrow's filesystem layer, and one
        # thread beats Arrow's thread pool (both measurably cheaper per partition).
        data = pa.BufferReader(pa.py_buffer(path.read_bytes()))
        table = pq.ParquetFile(data, page_checksum_verification=True).read(use_threads=False)
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise LakeError(f"{path}: not a readable Parquet partition ({reason}); "
                        f"{reextract_hint(path)}") from None
    if not table.schema.equals(schema):
        raise LakeError(f"{path}: columns {table.schema.names}; expected {schema.names}; "
                        f"{reextract_hint(path)}")
    if rows is not None and table.num_rows != rows:
        raise LakeError(f"{path}: {table.num_rows} rows; expected {rows} (one per bucket of "
                        f"the day); {reextract_hint(path)}")
    return table


def partition_metadata(notes: Sequence[str], complete_until: datetime | None
                       ) -> dict[bytes, bytes]:
    meta = {}
    if notes:
        meta[NOTES_KEY] = "\n".join(notes).encode()
    if complete_until is not None:
        meta[COMPLETE_UNTIL_KEY] = complete_until.astimezone(UTC).isoformat().encode()
    return meta


def _metadata(path: Path) -> dict[bytes, bytes]:
    try:
        return dict(pq.read_schema(path).metadata or {})
    except (OSError, ValueError, pa.ArrowException):
        return {}


def notes(path: Path) -> list[str]:
    """The extractor's notes stored with an SLI partition (none when unreadable)."""
    raw = _metadata(path).get(NOTES_KEY)
    return raw.decode().splitlines() if raw else []


def complete_until(path: Path) -> datetime | None:
    """Up to when a partition read before its day was complete holds data; None: whole."""
    raw = _metadata(path).get(COMPLETE_UNTIL_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None


def existing_days(lake: Path, slo: str, days: list[date]) -> list[date]:
    return [d for d in days if sli_partition(lake, slo, d).exists()]


def missing_days(lake: Path, slo: str, days: list[date],
                 as_of: datetime | None = None) -> list[date]:
    """The ``days`` of ``slo`` to extract: those without a partition, and those written
    before they were complete that a read at ``as_of`` (default: now is long after them)
    would make more complete. A partition without data counts as extracted."""
    out = []
    for d in days:
        path = sli_partition(lake, slo, d)
        if not path.exists():
            out.append(d)
            continue
        until = complete_until(path)
        if until is None:
            continue
        day_end = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1)
        if as_of is None or until < min(day_end, as_of):
            out.append(d)
    return out


@contextmanager
def slo_lock(lake: Path, slo: str) -> Iterator[None]:
    """Hold an exclusive lock on ``slo``'s partitions while writing them.

    Overlapping runs (a backfill next to the daily DAG, two backfills) then write one
    SLO at a time.  The kernel drops the lock when its holder dies, even by SIGKILL.
    """
    path = lake / ".locks" / f"{_checked(slo)}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a")
    except OSError as exc:
        raise LakeError(f"{path}: cannot open lock file ({exc.strerror})") from None
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove_stale_temps(lake: Path, slo: str, days: list[date]) -> int:
    """Delete temp files a killed writer left in ``slo``'s day folders; call under slo_lock."""
    removed = 0
    for day in days:
        for tmp in sli_partition(lake, slo, day).parent.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
