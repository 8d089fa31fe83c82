"""Compute stage: DuckDB SQL over the lake, one period at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from . import lake, resources
from .errors import LakeError
from .periods import Period
from .spec import Slo

DEFAULT_STEP_S = 60

SUMMARY_COLUMNS = (
    "slo", "service", "description", "spec_hash", "target", "good", "total", "bad", "sli",
    "allowed_bad", "budget_consumed", "budget_remaining", "buckets", "expected_buckets",
    "coverage", "clipped_rows", "status", "met",
)


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # Results must not depend on the host's zone: all timestamps are UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _slos_table(slos: Sequence[Slo]) -> pa.Table:
    rows = [s.as_row() for s in slos]
    return pa.table({
        "slo": [r["slo"] for r in rows], "service": [r["service"] for r in rows],
        "target": pa.array([r["target"] for r in rows], pa.float64()),
        "description": [r["description"] for r in rows],
        "spec_hash": [r["spec_hash"] for r in rows],
    })


def sli_files(lake_dir: Path, slos: Sequence[Slo], period: Period) -> list[str]:
    files = []
    for slo in slos:
        for day in period.days:
            path = lake.sli_partition(lake_dir, slo.name, day)
            if path.exists():
                files.append(str(path))
    return files


def month_summary(lake_dir: Path, slos: Sequence[Slo], period: Period,
                  as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Per-SLO good/total/SLI/budget/status rows for ``period`` (evaluated at ``as_of``)."""
    evaluated = min(as_of or period.end, period.end)
    elapsed = max((evaluated - period.start).total_seconds() / period.seconds, 1e-9)
    con = connect()
    con.register("slos", _slos_table(slos))
    files = sli_files(lake_dir, slos, period)
    if not files:
        # read_parquet needs at least one file: an empty stand-in with the same schema.
        empty = lake.SLI_SCHEMA.append(pa.field("slo", pa.string())).empty_table()
        con.register("empty_sli", empty)
        query = resources.sql("month_summary").replace(
            "read_parquet($files, hive_partitioning = true)", "empty_sli")
        params: dict[str, Any] = {}
    else:
        query = resources.sql("month_summary")
        params = {"files": files}
    params.update(start=period.start, end=period.end, period_s=period.seconds,
                  elapsed=elapsed, default_step_s=DEFAULT_STEP_S)
    rel = con.execute(query, params)
    names = [d[0] for d in rel.description]
    rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    for r in rows:
        r["period"] = period.label
    return rows


def write_summary(lake_dir: Path, period: Period, rows: list[dict[str, Any]]) -> Path:
    """Replace the period's summary partition with ``rows``."""
    table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in SUMMARY_COLUMNS})
    target = lake.monthly_partition(lake_dir, period.label)
    lake.write_atomic(table, target)
    return target


def read_summary(lake_dir: Path, period: Period) -> list[dict[str, Any]]:
    """The summary rows ``compute_month`` wrote for ``period``."""
    path = lake.monthly_partition(lake_dir, period.label)
    if not path.exists():
        raise LakeError(f"{path}: missing; expected the computed summary of {period.label} "
                        f"(run: slo-jobs compute --month {period.label})")
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def compute_month(lake_dir: Path, slos: Sequence[Slo], period: Period) -> list[dict[str, Any]]:
    rows = month_summary(lake_dir, slos, period)
    write_summary(lake_dir, period, rows)
    return rows
