"""The Parquet lake: layout, atomic partition writes, and reads.

Layout (all times UTC)::

    <lake>/sli/slo=<name>/date=YYYY-MM-DD/part-0.parquet     one row per SLI bucket of the day
    <lake>/monthly/month=YYYY-MM/summary.parquet              one row per SLO and month

The lake is a folder (a :class:`~pathlib.Path`) or an object store prefix
(``s3://bucket/prefix``, an :class:`~slo_jobs.lake.objectstore.ObjectPath`), with the same layout
and files. On a folder a partition is written to a temporary file beside it and renamed over
the old one (:mod:`atomicio`), under a per-SLO ``flock``; on an object store it is one PUT of
the whole file, and a read-merge-write is a conditional PUT (:func:`update`). Either way
readers see the old or the new file, never half of one. A set of files published together
(:func:`publish_set`) is read through its manifest on an object store (:func:`read_file`,
:func:`exists`, :mod:`objectsets`). This module is where the two differ.

Also here: atomic file writes (``atomicio``), the object store and its published sets
(``objectstore``, ``objectsets``), partition metadata (``partmeta``), a day's table and how
a re-read merges with it (``daytable``), coverage gaps (``gaps``) and a computed month read
back (``computed``).

May import: ``core``.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..core.errors import LakeError
from ..core.names import SAFE_NAME
from . import atomicio, objectsets, partmeta
from .objectsets import SetName
from .objectstore import SCHEME, ObjectPath, ObjectStoreConfig, parse_url

# The partition metadata, read and written by partmeta, named here too for its callers.
from .partmeta import COMPLETE_UNTIL_KEY as COMPLETE_UNTIL_KEY
from .partmeta import NOTES_KEY as NOTES_KEY
from .partmeta import complete_until as complete_until
from .partmeta import notes as notes
from .partmeta import partition_metadata as partition_metadata

SLI_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # bucket start
    pa.field("good", pa.float64(), nullable=False),
    pa.field("total", pa.float64(), nullable=False),
    pa.field("clipped", pa.bool_(), nullable=False),  # good > total was clipped to total
    pa.field("has_data", pa.bool_(), nullable=False),  # false: Prometheus returned nothing
    pa.field("step_s", pa.int32(), nullable=False),
])
PART = "part-0.parquet"
# A lake's root and every path in it: a local folder or an object store prefix.
LakeDir = Path | ObjectPath
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


def location(where: str | Path, config: ObjectStoreConfig | None = None) -> LakeDir:
    """The lake at ``where``: ``s3://bucket/prefix`` (``config`` defaults to the AWS_*
    environment) or a folder."""
    text = str(where)
    if text.startswith(SCHEME):
        return parse_url(text, config)
    if "://" in text:
        raise LakeError(f"lake {text!r}: expected a folder or s3://bucket/prefix")
    return atomicio.confined(Path(text))  # no link below it is followed when writing


def _checked(name: str) -> str:
    # Names were validated in the spec, but paths are built here: check again.
    if not SAFE_NAME.match(name):
        raise LakeError(f"SLO name {name!r} is not safe as a partition path")
    return name


def sli_partition(lake: LakeDir, slo: str, day: date) -> LakeDir:
    return lake / "sli" / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def detail_partition(lake: LakeDir, table: str, slo: str, day: date) -> LakeDir:
    """``<lake>/<table>/slo=<name>/date=<day>/part-0.parquet``: pipeline_age, pipeline_runs,
    breakdown."""
    if table not in DETAIL_TABLES:
        raise LakeError(f"detail table {table!r}: expected one of {', '.join(DETAIL_TABLES)}")
    return lake / table / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def monthly_partition(lake: LakeDir, label: str) -> LakeDir:
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


def to_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **write_options(table.schema))
    return bytes(sink.getvalue())


def write_atomic(table: pa.Table, target: LakeDir) -> None:
    """Write ``table`` to ``target`` whole: temp file and rename (see :mod:`atomicio`), or
    one PUT of the complete file."""
    if isinstance(target, ObjectPath):
        target.put(to_bytes(table))
        return
    atomicio.write_file(target, lambda fh: pq.write_table(table, fh,
                                                          **write_options(table.schema)),
                        LakeError)


def reextract_hint(path: LakeDir) -> str:
    slo, day = path.parent.parent.name.removeprefix("slo="), path.parent.name.removeprefix("date=")
    return (f"re-extract it: slo-jobs extract --month {day[:7]} (SLO {slo}, day {day}; "
            "or delete the file and run slo-jobs backfill)")


def read_verified(path: LakeDir, rows: int | None = None,
                  schema: pa.Schema = SLI_SCHEMA) -> pa.Table:
    """The whole partition at ``path``, every page's checksum verified while it is read.

    Verification and the read the computation needs are one pass over the file, so a
    corrupt partition costs nothing extra to catch. ``rows``: the row count a dense
    partition must have (one per bucket of the day). Raises a LakeError naming the file.
    """
    try:
        # A small file: reading it whole first skips Arrow's filesystem layer (on an object
        # store: one GET), and one thread beats Arrow's thread pool (both measurably cheaper
        # per partition).
        data = path.read_bytes()
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise LakeError(f"{path}: not a readable Parquet partition ({reason}); "
                        f"{reextract_hint(path)}") from None
    return parse_verified(data, path, rows, schema)


def parse_verified(data: bytes, path: LakeDir, rows: int | None = None,
                   schema: pa.Schema = SLI_SCHEMA) -> pa.Table:
    """:func:`read_verified` of a partition's bytes already read from ``path``."""
    try:
        table = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)),
                               page_checksum_verification=True).read(use_threads=False)
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


