"""The demo's series for its error-category, quality and streaming SLOs.

Each part draws from a random stream of its own (the demo's seed plus 1, 2 or 3), so adding
them leaves every series ``generate`` wrote before, and its truth, exactly as it was:

* **status codes**: checkout's server errors split into codes 500 to 504 (a multinomial draw
  per minute over a mix that each incident may change), one counter per code instead of the
  single ``code="500"``; their sum is the errors drawn before, so every selector on
  ``code=~"5.."`` or ``code!~"5.."`` counts what it counted. The other services keep one 500.
* **quality**: ``search_responses_total`` (every search request gets a response: the same
  counts as its requests) and ``search_responses_degraded_total`` (a binomial share of them,
  a degraded spell on 8 September), both reset when the ranking process restarts.
* **streaming**: the service ``enricher`` consuming the topic ``events`` in three partitions:
  ``kafka_consumergroup_lag`` (a gauge per partition), ``events_processed_total`` and the
  histogram ``event_end_to_end_latency_seconds`` observed once per processed event.

Samples are on the minute, as the other demo series: a counter's sample at t holds the events
of [start, t), a gauge's sample at t is its value at t.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

CODES = ("500", "501", "502", "503", "504")
NORMAL_MIX = (0.5, 0.1, 0.15, 0.15, 0.1)
# Incidents of checkout by their start: the mix of codes their extra errors had.
INCIDENT_MIX: dict[datetime, tuple[float, ...]] = {
    datetime(2026, 7, 9, 14, tzinfo=UTC): (0.6, 0.0, 0.1, 0.3, 0.0),
    datetime(2026, 8, 21, 3, tzinfo=UTC): (0.05, 0.0, 0.9, 0.05, 0.0),  # a bad gateway
    datetime(2026, 9, 17, 10, 5, tzinfo=UTC): (0.55, 0.02, 0.03, 0.38, 0.02),  # bad deploy
    datetime(2026, 9, 24, 22, tzinfo=UTC): (0.03, 0.0, 0.02, 0.05, 0.9),  # timeouts
}

DEGRADED_RATIO = 0.002
DEGRADED_SPELL = (datetime(2026, 9, 8, 6, tzinfo=UTC), datetime(2026, 9, 8, 18, tzinfo=UTC),
                  0.12)  # shards timing out during search's slow day
QUALITY_RESETS = (datetime(2026, 8, 11, 9, 30, tzinfo=UTC),)

E2E_BUCKETS = ("0.5", "1", "2.5", "5", "10")  # seconds, +Inf implied
E2E_SHARES = (400.0, 300.0, 200.0, 96.0, 3.0, 1.0)  # Dirichlet weights of each bucket region
E2E_SLOW = (5.0, 5.0, 10.0, 20.0, 30.0, 30.0)  # ... while the consumers fall behind
PARTITIONS = 3
LAG_BURSTS_PER_DAY = 8
# Consumers stuck behind a broker failover: every partition lags, throughput drops.
STREAM_INCIDENT = (datetime(2026, 9, 22, 3, tzinfo=UTC), datetime(2026, 9, 22, 7, tzinfo=UTC))


def e2e_column(le: str) -> str:
    """Truth column of an end-to-end latency bound: ``2.5`` -> ``le_2_5``."""
    return "le_" + le.replace(".", "_")


def _mask(idx: pd.DatetimeIndex, start: datetime, end: datetime) -> np.ndarray:
    return np.asarray((idx >= pd.Timestamp(start)) & (idx < pd.Timestamp(end)))


def error_codes(errors: np.ndarray, idx: pd.DatetimeIndex,
                incidents: list[tuple[datetime, datetime]],
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each minute's errors split over ``CODES``: the incident's mix inside an incident that
    has one, the normal mix elsewhere."""
    mix = np.tile(np.array(NORMAL_MIX), (len(idx), 1))
    for start, end in incidents:
        if start in INCIDENT_MIX:
            mix[_mask(idx, start, end)] = INCIDENT_MIX[start]
    split = rng.multinomial(errors, mix)
    return {code: split[:, i].astype(np.int64) for i, code in enumerate(CODES)}


