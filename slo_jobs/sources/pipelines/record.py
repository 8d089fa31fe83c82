"""Judge pipeline SLIs into lake partitions: the SLI buckets plus two detail tables.

Layout beside the SLI partitions (all times UTC)::

    <lake>/sli/slo=<name>/date=D/part-0.parquet             good/total per minute (as always)
    <lake>/pipeline_age/slo=<name>/date=D/part-0.parquet    freshness: age at each minute's end
    <lake>/pipeline_runs/slo=<name>/date=D/part-0.parquet   completion: one row per judged run

Bucket ``[t, t + 1m)`` holds the events of ``(t, t + 1m]`` and a freshness bucket is judged
by the age at ``t + 1m``: the same convention as Prometheus' ``increase`` at the bucket's
end, so a table source and a Prometheus gauge of the same loads give identical buckets.
A run is an event at its deadline (interval end + ``within``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ... import lake
from ...core import periods
from ...core.errors import LakeError
from ...core.periods import BUCKET_S, DAY, DAY_S
from ...lake import LakeDir, daytable
from ...lake.daytable import DayResult, DayTable
from ...spec import Slo
from ...spec.tables import PipelineSource
from ..endpoint import AirflowConfig
from . import judge
from . import readers as sources
from .judge import US

DEFAULT_LOOKBEHIND = timedelta(days=32)  # a monthly DAG's interval, when none is declared
AirflowFor = Callable[[str | None], AirflowConfig]
AIRFLOW_LABEL = "airflow_conn_id"

AGE_SCHEMA, RUN_SCHEMA, detail_partition = lake.AGE_SCHEMA, lake.RUN_SCHEMA, lake.detail_partition


@dataclass(frozen=True)
class Judged:
    """The buckets ``[start, end)`` of one SLO and their details."""

    start_us: int
    good: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    clipped: npt.NDArray[np.bool_]
    ages: npt.NDArray[np.float64] | None = None
    runs: list[judge.RunVerdict] | None = None


_us = sources.micros


def judge_window(slo: Slo, start: datetime, end: datetime, airflow_for: AirflowFor) -> Judged:
    src = slo.pipeline
    assert src is not None
    s, e = _us(start), _us(end)
    n = (e - s) // (BUCKET_S * US)
    ends = s + (np.arange(n, dtype=np.int64) + 1) * BUCKET_S * US
    zeros = np.zeros(n)
    if src.kind == "freshness":
        assert src.table is not None and src.loaded_at and src.max_age is not None
        ages = judge.ages_at(ends, sources.load_times(src.table, src.loaded_at, e))
        ok = judge.fresh(ages, src.max_age.total_seconds())
        return Judged(s, ok.astype(float), np.ones(n), np.zeros(n, bool), ages=ages)
    if src.kind == "completeness":
        assert src.table and src.at and src.processed and src.expected
        good, total = zeros.copy(), zeros.copy()
        for at, processed, expected in sources.completeness_rows(
                src.table, src.at, src.processed, src.expected, s, e):
            i = -(-(at - s) // (BUCKET_S * US)) - 1  # (t, t + 1m] -> bucket t
            good[i] += processed
            total[i] += expected
        clipped = good > total
        return Judged(s, np.minimum(good, total), total, clipped)
    runs = judge.judge_runs(_runs(slo, src, s, e, airflow_for), int(src.within_s), s, e,
                            src.expect_every_s)
    good, total = zeros.copy(), zeros.copy()
    for v in runs:
        i = -(-(v.deadline - s) // (BUCKET_S * US)) - 1
        total[i] += 1
        good[i] += v.good
    return Judged(s, good, total, np.zeros(n, bool), runs=runs)


def _runs(slo: Slo, src: PipelineSource, s: int, e: int,
          airflow_for: AirflowFor) -> list[judge.Run]:
    assert src.dag is not None and src.within is not None
    within = int(src.within_s) * US
    if src.table is not None:
        return sources.exported_runs(src.table, src.dag, s - within, e - within)
    back = (src.expect_every or DEFAULT_LOOKBEHIND) // timedelta(microseconds=1)
    after = s - within - back  # logical date = interval start: one interval before
    with sources.AirflowClient(airflow_for(slo.labels.get(AIRFLOW_LABEL) or None)) as api:
        return api.runs(src.dag, after, e - within)


def _cut(j: Judged, start: datetime, end: datetime) -> Judged:
    """The buckets ``[start, end)`` of a judged span."""
    step = BUCKET_S * US
    i0, i1 = (_us(start) - j.start_us) // step, (_us(end) - j.start_us) // step
    runs = None if j.runs is None else [
        v for v in j.runs if _us(start) < v.deadline <= _us(end)]
    return Judged(_us(start), j.good[i0:i1], j.total[i0:i1], j.clipped[i0:i1],
                  None if j.ages is None else j.ages[i0:i1], runs)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = periods.midnight(day)
    return start, start + DAY


def _empty_day(day: date) -> pa.Table:
    start, _ = _day_bounds(day)
    n = DAY_S // BUCKET_S
    ts = [start + timedelta(seconds=i * BUCKET_S) for i in range(n)]
    return pa.table({"ts": ts, "good": [0.0] * n, "total": [0.0] * n, "clipped": [False] * n,
                     "has_data": [False] * n, "step_s": [BUCKET_S] * n}, schema=lake.SLI_SCHEMA)


def _merge_sli(old: pa.Table, j: Judged, day: date) -> pa.Table:
    """``old`` with the judged buckets replaced: exactly this window, nothing else."""
    i0 = (j.start_us - _us(_day_bounds(day)[0])) // (BUCKET_S * US)
    cols = {c: old.column(c).to_numpy(zero_copy_only=False).copy()
            for c in ("good", "total", "clipped", "has_data")}
    sl = slice(i0, i0 + len(j.good))
    cols["good"][sl], cols["total"][sl], cols["clipped"][sl] = j.good, j.total, j.clipped
    cols["has_data"][sl] = True  # the source answered: a quiet minute is data, not a gap
    table = pa.table({"ts": old.column("ts"), **cols, "step_s": old.column("step_s")},
                     schema=lake.SLI_SCHEMA)
    meta = lake.partition_metadata((), _recorded_until(cols["has_data"], day))
    return table.replace_schema_metadata(meta) if meta else table


def _recorded_until(recorded: npt.NDArray[np.bool_], day: date) -> datetime | None:
    """How far a pipeline SLI day is complete: up to its first minute not recorded yet
    (None: every minute). A judged minute is final (a run at its deadline, an age from the
    rows loaded by then), so only the minutes never judged (an hour the hourly DAG has not
    recorded yet or missed, the time after a read's as-of) make the day one that the next
    gap fill, ``run`` or ``backfill`` reads again (:func:`slo_jobs.lake.missing_days`)."""
    gaps = np.flatnonzero(~recorded)
    if not len(gaps):
        return None
    return _day_bounds(day)[0] + timedelta(seconds=int(gaps[0]) * BUCKET_S)


def _merge_ages(old: pa.Table | None, j: Judged, day: date) -> pa.Table:
    assert j.ages is not None
    ts = [datetime.fromtimestamp((j.start_us + i * BUCKET_S * US) / US, UTC)
          for i in range(len(j.ages))]
    new = pa.table({"ts": ts, "age_s": [None if np.isnan(a) else float(a) for a in j.ages]},
                   schema=AGE_SCHEMA)
    if old is None:
        return new
    lo, hi = new.column("ts")[0], new.column("ts")[-1]
    keep = old.filter(pa.compute.or_(pa.compute.less(old.column("ts"), lo),
                                     pa.compute.greater(old.column("ts"), hi)))
    return pa.concat_tables([keep, new]).sort_by("ts")


def _merge_runs(old: pa.Table | None, j: Judged) -> pa.Table:
    assert j.runs is not None
    end_us = j.start_us + len(j.good) * BUCKET_S * US

    def ts(us: int | None) -> datetime | None:
        return None if us is None else datetime.fromtimestamp(us / US, UTC)

    new = pa.Table.from_pylist([{
        "run_id": v.run_id, "data_interval_start": ts(v.interval_start),
        "data_interval_end": ts(v.interval_end), "deadline": ts(v.deadline),
        "start_date": ts(v.start), "end_date": ts(v.end), "state": v.state, "good": v.good,
        "finished_after_s": v.finished_after_s, "late_s": v.late_s} for v in j.runs],
        schema=RUN_SCHEMA)
    if old is None:
        return new
    d = old.column("deadline").cast(pa.int64()).to_numpy()
    keep = old.filter(pa.array((d <= j.start_us) | (d > end_us)))
    return pa.concat_tables([keep, new]).sort_by([("deadline", "ascending")])


def _write(slo: Slo, day: date, j: Judged, lake_dir: LakeDir) -> DayResult:
    """Merge ``j`` into the day's partitions. Each merge reads the partition checked whole
    (page checksums) and replaces it without losing another writer's hour
    (:func:`slo_jobs.lake.update`)."""
    if j.ages is not None:
        lake.update(detail_partition(lake_dir, "pipeline_age", slo.name, day), AGE_SCHEMA,
                    lambda old: _merge_ages(old, j, day))
    if j.runs is not None:
        lake.update(detail_partition(lake_dir, "pipeline_runs", slo.name, day), RUN_SCHEMA,
                    lambda old: _merge_runs(old, j))
    # The SLI partition last: its presence is what marks the day as extracted.
    path = lake.sli_partition(lake_dir, slo.name, day)
    sli = lake.update(path, lake.SLI_SCHEMA,
                      lambda old: _merge_sli(old or _empty_day(day), j, day))
    recorded = sli.column("has_data").to_numpy(zero_copy_only=False)
    return DayResult(slo.name, day, int(np.count_nonzero(recorded)), int(j.clipped.sum()),
                     path, complete_until=_recorded_until(recorded, day))


def record_interval(slo: Slo, start: datetime, end: datetime, lake_dir: LakeDir,
                    airflow_for: AirflowFor) -> DayResult:
    """Replace the buckets ``[start, end)`` (within one UTC day) of a pipeline SLO."""
    day = start.astimezone(UTC).date()
    if end <= start or end > _day_bounds(day)[1] or (end - start).total_seconds() % BUCKET_S \
            or start.second or start.microsecond:
        raise LakeError(f"interval [{start}, {end}): expected whole minutes within one UTC day")
    j = judge_window(slo, start, end, airflow_for)  # read everything before writing
    with lake.slo_lock(lake_dir, slo.name):
        daytable.clear_temps(lake_dir, slo.name, [day])
        return _write(slo, day, j, lake_dir)


def read_days(slo: Slo, days: Sequence[date], airflow_for: AirflowFor,
              as_of: datetime | None = None) -> list[DayTable]:
    """UTC days of a pipeline SLO from its own source (the Airflow API or a table): one read
    of the source for the whole span, cut into days, before anything is written. Only the
    minutes that have ended by ``as_of`` are judged (a run whose deadline is still ahead is
    not missing yet); a day they do not cover whole says how far it is complete
    (``complete_until``) and is read again by the next run that needs it. A day starting
    at or after ``as_of`` is left out."""
    end_at = None if as_of is None else _us(as_of) // (BUCKET_S * US) * BUCKET_S * US
    bounds = {d: _day_bounds(d) for d in set(days)}
    if end_at is not None:
        bounds = {d: (s, min(e, datetime.fromtimestamp(end_at / US, UTC)))
                  for d, (s, e) in bounds.items() if _us(s) < end_at}
    if not bounds:
        return []
    span = judge_window(slo, min(s for s, _ in bounds.values()),
                        max(e for _, e in bounds.values()), airflow_for)
    out = []
    for d in sorted(bounds):
        j = _cut(span, *bounds[d])
        sli = _merge_sli(_empty_day(d), j, d)
        out.append(DayTable(
            d, sli, int(j.clipped.sum()),
            ages=None if j.ages is None else _merge_ages(None, j, d),
            runs=None if j.runs is None else _merge_runs(None, j),
            complete_until=_recorded_until(
                sli.column("has_data").to_numpy(zero_copy_only=False), d)))
    return out