def set_name(folder: ObjectPath) -> SetName:
    """How errors name the set published at ``folder`` and what writes it again."""
    if folder.parent.name == "monthly" and folder.name.startswith("month="):
        label = folder.name.removeprefix("month=")
        return SetName(f"month {label}",
                       f"re-run the merge (or slo-jobs compute --month {label})")
    if folder.name.startswith("shard=") and folder.parent.name.startswith("month="):
        label = folder.parent.name.removeprefix("month=")
        return SetName(f"shard {folder.name.removeprefix('shard=')} of month {label}",
                       f"re-run the month's compute_shard tasks (or slo-jobs compute "
                       f"--month {label})")
    return SetName(f"the set {folder}", "write it again")


def reading_sets() -> AbstractContextManager[None]:
    """A block within which every set read on an object store is read at one version, its
    manifest fetched once (:func:`objectsets.pinned`); nothing on a folder."""
    return objectsets.pinned()


def exists(path: LakeDir) -> bool:
    """Whether the file ``path`` of a published set (a month's table, a shard's file) is
    there: on an object store, whether the set's manifest names it."""
    if isinstance(path, ObjectPath):
        return objectsets.exists(path, set_name(path.parent))
    return path.exists()


def read_bytes(path: LakeDir) -> bytes:
    """The bytes of a file of a published set, as :func:`read_file` reads them."""
    if isinstance(path, ObjectPath):
        return objectsets.read(path, set_name(path.parent))
    return path.read_bytes()


def read_file(path: LakeDir, schema: pa.Schema | None = None) -> pa.Table:
    """A whole Parquet file of a published set (a computed table, a shard's table); on an
    object store at the version the set's manifest names."""
    if isinstance(path, ObjectPath):
        return _from_bytes(read_bytes(path), schema)
    return pq.read_table(path, schema=schema)


def read_detail(path: LakeDir, schema: pa.Schema | None = None) -> pa.Table:
    """A whole detail partition (``pipeline_age``, ...) as it is: a file of no set."""
    if isinstance(path, ObjectPath):
        return _from_bytes(path.read_bytes(), schema)
    return pq.read_table(path, schema=schema)


def _from_bytes(data: bytes, schema: pa.Schema | None) -> pa.Table:
    # One thread: with Arrow's pool, a read from memory aborted about one process in six
    # at exit ("terminate called without an active exception", pyarrow 26).
    return pq.read_table(pa.BufferReader(pa.py_buffer(data)), schema=schema,
                         use_threads=False)


