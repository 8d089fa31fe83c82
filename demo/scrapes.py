"""Realistic Prometheus scrapes of simulated services, with the exact events behind them.

``generate`` simulates every request of a few services and returns what Prometheus would have
scraped from their pods, plus the truth those samples were taken from, so a test can check that
an extraction method is exact on the shapes real scrapes have: jittered scrape times, pods that
come and go, counters that crash back to zero, series created lazily, scrape outages.

Semantics:

* Events happen at integer Unix seconds.  A counter sampled at time t (millisecond precision)
  holds the events of seconds s < t since the pod's (re)start.  ``truth`` row (job, m) holds the
  events of seconds s in [m, m + 60 s) of the whole job, for every minute of [start, end).
* Each pod exposes ``http_requests_total{job, service, pod, code="200"|"500"}`` (each created
  lazily: absent until its first event, and again after a restart until the next one),
  ``http_request_duration_seconds_bucket{job, service, pod, le}`` for each ``Job.le_cdf`` bound
  plus ``le="+Inf"``, and ``http_request_duration_seconds_count{job, service, pod}``; the
  histogram series exist from the pod's first scrape, at 0 if need be.
* Traffic (Poisson per second, diurnal +-50 %) is split evenly among the pods that serve.  Pods
  live a few days and are replaced in a rolling way: the new pod starts and serves, the old one
  is drained for its last 3 scrape intervals and then stops, so a graceful stop loses nothing.
  A new pod's counters start at 0 at its start and its first scrape is within one interval.
  Pods alive at ``start`` are old: their first sample already holds a large prior count that
  is not part of the truth.
* Scrapes land at their slot +- ``jitter`` x interval (uniform), the same instant for all series
  of one pod.  No sample of the job falls in ``Job.gap``; events go on and counters keep
  counting, so the first sample after the gap shows them.
* A reset (crash restart) of one serving pod at a ``Job.resets`` instant r drops all its
  counters to 0 at r; they count the events of s >= r again.
* ``lost`` holds the events no sample can show, so that, per job, the reset-aware sum of
  sample deltas (a new series counted from zero, an old pod's first sample taken as baseline)
  equals ``truth - lost`` exactly.  Its ``reason`` is ``reset`` (events after a pod's last
  sample before a reset, at the minute of the reset), ``window-start`` (an old pod's events
  before its first sample, at the minute of ``start``), ``window-end`` (events after a pod's
  last sample before ``end``, at the minute of that sample) or ``stop`` (a pod that stopped
  during a gap, at the minute of its stop).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

SCRAPES_VERSION = "1"
DRAIN_INTERVALS = 3
REQUESTS = "http_requests_total"
BUCKET = "http_request_duration_seconds_bucket"
COUNT = "http_request_duration_seconds_count"


@dataclass(frozen=True)
class Job:
    """One scraped service: its ``job`` and ``service`` labels are both ``name``."""

    name: str
    interval_s: float
    jitter: float = 0.45  # below 0.5, so each series' timestamps strictly increase
    rate_per_s: float = 20.0
    error_ratio: float = 0.002
    le_cdf: tuple[tuple[str, float], ...] = (
        ("0.25", 0.90), ("0.5", 0.97), ("1.0", 0.995), ("2.5", 0.999))
    pods: int = 3
    gap: tuple[datetime, datetime] | None = None
    resets: tuple[datetime, ...] = field(default=())


@dataclass
class Series:
    labels: dict[str, str]
    ts_ms: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64 cumulative counts


@dataclass
class Scrapes:
    """``truth``: one row per (job, minute of [start, end)): ts (minute start, UTC), job,
    requests, errors and one cumulative ``le_*`` column per bucket bound (``le_column``),
    counting the events of [ts, ts + 60 s); jobs with other bounds leave NaN in those columns.
    ``lost``: ts, job, reason and the same counts, for the events no sample shows."""

    series: list[Series]
    truth: pd.DataFrame
    lost: pd.DataFrame


def le_column(le: str) -> str:
    """Truth column of a bucket bound: ``0.25`` -> ``le_0_25``."""
    return "le_" + le.replace(".", "_")


@dataclass
class _Pod:
    name: str
    start_s: int
    stop_s: int
    old: bool
    resets: list[int] = field(default_factory=list)


def _check(job: Job) -> None:
    if not 10 <= job.interval_s <= 300:
        raise ValueError(f"job {job.name}: interval_s {job.interval_s} is not in [10, 300]")
    if not 0 <= job.jitter < 0.5:
        raise ValueError(f"job {job.name}: jitter {job.jitter} is not in [0, 0.5)")
    cdf = [p for _, p in job.le_cdf]
    if any(b < a for a, b in zip(cdf, cdf[1:], strict=False)) or not 0 < cdf[0] <= cdf[-1] <= 1:
        raise ValueError(f"job {job.name}: le_cdf {job.le_cdf} must increase within (0, 1]")


def _pod_name(job: str, rng: np.random.Generator) -> str:
    digest = hashlib.sha1(rng.bytes(16)).hexdigest()
    return f"{job}-{digest[:9]}-{digest[9:14]}"


def _plan_pods(job: Job, start_s: int, end_s: int, rng: np.random.Generator) -> list[_Pod]:
    """Rolling replacement: each pod's successor serves 5-15 minutes before it is drained."""
    day = 86400
    drain = int(DRAIN_INTERVALS * job.interval_s)
    pods: list[_Pod] = []
    for _ in range(job.pods):
        stop = start_s + int(rng.uniform(0.3, 6.0) * day)
        pod = _Pod(_pod_name(job.name, rng), start_s - int(rng.uniform(1, 20) * day), stop, True)
        pods.append(pod)
        while pod.stop_s < end_s:
            begin = pod.stop_s - drain - int(rng.uniform(300, 900))
            life = int(rng.uniform(3.0, 12.0) * day)
            pod = _Pod(_pod_name(job.name, rng), begin, begin + life, False)
            pods.append(pod)
    return pods


