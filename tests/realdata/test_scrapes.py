"""The realistic scrapes are what they claim, and both backends serve them sample for sample."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from demo import scrapes
from demo.scrapes import BUCKET, COUNT, REQUESTS, Scrapes, Series
from tests.realdata.conftest import SEED

START, END, JOBS = scrapes.month_scenario(SEED)
START_MS = int(START.timestamp() * 1000)
DAY_END = datetime(2026, 9, 13, tzinfo=UTC)  # api15's outage runs 23:50 -> 00:10 across it
DAY_MS = 86_400_000

Raw = dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]


def job_series(s: Scrapes, job: str, name: str | None = None) -> list[Series]:
    return [x for x in s.series
            if x.labels["job"] == job and (name is None or x.labels["__name__"] == name)]


def delta_sum(values: list[float], old: bool) -> float:
    """Reset-aware increase of one series: a drop means the counter restarted from zero."""
    total = 0.0
    prev: float | None = None
    for v in values:
        if prev is None:
            total += 0.0 if old else v  # an old pod's first sample is only a baseline
        elif v < prev:
            total += v
        else:
            total += v - prev
        prev = v
    return total


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_observed_deltas_are_truth_minus_lost(real_scrapes: Scrapes, job: scrapes.Job) -> None:
    # Pods alive at the start are scraped within two intervals (two jittered slots may lie
    # 1.9 intervals apart); new pods start days later.
    old = {x.labels["pod"] for x in job_series(real_scrapes, job.name, COUNT)
           if x.ts_ms[0] < START_MS + 2 * job.interval_s * 1000}
    assert 0 < len(old) <= job.pods
    got: dict[str, float] = defaultdict(float)
    for x in job_series(real_scrapes, job.name):
        assert np.all(np.diff(x.ts_ms) > 0), x.labels
        d = delta_sum(x.values.tolist(), x.labels["pod"] in old)
        name = x.labels["__name__"]
        if name == REQUESTS:
            got["requests"] += d
            if x.labels["code"] == "500":
                got["errors"] += d
        elif name == COUNT:
            got["count"] += d
        elif name != BUCKET:
            raise AssertionError(f"unexpected series {x.labels}")
        elif x.labels["le"] == "+Inf":
            got["+Inf"] += d
        else:
            got[scrapes.le_column(x.labels["le"])] += d
    truth = real_scrapes.truth[real_scrapes.truth.job == job.name]
    lost = real_scrapes.lost[real_scrapes.lost.job == job.name]
    cols = ["requests", "errors", *(scrapes.le_column(le) for le, _ in job.le_cdf)]
    want = {c: int(truth[c].sum()) - int(lost[c].sum()) for c in cols}
    assert {c: int(got[c]) for c in cols} == want
    assert got["count"] == got["+Inf"] == want["requests"]
    # The crashes cost events no scrape saw, so a method ignoring them cannot match truth.
    resets = lost[lost.reason == "reset"]
    assert len(resets) == len(job.resets) and (resets.requests > 0).all()
    assert want["errors"] > 1000 and want[cols[2]] < want["requests"]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_resets_show_as_drops(real_scrapes: Scrapes, job: scrapes.Job) -> None:
    drops = sum(int(np.sum(np.diff(x.values) < 0))
                for x in job_series(real_scrapes, job.name, COUNT))
    assert drops == len(job.resets)


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_gap_has_no_sample(real_scrapes: Scrapes, job: scrapes.Job) -> None:
    assert job.gap is not None
    lo, hi = (int(t.timestamp() * 1000) for t in job.gap)
    step = job.interval_s * 1000
    near_before = near_after = False
    for x in job_series(real_scrapes, job.name):
        assert not np.any((x.ts_ms >= lo) & (x.ts_ms < hi)), x.labels
        near_before |= bool(np.any((x.ts_ms < lo) & (x.ts_ms >= lo - 1.5 * step)))
        near_after |= bool(np.any((x.ts_ms >= hi) & (x.ts_ms < hi + 1.5 * step)))
    assert near_before and near_after  # the outage is all that is missing


def test_error_series_appear_lazily(real_scrapes: Scrapes) -> None:
    first = {x.labels["pod"]: int(x.ts_ms[0]) for x in real_scrapes.series
             if x.labels["__name__"] == COUNT}
    late = [x.labels["pod"] for x in real_scrapes.series
            if x.labels.get("code") == "500" and x.ts_ms[0] > first[x.labels["pod"]]]
    assert late
    pods = {x.labels["pod"] for x in job_series(real_scrapes, "api15", COUNT)}
    assert len(pods) >= 8  # pods come and go over the month


def raw_query(url: str, query: str, at_ms: int) -> Raw:
    r = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": f"{at_ms / 1000:.3f}"},
                  timeout=120)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix", body
    return {tuple(sorted(s["metric"].items())): [(round(float(t) * 1000), float(v))
                                                 for t, v in s["values"]]
            for s in body["data"]["result"]}


def generated(s: Scrapes, job: str, name: str, lo_ms: int, hi_ms: int) -> Raw:
    """The generator's samples of (lo_ms, hi_ms]."""
    out: Raw = {}
    for x in job_series(s, job, name):
        keep = (x.ts_ms > lo_ms) & (x.ts_ms <= hi_ms)
        if keep.any():
            out[tuple(sorted(x.labels.items()))] = list(zip(
                x.ts_ms[keep].tolist(), x.values[keep].tolist(), strict=True))
    return out


def drop_at(raw: Raw, ts_ms: int) -> Raw:
    out = {k: [p for p in v if p[0] != ts_ms] for k, v in raw.items()}
    return {k: v for k, v in out.items() if v}


def test_backends_serve_the_same_raw_samples(real_scrapes: Scrapes, real_prometheus: str,
                                             real_victoria: str) -> None:
    end_ms = int(DAY_END.timestamp() * 1000)
    query = 'http_requests_total{job="api15"}[1d]'
    want = generated(real_scrapes, "api15", REQUESTS, end_ms - DAY_MS, end_ms)
    assert len(want) >= 6 and sum(len(v) for v in want.values()) > 20_000
    # Prometheus 2 includes the left edge, VictoriaMetrics does not.
    assert drop_at(raw_query(real_prometheus, query, end_ms), end_ms - DAY_MS) == want
    assert raw_query(real_victoria, query, end_ms) == want


def test_prometheus3_drops_exactly_the_left_edge(real_scrapes: Scrapes, real_prometheus: str,
                                                 prometheus3: str) -> None:
    count = job_series(real_scrapes, "api15", COUNT)[0]
    edge = int(count.ts_ms[len(count.ts_ms) // 2])
    at = edge + 3_600_000
    query = 'http_request_duration_seconds_count{job="api15"}[1h]'
    closed = raw_query(real_prometheus, query, at)
    assert any(p[0] == edge for v in closed.values() for p in v)
    assert raw_query(prometheus3, query, at) == drop_at(closed, edge) == generated(
        real_scrapes, "api15", COUNT, edge, at)
    # Anything but a raw range selector passes through untouched.
    other = {"query": f"count_over_time({query})", "time": f"{at / 1000:.3f}"}
    assert httpx.get(f"{prometheus3}/api/v1/query", params=other).json() == httpx.get(
        f"{real_prometheus}/api/v1/query", params=other).json()
