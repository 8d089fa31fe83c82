"""User journeys' months, from their steps' SLI partitions already in the lake (no query of
their own), published as ``journeys.parquet`` with the month's other tables.

A journey is judged on the window its steps' summary rows are judged on (their calendar
month in their shared zone, or the week, quarter, year or rolling window they share, to the
same as-of), each step's buckets masked by its maintenance windows as the compute stage
masks them. Then the journey's good and total go through
``sql/budget_status.sql``, so its budget, status, met and outlook follow the very rules of
an SLO (docs/slo-math.md, "User journeys").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from .. import lake
from ..core import periods, resources, verdict
from ..core.burnrate import budget_fraction, min_events
from ..core.periods import BUCKET_S, DAY_S
from ..lake import LakeDir
from ..spec import Slo
from ..spec.journey import Journey
from . import maintenance
from .engine import connect
from .stream import _load

_TS = pa.timestamp("us", tz="UTC")
STEP = pa.struct([("step", pa.string()), ("slo", pa.string()), ("critical", pa.bool_()),
                  ("good", pa.float64()), ("total", pa.float64()), ("sli", pa.float64()),
                  ("bad_slices", pa.float64()), ("bad_share", pa.float64()),
                  ("budget_share", pa.float64())])
COLUMNS = pa.schema([
    ("journey", pa.string()), ("description", pa.string()), ("method", pa.string()),
    ("unit", pa.string()), ("target", pa.float64()), ("slice_seconds", pa.int64()),
    ("good", pa.float64()), ("total", pa.float64()), ("bad", pa.float64()),
    ("sli", pa.float64()), ("allowed_bad", pa.float64()), ("budget_consumed", pa.float64()),
    ("budget_remaining", pa.float64()), ("status", pa.string()), ("met", pa.bool_()),
    ("outlook", pa.string()), ("estimated", pa.bool_()), ("coverage", pa.float64()),
    ("min_events", pa.float64()), ("no_data_slices", pa.int64()),
    ("top_step", pa.string()), ("top_step_share", pa.float64()), ("time_zone", pa.string()),
    ("period_start", _TS), ("period_end", _TS), ("as_of", _TS), ("steps", pa.list_(STEP)),
    # The window judged (period_start and period_end above are its bounds): the month's
    # label, or the steps' own window's when they share one other than the calendar month.
    ("window", pa.string()), ("own_window", pa.bool_()),
])
PER_DAY = DAY_S // BUCKET_S


def judged_window(row: dict[str, Any]) -> tuple[str, datetime, datetime, datetime, bool]:
    """(label, start, end, as-of, whether it is an own window) of the window a step's
    summary row is judged on (core/verdict.py): a journey's steps share it."""
    if verdict.own_window(row):
        return row["window_label"], row["window_start"], row["window_end"], row["as_of"], True
    return row["period"], row["period_start"], row["period_end"], row["as_of"], False


