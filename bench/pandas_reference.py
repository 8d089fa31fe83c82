"""A straightforward pandas implementation of the compute stage's outputs.

It is what a user would write by hand from SLO_MATH.md: load every partition, then rolling
sums per SLO, and time slices grouped by their start. The benchmark times it against the
DuckDB SQL, and the tests use it as an independent reference for totals, time slices, burn
rates, incidents and daily series; it derives its own constants (windows, alert conditions,
lookback) rather than importing the engine's, so a wrong constant there shows here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slo_jobs import lake
from slo_jobs.compute.params import SloParams
from slo_jobs.periods import Period

MINUTE = 60
HOUR = 3600
DAY = 86_400
# SLO_MATH 3: (severity, share of the period's budget, long window, short window).
DEFAULT_ALERTS = (("page", 0.02, HOUR, 5 * MINUTE), ("page", 0.05, 6 * HOUR, 30 * MINUTE),
                  ("ticket", 0.10, DAY, 2 * HOUR), ("ticket", 0.10, 3 * DAY, 6 * HOUR))
BURN_WINDOWS = {"burn_1h": HOUR, "burn_6h": 6 * HOUR, "burn_1d": DAY}


def _load(lake_dir: Path, slo: str, days: list[Any], step_s: int) -> pd.DataFrame:
    frames = []
    for d in days:
        path = lake.sli_partition(lake_dir, slo, d)
        if path.exists():
            frames.append(pd.read_parquet(path, columns=["ts", "good", "total", "has_data"]))
        else:
            first = datetime(d.year, d.month, d.day, tzinfo=UTC)
            n = 86_400 // step_s
            frames.append(pd.DataFrame({
                "ts": pd.date_range(first, periods=n, freq=f"{step_s}s"),
                "good": 0.0, "total": 0.0, "has_data": False}))
    return pd.concat(frames, ignore_index=True)


def _alerts(s: SloParams, period: Period) -> list[tuple[str, float, int, int]]:
    """(severity, factor, long s, short s): f = share * P / L, P the SLO's rolling length or
    the period's; an alerting.burnRates override replaces the defaults."""
    p = s.alert_period_s or period.seconds
    if s.burn_rates:
        out = []
        for a in s.burn_rates:
            long_s = int(a.long_window.total_seconds())
            f = a.factor if a.factor is not None else (a.budget_consumed or 0.0) * p / long_s
            out.append((a.severity, f, long_s, int(a.short_window.total_seconds())))
        return out
    return [(sev, share * p / long_s, long_s, short_s)
            for sev, share, long_s, short_s in DEFAULT_ALERTS]


