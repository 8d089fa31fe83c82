"""Benchmark the extract stage: one month of 100 SLOs from a loopback Prometheus.

The history: 100 services, each with a request counter per status code (200 and 500) scraped
every 60 s with ±45 % jitter, for November 2026 and the hour before it (8.6 M samples),
loaded into Prometheus 2.42 with promtool (cached under .cache/bench-extract).

Prints, from one run on one machine, side by side:
  (a) floor:    the same raw-sample queries the extractor sends, fetched and JSON-decoded
                with nothing else done (httpx + json), with the same concurrency and the
                same garbage-collector setting as the extractor (see extract/collector.py:
                a bare script's small heap would not pay for the full collections either),
  (b) slo-jobs: the extraction of the month (fetch, decode, count into 1-minute buckets,
                write 3,000 day partitions), concurrency bounded by the pool size,
  (c) peer:     the previous method, `sum(increase(x[60s]))` over query_range at a 1-minute
                step (inexact on jittered scrapes; for scale only),
with points per second and the ratio (b)/(a). Each of (a) and (b) runs twice, alternately;
the faster run counts (the first pays for Prometheus reading its blocks from disk). The CPU
seconds of this process and of Prometheus are shown beside each run: on a shared machine
the wall time follows the load, the CPU time much less.

    .venv/bin/python bench/extract.py [--slos 100] [--pool 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import backends, prom, scrapes  # noqa: E402
from slo_jobs import spec  # noqa: E402
from slo_jobs.core import periods  # noqa: E402
from slo_jobs.core.periods import DAY_S  # noqa: E402
from slo_jobs.run.runner import extract_days  # noqa: E402
from slo_jobs.run.sources import Sources  # noqa: E402
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig  # noqa: E402
from slo_jobs.sources.prometheus.collector import fewer_collections  # noqa: E402
from slo_jobs.sources.prometheus.counters import LOOKBACK_S  # noqa: E402
from slo_jobs.sources.prometheus.remote_read import HEADERS, decode, matchers, request  # noqa
from slo_jobs.spec import catalog  # noqa: E402

MONTH = periods.month("2026-11")
GOAL = 1.5  # (b)/(a)
VERSION = "1"

DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: svc-{i:03d}-availability}}
spec:
  service: svc-{i:03d}
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{service="svc-{i:03d}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{service="svc-{i:03d}"}}'}}
  objective: {{target: 0.999}}
"""


def history(n: int) -> scrapes.Scrapes:
    rng = np.random.default_rng(11)
    start_ms = int(MONTH.start.timestamp() - LOOKBACK_S) * 1000
    end_ms = int(MONTH.end.timestamp()) * 1000
    slots = np.arange(start_ms, end_ms + 60_000, 60_000)
    series = []
    for i in range(n):
        ts = slots + np.rint(rng.uniform(-0.45, 0.45, len(slots)) * 60_000).astype(np.int64)
        for code, rate in (("200", 600.0), ("500", 0.6)):
            values = np.cumsum(rng.poisson(rate, len(ts))).astype(np.float64)
            series.append(scrapes.Series({"__name__": "http_requests_total",
                                          "service": f"svc-{i:03d}", "code": code},
                                         ts, values))
    return scrapes.Scrapes(series, pd.DataFrame(), pd.DataFrame())


def tsdb(n: int) -> Path:
    cache = ROOT / ".cache" / "bench-extract"
    folder, stamp = cache / f"tsdb-{n}", cache / f"tsdb-{n}.stamp"
    if stamp.exists() and stamp.read_text() == VERSION and folder.is_dir():
        return folder
    shutil.rmtree(cache / "building", ignore_errors=True)
    built = backends.build_prometheus_tsdb(history(n), cache / "building")
    shutil.rmtree(folder, ignore_errors=True)
    built.rename(folder)
    stamp.write_text(VERSION)
    return folder


