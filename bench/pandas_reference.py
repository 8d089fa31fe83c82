"""The compute stage's outputs in pandas, as a pandas user would write them from the SLO math.

Each SLO's day partitions are read with pyarrow (one dataset of its files, ``to_pandas()``)
and put on a regular one-bucket index, where a missing bucket or day is no data. SLOs are
then handled in batches, as frames with one column per SLO, with whole-frame operations:
window sums as differences of cumulative sums, time slices by grouping bucket positions,
hourly burn rates by selecting the hour-end rows, daily series by grouping on the day, and
incidents by run-length grouping of the firing buckets. No Python loop runs per row; the
loops are over SLOs (reading), batches, and the few distinct alert conditions and slice
lengths. It runs in one process, with Arrow's own threads for reading.

The benchmark times it against the engine (bench/compute.py, phase c) and the tests use it
as an independent reference for the engine's outputs. So it imports nothing of the engine's
(no lake reader, no windows, factors or thresholds): every constant below is taken from
docs/slo-math.md, and a wrong constant in the engine shows as a disagreement here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from slo_jobs.compute.params import SloParams
from slo_jobs.core.periods import Period, midnight

MINUTE, HOUR, DAY = 60, 3600, 86_400
# docs/slo-math.md, "Burn rate and alerts": (severity, share p of the period's budget,
# long window L, short window S); the factor is f = p * P / L.
DEFAULT_ALERTS = (("page", 0.02, HOUR, 5 * MINUTE), ("page", 0.05, 6 * HOUR, 30 * MINUTE),
                  ("ticket", 0.10, DAY, 2 * HOUR), ("ticket", 0.10, 3 * DAY, 6 * HOUR))
# docs/slo-math.md, "Status": at the period's end the burn since its start is C itself.
STATUS_BURN = (("critical", 2.0), ("warning", 1.5), ("attention", 1.0))
# docs/slo-math.md, "Release decision": per status, the decision for low, medium, high risk.
RISKS = ("low", "medium", "high")
DECISIONS = {"healthy": ("approve", "approve", "review"),
             "attention": ("approve", "review", "defer"),
             "warning": ("review", "defer", "block"),
             "critical": ("defer", "block", "block"),
             "exhausted": ("block", "block", "block"),
             "no data": ("review",) * 3, "insufficient data": ("review",) * 3,
             "too few events": ("review",) * 3}
BATCH = 50  # SLOs per frame: 19 MB per (bucket x SLO) float frame of a 33-day month


def _label(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# The hourly burn rates: one per window of the alert table (burn_5m ... burn_3d).
BURN_WINDOWS = {f"burn_{_label(w)}": w for w in sorted({w for a in DEFAULT_ALERTS for w in a[2:]})}
COLUMNS = ["ts", "good", "total", "has_data"]


def _conditions(slos: Sequence[SloParams], period: Period) -> pd.DataFrame:
    """One row per SLO (column position) and alert condition: severity, windows and the
    threshold f * B on the error ratio. P is a rolling SLO's own length, else the period's;
    an alerting.burnRates override replaces the defaults."""
    rows = []
    for col, s in enumerate(slos):
        p = s.alert_period_s or period.seconds
        budget = round(1 - s.target, 12)
        alerts = [(a.severity, a.factor, a.budget_consumed or 0.0,
                   int(a.long_window.total_seconds()), int(a.short_window.total_seconds()))
                  for a in s.burn_rates] or \
            [(sev, None, share, long_s, short_s) for sev, share, long_s, short_s in DEFAULT_ALERTS]
        for sev, factor, share, long_s, short_s in alerts:
            f = factor if factor is not None else share * p / long_s
            rows.append({"col": col, "severity": sev, "long_s": long_s, "short_s": short_s,
                         "threshold": f * budget})
    out = pd.DataFrame(rows, columns=["col", "severity", "long_s", "short_s", "threshold"])
    # an SLO may list the same windows twice: each gets its own pass
    out["nth"] = out.groupby(["col", "severity", "long_s", "short_s"]).cumcount()
    return out


def _read(lake_dir: Path, name: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """One SLO's good, total and has_data on ``index``: its day partitions read as one
    dataset; a bucket or day never extracted reads as no data."""
    days = pd.date_range(index[0].normalize(), index[-1], freq="D").date
    paths = [p for d in days
             if (p := lake_dir / "sli" / f"slo={name}" / f"date={d}" / "part-0.parquet").exists()]
    if paths:
        rows = ds.dataset(paths, format="parquet").to_table(columns=COLUMNS).to_pandas()
    else:
        rows = pd.DataFrame({"ts": pd.DatetimeIndex([], tz=UTC), "good": 0.0, "total": 0.0,
                             "has_data": False})
    return rows.set_index("ts").reindex(index).fillna({"good": 0.0, "total": 0.0,
                                                       "has_data": False})


def _frames(lake_dir: Path, names: list[str], index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """(bucket x SLO) frames of good, total and has_data, a column per name."""
    per_slo = [_read(lake_dir, name, index) for name in names]
    # from a dict, so each frame is one block: operations then run once, not per column
    return {v: pd.DataFrame({i: f[v].astype(bool if v == "has_data" else float)
                             for i, f in enumerate(per_slo)}) for v in COLUMNS[1:]}


def _slices(good: pd.DataFrame, total: pd.DataFrame, has: pd.DataFrame,
            slos: Sequence[SloParams], n: int, ratio: bool, start: int
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Time slices of ``n`` buckets on the period's grid (row ``start`` begins one), before
    and after it; the first and last may be shorter. Per docs/slo-math.md: per slice its good
    value and whether it counts (indexed by its first bucket), and per bucket its share of its
    slice's bad value (what an incident over that bucket spent), its slice's bad value and
    whether its slice counts (the burn rate's unit)."""
    key = (np.arange(len(good)) - start) // n
    g, t = good.groupby(key).sum(), total.groupby(key).sum()
    rate = g / t.where(t > 0)
    if ratio:  # RatioTimeslices: the mean ratio of the slices with events
        counted, value = t > 0, rate.fillna(0.0)
    else:
        no_data = ~has.groupby(key).any() | (t == 0)
        targets = pd.Series([s.slice_target for s in slos], index=good.columns)
        policy = pd.Series([s.no_data for s in slos], index=good.columns)
        judged = (rate.ge(targets, axis="columns") & ~no_data) | (no_data & (policy == "good"))
        counted = ~no_data | (policy != "skip")
        value = (judged & counted).astype(float)
    value, counted = value.where(counted, 0.0), counted.astype(float)
    size = pd.Series(key).value_counts().sort_index()
    bad = counted - value
    spread = bad.div(size, axis="index").loc[key].set_axis(good.index)
    bad_units, counted_units = (f.loc[key].set_axis(good.index) for f in (bad, counted))
    firsts = good.index[pd.Series(key).drop_duplicates().index]
    value.index = counted.index = firsts  # a slice belongs to its start's day
    return value, counted, spread, bad_units, counted_units