def _buckets(lake_dir: LakeDir, slo: Slo, row: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """(good, total, has) of the step's buckets in ``[start, as_of)`` of its judged window,
    its planned windows applied as in ``stream._one``."""
    _, start, _, as_of, _ = judged_window(row)
    origin = periods.midnight(start.astimezone(UTC).date())
    days = periods.utc_days(periods.Period("", start, as_of))
    found = set(lake.existing_days(lake_dir, slo.name, days))
    good, total, has, _ = _load([lake.sli_partition(lake_dir, slo.name, d) if d in found
                                 else None for d in days], PER_DAY)
    skip, forced = maintenance.masks(*maintenance.bucket_ranges(slo.maintenance, origin,
                                                                len(good)), len(good))
    good[forced] = total[forced]
    good[skip] = total[skip] = 0.0
    has[skip | forced] = True
    a = int((start - origin).total_seconds()) // BUCKET_S
    b = int((as_of - origin).total_seconds()) // BUCKET_S
    return good[a:b], total[a:b], has[a:b]


def _ratio(good: float, total: float) -> float | None:
    return good / total if total > 0 else None


def log_shares(slis: Sequence[float | None]) -> list[float | None]:
    """Each critical step's share of the journey's bad under the product form: its
    ``-ln(SLI)`` over the sum of them (so the shares add up to 1 and a step's share does not
    depend on the order of the steps); a step at 0 takes it all (shared among such steps)."""
    if any(s is None for s in slis):
        return [None] * len(slis)
    zeros = [s == 0 for s in slis]
    if any(zeros):
        return [1 / sum(zeros) if z else 0.0 for z in zeros]
    logs = [-math.log(s) for s in slis if s is not None]
    whole = sum(logs)
    return [x / whole if whole > 0 else None for x in logs]


def _events(steps: list[dict[str, Any]], data: list[tuple[np.ndarray, ...]]
            ) -> tuple[dict[str, Any], list[float | None]]:
    """The product form: the journey's SLI is the product of its critical steps' SLIs,
    counted over the fewest events of a critical step (``n``), so good = SLI x n."""
    slis = [st["sli"] for st in steps]
    n = min(st["total"] for st in steps)
    sli = None if any(s is None for s in slis) else math.prod(slis)
    last = [(g[-PER_DAY:].sum(), t[-PER_DAY:].sum()) for g, t, _ in data]
    day = math.prod(g / t for g, t in last if t > 0) if any(t > 0 for _, t in last) else None
    return {"good": None if sli is None else sli * n, "total": n if sli is not None else None,
            "error_1d": None if day is None else 1 - day}, log_shares(slis)


def _slices(journey: Journey, slos: list[Slo], data: list[tuple[np.ndarray, ...]]
            ) -> tuple[dict[str, Any], list[float | None], list[float]]:
    """The time-slice form: a slice counts when any critical step has events in it, and is
    good iff no critical step is bad in it (a step's slice is bad when its ratio is below its
    SLO's slice target, or its target); a bad slice is shared equally by its bad steps."""
    size = max(1, journey.slice_seconds // BUCKET_S)
    n = len(data[0][0])
    starts = np.arange(0, n, size)
    bad = np.zeros((len(data), len(starts)), bool)
    events = np.zeros(len(starts), bool)
    for i, ((g, t, _), slo) in enumerate(zip(data, slos, strict=True)):
        gs, ts = np.add.reduceat(g, starts), np.add.reduceat(t, starts)
        floor = slo.time_slice_target if slo.budgeting_method == "Timeslices" else slo.target
        with np.errstate(divide="ignore", invalid="ignore"):
            bad[i] = (ts > 0) & (gs / np.where(ts > 0, ts, 1.0) < (floor or slo.target))
        events |= ts > 0
    journey_bad = bad.any(axis=0) & events
    per_step = (bad & journey_bad) / np.maximum(bad.sum(axis=0), 1)
    bad_slices = [float(x) for x in per_step.sum(axis=1)]
    total_bad = float(journey_bad.sum())
    last = starts >= n - PER_DAY
    day_counted = int((events & last).sum())
    return ({"good_slices": float((events & ~journey_bad).sum()),
             "counted_slices": int(events.sum()), "all_slices": len(starts),
             "no_data_slices": int(len(starts) - events.sum()),
             "error_1d": float((journey_bad & last).sum()) / day_counted if day_counted else None},
            [x / total_bad if total_bad else None for x in bad_slices], bad_slices)


def _judge(journey: Journey, slos: list[Slo], rows: list[dict[str, Any]],
           form: dict[str, Any], buckets: int) -> dict[str, Any]:
    """``sql/budget_status.sql`` over the journey as one SLO."""
    label, start, end, as_of, own = judged_window(rows[0])
    expected = int((as_of - start).total_seconds()) // BUCKET_S
    elapsed = (as_of - start) / (end - start)
    b = budget_fraction(journey.target)
    con = connect()
    con.register("slos", pa.Table.from_pylist([{
        "k": 0, "slo": journey.name, "service": "", "description": journey.description,
        "spec_hash": "", "target": journey.target, "budget_fraction": b,
        "method": journey.method, "slice_seconds": float(journey.slice_seconds),
        "min_coverage": max(s.min_coverage for s in slos),
        "min_events": float(min_events(journey.target)),
        "period_s": (end - start).total_seconds()}]))
    error = form.pop("error_1d")
    con.register("occ", pa.Table.from_pylist([{
        "k": 0, "buckets": buckets, "clipped_rows": 0,
        "burn_1d_now": None if error is None else error / b,
        "good": form.get("good"), "total": form.get("total")}],
        schema=pa.schema([("k", pa.int64()), ("buckets", pa.int64()),
                          ("clipped_rows", pa.int64()), ("burn_1d_now", pa.float64()),
                          ("good", pa.float64()), ("total", pa.float64())])))
    con.register("slc", pa.Table.from_pylist([{
        "k": 0, "good_slices": form.get("good_slices"),
        "counted_slices": form.get("counted_slices"),
        "no_data_slices": form.get("no_data_slices"), "ratio_mean": None}],
        schema=pa.schema([("k", pa.int64()), ("good_slices", pa.float64()),
                          ("counted_slices", pa.int64()), ("no_data_slices", pa.int64()),
                          ("ratio_mean", pa.float64())])))
    rel = con.sql(resources.sql("budget_status"), params={"expected": expected,
                                                          "elapsed": elapsed})
    out: dict[str, Any] = rel.to_arrow_table().to_pylist()[0]
    out.update(period_start=start, period_end=end, as_of=as_of,
               time_zone=slos[0].time_zone, window=label, own_window=own)
    return out


def month_journeys(lake_dir: LakeDir, slos: Sequence[Slo], journeys: Sequence[Journey],
                   summary: Sequence[dict[str, Any]]) -> pa.Table:
    """One row per journey whose steps all have a row in ``summary`` (the month's), with
    each step's figures and share of the journey's bad in ``steps``."""
    by_name = {s.name: s for s in slos}
    rows = {r["slo"]: r for r in summary}
    out = []
    for j in journeys:
        if any(s.slo not in rows or s.slo not in by_name for s in j.steps):
            continue  # a step's SLO left out of this month (its month not begun)
        data = [_buckets(lake_dir, by_name[s.slo], rows[s.slo]) for s in j.steps]
        steps: list[dict[str, Any]] = [{"step": s.name, "slo": s.slo, "critical": s.critical,
                  "good": float(g.sum()), "total": float(t.sum()),
                  "sli": _ratio(float(g.sum()), float(t.sum())), "bad_slices": None,
                  "bad_share": None, "budget_share": None}
                 for s, (g, t, _) in zip(j.steps, data, strict=True)]
        crit = [i for i, s in enumerate(j.steps) if s.critical]
        crit_slos = [by_name[j.steps[i].slo] for i in crit]
        if j.method == "Occurrences":
            form, shares = _events([steps[i] for i in crit], [data[i] for i in crit])
        else:
            form, shares, bad_slices = _slices(j, crit_slos, [data[i] for i in crit])
            for i, x in zip(crit, bad_slices, strict=True):
                steps[i]["bad_slices"] = x
        buckets = min(int(data[i][2].sum()) for i in crit)
        row = _judge(j, crit_slos, [rows[s.name] for s in crit_slos], form, buckets)
        for i, share in zip(crit, shares, strict=True):
            steps[i]["bad_share"] = share
            consumed = row["budget_consumed"]
            steps[i]["budget_share"] = (None if share is None or consumed is None
                                        else share * consumed)
        ranked = [(float(steps[i]["bad_share"]), str(steps[i]["step"])) for i in crit
                  if steps[i]["bad_share"]]
        top = max(ranked, key=lambda x: x[0], default=None)
        out.append({**{c: row.get(c) for c in COLUMNS.names}, "journey": j.name,
                    "description": j.description, "slice_seconds": j.slice_seconds,
                    "top_step": top[1] if top else None,
                    "top_step_share": top[0] if top else None, "steps": steps})
    return pa.Table.from_pylist(out, schema=COLUMNS)