def existing_days(lake: LakeDir, slo: str, days: Sequence[date]) -> list[date]:
    """The ``days`` that have a partition of ``slo`` (on an object store: one listing
    instead of a request per day)."""
    if isinstance(lake, ObjectPath):
        listed = {p.parent.name for p in sli_partition(lake, slo, date.min).parent.parent
                  .glob(f"date=*/{PART}")}
        return [d for d in days if f"date={d.isoformat()}" in listed]
    return [d for d in days if sli_partition(lake, slo, d).exists()]


def missing_days(lake: LakeDir, slo: str, days: list[date],
                 as_of: datetime | None = None) -> list[date]:
    """The ``days`` of ``slo`` to extract: those without a partition, those without any
    bucket with data (an outage or a wrong URL may be over; a re-read keeps whatever the
    lake holds, see daytable.write), and those not final (``complete_until`` set) that a
    read at ``as_of`` (default: now, long after them) can make more complete or final."""
    out = []
    have = set(existing_days(lake, slo, days))
    for d in days:
        if d not in have:
            out.append(d)
            continue
        until, holds_data = partmeta.state(sli_partition(lake, slo, d))
        if not holds_data or (until is not None and (as_of is None or until < as_of)):
            out.append(d)
    return out


@contextmanager
def slo_lock(lake: LakeDir, slo: str) -> Iterator[None]:
    """Hold an exclusive lock on ``slo``'s partitions while writing them.

    Overlapping runs (a backfill next to the daily DAG, two backfills) then write one
    SLO at a time.  The kernel drops the lock when its holder dies, even by SIGKILL.
    An object store has no such lock and needs none: a partition is replaced by one PUT,
    and a read-merge-write is a conditional PUT that fails when another writer came
    between (:func:`update`), so nothing is held here.
    """
    if isinstance(lake, ObjectPath):
        yield
        return
    with atomicio.open_lock_file(lake / ".locks" / f"{_checked(slo)}.lock", LakeError) as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove_stale_temps(lake: LakeDir, slo: str, days: Sequence[date],
                       tables: Sequence[str] = ("sli",)) -> int:
    """Delete temp files a killed writer left in ``slo``'s day folders of ``tables``; call
    under slo_lock. An object store has none: a PUT that did not finish left nothing."""
    if isinstance(lake, ObjectPath):
        return 0
    removed = 0
    for table in tables:
        for day in days:
            part = (sli_partition(lake, slo, day) if table == "sli"
                    else detail_partition(lake, table, slo, day))
            for tmp in part.parent.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


# Conditional PUTs lost to other writers before a merge gives up: each loss means another
# writer's merge landed, so this bounds the number of concurrent writers of one partition.
MERGE_TRIES = 16


def update(target: LakeDir, schema: pa.Schema,
           merge: Callable[[pa.Table | None], pa.Table]) -> pa.Table:
    """Replace ``target`` by ``merge(old)`` (old: None when absent), losing no concurrent
    writer's change. On a folder the caller holds :func:`slo_lock`; on an object store the
    new version is PUT only over the version read (``If-Match``, or ``If-None-Match: *``
    for a new partition), and merged again from the newer version when that fails."""
    if not isinstance(target, ObjectPath):
        table = merge(read_verified(target, schema=schema) if target.exists() else None)
        write_atomic(table, target)
        return table
    for _ in range(MERGE_TRIES):
        data, etag = target.read_versioned()
        old = None if data is None else parse_verified(data, target, schema=schema)
        table = merge(old)
        if target.put_if(to_bytes(table), etag) is not None:
            return table
    raise LakeError(f"{target}: replaced by other writers {MERGE_TRIES} times while this one "
                    "merged into it; expected fewer concurrent writers of one partition: "
                    "run again")


@contextmanager
def publish_set(target: LakeDir) -> Iterator[LakeDir]:
    """Write a set of files that belong together (a month's tables) into the folder
    yielded. On a folder it is built beside ``target`` and exchanged with it in one step
    (:func:`atomicio.publish_folder`). An object store cannot swap a prefix: each file is
    replaced in place, one PUT each, then the set's manifest names them (a conditional
    PUT: a concurrent writer of the same set fails) and the files it does not name are
    deleted (:func:`objectsets.publish`); readers read through the manifest."""
    if isinstance(target, ObjectPath):
        with objectsets.publish(target, set_name(target)) as written:
            yield written
        return
    with atomicio.publish_folder(target, LakeError) as stage:
        yield stage
