"""The key-value metadata of an SLI partition: the extractor's notes for the report, and how
far a day read before it was final is complete (``complete_until``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .objectstore import ObjectPath

# What the extractor noticed about the day's data (e.g. a selector that matched no series),
# one note per line, for the report.
NOTES_KEY = b"slo_jobs.notes"
# Set on a partition read before its day was final: the instant up to which it is complete.
COMPLETE_UNTIL_KEY = b"slo_jobs.complete_until"
# Set on a partition no bucket of which has data: a later run reads it again (the source may
# hold it by then); a mark instead of reading the buckets, as cheap to check as the others.
NO_DATA_KEY = b"slo_jobs.no_data"


def partition_metadata(notes: Sequence[str], complete_until: datetime | None,
                       no_data: bool = False) -> dict[bytes, bytes]:
    meta = {NO_DATA_KEY: b"1"} if no_data else {}
    if notes:
        meta[NOTES_KEY] = "\n".join(notes).encode()
    if complete_until is not None:
        meta[COMPLETE_UNTIL_KEY] = complete_until.astimezone(UTC).isoformat().encode()
    return meta


def _may_hold(path: Path, key: bytes) -> bool:
    """False when the local Parquet file's footer cannot hold the metadata ``key``.

    The footer stores a key's bytes as they are (Thrift), so a footer without them has no
    such key: most partitions have none, and this raw look (one open, two small reads) is
    a seventh of parsing the footer, which the report does for 30 partitions per SLO."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-8, 2)
            tail = fh.read(8)
            size = int.from_bytes(tail[:4], "little")
            if tail[4:] != b"PAR1" or fh.seek(0, 2) < size + 12:
                return True  # not a plain Parquet file: the parser decides
            fh.seek(-8 - size, 2)
            return key in fh.read(size)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _metadata(path: Path | ObjectPath, key: bytes) -> bytes | None:
    """The value of ``key`` in a partition's Parquet metadata (None: absent or unreadable)."""
    try:
        if isinstance(path, ObjectPath):  # one GET: ranged reads could mix two versions
            meta = pq.read_schema(pa.BufferReader(path.read_bytes())).metadata
        elif not _may_hold(path, key):
            return None
        else:
            meta = pq.read_schema(path).metadata
    except (OSError, ValueError, pa.ArrowException):
        return None
    return (meta or {}).get(key)


def notes(path: Path | ObjectPath) -> list[str]:
    """The extractor's notes stored with an SLI partition (none when unreadable)."""
    raw = _metadata(path, NOTES_KEY)
    return raw.decode().splitlines() if raw else []


def complete_until(path: Path | ObjectPath) -> datetime | None:
    """Up to when a partition read before its day was complete holds data; None: whole."""
    raw = _metadata(path, COMPLETE_UNTIL_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None


def state(path: Path | ObjectPath) -> tuple[datetime | None, bool]:
    """(``complete_until``, whether any bucket has data) of an SLI partition, from its
    metadata alone (a partition written before the no-data mark counts as holding data)."""
    if isinstance(path, ObjectPath):  # one GET for both keys
        try:
            meta = pq.read_schema(pa.BufferReader(path.read_bytes())).metadata or {}
        except (OSError, ValueError, pa.ArrowException):
            meta = {}
    else:
        meta = {k: v for k in (COMPLETE_UNTIL_KEY, NO_DATA_KEY)
                if (v := _metadata(path, k)) is not None}
    raw = meta.get(COMPLETE_UNTIL_KEY)
    return (datetime.fromisoformat(raw.decode()) if raw else None), NO_DATA_KEY not in meta
