"""Benchmark the extract stage: one month of 100 SLOs from a loopback Prometheus.

The history: 100 services, each with a request counter per status code (200 and 500) scraped
every 60 s with ±45 % jitter, for November 2026 and the hour before it (8.6 M samples),
loaded into Prometheus 2.42 with promtool (cached under .cache/bench-extract).

Prints, from one run on one machine, side by side:
  (a) floor:    the same raw-sample queries the extractor sends, fetched and JSON-decoded
                with nothing else done (httpx + json), with the same concurrency and the
                same garbage-collector setting as the extractor (see extract/collector.py:
                a bare script's small heap would not pay for the full collections either),
  (a') floor:   the same raw samples through Prometheus' remote-read API, the requests the
                extractor sends on that path, snappy- and protobuf-decoded into numpy
                arrays with nothing else done,
  (b) slo-jobs: the extraction of the month (fetch, decode, count into 1-minute buckets,
                write 3,000 day partitions), concurrency bounded by the pool size,
  (c) peer:     the previous method, `sum(increase(x[60s]))` over query_range at a 1-minute
                step (inexact on jittered scrapes; for scale only),
with points per second and the ratios of wall time and of this process's CPU seconds:
(b)/(a') against the floor of the path slo-jobs reads through (the goal: at most 1.2 in wall
and 1.3 in CPU), and (b)/(a) against the query API's. Each of (a), (a') and (b) runs five
times, in turn; the fastest run counts (the first pays for Prometheus reading its blocks from
disk, and a shared machine's neighbours come and go). They run on the idle machine, then
again under a stated load: ``--load`` processes spinning on the CPU (one: half of a 2-core
machine) for the whole of those runs. The CPU seconds of this process and of Prometheus are
shown beside each run: the wall time follows the load, the CPU time much less.

Last, the profile: where slo-jobs' CPU goes, by stage, from one more run with each stage's
thread CPU time added up (no profiler, whose own cost would distort the Python-heavy
stages): fetching and decoding the samples, counting them into buckets, writing the lake,
and the rest (threads, locks, the catalog).

    .venv/bin/python bench/extract.py [--slos 100] [--pool 2] [--load 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
from slo_jobs.lake import daytable  # noqa: E402
from slo_jobs.run import sources as run_sources  # noqa: E402
from slo_jobs.run.runner import extract_days  # noqa: E402
from slo_jobs.run.sources import Sources  # noqa: E402
from slo_jobs.sources.prometheus import (  # noqa: E402
    PrometheusClient,
    PrometheusConfig,
    extractor,  # noqa: E402
)
from slo_jobs.sources.prometheus.collector import fewer_collections  # noqa: E402
from slo_jobs.sources.prometheus.counters import LOOKBACK_S  # noqa: E402
from slo_jobs.sources.prometheus.remote_read import HEADERS, decode, matchers, request  # noqa
from slo_jobs.spec import catalog  # noqa: E402

MONTH = periods.month("2026-11")
GOALS = {"wall": 1.2, "cpu": 1.3}  # (b)/(a'), slo-jobs against the floor of its read path
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


def new_lake(lakes: Path) -> Path:
    """An empty lake folder in ``lakes``, kept until the bench ends: deleting thousands of
    files just before the next run would charge that run for it (on ext4 without a journal,
    as this machine's disk, each new file's inode is searched for past every inode freed in
    the last 30 seconds: the kernel's ``recently_deleted``)."""
    return Path(tempfile.mkdtemp(prefix="lake-", dir=lakes))


def ours(url: str, slos: list[spec.Slo], pool: int, lakes: Path) -> None:
    lake_dir = new_lake(lakes)
    with Sources(lambda _conn: PrometheusConfig(url)) as sources:
        results = extract_days(sources, slos, MONTH.days, lake_dir, concurrency=pool)
    assert len(results) == len(slos) * len(MONTH.days)


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


@contextmanager
def load(procs: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``procs`` processes spinning on the CPU for the duration: the stated load."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(procs)]
    try:
        yield spinning
    finally:
        for p in spinning:
            p.kill()
            p.wait()


Run = tuple[float, float, float]  # wall s, this process's CPU s, Prometheus' CPU s


def pairs(url: str, params: list[dict[str, str]], bodies: list[bytes], slos: list[spec.Slo],
          pool: int, prom_pid: int, lakes: Path, times: int = 5
          ) -> tuple[list[Run], list[Run], list[Run], int]:
    """``times`` runs each of the query floor, the remote-read floor and slo-jobs, in turn."""
    runs: tuple[list[Run], list[Run], list[Run]] = ([], [], [])
    points = 0

    def timed(into: list[Run], fn: Callable[[], object]) -> object:
        mine, theirs, t0 = time.process_time(), cpu_s(prom_pid), time.perf_counter()
        out = fn()
        into.append((time.perf_counter() - t0, time.process_time() - mine,
                     cpu_s(prom_pid) - theirs))
        return out

    for _ in range(times):
        _, points = timed(runs[0], lambda: floor(url, params, pool))  # type: ignore[misc]
        timed(runs[1], lambda: remote_floor(url, bodies, pool))
        timed(runs[2], lambda: ours(url, slos, pool, lakes))
    return *runs, points


class Stages:
    """Thread CPU seconds spent in each stage of slo-jobs' extraction, added up across the
    extraction threads; a stage's time excludes the stages called inside it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def wrap(self, stage: str, fn: Callable[..., object]) -> Callable[..., object]:
        def timed(*args: object, **kwargs: object) -> object:
            stack = self._local.__dict__.setdefault("stack", [])
            start = time.thread_time()
            stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                inner = stack.pop()
                if stack:
                    stack[-1] += spent
                with self._lock:
                    self.seconds[stage] = self.seconds.get(stage, 0.0) + spent - inner
        return timed


def profile(url: str, slos: list[spec.Slo], pool: int, lakes: Path
            ) -> tuple[float, dict[str, float]]:
    """One more slo-jobs run with its stages timed (see Stages): its CPU seconds, by stage."""
    stages = Stages()
    patched = [(PrometheusClient, "raw_samples", "fetch and decode"),
               (run_sources.PrometheusSource, "read_days", "count into buckets"),
               (daytable, "replace", "write the lake")]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, stage in patched:
        setattr(owner, name, stages.wrap(stage, getattr(owner, name)))
    try:
        mine = time.process_time()
        ours(url, slos, pool, lakes)
        total = time.process_time() - mine
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    stages.seconds["the rest (threads, locks, catalog, collector)"] = \
        total - sum(stages.seconds.values())
    return total, stages.seconds


def report(label: str, runs_a: list[Run], runs_r: list[Run], runs_b: list[Run],
           points: int) -> dict[str, float]:
    """Print one condition's table and ratios; slo-jobs against the floor of the path it reads
    through (remote read here) is the goal's ratio."""
    print(f"\n{label}")
    print(f"{'phase':<22} {'wall s':>8} {'points/s':>12} {'CPU s':>7} {'Prom CPU s':>10}")
    best = {}
    for name, runs in (("(a) floor, query API", runs_a), ("(a') floor, remote read", runs_r),
                       ("(b) slo-jobs", runs_b)):
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        best[name[:4].strip()] = (wall, cpu)
        print(f"{name:<22} {wall:>8.2f} {points / wall:>12,.0f} {cpu:>7.1f} "
              f"{min(r[2] for r in runs):>10.1f}   runs: "
              + ", ".join(f"{w:.2f} s/{c:.1f} CPU s" for w, c, _ in runs))
    (wa, ca), (wr, cr), (wb, cb) = best["(a)"], best["(a')"], best["(b)"]
    ratios = {"wall": wb / wr, "cpu": cb / cr}
    for kind, ratio in ratios.items():
        print(f"(b)/(a') {kind:<4} {ratio:4.2f}x  (goal <= {GOALS[kind]:g}x: "
              f"{'met' if ratio <= GOALS[kind] else 'NOT met'})")
    print(f"(b)/(a)  wall {wb / wa:4.2f}x, CPU {cb / ca:4.2f}x: against the query API's floor; "
          f"(a')/(a) wall {wr / wa:4.2f}x, CPU {cr / ca:4.2f}x")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--pool", type=int, default=2, help="concurrent reads (2: as each "
                        "extraction shard task of the DAGs reads, dags/slo_common.py "
                        "SHARD_QUERIES)")
    parser.add_argument("--load", type=int, default=1, help="processes spinning on the CPU "
                        "during the loaded runs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = tsdb(args.slos)
    print(f"history: {args.slos} services x 2 series, 60 s scrapes with jitter, "
          f"{MONTH.label} (ready in {time.perf_counter() - t0:.0f} s); concurrency "
          f"{args.pool}; {os.cpu_count()} cores")
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
            params, bodies = queries(slos), remote_params(slos)
            lakes = Path(tmp) / "lakes"
            lakes.mkdir()
            idle = pairs(url, params, bodies, slos, args.pool, proc.pid, lakes)
            with load(args.load) as spinning:
                spun = sum(cpu_s(p.pid) for p in spinning)
                loaded = pairs(url, params, bodies, slos, args.pool, proc.pid, lakes)
                spun = sum(cpu_s(p.pid) for p in spinning) - spun
            total, stages = profile(url, slos, args.pool, lakes)
            peer_s, peer_points = peer(url, slos, args.pool)
        finally:
            prom.stop(proc)
    report("idle machine", *idle)
    loaded_wall = sum(r[0] for runs in loaded[:3] for r in runs)
    report(f"under load: {args.load} process(es) spinning on the CPU (they used "
           f"{spun / loaded_wall:.2f} cores during these runs)", *loaded)
    print(f"\nwhere slo-jobs' CPU goes (one more idle run, {total:.1f} CPU s; extraction "
          f"method: {extractor.method(slos[0])}):")
    for stage, seconds in stages.items():
        print(f"  {stage:<46} {seconds:>6.1f} s  {seconds / total:>4.0%}")
    print(f"\n(c) peer: {peer_s:.2f} s for {peer_points:,} points (increase() per minute: "
          f"inexact on jittered scrapes); (b)/(c) {min(idle[2])[0] / peer_s:4.2f}x")


if __name__ == "__main__":
    main()