def _islands(flags: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] index pairs of the runs of True."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _slices(d: pd.DataFrame, s: SloParams, period: Period) -> tuple[pd.DataFrame, pd.Series]:
    """Per time slice (grouped by start, from the period's start): its day, and its good and
    counted value (SLO_MATH 1): Timeslices 1/0 by the slice target and no-data policy,
    RatioTimeslices the slice's ratio over the slices with events. And per bucket its
    share of its slice's bad value (what an incident over that bucket spent)."""
    n = ((d.ts - period.start).dt.total_seconds() // s.slice_seconds).astype(int)
    g = d.groupby(n).agg(start=("ts", "min"), good=("good", "sum"), total=("total", "sum"),
                         has=("has_data", "any"), size=("ts", "size"))
    ratio = g.good / g.total.where(g.total > 0)
    if s.method == "RatioTimeslices":
        counted = g.total > 0
        value = ratio.fillna(0.0)
    else:
        no_data = ~g.has | (g.total == 0)
        good = (ratio >= s.slice_target) & ~no_data
        if s.no_data == "good":
            good |= no_data
        counted = ~no_data | (s.no_data != "skip")
        value = (good & counted).astype(float)
    good_value = value.where(counted, 0.0)
    per_bucket = ((counted.astype(float) - good_value) / g["size"]).reindex(n.to_numpy())
    return (pd.DataFrame({"day": g.start.dt.date, "good": good_value,
                          "total": counted.astype(float)}),
            pd.Series(per_bucket.to_numpy(), index=d.index))


def reference(lake_dir: Path, slos: Sequence[SloParams], period: Period,
              step_s: int = 60) -> dict[str, pd.DataFrame]:
    longest = max([a.long_window for s in slos for a in s.burn_rates],
                  default=timedelta(days=3))
    lookback = max(timedelta(days=3), timedelta(days=-(-longest // timedelta(days=1))))
    first = (period.start - lookback).date()
    last = (period.end - timedelta(microseconds=1)).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    summary, daily, incidents, burn = [], [], [], []
    for s in slos:
        df = _load(lake_dir, s.name, days, step_s)
        bad = df.total - df.good

        def err(seconds: int, df: pd.DataFrame = df, bad: pd.Series = bad) -> pd.Series:
            n = seconds // step_s
            tot = df.total.rolling(n).sum()
            return bad.rolling(n).sum() / tot.where(tot != 0)

        B = round(1 - s.target, 12)
        fired = {"page": pd.Series(False, index=df.index),
                 "ticket": pd.Series(False, index=df.index)}
        for severity, factor, long_s, short_s in _alerts(s, period):
            fires = ((err(long_s) > factor * B) & (err(short_s) > factor * B)).fillna(False)
            fired[severity] |= fires
        inside = (df.ts >= period.start) & (df.ts < period.end)
        d = df[inside]
        if s.method == "Occurrences":
            units = pd.DataFrame({"day": d.ts.dt.date, "good": d.good, "total": d.total})
            spent = bad  # what an incident's buckets spend of the budget: events
        else:
            units, in_slices = _slices(d, s, period)
            spent = in_slices.reindex(df.index, fill_value=0.0)  # bad slices
        good, total = units.good.sum(), units.total.sum()
        allowed = B * total
        coverage = d.has_data.sum() / len(d)
        sli = good / total if total else None
        summary.append({"slo": s.name, "good": good, "total": total, "sli": sli,
                        "budget_consumed": (total - good) / allowed if total else None,
                        "buckets": int(d.has_data.sum()), "coverage": coverage,
                        "met": None if sli is None or coverage < s.min_coverage
                        else bool(sli >= s.target)})
        # daily (UTC days) and the burn-down, in the method's units
        by_day = units.groupby("day")[["good", "total"]].sum()
        cum_bad = (by_day.total - by_day.good).cumsum()
        for day, row in by_day.iterrows():
            daily.append({"slo": s.name, "day": day, "good": row.good, "total": row.total,
                          "budget_remaining": 1 - cum_bad[day] / allowed if total else None})
        # hourly burn at the end of each hour
        hour_end = d.ts + pd.Timedelta(seconds=step_s)
        at_hour = (hour_end.dt.minute == 0) & (hour_end.dt.second == 0)
        rates = {name: err(seconds) / B for name, seconds in BURN_WINDOWS.items()}
        for i in d.index[at_hour.to_numpy()]:
            burn.append({"slo": s.name, "hour_end": df.ts[i] + pd.Timedelta(seconds=step_s),
                         **{name: r[i] for name, r in rates.items()}})
        # one incident per severity and run of buckets in which a condition of it holds
        for severity, flags in fired.items():
            for a, b in _islands((flags & inside).to_numpy()):
                incidents.append({
                    "slo": s.name, "start": df.ts[a],
                    "end": df.ts[b] + pd.Timedelta(seconds=step_s), "severity": severity,
                    "peak_burn_1h": float(rates["burn_1h"][a:b + 1].max()),
                    "bad": float(bad[a:b + 1].sum()),
                    "budget_share": float(spent[a:b + 1].sum() / allowed)})
    order = {"page": 0, "ticket": 1}
    incidents.sort(key=lambda i: (i["slo"], i["start"], order[i["severity"]]))
    return {"summary": pd.DataFrame(summary), "daily": pd.DataFrame(daily),
            "incidents": pd.DataFrame(incidents), "burn": pd.DataFrame(burn)}
