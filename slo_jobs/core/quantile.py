"""Percentiles of a histogram, interpolated exactly as Prometheus' ``histogram_quantile``
does for classic histograms (promql/quantile.go ``bucketQuantile``; docs/slo-math.md):

* the buckets are sorted by bound; without a ``+Inf`` bucket, or with fewer than two
  buckets, or with no observations, there is no answer (NaN);
* a bucket whose cumulative count is below the one before it is raised to it (scrapes of a
  histogram's series are not atomic everywhere: Prometheus' ``ensureMonotonic``);
* the rank is ``q`` times the count; the answer lies in the first bucket whose cumulative
  count reaches the rank, linearly interpolated between its lower bound (the bound before
  it; 0 for the lowest bucket, whose own bound is returned when it is <= 0) and its own;
* a rank that only the ``+Inf`` bucket reaches returns the highest finite bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

QUANTILES = (0.5, 0.95, 0.99)


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float:
    """The ``q`` quantile of a classic histogram: ``counts[i]`` observations at or under
    ``bounds[i]`` (cumulative, as a histogram's ``_bucket`` series are)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for b, c in zip(bounds, counts, strict=True):
        merged[b] = merged.get(b, 0.0) + c  # one bound spelled twice is one bucket
    buckets = sorted(merged.items())
    if len(buckets) < 2 or buckets[-1][0] != math.inf:
        return math.nan
    top = -math.inf
    for i, (b, c) in enumerate(buckets):
        top = max(top, c)
        buckets[i] = (b, top)
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    i = next((j for j, (_, c) in enumerate(buckets[:-1]) if c >= rank), len(buckets) - 1)
    if i == len(buckets) - 1:
        return buckets[-2][0]
    if i == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[i][0], buckets[i][1]
    if i > 0:
        start = buckets[i - 1][0]
        count -= buckets[i - 1][1]
        rank -= buckets[i - 1][1]
    return start + (end - start) * (rank / count) if count else math.nan
