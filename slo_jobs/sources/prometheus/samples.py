"""Counting events from raw counter samples, exactly, whatever the scrape interval.

Each series' events are the differences of its consecutive samples; a sample below its
predecessor is a counter reset, after which the counter started again from zero, so the
sample's whole value counts.  Each difference is put in the bucket of the *later* sample:
bucket ``[ts, ts + step)`` holds the samples taken in ``(ts, ts + step]``, the same instants
whose events ``increase(x[step])`` evaluated at ``ts + step`` would count.  The per-bucket
counts therefore add up to the counter's increase over any run of buckets, with no
extrapolation, for any scrape interval, jitter, gap or range-selector semantics.

A series whose first sample comes after the fetched lookback began was created during the
range (a new pod, an error code seen for the first time).  Its first value counts from zero
when it is small against the series' next increase, as VictoriaMetrics' ``increase`` decides:
a fresh counter holds the events since its start, while a large first value is a counter we
lost sight of for longer than the lookback, whose value is only a baseline.

See docs/extraction.md for the reasoning and the cost in points fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from ...core.errors import ExtractError

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Series:
    labels: Labels
    ts_ms: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64, as stored (NaN and negatives included)


def decode_series(metric: dict[str, Any], values: list[Any], query: str, url: str) -> Series:
    """One series of a matrix answer, in numpy arrays; a malformed point is an error.

    The points are flattened in one C-level pass and converted column by column: a
    per-point Python loop cost as much as decoding the JSON itself.
    """
    flat = list(chain.from_iterable(values)) if all(
        type(p) is list for p in values[:1]) else []
    try:
        if len(flat) != 2 * len(values):
            raise ValueError
        # Prometheus gives times as float seconds with millisecond precision.
        ts = np.rint(np.fromiter(flat[0::2], np.float64, len(values)) * 1000)
        vals = np.fromiter(map(float, flat[1::2]), np.float64, len(values))
    except (TypeError, ValueError):
        bad = next((p for p in values if not _point_ok(p)), values[:1])
        raise ExtractError(f"Prometheus at {url}: query {query!r}: malformed point "
                           f"{repr(bad)[:60]}; expected [unix_time, \"value\"]") from None
    labels = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
    return Series(labels, ts.astype(np.int64), vals)


def _point_ok(point: Any) -> bool:
    try:
        at, raw = point
        float(at)
        float(raw)
        return True
    except (TypeError, ValueError):
        return False


def merge(chunks: Iterable[Sequence[Series]]) -> list[Series]:
    """One series per label set, time-ordered, each timestamp once (overlapping ranges and
    both range-selector semantics give the same result)."""
    parts: dict[Labels, list[Series]] = {}
    for chunk in chunks:
        for s in chunk:
            parts.setdefault(s.labels, []).append(s)
    out = []
    for labels in sorted(parts):
        ts = np.concatenate([s.ts_ms for s in parts[labels]])
        vals = np.concatenate([s.values for s in parts[labels]])
        step = np.diff(ts)
        if (step >= 0).all():
            # Ranges read in time order (days, halves of a split range) touch at an instant
            # at most: dropping repeats is enough, and cheaper than sorting.
            keep = np.concatenate([[True], step > 0])
            ts, vals = ts[keep], vals[keep]
        else:
            ts, first = np.unique(ts, return_index=True)
            vals = vals[first]
        out.append(Series(labels, ts, vals))
    return out


def scrape_interval(series: Sequence[Series]) -> float | None:
    """The typical time between two samples of a series, in seconds (the median over all
    series); None when no series has two samples."""
    gaps = [np.diff(s.ts_ms) for s in series if len(s.ts_ms) > 1]
    if not gaps:
        return None
    return float(np.median(np.concatenate(gaps))) / 1000.0


@dataclass(frozen=True)
class Counted:
    events: np.ndarray  # float64 per bucket
    covered: np.ndarray  # bool per bucket: some series was being scraped across it
    unusable: np.ndarray  # bool per bucket: a sample was NaN, infinite or negative
    series: int  # series with a sample in the buckets
    # bool per bucket: holds the first sample of a series first seen after the lookback
    # began, counted from zero (a new counter) or only a baseline (one lost sight of): the
    # one bucket a read cannot be sure of, where a lake's earlier read is preferred
    first: np.ndarray | None = None


def _fresh_start(values: np.ndarray) -> bool:
    """Does a new series' first value count from zero (a counter just created)?"""
    nxt = float(values[1] - values[0]) if len(values) > 1 else 0.0
    if nxt <= 0:
        nxt = 10.0
    return float(values[0]) < 10.0 * (abs(nxt) + 1.0)


def count(series: Sequence[Series], origin_ms: int, buckets: int, step_ms: int,
          lookback_from_ms: int, gap_limit_ms: int) -> Counted:
    """Events per bucket ``[origin + i*step, origin + (i+1)*step)`` for i < ``buckets``.

    ``lookback_from_ms``: where the fetched samples begin; a series first seen after it is
    new.  ``gap_limit_ms``: two consecutive samples further apart than this leave the
    buckets between them uncovered ("no data"); the events of the gap still count, in the
    bucket of the sample after it.
    """
    events = np.zeros(buckets, dtype=np.float64)
    cover = np.zeros(buckets + 1, dtype=np.int64)
    unusable = np.zeros(buckets, dtype=bool)
    first = np.zeros(buckets, dtype=bool)
    seen = 0
    end_ms = origin_ms + buckets * step_ms
    for s in series:
        ts, vals = s.ts_ms, s.values
        ok = np.isfinite(vals) & (vals >= 0)
        if not ok.all():
            bad = ts[~ok]
            bad = bad[(bad > origin_ms) & (bad <= end_ms)]
            unusable[(bad - 1 - origin_ms) // step_ms] = True
            ts, vals = ts[ok], vals[ok]
        if len(ts) == 0:
            continue
        idx = (ts - 1 - origin_ms) // step_ms  # the bucket whose (start, end] holds the sample
        inside = (idx >= 0) & (idx < buckets)
        if not inside.any():
            continue
        seen += 1
        delta = np.empty(len(vals), dtype=np.float64)
        delta[1:] = np.diff(vals)
        resets = delta[1:] < 0
        delta[1:][resets] = vals[1:][resets]
        new = ts[0] > lookback_from_ms
        delta[0] = vals[0] if new and _fresh_start(vals) else 0.0
        if new and inside[0]:
            first[idx[0]] = True
        events += np.bincount(idx[inside], weights=delta[inside], minlength=buckets)
        # Coverage: every bucket holding a sample, and those spanned by normal scrape gaps.
        near = np.diff(ts) <= gap_limit_ms
        lo = ((ts[:-1] - origin_ms) // step_ms)[near]
        hi = idx[1:][near]
        lo, hi = np.clip(lo, 0, buckets), np.clip(hi, -1, buckets - 1)
        keep = lo <= hi
        cover += np.bincount(lo[keep], minlength=buckets + 1)
        cover -= np.bincount(hi[keep] + 1, minlength=buckets + 1)
        cover += np.bincount(idx[inside], minlength=buckets + 1)
        cover -= np.bincount(idx[inside] + 1, minlength=buckets + 1)
    covered = np.cumsum(cover)[:buckets] > 0
    return Counted(events, covered, unusable, seen, first)
