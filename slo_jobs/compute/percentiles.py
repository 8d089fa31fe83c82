"""Latency percentiles: p50, p95 and p99 of each latency SLO with kept histogram buckets
(``spec.indicator.latency.buckets``), per local day and for its month to date
(``sql/percentiles.sql`` sums the buckets, ``core/quantile.py`` interpolates), published as
``percentiles.parquet`` with the month's other tables.

The window is the summary row's own (``[period_start, as_of)`` in the SLO's zone, its
excluded maintenance windows left out). The month's histogram sums its days' over the
bounds every day with buckets kept, so a change of the kept bounds within the month never
mixes a bound counted on some days with one counted on all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa

from .. import lake
from ..core import periods, resources
from ..core.quantile import QUANTILES, histogram_quantile
from ..lake import LakeDir
from ..spec import LatencySli, Slo
from .breakdown import maintenance_table
from .engine import connect

_TS = pa.timestamp("us", tz="UTC")
COLUMNS = pa.schema([
    ("slo", pa.string()), ("day", pa.date32()),  # day null: the month to date
    ("observations", pa.float64()), ("p50", pa.float64()), ("p95", pa.float64()),
    ("p99", pa.float64()), ("threshold", pa.float64()),
    ("at_or_under", pa.float64()),  # share of the observations at or under the threshold
    ("percentile", pa.float64()),  # the percentile objective's (null: none)
    ("bounds", pa.list_(pa.float64())),  # the finite bucket bounds interpolated between
    ("days", pa.int64()), ("days_missing", pa.int64()),
])


def _rows(lake_dir: LakeDir, slo: str, days: Sequence[date]) -> tuple[pa.Table, int]:
    """The SLO's buckets partitions of ``days`` (each verified), and how many days have
    none (extracted before the SLO kept buckets, or never)."""
    tables, missing = [], 0
    for d in days:
        path = lake.detail_partition(lake_dir, "buckets", slo, d)
        if not path.exists():
            missing += 1
            continue
        tables.append(lake.read_verified(path, schema=lake.BUCKETS_SCHEMA))
    if not tables:
        return lake.BUCKETS_SCHEMA.empty_table(), missing
    return pa.concat_tables(tables), missing


def figures(histogram: dict[float, float], threshold: float) -> dict[str, Any]:
    """A histogram's observations, p50, p95, p99 and the share at or under ``threshold``."""
    bounds, counts = list(histogram), list(histogram.values())
    total = histogram.get(math.inf, 0.0)
    under = max((c for b, c in histogram.items() if b <= threshold), default=0.0)
    out: dict[str, Any] = {"observations": total,
                           "at_or_under": min(under, total) / total if total else None,
                           "bounds": sorted(b for b in bounds if math.isfinite(b))}
    for q in QUANTILES:
        v = histogram_quantile(q, bounds, counts)
        out[f"p{round(q * 100)}"] = None if math.isnan(v) else v
    return out


def slo_percentiles(lake_dir: LakeDir, slo: Slo, row: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per local day of the SLO's window with observations, and one for the window
    (``day`` null), from its kept buckets."""
    assert isinstance(slo.sli, LatencySli)
    start, as_of = row["period_start"], row["as_of"]
    window = periods.Period("", start, as_of)
    utc = periods.utc_days(window)
    rows, missing = _rows(lake_dir, slo.name, utc)
    local = periods.local_days(window, slo.time_zone)
    days = pa.table({"day": pa.array([d for d, _, _ in local], pa.date32()),
                     "start": pa.array([s for _, s, _ in local], _TS),
                     "end": pa.array([e for _, _, e in local], _TS)})
    con = connect()
    con.register("rows", rows)
    con.register("days", days)
    con.register("maintenance", maintenance_table(slo, start, as_of))
    found = con.sql(resources.sql("percentiles"), params={"start": start, "as_of": as_of}
                    ).fetchall()
    con.close()
    per_day: dict[date, dict[float, float]] = {}
    for day, le, count, _ in found:
        per_day.setdefault(day, {})[le] = count
    shared = set.intersection(*(set(h) for h in per_day.values())) if per_day else set()
    month = {b: sum(h[b] for h in per_day.values()) for b in sorted(shared)}
    common = {"slo": slo.name, "threshold": slo.sli.threshold,
              "percentile": slo.sli.percentile, "days": len(utc), "days_missing": missing}
    out = [{**common, "day": d, **figures(h, slo.sli.threshold)}
           for d, h in sorted(per_day.items())]
    return [*out, {**common, "day": None, **figures(month, slo.sli.threshold)}]


def month_percentiles(lake_dir: LakeDir, slos: Sequence[Slo],
                      summary: Sequence[dict[str, Any]]) -> pa.Table:
    """The percentiles of every latency SLO that keeps buckets and has a summary row."""
    by_name = {r["slo"]: r for r in summary}
    out: list[dict[str, Any]] = []
    for s in slos:
        row = by_name.get(s.name)
        if isinstance(s.sli, LatencySli) and s.sli.buckets and row is not None:
            out += slo_percentiles(lake_dir, s, row)
    return pa.Table.from_pylist(out, schema=COLUMNS)
