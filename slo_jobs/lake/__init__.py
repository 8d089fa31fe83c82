"""The Parquet lake: layout, atomic partition writes, and reads.

Layout (all times UTC)::

    <lake>/sli/slo=<name>/date=YYYY-MM-DD/part-0.parquet     one row per SLI bucket of the day
    <lake>/monthly/month=YYYY-MM/summary.parquet              one row per SLO and month
    <lake>/rollup/period=2026-Q3/slos.parquet                 one row per SLO and quarter/year

The lake is a folder (a :class:`~pathlib.Path`) or an object store prefix
(``s3://bucket/prefix``, an ``ObjectPath``), with the same layout and files, ``LakeDir``
either way: paths in it are built alike (``/``, ``parent``, ``name``). What is done to them
goes through one interface, :class:`storage.Storage`, which a local disk and an object
store implement (:mod:`storage`: temp file and rename under a per-SLO ``flock``, or one
PUT and conditional PUTs; a set of files published together exchanged in one step, or
named by a manifest). The functions here call it, so no code outside this package asks
where the lake lives: every file is written whole (:func:`write_atomic`,
:func:`write_whole`), a read-merge-write loses no concurrent change (:func:`slo_lock`,
:func:`update`), a set of files is published and read as one version
(:func:`publish_set`, :func:`reading_sets`, :func:`exists`, :func:`read_file`), and
:func:`remote` says whether reads wait on the network.

Also here: atomic file writes (``atomicio``), the object store and its published sets
(``objectstore``, ``objectsets``), partition metadata (``partmeta``), a day's table and how
a re-read merges with it (``daytable``), coverage gaps (``gaps``), a computed month read
back (``computed``) and the delivery ledger, what was sent to whom (``ledger``).

May import: ``core``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..core.errors import LakeError
from ..core.names import SAFE_NAME
from . import objectsets, partmeta

# What a caller needs to name a lake (location): the object store's URL scheme and config.
from .objectstore import SCHEME as SCHEME
from .objectstore import ObjectStoreConfig as ObjectStoreConfig

# The partition metadata, read and written by partmeta, named here too for its callers.
from .partmeta import COMPLETE_UNTIL_KEY as COMPLETE_UNTIL_KEY
from .partmeta import NOTES_KEY as NOTES_KEY
from .partmeta import complete_until as complete_until
from .partmeta import notes as notes
from .partmeta import partition_metadata as partition_metadata

# Where the lake lives: the one interface to a local disk or an object store.
from .storage import Fill, storage_of
from .storage import LakeDir as LakeDir
from .storage import location as location

SLI_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # bucket start
    pa.field("good", pa.float64(), nullable=False),
    pa.field("total", pa.float64(), nullable=False),
    pa.field("clipped", pa.bool_(), nullable=False),  # good > total was clipped to total
    pa.field("has_data", pa.bool_(), nullable=False),  # false: Prometheus returned nothing
    pa.field("step_s", pa.int32(), nullable=False),
])
PART = "part-0.parquet"
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
# spec.errorCategories: per minute and category of a counter SLI, the bad events the
# category's selector counts (at most the minute's), "" for those no category counts; rows
# only for buckets with data and events (sources/prometheus/categories.py).
CATEGORY_SCHEMA = pa.schema([
    pa.field("ts", _TS, nullable=False),  # bucket start, as in the SLI partition
    pa.field("categories", pa.list_(pa.string()), nullable=False),  # those in force, in order
    pa.field("category", pa.string(), nullable=False),  # "": uncategorised
    pa.field("events", pa.float64(), nullable=False),
    pa.field("bad", pa.float64(), nullable=False),  # the SLI's bad events in the bucket
])
# spec.indicator.latency.buckets: per minute and kept bucket bound of a latency SLI, the
# observations at or under it (cumulative, as the histogram stores them; +Inf is the count).
BUCKETS_SCHEMA = pa.schema([
    pa.field("ts", _TS, nullable=False),  # bucket start, as in the SLI partition
    pa.field("le", pa.float64(), nullable=False),
    pa.field("count", pa.float64(), nullable=False),
])
DETAIL_TABLES = ("pipeline_age", "pipeline_runs", "breakdown", "categories",
                 "buckets")


def _checked(name: str) -> str:
    # Names were validated in the spec, but paths are built here: check again.
    if not SAFE_NAME.match(name):
        raise LakeError(f"SLO name {name!r} is not safe as a partition path")
    return name


def sli_partition(lake: LakeDir, slo: str, day: date) -> LakeDir:
    return lake / "sli" / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def detail_partition(lake: LakeDir, table: str, slo: str, day: date) -> LakeDir:
    """``<lake>/<table>/slo=<name>/date=<day>/part-0.parquet``: pipeline_age, pipeline_runs,
    breakdown, categories, buckets."""
    if table not in DETAIL_TABLES:
        raise LakeError(f"detail table {table!r}: expected one of {', '.join(DETAIL_TABLES)}")
    return lake / table / f"slo={_checked(slo)}" / f"date={day.isoformat()}" / PART


def monthly_partition(lake: LakeDir, label: str) -> LakeDir:
    return lake / "monthly" / f"month={label}" / "summary.parquet"


def rollup_partition(lake: LakeDir, label: str) -> LakeDir:
    """A quarter's or year's roll-up (``2026-Q3``, ``2026``): its per-SLO table; the months
    and the team and organisation figures are files of the same folder, published as one
    set like a month's tables."""
    return lake / "rollup" / f"period={label}" / "slos.parquet"


