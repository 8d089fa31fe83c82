"""Budget attribution: the month's bad and total events of each SLO with ``spec.breakdown``
per label-value combination (``sql/breakdown.sql``), published as ``breakdown.parquet``
with the month's other tables.

The window is the summary row's own: the SLO's month in its zone up to the as-of the
figures were computed at, with its maintenance windows applied as the compute stage applies
them, so the groups' bad events add up to the summary's ``bad``.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _rows(lake_dir: LakeDir, slo: str, labels: list[str], days: Sequence[Any]
          ) -> tuple[pa.Table, int]:
    """The SLO's breakdown partitions of ``days`` (each verified), and how many days have
    none by ``labels`` (extracted before the SLO had this breakdown, or never)."""
    tables, missing = [], 0
    for d in days:
        path = lake.detail_partition(lake_dir, "breakdown", slo, d)
        if not path.exists():
            missing += 1
            continue
        table = lake.read_verified(path, schema=lake.BREAKDOWN_SCHEMA)
        if table.num_rows and table.column("labels")[0].as_py() != labels:
            missing += 1
            continue
        tables.append(table)
    if not tables:
        return lake.BREAKDOWN_SCHEMA.empty_table(), missing
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
    by_name = {r["slo"]: r for r in summary}
    con = connect()
    parts = []
    for s in slos:
        row = by_name.get(s.name)
        if not s.breakdown or row is None or row.get("unit") != "events":
            continue
        start, as_of = row["period_start"], row["as_of"]
        days = periods.utc_days(periods.Period("", start, as_of))
        rows, missing = _rows(lake_dir, s.name, list(s.breakdown), days)
        con.register("rows", rows)
        con.register("maintenance", maintenance_table(s, start, as_of))
        found = con.sql(resources.sql("breakdown"), params={
            "start": start, "as_of": as_of, "labels": list(s.breakdown),
            "month_bad": float(row["bad"] or 0.0),
            "allowed_bad": float(row["allowed_bad"] or 0.0)}).to_arrow_table()
        con.unregister("rows")
        con.unregister("maintenance")
        n = found.num_rows
        parts.append(found.add_column(0, "slo", pa.array([s.name] * n, pa.string()))
                     .append_column("days", pa.array([len(days)] * n, pa.int64()))
                     .append_column("days_missing", pa.array([missing] * n, pa.int64())))
    if not parts:
        return COLUMNS.empty_table()
    return pa.concat_tables([p.cast(COLUMNS) for p in parts])
