"""Build small lakes by hand for SQL-as-data tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from slo_jobs import lake


def write_buckets(lake_dir: Path, slo: str, start: datetime,
                  buckets: Sequence[tuple[float, float]], step_s: int = 60) -> None:
    """Write consecutive (good, total) buckets from ``start``, split into day partitions."""
    by_day: dict[object, list[tuple[datetime, float, float]]] = {}
    for i, (good, total) in enumerate(buckets):
        ts = start + timedelta(seconds=i * step_s)
        by_day.setdefault(ts.date(), []).append((ts, good, total))
    for day, rows in by_day.items():
        table = pa.table({
            "ts": [r[0] for r in rows],
            "good": [min(r[1], r[2]) for r in rows],
            "total": [r[2] for r in rows],
            "clipped": [r[1] > r[2] for r in rows],
            "step_s": [step_s] * len(rows),
        }, schema=lake.SLI_SCHEMA)
        lake.write_atomic(table, lake.sli_partition(lake_dir, slo, day))  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
