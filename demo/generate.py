"""Generate deterministic request and latency counters for the demo services.

Writes three files into the output folder:

* ``history.om``: OpenMetrics text (timestamps in seconds, ``# EOF``) that
  ``promtool tsdb create-blocks-from openmetrics`` loads into a Prometheus TSDB.
* ``truth.parquet``: the exact number of events per service and minute, which
  tests compare the extracted and computed figures against: requests, errors (and
  ``e500`` .. ``e504``, the errors of each code), the requests at or under each
  latency bucket, and ``degraded``, search's degraded responses (0 elsewhere).
* ``streaming.parquet``: the streaming service ``enricher``'s minutes (``demo/extras.py``).

Samples are written on every minute boundary.  The counter value at instant t
holds the events of [start, t), so ``increase(x[1m])`` evaluated at t + 1m is
exactly the events of the minute [t, t + 1m): no extrapolation is involved.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from slo_jobs.lake import atomicio

from . import extras

START = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)
BUCKETS = ("0.1", "0.3", "1")  # histogram upper bounds in seconds, +Inf implied
SEED = 20260701
GENERATOR_VERSION = "2"


@dataclass(frozen=True)
class Incident:
    start: datetime
    end: datetime
    error_ratio: float = 0.0
    slow_share: float = 0.0  # share of requests pushed above the 1 s bucket


@dataclass(frozen=True)
class Service:
    name: str
    rate_per_minute: float
    error_ratio: float
    # probability of landing at or under each bucket boundary (cumulative)
    latency_cdf: tuple[float, float, float]
    incidents: tuple[Incident, ...] = ()
    resets: tuple[datetime, ...] = field(default=())


def _t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


SERVICES: tuple[Service, ...] = (
    Service(
        "checkout", 900.0, 0.0002, (0.70, 0.995, 0.9995),
        incidents=(
            Incident(_t(7, 9, 14), _t(7, 9, 14, 40), error_ratio=0.05),
            Incident(_t(8, 21, 3), _t(8, 21, 4, 30), error_ratio=0.02),
            # a bad deploy in the last demo month: burns more than the whole budget
            Incident(_t(9, 17, 10, 5), _t(9, 17, 12, 50), error_ratio=0.20, slow_share=0.05),
            Incident(_t(9, 24, 22), _t(9, 24, 22, 20), error_ratio=0.30),
        ),
        resets=(_t(8, 2, 4),),
    ),
    Service(
        "search", 2400.0, 0.001, (0.96, 0.990, 0.999),
        incidents=(
            Incident(_t(7, 22, 8), _t(7, 22, 9), slow_share=0.10),
            Incident(_t(9, 8, 6), _t(9, 8, 18), slow_share=0.04, error_ratio=0.004),
        ),
    ),
    Service(
        "frontend", 1500.0, 0.002, (0.50, 0.90, 0.995),
        incidents=(
            Incident(_t(8, 14, 19), _t(8, 14, 21), error_ratio=0.15),
            Incident(_t(9, 3, 1), _t(9, 3, 1, 30), error_ratio=0.50),
        ),
        resets=(_t(9, 14, 6), _t(9, 29, 23, 59)),
    ),
)


def minutes(start: datetime = START, end: datetime = END) -> pd.DatetimeIndex:
    """Minute starts of [start, end)."""
    return pd.date_range(start, end, freq="1min", inclusive="left")


def simulate(service: Service, idx: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """Per-minute event counts for one service: exact truth, before any counter."""
    hours = idx.hour.to_numpy() + idx.minute.to_numpy() / 60.0
    diurnal = 1.0 + 0.5 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    requests = rng.poisson(service.rate_per_minute * diurnal)
    err = np.full(len(idx), service.error_ratio)
    slow = np.zeros(len(idx))
    for inc in service.incidents:
        mask = np.asarray((idx >= pd.Timestamp(inc.start)) & (idx < pd.Timestamp(inc.end)))
        err[mask] = np.maximum(err[mask], inc.error_ratio)
        slow[mask] = np.maximum(slow[mask], inc.slow_share)
    errors = rng.binomial(requests, err)
    # Latency buckets by successive binomial draws: each region given the ones above it.
    cdf = np.array(service.latency_cdf)
    scale = 1.0 - slow[:, None]  # slow requests are moved above the last finite bucket
    cum = cdf[None, :] * scale
    le1 = rng.binomial(requests, cum[:, 2])
    le03 = rng.binomial(le1, np.clip(cum[:, 1] / np.maximum(cum[:, 2], 1e-12), 0, 1))
    le01 = rng.binomial(le03, np.clip(cum[:, 0] / np.maximum(cum[:, 1], 1e-12), 0, 1))
    return pd.DataFrame(
        {
            "ts": idx,
            "service": service.name,
            "requests": requests.astype(np.int64),
            "errors": errors.astype(np.int64),
            "le_0_1": le01.astype(np.int64),
            "le_0_3": le03.astype(np.int64),
            "le_1": le1.astype(np.int64),
        }
    )


def counter_samples(per_minute: np.ndarray, start: datetime,
                    resets: tuple[datetime, ...]) -> np.ndarray:
    """Counter values at each minute boundary idx[0] .. idx[-1] + 1 min.

    A reset at r happens right after the scrape at r: the sample at r still holds
    the old total and the sample at r + 1 min holds only that minute's events.
    """
    values = np.zeros(len(per_minute) + 1, dtype=np.int64)
    values[1:] = np.cumsum(per_minute)
    for r in sorted(resets):
        pos = int((r - start).total_seconds()) // 60  # index of the sample taken at r
        values[pos + 1:] -= values[pos]
    return values


def _series_lines(name: str, labels: str, values: np.ndarray, seconds: np.ndarray) -> str:
    prefix = f"{name}{{{labels}}} "
    body = "\n".join(f"{prefix}{v} {s}" for v, s in zip(values.tolist(), seconds.tolist(),
                                                     strict=True))
    return body + "\n"


def _streaming_lines(stream: extras.Stream, start: datetime, seconds: np.ndarray) -> str:
    """The enricher's families: lag gauges, the processed-events counter, the histogram."""
    svc_l = 'service="enricher"'
    out = ["# TYPE kafka_consumergroup_lag gauge\n"]
    for p in range(extras.PARTITIONS):
        out.append(_series_lines("kafka_consumergroup_lag",
                                 f'consumergroup="enricher",partition="{p}",topic="events"',
                                 stream.lag_samples[:, p], seconds))
    out.append("# TYPE events_processed counter\n")
    out.append(_series_lines("events_processed_total", svc_l,
                             counter_samples(stream.truth["events"].to_numpy(), start, ()),
                             seconds))
    out.append("# TYPE event_end_to_end_latency_seconds histogram\n")
    name = "event_end_to_end_latency_seconds"
    for i, le in enumerate((*extras.E2E_BUCKETS, "+Inf")):
        out.append(_series_lines(f"{name}_bucket", f'le="{le}",{svc_l}',
                                 counter_samples(stream.buckets[:, i], start, ()), seconds))
    out.append(_series_lines(f"{name}_count", svc_l,
                             counter_samples(stream.buckets[:, -1], start, ()), seconds))
    return "".join(out)