def _long(frames: dict[str, pd.DataFrame], names: list[str], key: str,
          keys: pd.Index) -> pd.DataFrame:
    """(key x SLO) frames as rows of slo, key and one column per frame, SLO by SLO."""
    n, k = next(iter(frames.values())).shape
    return pd.DataFrame({"slo": np.repeat(names, n), key: keys.take(np.tile(np.arange(n), k)),
                         **{name: f.to_numpy().T.ravel() for name, f in frames.items()}})


def _batch(lake_dir: Path, slos: Sequence[SloParams], period: Period, index: pd.DatetimeIndex,
           step_s: int) -> dict[str, pd.DataFrame]:
    names = [s.name for s in slos]
    data = _frames(lake_dir, names, index)
    good, total, has = data["good"], data["total"], data["has_data"]
    budget = pd.Series([round(1 - s.target, 12) for s in slos])
    # windows end at every bucket of the period; its lookback holds the longest one
    start = index.get_loc(period.start)
    inside = slice(start, len(index))
    # per column, in the budget's unit: events, or for a time-slice SLO slices (every bucket
    # carries its slice's bad value and whether it counts), good and counted units by day,
    # and what a bucket spent
    bad_units, counted_units = total - good, total.copy()
    g, t, h = good.iloc[inside], total.iloc[inside], has.iloc[inside]
    bad = t - g
    day_good, day_total = g.groupby(g.index.normalize()).sum(), t.groupby(t.index.normalize()).sum()
    spent = bad.copy()
    for (method, n), members in pd.Series(range(len(slos))).groupby(
            [[s.method for s in slos], [max(1, int(s.slice_seconds // step_s)) for s in slos]]):
        if method == "Occurrences":
            continue
        cols = members.to_list()
        value, counted, spread, bad_u, counted_u = _slices(
            good[cols], total[cols], has[cols], [slos[c] for c in cols], n,
            method == "RatioTimeslices", start)
        value, counted = value[value.index >= period.start], counted[counted.index >= period.start]
        day_good[cols] = value.groupby(value.index.normalize()).sum()
        day_total[cols] = counted.groupby(counted.index.normalize()).sum()
        spent[cols] = spread.iloc[inside]
        bad_units[cols], counted_units[cols] = bad_u, counted_u
    cum_bad, cum_total = bad_units.cumsum(), counted_units.cumsum()
    errs: dict[int, pd.DataFrame] = {}

    def err(seconds: int) -> pd.DataFrame:
        """The error ratio over the window of ``seconds`` ending with each bucket, in the
        budget's unit (events, or slices for a time-slice SLO)."""
        if seconds not in errs:
            n = seconds // step_s
            bad_w, total_w = cum_bad.diff(n).iloc[inside], cum_total.diff(n).iloc[inside]
            errs[seconds] = bad_w / total_w.where(total_w != 0)
        return errs[seconds]

    fired = {sev: pd.DataFrame(False, index=index[inside], columns=good.columns)
             for sev in ("page", "ticket")}
    conds = _conditions(slos, period)
    for (sev, long_s, short_s, _), c in conds.groupby(["severity", "long_s", "short_s", "nth"]):
        thr = c.set_index("col").threshold.reindex(good.columns)  # NaN: not this SLO's
        fired[sev] |= err(long_s).gt(thr, axis="columns") & err(short_s).gt(thr, axis="columns")

    good_sum, total_sum = day_good.sum(), day_total.sum()
    occ = pd.Series([s.method == "Occurrences" for s in slos])
    # the headline of an Occurrences SLO sums its buckets, not its days
    good_sum, total_sum = good_sum.mask(occ, g.sum()), total_sum.mask(occ, t.sum())
    allowed = (budget * total_sum).where(total_sum > 0)
    buckets = h.sum()
    coverage = buckets / len(h)
    sli = good_sum / total_sum.where(total_sum > 0)
    consumed = (total_sum - good_sum) / allowed
    remaining = 1 - consumed
    insufficient = coverage < pd.Series([s.min_coverage for s in slos])
    # docs/slo-math.md, "Too few events to judge": one bad event of n spends 1 / (n B) of
    # the budget, all of it once n B <= 1; spec.judgeFewEvents judges such an SLO anyway.
    few = (total_sum * budget <= 1 + 1e-9) & ~pd.Series([s.judge_few_events for s in slos])
    judged = sli.notna() & ~insufficient & ~few
    status = np.select([sli.isna(), insufficient, few, remaining <= 0]
                       + [consumed > burn for _, burn in STATUS_BURN],
                       ["no data", "insufficient data", "too few events", "exhausted"]
                       + [name for name, _ in STATUS_BURN], "healthy")
    # budget lasts R / burn_1d * P at the last day's burn (docs/slo-math.md)
    burn_1d_now = err(DAY).iloc[-1] / budget
    lasts = (remaining / burn_1d_now * period.seconds / DAY).where(
        judged & (remaining > 0) & (burn_1d_now > 0))
    summary = pd.DataFrame({
        "slo": names, "good": good_sum, "total": total_sum, "sli": sli,
        "budget_consumed": consumed, "budget_remaining": remaining, "buckets": buckets,
        "coverage": coverage, "met": (sli >= [s.target for s in slos]).astype(object)
        .where(judged, None), "status": status, "exhaustion_days": lasts})

    daily = _long({"good": day_good, "total": day_total,
                   "budget_remaining": 1 - (day_total - day_good).cumsum() / allowed},
                  names, "day", pd.Index(day_good.index.date))
    hour_end = index[inside] + pd.Timedelta(seconds=step_s)
    at_hour = (hour_end.minute == 0) & (hour_end.second == 0)
    burn = _long({name: err(w)[at_hour] / budget for name, w in BURN_WINDOWS.items()},
                 names, "hour_end", hour_end[at_hour])
    # a run starting within the severity's longest short window of the previous one continues it
    gaps = {sev: (conds[conds.severity == sev].groupby("col").short_s.max() // step_s)
            .reindex(range(len(slos)), fill_value=0).to_numpy() for sev in fired}
    incidents = [_incidents(fired[sev], sev, names, bad, spent, allowed, err(HOUR) / budget,
                            step_s, gaps[sev]) for sev in fired]
    return {"summary": summary, "daily": daily, "burn": burn,
            "incidents": pd.concat(incidents, ignore_index=True)}


def _incidents(flags: pd.DataFrame, severity: str, names: list[str], bad: pd.DataFrame,
               spent: pd.DataFrame, allowed: pd.Series, burn_1h: pd.DataFrame,
               step_s: int, gap: np.ndarray) -> pd.DataFrame:
    """One incident per SLO and burn of the severity: the firing cells, SLO by SLO in time
    order, split where the SLO changes or the bucket position jumps by ``gap[col]`` buckets
    or more (a shorter pause is the same burn: docs/slo-math.md)."""
    col, row = np.nonzero(flags.to_numpy().T)
    cells = pd.DataFrame({"col": col, "row": row, "bad": bad.to_numpy()[row, col],
                          "spent": spent.to_numpy()[row, col],
                          "burn": burn_1h.to_numpy()[row, col]})
    pause = cells.row.diff() - 1  # buckets without firing since the previous firing one
    run = ((cells.row.diff() != 1) & (pause >= gap[cells.col.to_numpy()])
           | (cells.col.diff() != 0)).cumsum()
    runs = cells.groupby(run).agg(col=("col", "first"), first=("row", "first"),
                                  last=("row", "last"), peak_burn_1h=("burn", "max"),
                                  bad=("bad", "sum"), spent=("spent", "sum"))
    col = runs["col"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "slo": np.asarray(names, dtype=object)[col],
        "start": flags.index[runs["first"].to_numpy(dtype=np.int64)],
        "end": flags.index[runs["last"].to_numpy(dtype=np.int64)] + pd.Timedelta(seconds=step_s),
        "severity": severity, "peak_burn_1h": runs.peak_burn_1h.to_numpy(),
        "bad": runs.bad.to_numpy(),
        "budget_share": runs.spent.to_numpy() / allowed.to_numpy()[col]})


def _decisions(summary: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame([(status, risk, d) for status, ds_ in DECISIONS.items()
                          for risk, d in zip(RISKS, ds_, strict=True)],
                         columns=["status", "risk", "decision"])
    out = summary[["slo", "status"]].merge(table, on="status")
    out["order"] = out.risk.map({r: i for i, r in enumerate(RISKS)})
    return out.sort_values(["slo", "order"], kind="stable")[["slo", "risk", "decision"]] \
        .reset_index(drop=True)


def reference(lake_dir: Path, slos: Sequence[SloParams], period: Period,
              step_s: int = 60) -> dict[str, pd.DataFrame]:
    """summary (with status), decisions, daily (UTC days), burn (hourly, every window of
    the alert table) and incidents (the alert timeline) of ``slos`` over ``period``."""
    planned = [s.name for s in slos if s.maintenance is not None and s.maintenance.groups]
    if planned:  # docs/slo-math.md, "Maintenance windows": not reproduced here
        raise ValueError(f"SLOs {', '.join(planned)}: the pandas reference does not apply "
                         "maintenance windows; compare SLOs without spec.maintenance")
    # The lookback covers the longest window: 3 days, or whole days of a longer override.
    longest = max([int(a.long_window.total_seconds()) for s in slos for a in s.burn_rates]
                  + [a[2] for a in DEFAULT_ALERTS])
    first = (period.start - timedelta(days=-(-longest // DAY))).date()
    last = (period.end - timedelta(microseconds=1)).date()
    origin = midnight(first)
    days = (last - first).days + 1
    index = pd.date_range(origin, periods=days * DAY // step_s, freq=f"{step_s}s", unit="us",
                          name="ts")
    index = index[index < period.end]
    parts = [_batch(lake_dir, slos[i:i + BATCH], period, index, step_s)
             for i in range(0, len(slos), BATCH)]
    out = {name: pd.concat([p[name] for p in parts], ignore_index=True) if parts
           else pd.DataFrame() for name in ("summary", "daily", "burn", "incidents")}
    if parts:
        inc = out["incidents"]
        inc["order"] = (inc.severity != "page").astype(int)
        out["incidents"] = inc.sort_values(["slo", "start", "order"], kind="stable") \
            .drop(columns="order").reset_index(drop=True)
        out["decisions"] = _decisions(out["summary"])
    else:
        out["decisions"] = pd.DataFrame()
    return out