def degraded(responses: np.ndarray, idx: pd.DatetimeIndex,
             rng: np.random.Generator) -> np.ndarray:
    """Degraded search responses per minute: a small share, a degraded spell, and 20 minutes a
    month in which one shard timed out for 40 more."""
    ratio = np.full(len(idx), DEGRADED_RATIO)
    ratio[_mask(idx, DEGRADED_SPELL[0], DEGRADED_SPELL[1])] = DEGRADED_SPELL[2]
    bad = rng.binomial(responses, ratio)
    shard = rng.choice(len(idx), 20 * max(1, len(idx) // (30 * 1440)), replace=False)
    bad[shard] += 40
    return np.minimum(bad, responses).astype(np.int64)


@dataclass(frozen=True)
class Stream:
    """The enricher's minutes: ``truth`` (ts, events, one ``le_*`` column per finite bound,
    ``lag_0`` .. ``lag_2`` at the minute's end and ``events_5m``, the events of the five
    minutes ending at the minute's end, fewer at the history's first minutes) and the lag
    samples at every minute boundary (one more row than minutes)."""

    truth: pd.DataFrame
    lag_samples: np.ndarray
    buckets: np.ndarray  # (minutes, len(E2E_BUCKETS) + 1) cumulative, +Inf last


def streaming(idx: pd.DatetimeIndex, rng: np.random.Generator) -> Stream:
    n = len(idx)
    incident = _mask(idx, *STREAM_INCIDENT)
    events = rng.integers(3300, 4200, n)  # 55 to 70 a second
    slow = incident.copy()
    # Two slow spells a month of 30 minutes, and a dozen near-empty minutes.
    months = max(1, n // (30 * 1440))
    for start in rng.choice(n - 30, 2 * months, replace=False):
        slow[start:start + 30] = True
    events[slow] = rng.integers(1500, 3000, int(slow.sum()))
    events[rng.choice(n, 12 * months, replace=False)] = rng.integers(0, 1200, 12 * months)
    # Each event's end-to-end latency, by bucket region; slower when the consumers fall behind.
    shares = rng.dirichlet(E2E_SHARES, n)
    shares[slow] = rng.dirichlet(E2E_SLOW, int(slow.sum()))
    per_region = rng.multinomial(events, shares)
    buckets = np.cumsum(per_region, axis=1).astype(np.int64)
    # Lag at each minute boundary: mostly under 800, short bursts on one partition, and every
    # partition far behind during the incident.
    lag = rng.integers(0, 800, (n + 1, PARTITIONS))
    bursts = rng.choice(n + 1, LAG_BURSTS_PER_DAY * max(1, n // 1440), replace=False)
    lag[bursts, rng.integers(0, PARTITIONS, len(bursts))] = rng.integers(900, 4000, len(bursts))
    lag[bursts[::10], 0] = 1000  # exactly at the limit: good (lte)
    at_end = np.concatenate([[False], incident])  # the sample at a minute's end
    lag[at_end] = rng.integers(1200, 6000, (int(at_end.sum()), PARTITIONS))
    cum = np.concatenate([[0], np.cumsum(events)])
    five = cum[1:] - cum[np.maximum(np.arange(1, n + 1) - 5, 0)]
    truth = pd.DataFrame({"ts": idx, "events": events.astype(np.int64)})
    for i, le in enumerate(E2E_BUCKETS):
        truth[e2e_column(le)] = buckets[:, i]
    for p in range(PARTITIONS):
        truth[f"lag_{p}"] = lag[1:, p].astype(np.int64)
    truth["events_5m"] = five.astype(np.int64)
    return Stream(truth, lag.astype(np.int64), buckets)
