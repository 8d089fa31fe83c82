"""A straightforward pandas implementation of the compute stage's Occurrences outputs.

It is what a user would write by hand: load every partition, then rolling sums per SLO.
The benchmark times it against the DuckDB SQL, and the tests use it as an independent
reference for burn rates, incidents and daily series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slo_jobs import lake
from slo_jobs.compute.engine import CONDITIONS, LOOKBACK, WINDOWS_S, alert_factor
from slo_jobs.compute.params import SloParams
from slo_jobs.periods import Period

PAIRS = {"thr_page1": ("l1h", "l5m"), "thr_page2": ("l6h", "l30m"),
         "thr_ticket1": ("l1d", "l2h"), "thr_ticket2": ("l3d", "l6h")}


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


def reference(lake_dir: Path, slos: Sequence[SloParams], period: Period,
              step_s: int = 60) -> dict[str, pd.DataFrame]:
    first = (period.start - LOOKBACK).date()
    last = (period.end - timedelta(microseconds=1)).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    summary, daily, incidents, burn = [], [], [], []
    for s in slos:
        df = _load(lake_dir, s.name, days, step_s)
        bad = df.total - df.good
        err = {}
        for name, seconds in WINDOWS_S.items():
            n = seconds // step_s
            tot = df.total.rolling(n).sum()
            err[name] = bad.rolling(n).sum() / tot.where(tot != 0)
        B = s.budget_fraction
        page = pd.Series(False, index=df.index)
        ticket = pd.Series(False, index=df.index)
        for cond, (share, long_s) in CONDITIONS.items():
            thr = alert_factor(share, s.alert_period_s or period.seconds, long_s) * B
            long_w, short_w = PAIRS[cond]
            fires = ((err[long_w] > thr) & (err[short_w] > thr)).fillna(False)
            if cond.startswith("thr_page"):
                page |= fires
            else:
                ticket |= fires
        inside = (df.ts >= period.start) & (df.ts < period.end)
        d = df[inside]
        good, total = d.good.sum(), d.total.sum()
        allowed = B * total
        summary.append({"slo": s.name, "good": good, "total": total,
                        "sli": good / total if total else None,
                        "budget_consumed": (total - good) / allowed if total else None,
                        "buckets": int(d.has_data.sum())})
        # daily (UTC days) and the burn-down
        by_day = d.assign(day=d.ts.dt.date).groupby("day")[["good", "total"]].sum()
        cum_bad = (by_day.total - by_day.good).cumsum()
        for day, row in by_day.iterrows():
            daily.append({"slo": s.name, "day": day, "good": row.good, "total": row.total,
                          "budget_remaining": 1 - cum_bad[day] / allowed if total else None})
        # hourly burn at the end of each hour
        hour_end = d.ts + pd.Timedelta(seconds=step_s)
        at_hour = (hour_end.dt.minute == 0) & (hour_end.dt.second == 0)
        for i in d.index[at_hour.to_numpy()]:
            burn.append({"slo": s.name, "hour_end": df.ts[i] + pd.Timedelta(seconds=step_s),
                         "burn_1h": err["l1h"][i] / B, "burn_6h": err["l6h"][i] / B,
                         "burn_1d": err["l1d"][i] / B})
        firing = (page | ticket) & inside
        idx = np.flatnonzero(firing.to_numpy())
        if len(idx):
            breaks = np.flatnonzero(np.diff(idx) > 1)
            starts = np.concatenate([[idx[0]], idx[breaks + 1]])
            ends = np.concatenate([idx[breaks], [idx[-1]]])
            for a, b in zip(starts, ends, strict=True):
                incidents.append({
                    "slo": s.name, "start": df.ts[a],
                    "end": df.ts[b] + pd.Timedelta(seconds=step_s),
                    "severity": "page" if page[a:b + 1].any() else "ticket",
                    "peak_burn_1h": float((err["l1h"][a:b + 1] / B).max()),
                    "bad": float(bad[a:b + 1].sum()),
                    "budget_share": float(bad[a:b + 1].sum() / allowed)})
    return {"summary": pd.DataFrame(summary), "daily": pd.DataFrame(daily),
            "incidents": pd.DataFrame(incidents), "burn": pd.DataFrame(burn)}