def queries(slos: list[spec.Slo]) -> list[dict[str, str]]:
    """The raw-sample queries the extractor sends for the month (see counters._fetch)."""
    out = []
    for s in slos:
        for q in (s.total, s.good):
            for k, day in enumerate(MONTH.days):
                at = periods.day_start(day) + DAY_S
                rng = DAY_S + (LOOKBACK_S if k == 0 else 0)
                out.append({"query": f"{(q.selector or '').strip()}[{rng}s]", "time": str(at)})
    return out


def floor(url: str, params: list[dict[str, str]], pool: int) -> tuple[float, int]:
    def one(client: httpx.Client, p: dict[str, str]) -> int:
        body = json.loads(client.get("/api/v1/query", params=p).content)
        return sum(len(r["values"]) for r in body["data"]["result"])

    with fewer_collections(), httpx.Client(base_url=url, timeout=120) as client, \
            ThreadPoolExecutor(pool) as ex:
        t0 = time.perf_counter()
        points = sum(ex.map(lambda p: one(client, p), params))
        return time.perf_counter() - t0, points


def remote_params(slos: list[spec.Slo]) -> list[bytes]:
    """The same raw-sample reads as :func:`queries`, as remote-read requests (closed ranges)."""
    out = []
    for s in slos:
        for q in (s.total, s.good):
            found = matchers((q.selector or "").strip())
            assert found is not None
            for k, day in enumerate(MONTH.days):
                at = periods.day_start(day) + DAY_S
                rng = DAY_S + (LOOKBACK_S if k == 0 else 0)
                out.append(request(found, (at - rng) * 1000, at * 1000))
    return out


def remote_floor(url: str, bodies: list[bytes], pool: int) -> tuple[float, int]:
    """(a') The floor through /api/v1/read: fetched, snappy- and protobuf-decoded into numpy
    arrays (staleness markers dropped), nothing else done."""
    def one(client: httpx.Client, body: bytes) -> int:
        answer = client.post("/api/v1/read", content=body, headers=HEADERS)
        return sum(len(s.ts_ms) for s in decode(answer.content))

    with fewer_collections(), httpx.Client(base_url=url, timeout=120) as client, \
            ThreadPoolExecutor(pool) as ex:
        t0 = time.perf_counter()
        points = sum(ex.map(lambda b: one(client, b), bodies))
        return time.perf_counter() - t0, points


