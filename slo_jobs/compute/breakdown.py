"""Budget attribution: the month's bad and total events of each SLO with ``spec.breakdown``
per label-value combination (``sql/breakdown.sql``), published as ``breakdown.parquet``
with the month's other tables.

The window is the summary row's own: the SLO's month in its zone up to the as-of the
figures were computed at, with its maintenance windows applied as the compute stage applies
them, so the groups' bad events add up to the summary's ``bad``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from .. import lake
from ..core import periods, resources
from ..core.periods import BUCKET_S
from ..lake import LakeDir
from ..spec import Slo
from . import maintenance
from .engine import connect

_TS = pa.timestamp("us", tz="UTC")
COLUMNS = pa.schema([
    ("slo", pa.string()), ("labels", pa.list_(pa.string())), ("values", pa.list_(pa.string())),
    ("group", pa.string()), ("bad", pa.float64()), ("total", pa.float64()),
    ("sli", pa.float64()), ("bad_share", pa.float64()), ("budget_share", pa.float64()),
    ("rank", pa.int64()), ("days", pa.int64()), ("days_missing", pa.int64()),
])


def day_rows(lake_dir: LakeDir, table: str, slo: str, key: str, expected: list[str],
             days: Sequence[Any]) -> tuple[pa.Table, int]:
    """The SLO's partitions of the detail ``table`` for ``days`` (each verified), and how
    many days have none whose ``key`` column is ``expected`` (extracted before the SLO was
    defined so, or never). Breakdown and error categories alike."""
    schema = lake.CATEGORY_SCHEMA if table == "categories" else lake.BREAKDOWN_SCHEMA
    tables, missing = [], 0
    for d in days:
        path = lake.detail_partition(lake_dir, table, slo, d)
        if not path.exists():
            missing += 1
            continue
        found = lake.read_verified(path, schema=schema)
        if found.num_rows and found.column(key)[0].as_py() != expected:
            missing += 1
            continue
        tables.append(found)
    if not tables:
        return schema.empty_table(), missing
    return pa.concat_tables(tables), missing


def maintenance_table(slo: Slo, start: datetime, as_of: datetime) -> pa.Table:
    """The SLO's planned windows in ``[start, as_of)`` as whole-minute ranges: a minute a
    window touches at all is covered, as in the compute stage."""
    origin = periods.midnight(start.astimezone(UTC).date())
    n = int((as_of - origin).total_seconds()) // BUCKET_S + 1
    excluded, as_good = maintenance.bucket_ranges(slo.maintenance, origin, n)
    spans = [(a, b, "excluded") for a, b in excluded] + [(a, b, "good") for a, b in as_good]
    return pa.table({
        "start": pa.array([origin + timedelta(seconds=a * BUCKET_S) for a, _, _ in spans], _TS),
        "end": pa.array([origin + timedelta(seconds=b * BUCKET_S) for _, b, _ in spans], _TS),
        "count_as": pa.array([c for _, _, c in spans], pa.string())})


def month_breakdown(lake_dir: LakeDir, slos: Sequence[Slo],
                    summary: Sequence[dict[str, Any]]) -> pa.Table:
    """One row per SLO with a breakdown and label-value combination, largest spender first
    (``rank``); ``days_missing``: days of the window without a breakdown partition."""
    con = connect()
    parts = []
    for s, row in counted(slos, summary, lambda s: bool(s.breakdown)):
        start, as_of = row["period_start"], row["as_of"]
        days = periods.utc_days(periods.Period("", start, as_of))
        rows, missing = day_rows(lake_dir, "breakdown", s.name, "labels", list(s.breakdown),
                                 days)
        con.register("rows", rows)
        con.register("maintenance", maintenance_table(s, start, as_of))
        found = con.sql(resources.sql("breakdown"), params={
            "start": start, "as_of": as_of, "labels": list(s.breakdown),
            "month_bad": float(row["bad"] or 0.0),
            "allowed_bad": float(row["allowed_bad"] or 0.0)}).to_arrow_table()
        con.unregister("rows")
        con.unregister("maintenance")
        parts.append(tagged(found, s.name, len(days), missing))
    if not parts:
        return COLUMNS.empty_table()
    return pa.concat_tables([p.cast(COLUMNS) for p in parts])


def counted(slos: Sequence[Slo], summary: Sequence[dict[str, Any]],
            wanted: Callable[[Slo], bool]) -> Iterator[tuple[Slo, dict[str, Any]]]:
    """Each SLO ``wanted`` with its summary row, when it counts events (a detail table of
    events per minute, the breakdown's or the error categories', has nothing to add to
    time slices)."""
    by_name = {r["slo"]: r for r in summary}
    for s in slos:
        row = by_name.get(s.name)
        if wanted(s) and row is not None and row.get("unit") == "events":
            yield s, row


def tagged(found: pa.Table, slo: str, days: int, missing: int) -> pa.Table:
    """One SLO's rows of a month's detail query, with its name and the days they cover."""
    n = found.num_rows
    return (found.add_column(0, "slo", pa.array([slo] * n, pa.string()))
            .append_column("days", pa.array([days] * n, pa.int64()))
            .append_column("days_missing", pa.array([missing] * n, pa.int64())))
