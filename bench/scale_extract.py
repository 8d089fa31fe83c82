"""Benchmark daily extraction as it scales, end to end through the CeleryExecutor: a day of
100, 1,000 and 10,000 SLOs and a month's backfill of 100 and 1,000 SLOs.

The history (cached under .cache/bench-scale-extract, built once with promtool into
Prometheus 2.42 blocks): 10,000 services, each with a request counter per status code (200
and 500) scraped every 60 s with ±45 % jitter (bench/extract.py's shape), for 2026-11-16 and
the hour before it; the first 1,000 services for all of November 2026 and the hour before.
One SLO per service (bench/scale.py's catalog: 100 to a spec file, 8 in 10 Occurrences, 1
Timeslices, 1 RatioTimeslices); a size takes the first SLOs.

Each measurement gets a fresh Airflow (bench/celery_stack.py: Redis, PostgreSQL, API server,
scheduler, dag-processor, two Celery workers running one task at a time) over the same
Prometheus, and an empty lake. It runs ``airflow backfill create`` of ``slo_extract`` for the
day, or for the 30 days of November with the DAG's own max_active_runs, and measures:
  - task instances, and the wall time from the first task's queueing to the last one's end
    (and from the command to the last run's end);
  - CPU seconds: the sum of what the extraction tasks report (``cpu_s``, when they report
    it), the Celery workers' process trees (every task process, imports included), the
    scheduler, API server and dag-processor, PostgreSQL and Redis, and Prometheus (/proc);
  - peak memory of one task (the largest ``max_rss_mib`` reported);
  - the lake: every SLO x day partition written, and nothing else;
and prints each figure's growth from one size to the next (10 times the SLOs: linear cost is
a factor of 10).

    .venv/bin/python bench/scale_extract.py [--day-sizes 100,1000,10000]
        [--month-sizes 100,1000] [--pool 4] [--shard-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.celery_stack import celery_airflow, tree_cpu, xcoms  # noqa: E402
from bench.scale import catalog_dir  # noqa: E402
from demo import backends, prom, scrapes  # noqa: E402

DAY = date(2026, 11, 16)
MONTH = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
LOOKBACK_MS = 3_600_000  # the extractor reads the hour before a run's first day
VERSION = "1"
DAG_ID = "slo_extract"
EXTRACT_TASKS = ("extract", "extract_shard")  # per SLO (before shards), per shard
MAX_ACTIVE_RUNS = 4  # slo_extract's own max_active_runs: a backfill is not held to it
GROWTH_GOAL = 11.0  # 10 times the SLOs may cost at most 11 times (linear, 10 % slack)


def _ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1000


def history(n_day: int, n_month: int) -> scrapes.Scrapes:
    """Services 0..n_day-1 for DAY, the first n_month of them for the month (each with
    the hour before)."""
    rng = np.random.default_rng(11)
    spans = {True: np.arange(_ms(MONTH[0]) - LOOKBACK_MS, _ms(MONTH[-1]) + 86_400_001, 60_000),
             False: np.arange(_ms(DAY) - LOOKBACK_MS, _ms(DAY) + 86_400_001, 60_000)}
    series = []
    for s in range(n_day):
        slots = spans[s < n_month]
        ts = slots + np.rint(rng.uniform(-0.45, 0.45, len(slots)) * 60_000).astype(np.int64)
        for code, rate in (("200", 600.0), ("500", 0.6)):
            values = np.cumsum(rng.poisson(rate, len(ts))).astype(np.float64)
            series.append(scrapes.Series({"__name__": "http_requests_total",
                                          "service": f"svc-{s}", "code": code}, ts, values))
    return scrapes.Scrapes(series, pd.DataFrame(), pd.DataFrame())


def tsdb(base: Path, n_day: int, n_month: int) -> tuple[Path, dict[str, int]]:
    """The TSDB blocks (built once per shape and VERSION) and their series and sample counts."""
    folder, stamp = base / f"tsdb-{n_day}-{n_month}", base / f"tsdb-{n_day}-{n_month}.json"
    if stamp.exists() and folder.is_dir():
        facts: dict[str, Any] = json.loads(stamp.read_text())
        if facts.pop("version") == VERSION:
            return folder, facts
    data = history(n_day, n_month)
    facts = {"series": len(data.series), "samples": sum(len(s.ts_ms) for s in data.series)}
    shutil.rmtree(base / "building", ignore_errors=True)
    built = backends.build_prometheus_tsdb(data, base / "building")
    shutil.rmtree(folder, ignore_errors=True)
    built.rename(folder)
    stamp.write_text(json.dumps({"version": VERSION, **facts}))
    return folder, facts


def lake_check(lake: Path, n: int, days: list[date]) -> tuple[int, int]:
    """(partitions written, of them the expected SLO x day ones); exits on any other."""
    found = {(p.parent.parent.name.removeprefix("slo="), p.parent.name.removeprefix("date="))
             for p in lake.glob("sli/slo=*/date=*/part-0.parquet")}
    expected = {(f"slo-{s:05d}", d.isoformat()) for s in range(n) for d in days}
    if found - expected:
        raise SystemExit(f"{lake}: partitions not asked for: {sorted(found - expected)[:5]}")
    return len(found), len(found & expected)


def measure(args: argparse.Namespace, prometheus: tuple[str, int], kind: str,
            n: int) -> dict[str, Any]:
    days = [DAY] if kind == "day" else MONTH
    run_dir = args.base / "runs" / f"{kind}-{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    url, prom_pid = prometheus
    env = {"AIRFLOW_CONN_PROMETHEUS_DEFAULT": url,
           "SLO_JOBS_SLOS_DIR": str(catalog_dir(args.base, n)),
           "SLO_JOBS_LAKE_DIR": str(run_dir / "lake"), "SLO_JOBS_OUT_DIR": str(run_dir / "out")}
    conf = ["--dag-run-conf", json.dumps({"shard_size": args.shard_size})] \
        if args.shard_size else []
    with celery_airflow(run_dir / "airflow", args.pool, [DAG_ID], env) as stack:
        roots = {**stack.roots(), "prometheus": prom_pid}
        before = tree_cpu(roots)
        t0 = time.perf_counter()
        stack.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", days[0].isoformat(),
                  "--to-date", days[-1].isoformat(), "--max-active-runs",
                  str(args.max_active_runs), *conf)
        states = stack.wait_runs(DAG_ID, len(days), args.timeout)
        wall = time.perf_counter() - t0
        cpu = {k: v - before[k] for k, v in tree_cpu(roots).items()}
        tis = stack.query("SELECT task_id, state, queued_dttm, end_date FROM task_instance "
                          "WHERE dag_id = %s", DAG_ID)
        results = xcoms(stack, DAG_ID, EXTRACT_TASKS)
        executed = stack.executed()
    if states.get("success", 0) != len(days):
        raise SystemExit(f"{kind} of {n} SLOs: runs {states}; expected {len(days)} successful "
                         f"(logs in {run_dir / 'airflow'})")
    written, asked = lake_check(run_dir / "lake", n, days)
    slo_days = n * len(days)
    reported = [r for r in results if "cpu_s" in r]
    first = min(q for _, _, q, _ in tis if q is not None)
    return {
        "kind": kind, "slos": n, "days": len(days), "slo_days": slo_days,
        "task_instances": len(tis), "executed": executed,
        "extract_tasks": sum(1 for t, _, _, _ in tis if t in EXTRACT_TASKS),
        "not_success": sorted({s for _, s, _, _ in tis if s != "success"}),
        "wall_s": (max(e for _, _, _, e in tis if e is not None) - first).total_seconds(),
        "command_wall_s": wall,
        "task_cpu_s": sum(r["cpu_s"] for r in reported) if reported else None,
        "task_rss_mib": max(r["max_rss_mib"] for r in reported) if reported else None,
        "workers_cpu_s": cpu["worker-1"] + cpu["worker-2"],
        "airflow_cpu_s": cpu["scheduler"] + cpu["api-server"] + cpu["dag-processor"],
        "db_cpu_s": cpu["postgres"] + cpu["redis"], "prometheus_cpu_s": cpu["prometheus"],
        "partitions": written, "partitions_expected": asked == slo_days == written,
        "load_average": os.getloadavg()[1],  # other work on the machine, last 5 min
    }


def _per_slo_day(r: dict[str, Any]) -> dict[str, Any]:
    return r | {"wall_ms_per_slo_day": r["wall_s"] / r["slo_days"] * 1000,
                "workers_cpu_ms_per_slo_day": r["workers_cpu_s"] / r["slo_days"] * 1000}


ROWS = [("SLO-days", "slo_days", "{:,}"), ("task instances (extraction tasks)", None, ""),
        ("wall, first task queued to last task ended, s", "wall_s", "{:.1f}"),
        ("wall, backfill command to last run ended, s", "command_wall_s", "{:.1f}"),
        ("CPU s: extraction tasks' own (cpu_s)", "task_cpu_s", "{:.1f}"),
        ("CPU s: Celery workers (task processes included)", "workers_cpu_s", "{:.1f}"),
        ("CPU s: scheduler, API server, dag-processor", "airflow_cpu_s", "{:.1f}"),
        ("CPU s: PostgreSQL and Redis", "db_cpu_s", "{:.1f}"),
        ("CPU s: Prometheus", "prometheus_cpu_s", "{:.1f}"),
        ("one task: peak RSS, MiB", "task_rss_mib", "{:.0f}"),
        ("partitions written (every SLO x day: yes/no)", None, ""),
        ("wall per SLO-day, ms", "wall_ms_per_slo_day", "{:.1f}"),
        ("workers' CPU per SLO-day, ms", "workers_cpu_ms_per_slo_day", "{:.1f}"),
        ("load average (5 min) at the end", "load_average", "{:.1f}")]
NO_GROWTH = {"load_average", "wall_ms_per_slo_day", "workers_cpu_ms_per_slo_day", "slo_days"}


def _cell(r: dict[str, Any], before: dict[str, Any] | None, label: str, key: str | None,
          fmt: str) -> str:
    if key is None:
        return (f"{r['task_instances']:,} ({r['extract_tasks']:,})" if label.startswith("task")
                else f"{r['partitions']:,} ({'yes' if r['partitions_expected'] else 'NO'})")
    if r[key] is None:
        return "n/a"
    value = fmt.format(r[key])
    if before and key not in NO_GROWTH and before[key]:
        value += f" (x{r[key] / before[key]:.1f})"
    return value


def table(results: list[dict[str, Any]]) -> str:
    prev: list[dict[str, Any] | None] = [None]
    for a, b in zip(results, results[1:], strict=False):
        prev.append(a if a["kind"] == b["kind"] else None)
    head = "| | " + " | ".join(f"{r['kind']}, {r['slos']:,} SLOs" for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for label, key, fmt in ROWS:
        cells = [_cell(r, p, label, key, fmt) for r, p in zip(results, prev, strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(results: list[dict[str, Any]]) -> list[str]:
    """One line per step of growth: the factor of the wall time and of the workers' CPU."""
    out = []
    for a, b in zip(results, results[1:], strict=False):
        if a["kind"] != b["kind"]:
            continue
        ratio = b["slos"] / a["slos"]
        wall, cpu = b["wall_s"] / a["wall_s"], b["workers_cpu_s"] / a["workers_cpu_s"]
        met = max(wall, cpu) <= GROWTH_GOAL * ratio / 10
        out.append(f"{b['kind']}: {a['slos']:,} -> {b['slos']:,} SLOs (x{ratio:g}): wall "
                   f"x{wall:.1f}, workers' CPU x{cpu:.1f} (goal linear, at most "
                   f"x{GROWTH_GOAL * ratio / 10:g}: {'met' if met else 'NOT met'}); "
                   f"{b['wall_ms_per_slo_day']:.1f} ms wall and "
                   f"{b['workers_cpu_ms_per_slo_day']:.1f} ms workers' CPU per SLO-day")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--day-sizes", default="100,1000,10000")
    parser.add_argument("--month-sizes", default="100,1000")
    parser.add_argument("--pool", type=int, default=4, help="slots of the pool 'prometheus'")
    parser.add_argument("--shard-size", type=int, default=0,
                        help="the run's shard_size (default: the DAG's)")
    parser.add_argument("--max-active-runs", type=int, default=MAX_ACTIVE_RUNS)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="per measurement, s")
    parser.add_argument("--base", type=Path, default=ROOT / ".cache" / "bench-scale-extract")
    args = parser.parse_args()
    # A stop (kill PID) ends the started Airflow, Redis, PostgreSQL and Prometheus too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.base = args.base.resolve()  # Redis and PostgreSQL run in folders of their own
    sizes = [("day", int(n)) for n in args.day_sizes.split(",") if n] + \
            [("month", int(n)) for n in args.month_sizes.split(",") if n]
    n_day = max(n for _, n in sizes)
    n_month = max([n for k, n in sizes if k == "month"], default=0)
    t0 = time.perf_counter()
    data, facts = tsdb(args.base, n_day, n_month)
    print(f"history: {n_day:,} services for {DAY}, the first {n_month:,} for 2026-11, 2 series "
          f"each, 60 s scrapes with jitter: {facts['series']:,} series, {facts['samples']:,} "
          f"samples (ready in {time.perf_counter() - t0:.0f} s)", flush=True)
    for _, n in sizes:
        catalog_dir(args.base, n)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-prom-", dir=args.base) as tmp:
        copy = Path(tmp) / "tsdb"
        shutil.copytree(data, copy)  # Prometheus writes beside its blocks
        port = prom.free_port()
        proc = prom.start(copy, port, Path(tmp) / "prometheus.log")
        try:
            for kind, n in sizes:
                results.append(_per_slo_day(measure(args, (f"http://127.0.0.1:{port}",
                                                           proc.pid), kind, n)))
                print(json.dumps(results[-1], default=str), flush=True)
        finally:
            prom.stop(proc)
    print()
    print(table(results))
    print()
    print("\n".join(goals(results)) + f"\ncpus {os.cpu_count()}; pool {args.pool}; "
          f"shard_size {args.shard_size or 'the DAG default'}")


if __name__ == "__main__":
    main()