# Integer columns that grow by a constant step (bucket starts, widths): delta-encoded.
_DELTA = ("ts", "step_s")


def write_options(schema: pa.Schema) -> dict[str, Any]:
    """How every lake file is written. Page checksums let a read tell a flipped bit from
    real data. No dictionaries: a day's 1,440 distinct bucket starts make a dictionary page
    as large as the data, and plain/delta pages decode in about half the time (the compute
    stage reads every partition whole), in half the bytes. LZ4, with floats stored byte
    stream split (the values' bytes grouped by position, which LZ4 compresses nearly as
    well as zstd the plain values): a day partition is encoded in half zstd's CPU (0.20
    against 0.39 ms) and read faster, at 8.4 KB instead of 6.5 (docs/performance.md)."""
    floats = {f.name: "BYTE_STREAM_SPLIT" for f in schema if pa.types.is_float64(f.type)}
    return {"compression": "lz4", "write_page_checksum": True, "use_dictionary": False,
            "column_encoding": {**floats, **{c: "DELTA_BINARY_PACKED" for c in _DELTA
                                             if c in schema.names}}}


def to_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **write_options(table.schema))
    return bytes(sink.getvalue())


def write_whole(target: LakeDir, fill: Fill | bytes) -> None:
    """Write ``target`` whole, with what ``fill`` writes into the stream it is given (or
    ``fill`` itself, the content): temp file and rename (see :mod:`atomicio`), or one PUT of
    the complete file."""
    storage_of(target).write(fill)


def write_atomic(table: pa.Table, target: LakeDir) -> None:
    """Write ``table`` to ``target`` whole (:func:`write_whole`). Encoded in memory first:
    Arrow then writes without calling back into Python for every page."""
    write_whole(target, to_bytes(table))


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
        raise _unreadable(path, exc) from None
    return parse_verified(data, path, rows, schema)


def _unreadable(path: LakeDir, exc: Exception) -> LakeError:
    reason = " ".join(str(exc).split())[:160]
    return LakeError(f"{path}: not a readable Parquet partition ({reason}); "
                     f"{reextract_hint(path)}")


def parse_verified(data: bytes, path: LakeDir, rows: int | None = None,
                   schema: pa.Schema = SLI_SCHEMA) -> pa.Table:
    """:func:`read_verified` of a partition's bytes already read from ``path``."""
    try:
        table = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)),
                               page_checksum_verification=True).read(use_threads=False)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None
    if not table.schema.equals(schema):
        raise LakeError(f"{path}: columns {table.schema.names}; expected {schema.names}; "
                        f"{reextract_hint(path)}")
    if rows is not None and table.num_rows != rows:
        raise LakeError(f"{path}: {table.num_rows} rows; expected {rows} (one per bucket of "
                        f"the day); {reextract_hint(path)}")
    return table


def reading_sets() -> AbstractContextManager[None]:
    """A block within which every set read on an object store is read at one version, its
    manifest fetched once (:func:`objectsets.pinned`); nothing on a folder."""
    return objectsets.pinned()


def exists(path: LakeDir) -> bool:
    """Whether the file ``path`` of a published set (a month's table, a shard's file) is
    there: on an object store, whether the set's manifest names it."""
    return storage_of(path).in_set()


def read_bytes(path: LakeDir) -> bytes:
    """The bytes of a file of a published set, as :func:`read_file` reads them."""
    return storage_of(path).read(in_set=True)


def open_file(path: LakeDir) -> pq.ParquetFile:
    """A Parquet file of a published set (a computed table, a shard's table), to read in
    parts; on an object store all of it at the version the set's manifest names."""
    return pq.ParquetFile(storage_of(path).source(in_set=True))


