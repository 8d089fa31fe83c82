"""``spec.errorCategories``: a counter SLI's bad events per named category, per minute.

Each category is a counter selector (``server: 'http_requests_total{code=~"5.."}'``),
counted from raw samples exactly as the SLI's own selectors are (:func:`.samples.count`:
each delta in the bucket of the later sample, resets, series created or gone), in the same
buckets. A category's events in a bucket are taken up to the bucket's bad events: a
category describes a part of the bad events, and events its selector counts beyond them
(events the SLI counts good) are left out and noted.

Categories are selectors, so they may overlap (``server`` and ``gateway`` both matching a
502). The events no category counts ("uncategorised", written as category ``""``) are the
bucket's bad events less those of the union of every category's series (each series once),
so they are exact whatever the overlaps.

Rows are kept only for buckets the SLI partition has data for and categories with events in
them, in time order and then the spec's order, uncategorised last: a re-read of the same
samples gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa

from ... import lake
from ...core.periods import DAY_S
from ...lake.daytable import DayTable
from .breakdown import split_days
from .samples import Counted, Labels, Series


def attach(categories: Sequence[tuple[str, str]], tables: list[DayTable],
           found: Sequence[Sequence[Series]], count: Callable[[list[Series]], Counted],
           step_s: int) -> list[DayTable]:
    """``tables`` (one per day of a run, in order) with their category tables.

    ``found``: the series of each category's selector, in the order of ``categories``;
    ``count`` counts a list of series over the run's buckets exactly as the SLI was counted.
    """
    per_day = DAY_S // step_s
    has = np.concatenate([t.table.column("has_data").to_numpy(zero_copy_only=False)
                          for t in tables])
    bad = np.concatenate([(t.table.column("total").to_numpy()
                           - t.table.column("good").to_numpy()) for t in tables])
    bad = np.where(has, np.maximum(bad, 0.0), 0.0)
    names = [n for n, _ in categories]
    counted = [count(list(series)).events for series in found]
    over = [has & (c > bad) for c in counted]
    union: dict[Labels, Series] = {s.labels: s for series in found for s in series}
    anyone = np.minimum(count(list(union.values())).events, bad)
    events = np.vstack([np.minimum(c, bad) for c in counted] + [bad - anyone])
    # (bucket, category) pairs with events, bucket-major: time order, then category order.
    idx, cat = np.nonzero((events > 0).T & has[:, None])
    values = events[cat, idx]
    labels = [*names, ""]
    none = tuple(f"error category {n}: no series matched {sel}: none of its events counted"
                 for (n, sel), series in zip(categories, found, strict=True) if not series)
    out = []
    for i, (day, rows, ts) in enumerate(split_days(idx, tables, step_s)):
        table = pa.table({
            "ts": ts,
            "categories": pa.array([names] * len(ts), pa.list_(pa.string())),
            "category": pa.array([labels[c] for c in cat[rows]], pa.string()),
            "events": pa.array(values[rows], pa.float64()),
            "bad": pa.array(bad[idx[rows]], pa.float64()),
        }, schema=lake.CATEGORY_SCHEMA)
        day_slice = slice(i * per_day, (i + 1) * per_day)
        clipped = tuple(
            f"error category {n}: {sel} counted more events than the SLI's bad events in "
            f"{int(o[day_slice].sum())} buckets: counted up to them; expected a selector "
            "that narrows the bad events" for (n, sel), o in zip(categories, over, strict=True)
            if o[day_slice].any())
        out.append(replace(day, categories=table, notes=day.notes + none + clipped))
    return out
