"""``spec.breakdown``: a counter SLI's events per label-value combination, per minute.

The counting is the SLI partition's own (:func:`.samples.count` over raw samples: each delta
in the bucket of the later sample, resets, series created or gone), run once per group of
series sharing the breakdown labels' values, so the groups' events add up to the SLI's. A
group's bad events are counted as the SLI's are: ``min(bad, total)`` for a bad/total ratio,
``total - min(good, total)`` for a good/total ratio or a latency histogram.

Rows are kept only for buckets the SLI partition has data for (its coverage, the as-of cut
and unusable samples apply unchanged) and that hold events, so a month of breakdown rows sums
to exactly the month's bad and total events whenever no group is clipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa

from ... import lake
from ...core.periods import DAY_S, day_start
from ...lake.daytable import DayTable
from .samples import Counted, Labels, Series

Group = tuple[str, ...]


def group_of(labels: Labels, names: Sequence[str]) -> Group:
    """The values of ``names`` in a series' labels ("" for a label it does not have)."""
    found = dict(labels)
    return tuple(found.get(n, "") for n in names)


def attach(names: Sequence[str], tables: list[DayTable], total_s: Sequence[Series],
           part_s: Sequence[Series], bad: bool, count: Callable[[list[Series]], Counted],
           step_s: int, part_selector: str, total_selector: str = "") -> list[DayTable]:
    """``tables`` (one per day of a run, in order) with their breakdown tables.

    ``count`` counts a list of series over the run's buckets exactly as the SLI was counted;
    ``bad``: ``part_s`` are the bad events (else the good ones). A label that no series of
    ``total_selector`` has is noted: its groups would all read ``""``."""
    has = np.concatenate([t.table.column("has_data").to_numpy(zero_copy_only=False)
                          for t in tables])
    by_total: dict[Group, list[Series]] = {}
    by_part: dict[Group, list[Series]] = {}
    for s in total_s:
        by_total.setdefault(group_of(s.labels, names), []).append(s)
    for s in part_s:
        by_part.setdefault(group_of(s.labels, names), []).append(s)
    groups = sorted(by_total.keys() | by_part.keys())
    idx_parts, group_parts, bad_parts, total_parts = [], [], [], []
    for g, group in enumerate(groups):
        tot = count(by_total.get(group, [])).events
        part = count(by_part.get(group, [])).events
        part = np.minimum(part, tot)
        events_bad = part if bad else tot - part
        keep = np.flatnonzero(has & ((tot > 0) | (events_bad > 0)))
        idx_parts.append(keep)
        group_parts.append(np.full(len(keep), g, dtype=np.int64))
        bad_parts.append(events_bad[keep])
        total_parts.append(tot[keep])
    idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int64)
    gidx = np.concatenate(group_parts) if group_parts else np.zeros(0, dtype=np.int64)
    # Time order, then group order: a re-read of the same samples gives the same bytes.
    order = np.lexsort((gidx, idx))
    idx, gidx = idx[order], gidx[order]
    bad_v = np.concatenate(bad_parts)[order] if bad_parts else np.zeros(0)
    total_v = np.concatenate(total_parts)[order] if total_parts else np.zeros(0)
    orphans = sorted(by_part.keys() - by_total.keys())
    note: tuple[str, ...] = () if not orphans else (
        f"breakdown: {part_selector} has series with {_show(names, orphans[0])} that no "
        f"total series has: their events are attributed to no group; expected the labels "
        f"{', '.join(names)} on every series of the SLI",)
    note += tuple(f"breakdown label {n} is on no series of {total_selector}" for n in names
                  if total_s and not any(n in dict(s.labels) for s in total_s))
    out = []
    for day, rows, ts in split_days(idx, tables, step_s):
        table = pa.table({
            "ts": ts,
            "labels": pa.array([list(names)] * len(ts), pa.list_(pa.string())),
            "values": pa.array([list(groups[g]) for g in gidx[rows]], pa.list_(pa.string())),
            "bad": pa.array(bad_v[rows], pa.float64()),
            "total": pa.array(total_v[rows], pa.float64()),
        }, schema=lake.BREAKDOWN_SCHEMA)
        out.append(replace(day, breakdown=table, notes=day.notes + note))
    return out


def split_days(idx: np.ndarray, tables: Sequence[DayTable], step_s: int
               ) -> Iterator[tuple[DayTable, slice, pa.Array]]:
    """Per day of the run: its table, the slice of the rows (bucket indexes ``idx`` over the
    whole run, in time order) that fall in it, and their bucket starts."""
    per_day = DAY_S // step_s
    for i, day in enumerate(tables):
        lo, hi = np.searchsorted(idx, [i * per_day, (i + 1) * per_day])
        starts = day_start(day.day) + (idx[lo:hi] - i * per_day) * step_s
        yield day, slice(lo, hi), pa.array(starts * 1_000_000, pa.timestamp("us", tz="UTC"))


def _show(names: Sequence[str], group: Group) -> str:
    return ", ".join(f'{n}="{v}"' for n, v in zip(names, group, strict=True))