def read_file(path: LakeDir) -> pa.Table:
    """A whole Parquet file of a published set (:func:`open_file`). Through ParquetFile:
    pq.read_table loads pyarrow.dataset, two seconds of CPU before `show` prints a 10-row
    table. One thread: with Arrow's pool, a read from memory aborted about one process in
    six at exit ("terminate called without an active exception", pyarrow 26)."""
    return open_file(path).read(use_threads=False)


def read_detail(path: LakeDir, schema: pa.Schema | None = None) -> pa.Table:
    """A whole detail partition (``pipeline_age``, ...) as it is: a file of no set."""
    return pq.read_table(storage_of(path).source(), schema=schema, use_threads=False)


def remote(path: LakeDir) -> bool:
    """Whether reading ``path`` waits on the network (an object store): many such reads run
    in threads of one process, not in processes (a forked child must not share the store
    client's connections)."""
    return storage_of(path).remote


def existing_days(lake: LakeDir, slo: str, days: Sequence[date]) -> list[date]:
    """The ``days`` that have a partition of ``slo`` (on an object store: one listing
    instead of a request per day)."""
    folder = sli_partition(lake, slo, date.min).parent.parent
    there = storage_of(folder).present([f"date={d.isoformat()}/{PART}" for d in days])
    return [d for d, found in zip(days, there, strict=True) if found]


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


def slo_lock(lake: LakeDir, slo: str) -> AbstractContextManager[None]:
    """Hold an exclusive lock on ``slo``'s partitions while writing them.

    Overlapping runs (a backfill next to the daily DAG, two backfills) then write one
    SLO at a time.  The kernel drops the lock when its holder dies, even by SIGKILL.
    An object store has no such lock and needs none: a partition is replaced by one PUT,
    and a read-merge-write is a conditional PUT that fails when another writer came
    between (:func:`update`), so nothing is held there.
    """
    return storage_of(lake / ".locks" / f"{_checked(slo)}.lock").lock()


def tables_of(lake: LakeDir, slo: str, tables: Sequence[str]) -> list[str]:
    """Those of ``tables`` (``sli`` or detail tables) that may have a folder for ``slo``
    (on an object store, all of them: ``Storage.may_exist``). Looked up once per SLO, so
    that writing its days skips the tables it never had (most SLOs have no detail tables:
    per day, that was a fifth of the lake's write time)."""
    return [t for t in tables if storage_of(lake / t / f"slo={_checked(slo)}").may_exist()]


def remove_stale_temps(lake: LakeDir, slo: str, days: Sequence[date],
                       tables: Sequence[str] = ("sli",)) -> int:
    """Delete temp files a killed writer left in ``slo``'s day folders of ``tables``; call
    under slo_lock. An object store has none: a PUT that did not finish left nothing."""
    removed = 0
    for table in tables_of(lake, slo, tables):
        for day in days:
            part = (sli_partition(lake, slo, day) if table == "sli"
                    else detail_partition(lake, table, slo, day))
            removed += storage_of(part.parent).remove_temps()
    return removed


def remove_folder(folder: LakeDir) -> None:
    """Delete ``folder`` and everything below it (its parent too, when left empty)."""
    storage_of(folder).remove()


# Conditional PUTs lost to other writers before a merge gives up: each loss means another
# writer's merge landed, so this bounds the number of concurrent writers of one partition.
MERGE_TRIES = 16


def update(target: LakeDir, schema: pa.Schema,
           merge: Callable[[pa.Table | None], pa.Table]) -> pa.Table:
    """Replace ``target`` by ``merge(old)`` (old: None when absent), losing no concurrent
    writer's change. On a folder the caller holds :func:`slo_lock`; on an object store the
    new version is PUT only over the version read (``If-Match``, or ``If-None-Match: *``
    for a new partition), and merged again from the newer version when that fails."""
    where = storage_of(target)
    for _ in range(MERGE_TRIES):
        try:
            data, version = where.read_versioned()
        except OSError as exc:
            raise _unreadable(target, exc) from None
        table = merge(None if data is None else parse_verified(data, target, schema=schema))
        if where.write_if(to_bytes(table), version):
            return table
    raise LakeError(f"{target}: replaced by other writers {MERGE_TRIES} times while this one "
                    "merged into it; expected fewer concurrent writers of one partition: "
                    "run again")


def publish_set(target: LakeDir) -> AbstractContextManager[LakeDir]:
    """Write a set of files that belong together (a month's tables) into the folder
    yielded. On a folder it is built beside ``target`` and exchanged with it in one step
    (:func:`atomicio.publish_folder`). An object store cannot swap a prefix: each file is
    replaced in place, one PUT each, then the set's manifest names them (a conditional
    PUT: a concurrent writer of the same set fails) and the files it does not name are
    deleted (:func:`objectsets.publish`); readers read through the manifest."""
    return storage_of(target).publish()
