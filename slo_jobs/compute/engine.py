"""Run the compute SQL for one window (a calendar period or a rolling window) of SLOs.

The lake's day partitions are dense (one row per bucket) and are fed to DuckDB SLO by SLO,
day by day, so a bucket's position in the stream is its time: prefix sums and lags then
run as streaming window functions, without sorting 40 M rows (see sql/bucket_stream.sql).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from .. import lake, resources
from ..errors import LakeError, SloJobsError
from ..periods import Period, local_days
from .params import SloParams

LOOKBACK = timedelta(days=3)  # the longest burn-rate window
WINDOWS_S = {"l5m": 300, "l30m": 1800, "l1h": 3600, "l2h": 7200, "l6h": 21600,
             "l1d": 86400, "l3d": 259200}
# (share of the period's budget, long window) per alert condition: SLO_MATH 3.
CONDITIONS = {"thr_page1": (0.02, 3600), "thr_page2": (0.05, 21600),
              "thr_ticket1": (0.10, 86400), "thr_ticket2": (0.10, 259200)}


@dataclass
class WindowResult:
    period: Period
    as_of: datetime
    summary: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    burn: list[dict[str, Any]] = field(default_factory=list)


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # Results must not depend on the host's zone: every timestamp is UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def alert_factor(share: float, period_s: float, long_s: float) -> float:
    """Burn-rate factor that spends ``share`` of the period's budget within ``long_s``."""
    return share * period_s / long_s


def _rows(rel: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in rel.description or []]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def _filler(scratch: Path, day: date, step_s: int) -> str:
    """A partition-shaped file of ``day`` with no data, standing in for a missing one."""
    path = scratch / f"empty-{day.isoformat()}-{step_s}.parquet"
    if not path.exists():
        first = datetime(day.year, day.month, day.day, tzinfo=UTC)
        n = 86_400 // step_s
        pq.write_table(pa.table({
            "ts": [first + timedelta(seconds=i * step_s) for i in range(n)],
            "good": [0.0] * n, "total": [0.0] * n, "clipped": [False] * n,
            "has_data": [False] * n, "step_s": [step_s] * n}, schema=lake.SLI_SCHEMA), path)
    return str(path)


def _check_dense(con: duckdb.DuckDBPyConnection, files: list[str], per_day: int) -> None:
    """Every partition has one row per bucket of its day (footers only: cheap)."""
    try:
        bad = con.execute("SELECT file_name, num_rows FROM parquet_file_metadata($files) "
                          "WHERE num_rows <> $n LIMIT 1",
                          {"files": files, "n": per_day}).fetchall()
    except duckdb.Error:
        # An unreadable footer: let the full check name the file and the fix.
        lake.verify([Path(f) for f in files])
        raise
    if bad:
        lake.verify([Path(bad[0][0])])
        raise LakeError(f"{bad[0][0]}: {bad[0][1]} rows; expected {per_day} (one per bucket of "
                        f"the day); {lake.reextract_hint(Path(bad[0][0]))}")


class _Layout:
    """Bucket arithmetic of one window: origin, bucket indices, snapshot interval."""

    def __init__(self, period: Period, as_of: datetime, step_s: int, tz: str) -> None:
        self.step_s = step_s
        first = (period.start - LOOKBACK).date()
        self.origin = datetime(first.year, first.month, first.day, tzinfo=UTC)
        last = (period.end - timedelta(microseconds=1)).date()
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.per_day = 86_400 // step_s
        self.n = len(self.days) * self.per_day
        self.b0, self.b1, self.basof = self.index(period.start), self.index(period.end), \
            self.index(as_of)
        self.local = [(d, self.index(s), self.index(e)) for d, s, e in local_days(period, tz)
                      if e <= as_of]
        marks = [self.b0, self.b1, self.basof] + [b for _, s, e in self.local for b in (s, e)]
        # Snapshot hourly when every boundary is on the hour, else every 15 minutes (all
        # IANA offsets are multiples of 15 minutes).
        hour, quarter = 3600 // step_s, 900 // step_s
        self.hour = hour
        self.snap = hour if all(m % hour == 0 for m in marks) else quarter
        if any(m % self.snap for m in marks):
            raise SloJobsError(f"window {period.label}: boundaries must fall on whole 15 "
                               "minutes")

    def index(self, t: datetime) -> int:
        return int((t - self.origin).total_seconds()) // self.step_s


