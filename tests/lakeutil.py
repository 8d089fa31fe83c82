"""Build small lakes by hand for SQL-as-data tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from slo_jobs import lake

Bucket = tuple[float, float] | None  # (good, total); None = no data


def write_buckets(lake_dir: Path, slo: str, start: datetime, buckets: Sequence[Bucket],
                  step_s: int = 60) -> None:
    """Write consecutive buckets from ``start`` into dense day partitions.

    Buckets of those days not given are written as "no data", as the extractor does. A day
    that already has a partition keeps the buckets it had outside the given range.
    """
    given: dict[datetime, Bucket] = {
        start + timedelta(seconds=i * step_s): b for i, b in enumerate(buckets)}
    days = sorted({t.date() for t in given})
    for day in days:
        path = lake.sli_partition(lake_dir, slo, day)
        old: dict[datetime, Bucket] = {}
        if path.exists():
            import pyarrow.parquet as pq

            for r in pq.read_table(path).to_pylist():
                old[r["ts"]] = (r["good"], r["total"]) if r["has_data"] else None
        first = datetime(day.year, day.month, day.day, tzinfo=UTC)
        rows = []
        for i in range(86_400 // step_s):
            ts = first + timedelta(seconds=i * step_s)
            b = given[ts] if ts in given else old.get(ts)
            rows.append((ts, b))
        table = pa.table({
            "ts": [ts for ts, _ in rows],
            "good": [min(b) if b else 0.0 for _, b in rows],
            "total": [b[1] if b else 0.0 for _, b in rows],
            "clipped": [bool(b and b[0] > b[1]) for _, b in rows],
            "has_data": [b is not None for _, b in rows],
            "step_s": [step_s] * len(rows),
        }, schema=lake.SLI_SCHEMA)
        lake.write_atomic(table, lake.sli_partition(lake_dir, slo, day))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day(d: str) -> date:
    return date.fromisoformat(d)
