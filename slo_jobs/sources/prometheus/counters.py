"""Day partitions of counter SLIs: from raw samples, or from a windowed PromQL expression.

Both fill the lake's one-minute buckets (see docs/extraction.md):

* ``samples``: every raw sample of the good (or bad) and total selectors, fetched as
  instant queries of ``selector[1d]``, counted by :func:`.samples.count`.  Exact at any
  scrape interval; costs one point per stored sample.
* ``promql``: a user's expression with a window placeholder, evaluated with ``query_range``
  over a window wide enough for two scrapes.  PromQL decides what happens between windows,
  so this is only as exact as the backend's ``increase`` (see the docs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from ... import lake
from ...core.errors import ExtractError
from ...core.periods import BUCKET_S, DAY_S, HOUR_S, INGEST_GRACE, day_start
from ...lake.daytable import DayTable
from ...spec import WINDOW_PLACEHOLDERS, LatencySli, RatioSli, Slo
from . import breakdown, categories, histogram, samples, selectors
from .client import PrometheusClient

# Samples fetched before the first day: the previous sample of each series (its baseline),
# and room for a scrape gap of up to an hour across midnight.
LOOKBACK_S = HOUR_S
# Samples further apart than this many scrape intervals leave the buckets between them
# uncovered; a missed scrape or two is still a measured stretch.
GAP_INTERVALS = 3.0
# The 5-minute burn window must see a sample; beyond twice its length it cannot be measured.
MAX_INTERVAL_S = 600.0
# A day read this soon after its end may still miss samples not yet ingested (remote write,
# a slow scrape): it is not final, and is read again later (periods.INGEST_GRACE).
INGEST_GRACE_S = int(INGEST_GRACE.total_seconds())
# A series whose samples stop within this long before the day's end while the day is this
# recent may be lagging (its last samples not ingested yet) rather than stopped: it keeps
# the day open up to its newest sample until this long after the day's end.
LATE_SERIES_S = HOUR_S
# Windows the promql method may use: each tiles a day, the longest is the shortest burn window.
PROMQL_WINDOWS_S = (60, 120, 180, 240, 300)


def complete_until(day: date, until_s: int | None, newest_s: float | None,
                   lagging_s: float | None = None) -> datetime | None:
    """Up to when ``day`` can be trusted complete when read with data up to ``until_s``
    (the as-of); None: the day is final. Buckets after it are written as no data, except
    after a lagging series' newest sample (the day is only kept open).

    ``newest_s``: the newest sample of any series, when it stops short of the as-of.
    ``lagging_s``: the oldest newest-sample among the series that stop short of the day's
    end (or the as-of), within LATE_SERIES_S of it (see :func:`lagging`).

    Read within INGEST_GRACE_S of its end, a day is never final (a whole source may lag), and
    counts only up to its newest sample. After the grace and within LATE_SERIES_S, it is
    final unless a series lags: then it is complete up to that series' newest sample (and
    read again). Later still it is final: a series that has not caught up by then stopped.
    """
    end = day_start(day) + DAY_S
    if until_s is None or until_s >= end + LATE_SERIES_S:
        return None
    cut = min(until_s, end)
    within_grace = until_s < end + INGEST_GRACE_S
    if within_grace and newest_s is not None and newest_s < cut:
        cut = int(newest_s) // BUCKET_S * BUCKET_S
    if lagging_s is not None and lagging_s < cut:
        cut = int(lagging_s) // BUCKET_S * BUCKET_S
    if not within_grace and cut == end:
        return None
    return datetime.fromtimestamp(cut, UTC)


def lagging(series: list[samples.Series], day: date, until_s: int | None, tolerance_s: float
            ) -> float | None:
    """The oldest newest-sample of ``day`` among the series that lag: their newest sample up
    to the day's cut (its end, or the as-of) is more than ``tolerance_s`` before the cut but
    within LATE_SERIES_S of it. None: no series lags (or the day is long over)."""
    end = day_start(day) + DAY_S
    if until_s is None or until_s >= end + LATE_SERIES_S:
        return None
    cut_ms = min(until_s, end) * 1000
    found = None
    for x in series:
        i = int(np.searchsorted(x.ts_ms, cut_ms, side="right"))
        if i == 0:
            continue
        newest = float(x.ts_ms[i - 1]) / 1000
        if cut_ms / 1000 - LATE_SERIES_S <= newest < cut_ms / 1000 - tolerance_s:
            found = newest if found is None else min(found, newest)
    return found


def _tables(run: list[date], good: np.ndarray, total: np.ndarray, has: np.ndarray,
            clipped: np.ndarray, unusable: np.ndarray, step_s: int,
            notes: tuple[str, ...], until_s: int | None = None,
            newest_s: float | None = None,
            lagging_s: Callable[[date], float | None] | None = None,
            unsure: np.ndarray | None = None) -> list[DayTable]:
    per_day = DAY_S // step_s
    h = has.copy()
    markers = []
    for i, day in enumerate(run):
        until = complete_until(day, until_s, newest_s)
        # A lagging series keeps the day open but erases nothing the others hold: it may
        # as well have stopped (a pod replaced), which only time tells.
        lag = None if lagging_s is None else lagging_s(day)
        markers.append(until if lag is None else complete_until(day, until_s, newest_s, lag))
        if until is not None:  # nothing after it is written as data
            h[i * per_day + max(0, (int(until.timestamp()) - day_start(day)) // step_s):
              (i + 1) * per_day] = False
    kept = clipped & h
    t0 = day_start(run[0])
    starts = np.arange(t0, t0 + len(run) * DAY_S, step_s, dtype=np.int64)
    # One table for the run, a zero-copy slice of it per day (a table per day cost more).
    whole = pa.table({
        "ts": pa.array(starts * 1_000_000, pa.timestamp("us", tz="UTC")),
        "good": np.where(h, good, 0.0), "total": np.where(h, total, 0.0),
        "clipped": kept, "has_data": h,
        "step_s": pa.array(np.full(len(h), step_s, dtype=np.int32)),
    }, schema=lake.SLI_SCHEMA)
    out = []
    for i, day in enumerate(run):
        sl = slice(i * per_day, (i + 1) * per_day)
        out.append(DayTable(day, whole.slice(i * per_day, per_day), int(kept[sl].sum()),
                            int(unusable[sl].sum()), notes=notes, complete_until=markers[i],
                            unsure=None if unsure is None else unsure[sl] & h[sl]))
    return out


def _first(c: samples.Counted) -> np.ndarray:
    return c.first if c.first is not None else np.zeros(len(c.events), dtype=bool)


def _fetch(client: PrometheusClient, slo: Slo, selector: str, run: list[date],
           until_s: int | None) -> list[samples.Series]:
    """Raw samples of ``selector`` from an hour before ``run`` to its end (or ``until_s``),
    one query a day (the first one reaching back over the lookback too)."""
    chunks = []
    for i, day in enumerate(run):
        at = day_start(day) + DAY_S if until_s is None else min(day_start(day) + DAY_S,
                                                                 until_s)
        try:
            chunks.append(client.raw_samples(selector, at, at - day_start(day)
                                             + (LOOKBACK_S if i == 0 else 0)))
        except ExtractError as exc:
            raise ExtractError(f"SLO {slo.name}, {day}: {exc}") from None
    return samples.merge(chunks)


def _resolve(client: PrometheusClient, slo: Slo, selector: str, run: list[date]) -> str:
    """A histogram bucket selector matched against the ``le`` values really stored."""
    if not selectors.is_bucket(selector):
        return selector
    found = histogram.stored_bounds(client, slo, selector, run, LOOKBACK_S)
    return selectors.bucket_selector(selector, found, f"SLO {slo.name} ({slo.source})")


def _unmeasurable(slo: Slo, what: str, run: list[date]) -> str:
    return (f"SLO {slo.name}, {run[0]}: cannot measure the scrape interval of {what}: no series "
            "has two samples; expected spec.scrapeInterval (e.g. 30s) in the SLO definition")


def _interval(slo: Slo, series: list[samples.Series], what: str, run: list[date]
              ) -> float | None:
    """The scrape interval: the spec's, else measured (None when no series has two samples);
    an interval too long for the 5-minute burn window is refused."""
    if slo.scrape_interval is not None:
        return slo.scrape_interval.total_seconds()
    found = samples.scrape_interval(series)
    if found is not None and found > MAX_INTERVAL_S:
        raise ExtractError(f"SLO {slo.name}, {run[0]}: {what} is scraped every {found:g} s; "
                           f"expected at most {MAX_INTERVAL_S:g} s, or the 5-minute burn "
                           "window cannot be measured")
    return found


def counted_days(client: PrometheusClient, slo: Slo, run: list[date],
                 step: timedelta, until_s: int | None = None) -> list[DayTable]:
    """A run of consecutive days of a counter SLO, counted from raw samples up to
    ``until_s`` (the as-of; None: the run's end)."""
    step_s = int(step.total_seconds())
    bad_query = slo.sli.bad if isinstance(slo.sli, RatioSli) else None
    bad = bad_query is not None
    part_query = bad_query or slo.good
    assert part_query is not None and part_query.selector and slo.total.selector
    total_sel = _resolve(client, slo, slo.total.selector.strip(), run)
    part_sel = _resolve(client, slo, part_query.selector.strip(), run)
    total_s = _fetch(client, slo, total_sel, run, until_s)
    part_s = _fetch(client, slo, part_sel, run, until_s)
    t0 = day_start(run[0])
    buckets = len(run) * (DAY_S // step_s)
    gap_ms = 0
    notes: tuple[str, ...] = ()
    interval = _interval(slo, total_s, total_sel, run) if total_s else None
    if interval is not None:
        gap_ms = int(GAP_INTERVALS * interval * 1000)
    elif total_s:
        # The counts need no interval; coverage does: only buckets holding a sample count.
        notes = (f"{_unmeasurable(slo, total_sel, run).split(': ', 1)[1]}: only buckets "
                 "holding a sample count as data",)

    def count(series: list[samples.Series]) -> samples.Counted:
        return samples.count(series, t0 * 1000, buckets, step_s * 1000,
                             (t0 - LOOKBACK_S) * 1000, gap_ms)

    if not total_s:  # named, so an empty selector is not mistaken for a scrape outage
        notes += (f"no series matched {total_sel} in {client.config.url}",)
    tot, part = count(total_s), count(part_s)
    has = tot.covered & ~tot.unusable & ~part.unusable
    if part.series == 0 and tot.series > 0:
        if bad:
            # Error counters are created at the first error: none yet means none happened.
            notes += (f"bad selector {part_sel} matched no series: no bad events counted",)
        else:
            # Never read a selector that matches nothing as "0 good events".
            has = np.zeros(buckets, dtype=bool)
            notes += (f"no series matched {part_sel} in {client.config.url} (the good "
                      f"events) while {total_sel} had data: counted as no data",)
    if bad:
        clipped = part.events > tot.events
        good = np.maximum(tot.events - part.events, 0.0)
    else:
        clipped = part.events > tot.events
        good = np.minimum(part.events, tot.events)
    # Samples stop well before the as-of: Prometheus may not have ingested the rest yet.
    tolerance_s = gap_ms / 1000 if gap_ms else MAX_INTERVAL_S
    newest = max((float(x.ts_ms[-1]) / 1000 for x in total_s if len(x.ts_ms)), default=None)
    if newest is not None and until_s is not None and newest >= until_s - tolerance_s:
        newest = None
    tables = _tables(run, good, tot.events, has, clipped, tot.unusable | part.unusable,
                     step_s, notes, until_s, newest,
                     lambda day: lagging(total_s + part_s, day, until_s, tolerance_s),
                     _first(tot) | _first(part))
    if slo.breakdown:  # the same samples, counted per label-value group
        tables = breakdown.attach(slo.breakdown, tables, total_s, part_s, bad, count, step_s,
                                  part_sel, total_sel)
    if slo.error_categories:  # each category's selector, counted in the same buckets
        found = [_fetch(client, slo, sel.strip(), run, until_s)
                 for _, sel in slo.error_categories]
        tables = categories.attach(slo.error_categories, tables, found, count, step_s)
    if isinstance(slo.sli, LatencySli) and slo.sli.buckets:  # the histogram, bound by bound
        tables = histogram.read(client, slo, run, tables, count,
                                lambda sel: _fetch(client, slo, sel, run, until_s), step_s,
                                LOOKBACK_S)
    return tables


_RANGE = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*\s*(?:\{[^}]*\})?)\s*\[\s*(?:"
                    + "|".join(re.escape(p) for p in WINDOW_PLACEHOLDERS) + r")\s*\]")


def _window_s(client: PrometheusClient, slo: Slo, run: list[date]) -> int:
    """The narrowest window holding two scrapes of every series the expression reads."""
    exprs = [q.expr for q in (slo.good, slo.total) if q.expr]
    found = sorted({m.group(1).strip() for e in exprs for m in _RANGE.finditer(e)})
    series: list[samples.Series] = []
    for sel in found:
        # The hour on each side of the run's start: a history that begins with the run
        # still shows its interval.
        series += client.raw_samples(sel, day_start(run[0]) + LOOKBACK_S, 2 * LOOKBACK_S)
    what = " and ".join(found) or "its expression"
    interval = _interval(slo, series, what, run)
    if interval is None:
        raise ExtractError(_unmeasurable(slo, what, run))
    # Two samples in every window, with scrapes up to half an interval early or late.
    need = 2.5 * interval
    for w in PROMQL_WINDOWS_S:
        if w >= need:
            return w
    raise ExtractError(f"SLO {slo.name}: its expr reads series scraped every {interval:g} s, "
                       f"which needs {need:g} s windows, longer than the 5-minute burn window; "
                       "expected a counter 'selector' (counted from raw samples at any "
                       "interval) instead of 'expr'")


def windowed_days(client: PrometheusClient, slo: Slo, run: list[date],
                  step: timedelta, until_s: int | None = None) -> list[DayTable]:
    """A run of days of an expression SLO: one value per window, in the window's last bucket;
    the window's other buckets have data (zero events) when the window has a value."""
    step_s = int(step.total_seconds())
    w = _window_s(client, slo, run)
    t0 = day_start(run[0])
    buckets = len(run) * (DAY_S // step_s)
    good = np.zeros(buckets)
    total = np.zeros(buckets)
    has = np.zeros(buckets, dtype=bool)
    unusable = np.zeros(buckets, dtype=bool)
    first = datetime.fromtimestamp(t0 + w, UTC)
    end_s = t0 + len(run) * DAY_S if until_s is None else min(t0 + len(run) * DAY_S, until_s)
    if end_s < t0 + w:
        return _tables(run, good, total, has, has, unusable, step_s, (), until_s)
    last = datetime.fromtimestamp(end_s - (end_s - t0) % w, UTC)
    try:
        g = client.query_range(slo.good.promql(f"{w}s"), first, last, timedelta(seconds=w))
        t = client.query_range(slo.total.promql(f"{w}s"), first, last, timedelta(seconds=w))
    except ExtractError as exc:
        raise ExtractError(f"SLO {slo.name}, {run[0]}: {exc}") from None
    per = w // step_s
    for at, tv in t.items():
        end = (at - t0) // step_s  # buckets before the evaluation time
        if not 0 < end <= buckets:
            continue
        gv = g.get(at, 0.0)
        if not (np.isfinite(tv) and tv >= 0 and np.isfinite(gv) and gv >= 0):
            unusable[end - per:end] = True
            continue
        has[end - per:end] = True
        total[end - 1], good[end - 1] = tv, gv
    clipped = good > total
    return _tables(run, np.minimum(good, total), total, has & ~unusable, clipped, unusable,
                   step_s, (f"counted with {w} s windows of its PromQL expression",), until_s)
