"""Pull one SLO's good/total history for whole UTC days and write day partitions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from ... import lake
from ...core import periods
from ...core.errors import ExtractError
from ...core.periods import BUCKET, BUCKET_S, DAY, DAY_S, consecutive, day_start
from ...lake import LakeDir, daytable
from ...lake.daytable import DayResult, DayTable
from ...spec import FreshnessSli, RatioSli, Slo, has_placeholder
from . import check
from .client import PrometheusClient
from .counters import complete_until, counted_days, windowed_days


def _usable(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value >= 0)


def _day_table(day: date, good: dict[int, float], total: dict[int, float],
               step: timedelta) -> tuple[pa.Table, int, int]:
    """Every bucket of ``day``, in time order; buckets without data get has_data = false.

    Dense partitions let the compute stage find any window by position instead of by
    searching timestamps.  A NaN, infinite or negative count makes its bucket "no data":
    it lowers coverage and is never counted as good.  Returns (table, clipped, unusable).
    """
    step_s = int(step.total_seconds())
    first = day_start(day)
    starts = range(first, first + DAY_S, step_s)
    rows_good, rows_total, rows_clip, rows_has = [], [], [], []
    unusable = 0
    for start in starts:
        t = start + step_s  # Prometheus evaluates the bucket's increase at its end
        tot = total.get(t)
        if not (_usable(tot) and _usable(good.get(t))):
            unusable += 1
            tot = None
        # No good events reported where total has some means zero good ones, never "all good".
        g = good.get(t, 0.0) if tot is not None else 0.0
        rows_has.append(tot is not None)
        rows_clip.append(tot is not None and g > tot)
        rows_good.append(min(g, tot) if tot is not None else 0.0)
        rows_total.append(tot if tot is not None else 0.0)
    table = pa.table({"ts": [datetime.fromtimestamp(s, UTC) for s in starts], "good": rows_good,
                      "total": rows_total, "clipped": rows_clip, "has_data": rows_has,
                      "step_s": [step_s] * len(starts)}, schema=lake.SLI_SCHEMA)
    return table, sum(rows_clip), unusable


def _age_table(day: date, ages: dict[int, float], step: timedelta) -> pa.Table:
    """A freshness SLI's age at each bucket's end (null where Prometheus had none), kept
    for the report's status and worst hours, as the table form keeps it."""
    step_s = int(step.total_seconds())
    first = day_start(day)
    starts = range(first, first + DAY_S, step_s)
    values = [ages.get(s + step_s) for s in starts]
    return pa.table({"ts": [datetime.fromtimestamp(s, UTC) for s in starts],
                     "age_s": [v if v is not None and math.isfinite(v) else None
                               for v in values]}, schema=lake.AGE_SCHEMA)


def extract_slo(client: PrometheusClient, slo: Slo, days: Iterable[date], lake_dir: LakeDir,
                step: timedelta = BUCKET, as_of: datetime | None = None
                ) -> list[DayResult]:
    """Extract ``days`` of ``slo`` and replace exactly those day partitions.

    With ``as_of``, nothing after it is read or written as data: days starting at or after
    it get no partition, and a day it cuts (or one Prometheus may not have fully ingested
    yet) is written with ``complete_until`` in its metadata, so it is extracted again once
    it can be complete (:func:`slo_jobs.lake.missing_days`).

    Every query runs before anything is written, so a failing Prometheus leaves the lake as
    it was.  Counters given by a selector are counted from their raw samples
    (:mod:`.samples`); other queries are evaluated with ``query_range`` (:func:`method`).
    """
    # No lock here: the runner (``daytable.replace``) holds the SLO's lock for overlapping runs.
    return [daytable.write(lake_dir, slo.name, d)
            for d in read_days(client, slo, days, step, as_of)]


def read_days(client: PrometheusClient, slo: Slo, days: Iterable[date],
              step: timedelta = BUCKET, as_of: datetime | None = None
              ) -> list[DayTable]:
    """``days`` of ``slo`` read from Prometheus (or VictoriaMetrics, Thanos, Mimir): every
    query runs before the caller writes anything (see ``extract_slo``)."""
    if slo.pipeline is not None:
        where = slo.pipeline.table.describe() if slo.pipeline.table else "the Airflow API"
        raise ExtractError(f"SLO {slo.name}: its SLI is read from {where}, not Prometheus; "
                           "expected its pipeline source (slo_jobs.run.sources)")
    how = method(slo)
    until_s = None if as_of is None else int(as_of.timestamp()) // BUCKET_S * BUCKET_S
    fetched: list[DayTable] = []
    for run in consecutive(d for d in days if until_s is None or day_start(d) < until_s):
        if how == "samples":
            fetched += counted_days(client, slo, run, step, until_s)
        elif how == "promql":
            fetched += windowed_days(client, slo, run, step, until_s)
        else:
            fetched += [_gauge_day(client, slo, day, step, until_s) for day in run]
    return fetched


def method(slo: Slo) -> str:
    """How an SLO's events are read: ``samples`` (counter selectors, from raw samples),
    ``promql`` (an expression over a window, evaluated per bucket) or ``gauge`` (a value per
    minute: threshold and freshness slices, raw ratios)."""
    bad = slo.sli.bad if isinstance(slo.sli, RatioSli) else None
    part = bad or slo.good
    if slo.total.selector is not None and part is not None and part.selector is not None:
        return "samples"
    if any(q.expr is not None and has_placeholder(q.expr) for q in (slo.good, slo.total)):
        return "promql"
    return "gauge"


def _gauge_day(client: PrometheusClient, slo: Slo, day: date, step: timedelta,
               until_s: int | None = None) -> DayTable:
    window = f"{int(step.total_seconds())}s"
    start = periods.midnight(day)
    first, last = start + step, start + DAY
    until = complete_until(day, until_s, None)
    if until is not None:
        last = max(first, until)
    try:
        good = client.query_range(slo.good.promql(window), first, last, step)
        total = client.query_range(slo.total.promql(window), first, last, step)
        newest = slo.sli.timestamp if isinstance(slo.sli, FreshnessSli) else None
        ages = None if newest is None else client.query_range(
            f"max(time() - ({newest}))", first, last, step)
    except ExtractError as exc:
        raise ExtractError(f"SLO {slo.name}, {day}: {exc}") from None
    if until is not None:  # nothing after the as-of counts, whatever Prometheus returned
        cut = int(until.timestamp())
        good = {t: v for t, v in good.items() if t <= cut}
        total = {t: v for t, v in total.items() if t <= cut}
    table, clipped, unusable = _day_table(day, good, total, step)
    # Nothing all day: name what the query reads, as for a counter selector matching nothing.
    notes = () if total or until is not None or not slo.total.expr else (
        f"no series matched {' and '.join(check.vectors(slo.total.expr))} in "
        f"{client.config.url}",)
    return DayTable(day, table, clipped, unusable,
                    ages=None if ages is None else _age_table(day, ages, step),
                    notes=notes, complete_until=until)