def compute_window(lake_dir: Path, slos: Sequence[SloParams], period: Period,
                   as_of: datetime | None = None, tz: str = "UTC",
                   step_s: int = 60) -> WindowResult:
    """All figures of ``slos`` over ``period``, evaluated at ``as_of`` (default: its end)."""
    if step_s < 60 or 86_400 % step_s:
        # Streaming lag() needs offsets under 2,048 rows: one day must fit (see the SQL).
        raise SloJobsError(f"bucket step: found {step_s} s; expected at least 60 s dividing a day")
    evaluated = min(max(as_of or period.end, period.start), period.end)
    lay = _Layout(period, evaluated, step_s, tz)
    # Align as-of down to a snapshot boundary: the figures are exact up to that instant.
    lay.basof -= lay.basof % lay.snap
    evaluated = lay.origin + timedelta(seconds=lay.basof * step_s)
    result = WindowResult(period, evaluated)
    if not slos:
        return result
    if lay.basof <= lay.b0:
        raise SloJobsError(f"as-of {evaluated}: before the window {period.label} starts")
    elapsed = (lay.basof - lay.b0) / (lay.b1 - lay.b0)
    con = connect()
    with tempfile.TemporaryDirectory(prefix="slo-jobs-") as tmp:
        scratch = Path(tmp)
        files = [str(p) if (p := lake.sli_partition(lake_dir, s.name, d)).exists()
                 else _filler(scratch, d, step_s) for s in slos for d in lay.days]
        _check_dense(con, files, lay.per_day)
        _register_slos(con, slos, period)
        # A corrupt partition must not become a number: every page's checksum is verified,
        # next to the stream (both only read); nothing is returned before both succeed.
        with ThreadPoolExecutor(max_workers=1) as checker:
            verified = checker.submit(lake.verify, [Path(f) for f in files])
            try:
                snap = _parallel_stream(slos, lay, files, period)
            except duckdb.Error as exc:
                verified.result()  # names the bad partition and the fix, if one is bad
                raise LakeError(f"{lake_dir}: cannot read the partitions of {period.label} "
                                f"({' '.join(str(exc).split())[:200]})") from None
            verified.result()
        con.register("snap_arrow", snap)
        con.execute("CREATE TEMP TABLE snap AS SELECT * FROM snap_arrow")
        con.execute("CREATE TEMP TABLE occ AS " + resources.sql("occurrence_measures"),
                    {"b0": lay.b0, "basof": lay.basof})
        _slice_measures(con, slos, lay, files)
        result.summary = _rows(con.execute(resources.sql("budget_status"), {
            "expected": lay.basof - lay.b0, "elapsed": elapsed}))
    for r in result.summary:
        r["period"] = period.label
        r["period_start"], r["period_end"], r["as_of"] = period.start, period.end, evaluated
        r["exhaustion_at"] = (evaluated + timedelta(days=r["exhaustion_days"])
                              if r["exhaustion_days"] is not None else None)
    con.register("decisions_in", pa.Table.from_pylist(
        [{"slo": r["slo"], "status": r["status"]} for r in result.summary]))
    result.decisions = _rows(con.execute(resources.sql("release_decision")))
    con.register("days", pa.table({
        "day": [d for d, _, _ in lay.local], "b_start": [s for _, s, _ in lay.local],
        "b_end": [e for _, _, e in lay.local],
        "elapsed_end": [(e - lay.b0) / (lay.b1 - lay.b0) for _, _, e in lay.local]},
        schema=pa.schema([("day", pa.date32()), ("b_start", pa.int64()),
                          ("b_end", pa.int64()), ("elapsed_end", pa.float64())])))
    result.daily = _rows(con.execute(resources.sql("daily_series"),
                                     {"b0": lay.b0, "elapsed": elapsed}))
    common = {"origin_s": int(lay.origin.timestamp()), "step_s": step_s}
    result.incidents = _rows(con.execute(resources.sql("incidents"),
                                         {**common, "elapsed": elapsed, "basof": lay.basof}))
    result.burn = _rows(con.execute(resources.sql("burn_trend"), {
        **common, "hour": lay.hour, "b0": lay.b0, "basof": lay.basof}))
    return result