def _diurnal(seconds: np.ndarray) -> np.ndarray:
    hours = (seconds % 86400) / 3600.0
    return np.asarray(1.0 + 0.5 * np.sin(2 * np.pi * (hours - 9.0) / 24.0))


def _scrape_times(job: Job, pod: _Pod, lo_ms: int, hi_ms: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Scrape instants of one pod in [lo_ms, hi_ms): each slot +- jitter, first within an
    interval of the pod's start."""
    step = job.interval_s * 1000.0
    j = job.jitter * step
    # The phase keeps every jittered slot after the pod's start and before one interval.
    phase = rng.uniform(j, step - j)
    first_k = max(0, math.floor((lo_ms - pod.start_s * 1000 - phase - j) / step))
    last_k = math.ceil((hi_ms - pod.start_s * 1000 - phase + j) / step)
    k = np.arange(first_k, last_k + 1, dtype=np.float64)
    slots = pod.start_s * 1000 + phase + k * step + rng.uniform(-j, j, len(k))
    ts = np.round(slots).astype(np.int64)
    return ts[(ts >= lo_ms) & (ts < hi_ms)]


def _draw_events(job: Job, seconds: np.ndarray, share: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Per-second event counts: columns requests, errors, then one per finite le bound."""
    requests = rng.poisson(job.rate_per_s * _diurnal(seconds) * share)
    cols = [requests, rng.binomial(requests, job.error_ratio)]
    cdf = [p for _, p in job.le_cdf]
    # Cumulative buckets by successive binomial thinning, from the widest bound down.
    below: list[np.ndarray] = [rng.binomial(requests, cdf[-1])]
    for i in range(len(cdf) - 2, -1, -1):
        below.append(rng.binomial(below[-1], cdf[i] / cdf[i + 1]))
    cols.extend(reversed(below))
    return np.stack(cols, axis=1).astype(np.int32)


def _generate_job(job: Job, start_s: int, end_s: int, rng: np.random.Generator,
                  ) -> tuple[list[Series], np.ndarray, list[tuple[int, str, np.ndarray]]]:
    _check(job)
    les = [le for le, _ in job.le_cdf]
    ncol = 2 + len(les)
    minutes = (end_s - start_s) // 60
    truth = np.zeros((minutes, ncol), dtype=np.int64)
    lost: list[tuple[int, str, np.ndarray]] = []
    pods = _plan_pods(job, start_s, end_s, rng)
    drain = int(DRAIN_INTERVALS * job.interval_s)
    # Number of serving pods per second of the window, to split the traffic evenly.
    edges = np.zeros(end_s - start_s + 1, dtype=np.int32)
    for p in pods:
        lo, hi = max(p.start_s, start_s), min(p.stop_s - drain, end_s)
        if lo < hi:
            edges[lo - start_s] += 1
            edges[hi - start_s] -= 1
    serving = np.cumsum(edges[:-1])
    for r in job.resets:
        r_s = int(r.timestamp())
        # A crash hits a pod that has served for a while, so its counters are far from zero.
        fit = [p for p in pods if p.start_s + 3600 < r_s < p.stop_s - drain - 600]
        if not fit:
            raise ValueError(f"job {job.name}: no pod serves at reset {r.isoformat()}")
        fit[int(rng.integers(len(fit)))].resets.append(r_s)
    gap_ms = ((int(job.gap[0].timestamp() * 1000), int(job.gap[1].timestamp() * 1000))
              if job.gap else None)
    series: list[Series] = []
    for pod in pods:
        g0, g1 = max(pod.start_s, start_s), min(pod.stop_s, end_s)
        if g0 >= g1:
            continue
        seconds = np.arange(g0, g1, dtype=np.int64)
        n = serving[g0 - start_s:g1 - start_s]
        share = np.where((seconds < pod.stop_s - drain) & (n > 0), 1.0 / np.maximum(n, 1), 0.0)
        events = _draw_events(job, seconds, share, rng)
        idx = (seconds - start_s) // 60
        for c in range(ncol):
            truth[:, c] += np.bincount(idx, weights=events[:, c], minlength=minutes).astype(
                np.int64)
        cum = np.zeros((len(seconds) + 1, ncol), dtype=np.int64)
        np.cumsum(events, axis=0, out=cum[1:])
        del events
        ts = _scrape_times(job, pod, g0 * 1000, g1 * 1000, rng)
        if gap_ms:
            ts = ts[(ts < gap_ms[0]) | (ts >= gap_ms[1])]
        # Seconds s < t are counted at t: the count is cum at ceil(t / 1000).
        pos = -(-ts // 1000) - g0
        seg_starts = np.array([g0, *sorted(pod.resets)], dtype=np.int64)
        seg = np.searchsorted(seg_starts * 1000, ts, side="right") - 1
        values = cum[pos] - cum[seg_starts[seg] - g0]
        if pod.old:
            prior_n = int(rng.uniform(2e6, 9e6))
            cdf = [p for _, p in job.le_cdf]
            prior = np.array([prior_n, max(1, round(prior_n * job.error_ratio)),
                              *(round(prior_n * p) for p in cdf)], dtype=np.int64)
            values[seg == 0] += prior
        # Events after each segment's last sample (or before an old pod's first) are unseen.
        seg_ends = [*seg_starts[1:].tolist(), g1]
        for i, (a, b) in enumerate(zip(seg_starts.tolist(), seg_ends, strict=True)):
            in_seg = ts[seg == i]
            seen_to = int(-(-in_seg[-1] // 1000)) if len(in_seg) else a
            if pod.old and i == 0 and len(in_seg):
                lost.append((start_s, "window-start",
                             cum[int(-(-in_seg[0] // 1000)) - g0] - cum[0]))
            unseen = cum[b - g0] - cum[max(seen_to, a) - g0]
            if i + 1 < len(seg_starts):
                lost.append((b, "reset", unseen))
            elif b == end_s:
                at = int(in_seg[-1] // 1000) if len(in_seg) else a
                lost.append((at, "window-end", unseen))
            elif unseen.any():
                lost.append((b, "stop", unseen))
        base = {"job": job.name, "service": job.name, "pod": pod.name}
        ok = values[:, 0] - values[:, 1]
        for code, v in (("200", ok), ("500", values[:, 1])):
            # Client libraries create a labelled counter at its first increment.
            keep = v > 0
            series.append(Series({"__name__": REQUESTS, **base, "code": code},
                                 ts[keep], v[keep].astype(np.float64)))
        for i, le in enumerate(les):
            series.append(Series({"__name__": BUCKET, **base, "le": le}, ts,
                                 values[:, 2 + i].astype(np.float64)))
        series.append(Series({"__name__": BUCKET, **base, "le": "+Inf"}, ts,
                             values[:, 0].astype(np.float64)))
        series.append(Series({"__name__": COUNT, **base}, ts, values[:, 0].astype(np.float64)))
    return [s for s in series if len(s.ts_ms)], truth, lost


def generate(start: datetime, end: datetime, jobs: Sequence[Job], seed: int) -> Scrapes:
    """Scrapes of ``jobs`` over [start, end) (whole minutes) and their truth; see the module
    docstring for the exact semantics."""
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    if start_s % 60 or end_s % 60 or end_s <= start_s:
        raise ValueError(f"start {start} and end {end} must be whole minutes, start < end")
    rng = np.random.default_rng(seed)
    all_series: list[Series] = []
    truths: list[pd.DataFrame] = []
    losts: list[pd.DataFrame] = []
    minute_ts = pd.date_range(start, end, freq="1min", inclusive="left")
    for job in jobs:
        series, truth, lost = _generate_job(job, start_s, end_s, rng)
        all_series.extend(series)
        cols = ["requests", "errors", *(le_column(le) for le, _ in job.le_cdf)]
        frame = pd.DataFrame(truth, columns=cols)
        frame.insert(0, "job", job.name)
        frame.insert(0, "ts", minute_ts)
        truths.append(frame)
        rows = pd.DataFrame([v for _, _, v in lost], columns=cols, dtype=np.int64)
        rows.insert(0, "reason", [r for _, r, _ in lost])
        rows.insert(0, "job", job.name)
        rows.insert(0, "ts", pd.to_datetime([(t // 60) * 60 for t, _, _ in lost], unit="s",
                                            utc=True))
        losts.append(rows.groupby(["ts", "job", "reason"], as_index=False).sum())
    lost_frame = pd.concat(losts, ignore_index=True).sort_values(["job", "ts", "reason"])
    return Scrapes(all_series, pd.concat(truths, ignore_index=True),
                   lost_frame.reset_index(drop=True))


def month_scenario(seed: int = 7) -> tuple[datetime, datetime, list[Job]]:
    """September 2026 with two days of lookback and one of lookahead: three jobs scraped every
    15, 30 and 60 s, each with a 20-minute outage (one across midnight) and two crashes at
    instants drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    sept = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())

    def crashes(gap_start: datetime) -> tuple[datetime, ...]:
        # Whole seconds, well away from the outage, so each crash is seen by scrapes.
        out: list[datetime] = []
        while len(out) < 2:
            at = datetime.fromtimestamp(sept + int(rng.integers(86400, 29 * 86400)), UTC)
            if abs(at - gap_start) > timedelta(hours=3) and all(
                    abs(at - o) > timedelta(days=1) for o in out):
                out.append(at)
        return tuple(sorted(out))

    twenty = timedelta(minutes=20)
    gaps = {"api15": datetime(2026, 9, 12, 23, 50, tzinfo=UTC),
            "api30": datetime(2026, 9, 18, 3, 7, 30, tzinfo=UTC),
            "api60": datetime(2026, 9, 24, 14, 33, tzinfo=UTC)}
    jobs = [
        Job("api15", 15.0, rate_per_s=30.0, error_ratio=0.002,
            gap=(gaps["api15"], gaps["api15"] + twenty), resets=crashes(gaps["api15"])),
        Job("api30", 30.0, rate_per_s=12.0, error_ratio=0.005,
            gap=(gaps["api30"], gaps["api30"] + twenty), resets=crashes(gaps["api30"])),
        Job("api60", 60.0, rate_per_s=4.0, error_ratio=0.01,
            # Same bounds as the others (one truth column each), a slower service.
            le_cdf=(("0.25", 0.75), ("0.5", 0.92), ("1.0", 0.985), ("2.5", 0.998)),
            gap=(gaps["api60"], gaps["api60"] + twenty), resets=crashes(gaps["api60"])),
    ]
    return datetime(2026, 8, 30, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC), jobs
