"""The key-value metadata of an SLI partition: the extractor's notes for the report, and how
far a day read before it was final is complete (``complete_until``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from .storage import LakeDir, storage_of

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


def _metadata(path: LakeDir, keys: tuple[bytes, ...]) -> dict[bytes, bytes]:
    """The values of ``keys`` in a partition's Parquet metadata, read at one version (none:
    absent or unreadable)."""
    where = storage_of(path)
    if not any(where.may_hold(k) for k in keys):
        return {}
    try:
        meta = pq.read_schema(where.source()).metadata or {}
    except (OSError, ValueError, pa.ArrowException):
        return {}
    return {k: meta[k] for k in keys if k in meta}


def notes(path: LakeDir) -> list[str]:
    """The extractor's notes stored with an SLI partition (none when unreadable)."""
    raw = _metadata(path, (NOTES_KEY,)).get(NOTES_KEY)
    return raw.decode().splitlines() if raw else []


def complete_until(path: LakeDir) -> datetime | None:
    """Up to when a partition read before its day was complete holds data; None: whole."""
    raw = _metadata(path, (COMPLETE_UNTIL_KEY,)).get(COMPLETE_UNTIL_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None


def state(path: LakeDir) -> tuple[datetime | None, bool]:
    """(``complete_until``, whether any bucket has data) of an SLI partition, from its
    metadata alone (a partition written before the no-data mark counts as holding data)."""
    meta = _metadata(path, (COMPLETE_UNTIL_KEY, NO_DATA_KEY))
    raw = meta.get(COMPLETE_UNTIL_KEY)
    return (datetime.fromisoformat(raw.decode()) if raw else None), NO_DATA_KEY not in meta
