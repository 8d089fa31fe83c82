"""Run the compute for one window (a calendar period or a rolling window) of SLOs.

The lake's day partitions are dense (one row per bucket), so a bucket's position in an SLO's
array is its time: ``stream.py`` turns every window sum into a difference of prefix sums and
keeps snapshot rows and firing buckets; the SQL files compute everything else from those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import lake
from ..core import periods, resources
from ..core.burnrate import (
    BURN_WINDOWS_S,
    CONDITIONS,
    LOOKBACK,
    SHORT_WINDOW_DIVISOR,
    alert_factor,
    lookback,
)
from ..core.errors import SloJobsError
from ..core.periods import BUCKET_S, DAY_S, HOUR_S, Period, local_days
from ..lake import LakeDir
from . import maintenance, stream
from .params import SloParams


@dataclass
class WindowResult:
    period: Period
    as_of: datetime
    summary: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    # Hourly burn rates stay in Arrow: 720,000 rows for 1,000 SLOs go to Parquet as they are,
    # and become Python rows only for a caller that asks for ``burn``.
    burn_table: pa.Table | None = None

    @property
    def burn(self) -> list[dict[str, Any]]:
        return [] if self.burn_table is None else _rows_of(self.burn_table)


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # Results must not depend on the host's zone: every timestamp is UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _rows(rel: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    """The result as dicts. Through Arrow, with repeated values (SLO names, hours, days)
    converted to Python once each: a timestamp per row was most of the time for the
    720,000 hourly burn rows of 1,000 SLOs."""
    return _rows_of(rel.to_arrow_table())


def _rows_of(table: pa.Table) -> list[dict[str, Any]]:
    columns: list[list[Any]] = []
    for col in table.columns:
        if pa.types.is_temporal(col.type) or pa.types.is_string(col.type):
            enc = pc.dictionary_encode(col.combine_chunks())
            values = enc.dictionary.to_pylist()
            columns.append([None if i is None else values[i] for i in enc.indices.to_pylist()])
        else:
            columns.append(col.to_pylist())
    names = table.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class _Layout:
    """Bucket arithmetic of one window: origin, bucket indices, snapshot interval."""

    def __init__(self, period: Period, as_of: datetime, tz: str,
                 lookback: timedelta = LOOKBACK) -> None:
        self.days = periods.utc_days(Period("", period.start - lookback, period.end))
        self.origin = periods.midnight(self.days[0])
        self.per_day = DAY_S // BUCKET_S
        self.n = len(self.days) * self.per_day
        self.b0, self.b1, self.basof = self.index(period.start), self.index(period.end), \
            self.index(as_of)
        self.local = [(d, self.index(s), self.index(e)) for d, s, e in local_days(period, tz)
                      if e <= as_of]
        marks = [self.b0, self.b1, self.basof] + [b for _, s, e in self.local for b in (s, e)]
        # Snapshot hourly when the zone's boundaries are on the hour, else every 15 minutes
        # (all IANA offsets are multiples of 15 minutes). A boundary off that grid (an as-of
        # or a rolling window at any minute) gets a snapshot row of its own, so every sum is
        # exact to its bucket, never rounded to the grid.
        hour, quarter = HOUR_S // BUCKET_S, 900 // BUCKET_S
        self.hour = hour
        self.snap = hour if all(m % hour == 0 for m in marks if m % quarter == 0) else quarter
        self.marks = tuple(sorted({m for m in marks if m % self.snap}))

    def index(self, t: datetime) -> int:
        return int((t - self.origin).total_seconds()) // BUCKET_S


@dataclass(frozen=True)
class AlertCondition:
    """One burn-rate alert condition of an SLO: fire iff both windows burn above ``factor``."""

    severity: str  # page or ticket
    long_s: int
    short_s: int
    factor: float

    def as_row(self) -> dict[str, Any]:
        return {"severity": self.severity, "long_s": self.long_s, "short_s": self.short_s,
                "factor": self.factor}


def alert_conditions(slo: SloParams, period_s: float) -> tuple[AlertCondition, ...]:
    """The SLO's alert conditions, as rules.conditions() gives them to Prometheus: its
    ``alerting.burnRates`` overrides, else the four defaults; f = p * P / L (docs/slo-math.md) with
    P its rolling length, else the length of the window computed (a 31-day month is 31 d)."""
    p = slo.alert_period_s or period_s
    if slo.burn_rates:
        out = []
        for a in slo.burn_rates:
            long_s = a.long_window.total_seconds()
            factor = a.factor if a.factor is not None else \
                alert_factor(a.budget_consumed or 0.0, p, long_s)
            out.append(AlertCondition(a.severity, int(long_s),
                                      int(a.short_window.total_seconds()), factor))
        return tuple(out)
    return tuple(AlertCondition("page" if name.startswith("thr_page") else "ticket", long_s,
                                long_s // SHORT_WINDOW_DIVISOR, alert_factor(share, p, long_s))
                 for name, (share, long_s) in CONDITIONS.items())


def conditions(slo: SloParams, period_s: float) -> tuple[stream.Condition, ...]:
    """``alert_conditions`` in buckets, with thresholds f * B."""
    b = slo.budget_fraction
    return tuple(stream.Condition(c.severity == "page", c.long_s // BUCKET_S,
                                  c.short_s // BUCKET_S, c.factor * b)
                 for c in alert_conditions(slo, period_s))


def _lookback(slos: Sequence[SloParams]) -> timedelta:
    return lookback(a.long_window for s in slos for a in s.burn_rates)


def compute_window(lake_dir: LakeDir, slos: Sequence[SloParams], period: Period,
                   as_of: datetime | None = None, tz: str = "UTC",
                   processes: bool = True) -> WindowResult:
    """All figures of ``slos`` over ``period``, evaluated at ``as_of`` (default: its end).

    ``processes``: spread the SLOs over a worker process per further core
    (``stream.run``); False in an orchestrator's task."""
    evaluated = min(max(as_of or period.end, period.start), period.end)
    lay = _Layout(period, evaluated, tz, _lookback(slos))
    # The figures are to the start of the bucket holding as-of (its whole minute).
    evaluated = lay.origin + timedelta(seconds=lay.basof * BUCKET_S)
    result = WindowResult(period, evaluated)
    if not slos:
        return result
    if lay.basof <= lay.b0:
        given = as_of or period.end
        raise SloJobsError(f"as-of {given:%Y-%m-%dT%H:%MZ}: not after the start of window "
                           f"{period.label} ({period.start:%Y-%m-%dT%H:%MZ}); expected a later "
                           "as-of")
    elapsed = (lay.basof - lay.b0) / (lay.b1 - lay.b0)
    con = connect()
    _check_slices(slos)
    snap, slices, slice_days = _stream(lake_dir, slos, lay, period, processes)
    _register_slos(con, slos, period)
    con.register("snap_arrow", snap)
    con.execute("CREATE TEMP TABLE snap AS SELECT * FROM snap_arrow")
    con.unregister("snap_arrow")
    con.execute("CREATE TEMP TABLE occ AS " + resources.sql("occurrence_measures"),
                {"b0": lay.b0, "basof": lay.basof})
    con.register("slc_arrow", slices)
    con.execute("CREATE TEMP TABLE slc AS SELECT * FROM slc_arrow")
    con.unregister("slc_arrow")
    con.register("slc_days", slice_days)
    result.summary = _rows(con.sql(resources.sql("budget_status"), params={
        "expected": lay.basof - lay.b0, "elapsed": elapsed}))
    by_name = {s.name: s for s in slos}
    for r in result.summary:
        # The factors the incidents were judged by, for the report's chart and definitions.
        r["alert_conditions"] = [c.as_row() for c in alert_conditions(by_name[r["slo"]],
                                                                      period.seconds)]
        r["period"] = period.label
        r["period_start"], r["period_end"], r["as_of"] = period.start, period.end, evaluated
        r["exhaustion_at"] = (evaluated + timedelta(days=r["exhaustion_days"])
                              if r["exhaustion_days"] is not None else None)
        r.update(maintenance.fields(by_name[r["slo"]].maintenance, period, evaluated))
    con.register("decisions_in", pa.Table.from_pylist(
        [{"slo": r["slo"], "status": r["status"]} for r in result.summary]))
    result.decisions = _rows(con.sql(resources.sql("release_decision")))
    con.register("days", pa.table({
        "day": [d for d, _, _ in lay.local], "b_start": [s for _, s, _ in lay.local],
        "b_end": [e for _, _, e in lay.local],
        "elapsed_end": [(e - lay.b0) / (lay.b1 - lay.b0) for _, _, e in lay.local]},
        schema=pa.schema([("day", pa.date32()), ("b_start", pa.int64()),
                          ("b_end", pa.int64()), ("elapsed_end", pa.float64())])))
    result.daily = _rows(con.sql(resources.sql("daily_series"),
                                 params={"b0": lay.b0, "elapsed": elapsed}))
    common = {"origin_s": int(lay.origin.timestamp()), "step_s": BUCKET_S}
    result.incidents = _rows(con.sql(resources.sql("incidents"), params={
        **common, "elapsed": elapsed, "basof": lay.basof}))
    result.burn_table = con.sql(resources.sql("burn_trend"), params={
        **common, "hour": lay.hour, "b0": lay.b0, "basof": lay.basof}).to_arrow_table()
    return result