def ours(url: str, slos: list[spec.Slo], pool: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as lake_dir:
        t0 = time.perf_counter()
        with Sources(lambda _conn: PrometheusConfig(url)) as sources:
            results = extract_days(sources, slos, MONTH.days, Path(lake_dir),
                                   concurrency=pool)
        seconds = time.perf_counter() - t0
    assert len(results) == len(slos) * len(MONTH.days)
    return seconds


def peer(url: str, slos: list[spec.Slo], pool: int) -> tuple[float, int]:
    start, step = MONTH.start + timedelta(minutes=1), timedelta(minutes=1)

    def one(client: PrometheusClient, q: str) -> int:
        return len(client.query_range(q, start, MONTH.end, step))  # split under 11,000 points

    qs = [q.promql("60s") for s in slos for q in (s.total, s.good)]
    with PrometheusClient(PrometheusConfig(url, timeout_s=120)) as client, \
            ThreadPoolExecutor(pool) as ex:
        t0 = time.perf_counter()
        points = sum(ex.map(lambda q: one(client, q), qs))
        return time.perf_counter() - t0, points


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--pool", type=int, default=4, help="concurrent queries (the Airflow "
                        "pool 'prometheus' in production)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = tsdb(args.slos)
    print(f"history: {args.slos} services x 2 series, 60 s scrapes with jitter, "
          f"{MONTH.label} (ready in {time.perf_counter() - t0:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        copy = Path(tmp) / "tsdb"
        shutil.copytree(data, copy)
        port = prom.free_port()
        proc = prom.start(copy, port, Path(tmp) / "prometheus.log")
        url = f"http://127.0.0.1:{port}"
        try:
            folder = Path(tmp) / "slos"
            folder.mkdir()
            (folder / "bench.yaml").write_text("---\n".join(DOC.format(i=i)
                                                             for i in range(args.slos)))
            slos = catalog.load([folder])
            params = queries(slos)
            bodies = remote_params(slos)
            runs_a, runs_b, runs_r = [], [], []
            cpu_a, cpu_b, cpu_r = [], [], []  # (this process, Prometheus) CPU s of each run
            for _ in range(2):
                mine, theirs = time.process_time(), cpu_s(proc.pid)
                runs_a.append(floor(url, params, args.pool))
                cpu_a.append((time.process_time() - mine, cpu_s(proc.pid) - theirs))
                mine, theirs = time.process_time(), cpu_s(proc.pid)
                runs_r.append(remote_floor(url, bodies, args.pool))
                cpu_r.append((time.process_time() - mine, cpu_s(proc.pid) - theirs))
                mine, theirs = time.process_time(), cpu_s(proc.pid)
                runs_b.append(ours(url, slos, args.pool))
                cpu_b.append((time.process_time() - mine, cpu_s(proc.pid) - theirs))
            peer_s, peer_points = peer(url, slos, args.pool)
        finally:
            prom.stop(proc)
    a_s, points = min(runs_a)
    b_s = min(runs_b)
    print(f"\n{'phase':<10} {'wall s':>8} {'points':>12} {'points/s':>12}")
    print(f"{'floor':<10} {a_s:>8.2f} {points:>12,} {points / a_s:>12,.0f}")
    r_s, r_points = min(runs_r)
    print(f"{'floor read':<10} {r_s:>8.2f} {r_points:>12,} {r_points / r_s:>12,.0f}"
          "   (the same reads through /api/v1/read)")
    print(f"{'slo-jobs':<10} {b_s:>8.2f} {points:>12,} {points / b_s:>12,.0f}")
    print(f"{'peer':<10} {peer_s:>8.2f} {peer_points:>12,} {peer_points / peer_s:>12,.0f}"
          "   (increase() per minute: inexact on jittered scrapes)")
    print(f"runs: floor {', '.join(f'{s:.2f}' for s, _ in runs_a)} s; slo-jobs "
          f"{', '.join(f'{s:.2f}' for s in runs_b)} s; concurrency {args.pool}")
    print("CPU s (this process + Prometheus): floor "
          + ", ".join(f"{m:.1f} + {p:.1f}" for m, p in cpu_a) + "; slo-jobs "
          + ", ".join(f"{m:.1f} + {p:.1f}" for m, p in cpu_b))
    print("CPU s (this process + Prometheus): floor read "
          + ", ".join(f"{m:.1f} + {p:.1f}" for m, p in cpu_r)
          + f"; runs {', '.join(f'{s:.2f}' for s, _ in runs_r)} s")
    print("(b)/(a) of each pair of runs: "
          + ", ".join(f"{b / a:.2f}" for (a, _), b in zip(runs_a, runs_b, strict=True)))
    ratio = b_s / a_s
    print(f"\n(b)/(a) slo-jobs vs fetch-and-decode floor: {ratio:4.2f}x  (goal <= {GOAL:g}x: "
          f"{'met' if ratio <= GOAL else 'NOT met'})")
    print(f"(b)/(a') slo-jobs vs remote-read floor:     {b_s / r_s:4.2f}x  "
          f"(CPU {sum(min(cpu_b)) / sum(min(cpu_r)):4.2f}x)")
    print(f"(a')/(a) remote-read floor vs query floor:  {r_s / a_s:4.2f}x  "
          f"(CPU {sum(min(cpu_r)) / sum(min(cpu_a)):4.2f}x)")
    print(f"(b)/(c) slo-jobs vs the increase() peer:    {b_s / peer_s:4.2f}x")


if __name__ == "__main__":
    main()
