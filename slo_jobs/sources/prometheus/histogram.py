"""``spec.indicator.latency.buckets``: a latency SLI's histogram buckets per minute, kept in
the lake beside its SLI partition (``lake/buckets/...``) so percentiles can be computed.

Each bucket series is counted exactly as the SLI's good and total events are
(:func:`.samples.count` over raw samples: each delta in the bucket of the later sample,
resets, series created or gone), the series of one bound summed over pods and other labels,
so a minute's count at ``le="+Inf"`` is the SLI's total and at the threshold its good
events. Bounds are matched by number (``le="1"`` and ``le="1.0"`` are one bound), as for
the threshold bucket (:mod:`.selectors`).

Rows exist only for minutes the SLI partition has data for and that hold observations: one
per kept bound, cumulative as the histogram stores them (histogram_quantile's own input).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow as pa

from ... import lake
from ...core.errors import ExtractError
from ...core.periods import DAY_S, day_start
from ...lake.daytable import DayTable
from ...spec import LatencySli, Slo
from . import selectors
from .client import PrometheusClient
from .samples import Counted, Series


def stored_bounds(client: PrometheusClient, slo: Slo, selector: str, run: list[date],
                  lookback_s: int) -> list[str]:
    """The ``le`` values the histogram of bucket ``selector`` has over the run (and the
    lookback before it), as stored."""
    parsed = selectors.parse(selector)
    assert parsed is not None
    t0 = day_start(run[0])
    try:
        return [s["le"] for s in client.label_sets(parsed.without("le").text(),
                                                   t0 - lookback_s, t0 + len(run) * DAY_S)
                if "le" in s]
    except ExtractError as exc:
        raise ExtractError(f"SLO {slo.name}, {run[0]}: {exc}") from None


def read(client: PrometheusClient, slo: Slo, run: list[date], tables: list[DayTable],
         count: Callable[[list[Series]], Counted], fetch: Callable[[str], list[Series]],
         step_s: int, lookback_s: int) -> list[DayTable]:
    """``tables`` with the kept buckets of the same run of days: the ``le`` values the
    histogram has are listed, those kept fetched (``fetch``: raw samples of a selector over
    the run, as the SLI's) and counted (``count``)."""
    assert slo.good.selector is not None
    found = stored_bounds(client, slo, slo.good.selector, run, lookback_s)
    selector, keep, notes = bounds_selector(slo, found)
    if keep:
        tables = attach(tables, fetch(selector), count, step_s, selector)
    return [replace(t, notes=(*t.notes, *notes)) for t in tables]


def bounds_selector(slo: Slo, found: list[str]) -> tuple[str, list[str], tuple[str, ...]]:
    """The selector of the bucket series to keep (the threshold bucket's, any ``le``), the
    ``le`` spellings it keeps (``found``: those the histogram has), and notes for named
    bounds it does not have."""
    assert isinstance(slo.sli, LatencySli) and slo.good.selector is not None
    parsed = selectors.parse(slo.good.selector)
    assert parsed is not None
    base = parsed.without("le")
    if slo.sli.buckets == "all":
        return base.text(), sorted(found), ()
    wanted = {*slo.sli.buckets, slo.sli.threshold, math.inf}
    keep = sorted(le for le in found if selectors.as_number(le) in wanted)
    have = {selectors.as_number(le) for le in keep}
    notes = tuple(f"buckets: histogram {base.text()} has no bucket at le={b:g}: not kept"
                  for b in sorted(wanted - have) if math.isfinite(b))
    if not keep:
        return base.text(), [], notes
    # A regex inside a PromQL string: its backslashes are escaped once more.
    alternatives = "|".join(re.escape(le) for le in keep).replace("\\", "\\\\")
    return selectors.Selector(base.name, (*base.matchers, ("le", "=~", alternatives))).text(
        ), keep, notes


def attach(tables: list[DayTable], series: list[Series], count: Callable[[list[Series]],
           Counted], step_s: int, selector: str) -> list[DayTable]:
    """``tables`` (one per day of a run, in order) with their bucket tables: ``series`` are
    the bucket series of ``selector``; ``count`` counts a list of series over the run's
    buckets exactly as the SLI was counted."""
    per_day = DAY_S // step_s
    has = np.concatenate([t.table.column("has_data").to_numpy(zero_copy_only=False)
                          for t in tables])
    by_bound: dict[float, list[Series]] = {}
    for s in series:
        bound = selectors.as_number(dict(s.labels).get("le", ""))
        if bound is not None and not math.isnan(bound):
            by_bound.setdefault(bound, []).append(s)
    bounds = sorted(by_bound)
    if not bounds or bounds[-1] != math.inf:
        note = f"buckets: no series of {selector} has le=\"+Inf\": no buckets kept"
        return [replace(t, notes=(*t.notes, note)) for t in tables]
    counted = [count(by_bound[b]) for b in bounds]
    events = np.stack([c.events for c in counted])  # bound x minute
    unusable = np.any(np.stack([c.unusable for c in counted]), axis=0)
    minutes = np.flatnonzero(has & ~unusable & (events[-1] > 0))
    out = []
    for i, day in enumerate(tables):
        lo, hi = np.searchsorted(minutes, [i * per_day, (i + 1) * per_day])
        mine = minutes[lo:hi]
        starts = day_start(day.day) + (mine - i * per_day) * step_s
        # Minute by minute, each minute's bounds in ascending order.
        table = pa.table({
            "ts": pa.array(np.repeat(starts, len(bounds)) * 1_000_000,
                           pa.timestamp("us", tz="UTC")),
            "le": pa.array(np.tile(np.asarray(bounds, dtype=np.float64), len(mine))),
            "count": pa.array(events[:, mine].T.reshape(-1), pa.float64()),
        }, schema=lake.BUCKETS_SCHEMA)
        out.append(replace(day, buckets=table))
    return out