def _stream(lake_dir: LakeDir, slos: Sequence[SloParams], lay: _Layout,
            period: Period, processes: bool = True) -> stream.Tables:
    """Every SLO's partitions through stream.py: snapshot/firing rows and slice counts."""
    grid = stream.Grid(per_day=lay.per_day, b0=lay.b0, b1=lay.b1, basof=lay.basof,
                       snap=lay.snap, marks=lay.marks, burn_b=tuple(v // BUCKET_S
                                                   for v in BURN_WINDOWS_S.values()),
                       days=tuple((b_start, b_end) for _, b_start, b_end in lay.local))
    inputs = []
    for k, s in enumerate(slos):
        found = set(lake.existing_days(lake_dir, s.name, lay.days))
        paths = tuple(lake.sli_partition(lake_dir, s.name, d) if d in found else None
                      for d in lay.days)
        excluded, as_good = maintenance.bucket_ranges(s.maintenance, lay.origin, lay.n)
        inputs.append(stream.SloInput(k, paths, s.budget_fraction,
                                      conditions(s, period.seconds),
                                      s.method != "Occurrences",
                                      max(1, int(s.slice_seconds // BUCKET_S)),
                                      s.method == "RatioTimeslices", s.slice_target,
                                      s.no_data, excluded, as_good))
    return stream.run(grid, inputs, processes)


def _register_slos(con: duckdb.DuckDBPyConnection, slos: Sequence[SloParams],
                   period: Period) -> None:
    # The longest short window of each severity's conditions: a condition firing again
    # sooner than that after a burn ended continues it (incidents.sql).
    def gap(s: SloParams, page: bool) -> int:
        return max((c.short_b for c in conditions(s, period.seconds)
                    if c.page == page), default=0)

    con.register("slos_arrow", pa.table({
        "k": list(range(len(slos))), "slo": [s.name for s in slos],
        "service": [s.service for s in slos], "description": [s.description for s in slos],
        "spec_hash": [s.spec_hash for s in slos],
        "target": pa.array([s.target for s in slos], pa.float64()),
        "budget_fraction": pa.array([s.budget_fraction for s in slos], pa.float64()),
        "method": [s.method for s in slos],
        "slice_seconds": pa.array([s.slice_seconds for s in slos], pa.float64()),
        "min_coverage": pa.array([s.min_coverage for s in slos], pa.float64()),
        "min_events": pa.array([s.min_events for s in slos], pa.float64()),
        "period_s": pa.array([float(period.seconds)] * len(slos), pa.float64()),
        "page_gap_b": pa.array([gap(s, True) for s in slos], pa.int64()),
        "ticket_gap_b": pa.array([gap(s, False) for s in slos], pa.int64())}))
    con.execute("CREATE TEMP TABLE slos AS SELECT * FROM slos_arrow")


def _check_slices(slos: Sequence[SloParams]) -> None:
    for s in slos:
        if s.method != "Occurrences" and (s.slice_seconds % BUCKET_S or s.slice_seconds <= 0):
            raise SloJobsError(f"SLO {s.name}: timeSliceWindow of {s.slice_seconds:g} s is not a "
                               f"multiple of the {BUCKET_S} s bucket")