def write(out: Path, start: datetime = START, end: datetime = END) -> None:
    out.mkdir(parents=True, exist_ok=True)
    idx = minutes(start, end)
    rng = np.random.default_rng(SEED)
    # Streams of their own: the series above keep the draws they had without these.
    codes_rng, quality_rng, stream_rng = (np.random.default_rng(SEED + k) for k in (1, 2, 3))
    extra_lines: list[str] = []
    seconds = (np.arange(len(idx) + 1) * 60 + int(start.timestamp())).astype(np.int64)
    truths = []
    req_lines: list[str] = []
    hist_lines: list[str] = []
    for svc in SERVICES:
        truth = simulate(svc, idx, rng)
        truths.append(truth)

        def counter(col: np.ndarray, _svc: Service = svc) -> np.ndarray:
            return counter_samples(col, start, _svc.resets)

        ok = truth["requests"].to_numpy() - truth["errors"].to_numpy()
        svc_l = f'service="{svc.name}"'
        req_lines.append(_series_lines("http_requests_total", f'code="200",{svc_l}',
                                       counter(ok), seconds))
        errors = truth["errors"].to_numpy()
        codes = extras.error_codes(errors, idx, [(i.start, i.end) for i in svc.incidents],
                                   codes_rng) if svc.name == "checkout" else \
            {c: errors if c == "500" else np.zeros_like(errors) for c in extras.CODES}
        for code, col in codes.items():
            truth[f"e{code}"] = col
            if svc.name == "checkout" or code == "500":
                req_lines.append(_series_lines("http_requests_total", f'code="{code}",{svc_l}',
                                               counter(col), seconds))
        truth["degraded"] = np.zeros(len(idx), dtype=np.int64)
        if svc.name == "search":
            truth["degraded"] = extras.degraded(truth["requests"].to_numpy(), idx, quality_rng)
            for name, col in (("search_responses_total", truth["requests"]),
                              ("search_responses_degraded_total", truth["degraded"])):
                extra_lines.append(("# TYPE " + name.removesuffix("_total") + " counter\n")
                                   + _series_lines(name, svc_l, counter_samples(
                                       col.to_numpy(), start, extras.QUALITY_RESETS), seconds))
        for le, col in zip(BUCKETS, ("le_0_1", "le_0_3", "le_1"), strict=True):
            hist_lines.append(_series_lines("http_request_duration_seconds_bucket",
                                            f'le="{le}",{svc_l}',
                                            counter(truth[col].to_numpy()), seconds))
        total = counter(truth["requests"].to_numpy())
        hist_lines.append(_series_lines("http_request_duration_seconds_bucket",
                                        f'le="+Inf",{svc_l}', total, seconds))
        hist_lines.append(_series_lines("http_request_duration_seconds_count", svc_l,
                                        total, seconds))
    stream = extras.streaming(idx, stream_rng)
    extra_lines.append(_streaming_lines(stream, start, seconds))

    def history(fh: BinaryIO) -> None:
        fh.write(b"# TYPE http_requests counter\n")
        fh.writelines(line.encode() for line in req_lines)
        fh.write(b"# TYPE http_request_duration_seconds histogram\n")
        fh.writelines(line.encode() for line in hist_lines)
        fh.writelines(line.encode() for line in extra_lines)
        fh.write(b"# EOF\n")

    atomicio.write_file(out / "history.om", history)
    pd.concat(truths, ignore_index=True).to_parquet(out / "truth.parquet", index=False)
    stream.truth.to_parquet(out / "streaming.parquet", index=False)
    stamp = f"{GENERATOR_VERSION} {SEED} {start.isoformat()} {end.isoformat()}\n"
    (out / "VERSION").write_text(stamp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="output folder, e.g. .cache/demo")
    args = parser.parse_args()
    write(args.out)


if __name__ == "__main__":
    main()