def _stream_part(slos: Sequence[SloParams], lay: _Layout, files: list[str], period: Period,
                 k0: int) -> pa.Table:
    """bucket_stream.sql over one contiguous group of SLOs (k numbered from ``k0``)."""
    params: dict[str, Any] = {
        "files": files, "n": lay.n, "b0": lay.b0, "b1": lay.b1, "snap": lay.snap,
        "budget": [s.budget_fraction for s in slos]}
    params.update({k: v // lay.step_s for k, v in WINDOWS_S.items() if k != "l3d"})
    for name, (share, long_s) in CONDITIONS.items():
        params[name] = [alert_factor(share, s.alert_period_s or period.seconds, long_s)
                        * s.budget_fraction for s in slos]
    con = connect()
    # The streaming window is single-threaded anyway; one scan thread keeps memory flat.
    con.execute("SET threads = 1")
    table = con.sql(resources.sql("bucket_stream"), params=params).to_arrow_table()
    return table.set_column(0, "k", pa.compute.add(table.column("k"), k0))


def _parallel_stream(slos: Sequence[SloParams], lay: _Layout, files: list[str],
                     period: Period) -> pa.Table:
    """Run the stream on groups of SLOs at once.

    A streaming window runs on one thread, so the SLOs are split into one contiguous group
    per core, each streamed by its own connection, and the snapshots concatenated.
    """
    groups = max(1, min(os.cpu_count() or 1, len(slos) // 8 or 1))
    size = math.ceil(len(slos) / groups)
    days = len(lay.days)
    with ThreadPoolExecutor(max_workers=groups) as pool:
        parts = [pool.submit(_stream_part, slos[g:g + size], lay,
                             files[g * days:(g + size) * days], period, g)
                 for g in range(0, len(slos), size)]
        return pa.concat_tables([p.result() for p in parts])


def _register_slos(con: duckdb.DuckDBPyConnection, slos: Sequence[SloParams],
                   period: Period) -> None:
    con.register("slos_arrow", pa.table({
        "k": list(range(len(slos))), "slo": [s.name for s in slos],
        "service": [s.service for s in slos], "description": [s.description for s in slos],
        "spec_hash": [s.spec_hash for s in slos],
        "target": pa.array([s.target for s in slos], pa.float64()),
        "budget_fraction": pa.array([s.budget_fraction for s in slos], pa.float64()),
        "method": [s.method for s in slos],
        "slice_seconds": pa.array([s.slice_seconds for s in slos], pa.float64()),
        "period_s": pa.array([float(period.seconds)] * len(slos), pa.float64())}))
    con.execute("CREATE TEMP TABLE slos AS SELECT * FROM slos_arrow")


_SLC_TABLE = ("CREATE TEMP TABLE slc (k BIGINT, good_slices BIGINT, counted_slices BIGINT, "
              "no_data_slices BIGINT, all_slices BIGINT, ratio_mean DOUBLE)")


def _slice_measures(con: duckdb.DuckDBPyConnection, slos: Sequence[SloParams], lay: _Layout,
                    files: list[str]) -> None:
    sliced = [(k, s) for k, s in enumerate(slos) if s.method != "Occurrences"]
    con.execute(_SLC_TABLE)
    if not sliced:
        return
    for _, s in sliced:
        if s.slice_seconds % lay.step_s or s.slice_seconds <= 0:
            raise SloJobsError(f"SLO {s.name}: timeSliceWindow of {s.slice_seconds:g} s is not a "
                               f"multiple of the {lay.step_s} s bucket")
    sub = [f for k, _ in sliced for f in files[k * len(lay.days):(k + 1) * len(lay.days)]]
    con.execute("INSERT INTO slc " + resources.sql("slice_measures"), {
        "files": sub, "n": lay.n, "b0": lay.b0, "basof": lay.basof,
        "gk": [k for k, _ in sliced],
        "slice_buckets": [int(s.slice_seconds // lay.step_s) for _, s in sliced],
        "slice_target": [s.slice_target for _, s in sliced],
        "no_data": [s.no_data for _, s in sliced]})
