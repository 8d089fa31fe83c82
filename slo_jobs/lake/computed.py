"""A computed month's tables read back from the lake (``<lake>/monthly/month=<label>/``),
and a quarter's or year's roll-up (``<lake>/rollup/period=<label>/``).

Beside ``lake`` rather than in ``compute``: ``slo-jobs show`` and the report read them
without loading the compute engine (DuckDB) or the SLO definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from .. import lake
from ..core.errors import LakeError
from ..core.periods import Period
from . import LakeDir


def read_table(lake_dir: LakeDir, label: str, name: str, missing_ok: bool = False,
               columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows of the month's computed table ``name``; with ``missing_ok`` none for a table
    the month does not have (computed before it existed, or not computed). ``columns``:
    only those of them the table has (a row of many months is held as few fields)."""
    path = lake.monthly_partition(lake_dir, label).parent / f"{name}.parquet"
    return _read(path, label, name, f"slo-jobs compute --month {label}", missing_ok, columns)


def read_rollup(lake_dir: LakeDir, label: str, name: str) -> list[dict[str, Any]]:
    """The rows of the roll-up table ``name`` (``slos``, ``months``, ``groups``) of the
    quarter or year ``label``."""
    path = lake.rollup_partition(lake_dir, label).parent / f"{name}.parquet"
    flag = "--year" if label.isdigit() else "--quarter"
    return _read(path, label, name, f"slo-jobs report {flag} {label}", False, None)


def _read(path: LakeDir, label: str, name: str, redo: str, missing_ok: bool,
          columns: Sequence[str] | None) -> list[dict[str, Any]]:
    try:
        with lake.reading_sets():  # one look at the month's manifest for both
            if not lake.exists(path):
                if missing_ok:
                    return []
                raise LakeError(f"{path}: missing; expected the computed {name} of {label} "
                                f"(run: {redo})")
            table = lake.read_file(path)
            if columns is not None:
                table = table.select([c for c in dict.fromkeys(columns)
                                      if c in table.column_names])
            rows = _rows(table)
    except (OSError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise LakeError(f"{path}: not a readable Parquet file ({reason}); expected the "
                        f"computed {name} of {label}: recompute it with {redo}") from None
    return rows


def read_summary(lake_dir: LakeDir, period: Period) -> list[dict[str, Any]]:
    """The summary rows ``compute_month`` wrote for ``period``."""
    return read_table(lake_dir, period.label, "summary")


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """``table.to_pylist()``, its zoned timestamp columns read as plain UTC and their zone put
    back here: pyarrow converts a zoned timestamp by way of pandas, and importing pandas
    costs `show` two seconds."""
    zones = {}
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz:
            zones[f.name] = ZoneInfo(f.type.tz) if f.type.tz not in ("UTC", "+00:00") else UTC
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit)))
    rows: list[dict[str, Any]] = table.to_pylist()
    for r in rows:
        for name, zone in zones.items():
            if r[name] is not None:
                r[name] = r[name].replace(tzinfo=UTC).astimezone(zone)
    return rows
