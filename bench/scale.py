"""Benchmark the monthly DAG's compute path as it scales: 100, 1,000 and 10,000 SLOs x 30 days.

For each size it runs, each in its own process as an Airflow worker would, with the same
task bodies the DAG calls (``slo_jobs.run.tasks``):
  plan:    ``plan_shards`` (the catalog validated once; each shard's SLOs and files);
  shards:  ``compute_shard`` for every shard of ``--shard-size`` SLOs, ``--workers`` at a
           time (the 2 cores of the reference machine);
  merge:   ``merge_month`` (the cross-SLO tables; the month published as one set);
  render:  the summary as JSON, CSV and HTML (``report.render``; no PDF: WeasyPrint lays out
           10,000 SLOs' pages for minutes, which this benchmark does not measure).
It prints wall time and peak RSS per phase and per shard, the total, and each figure's
growth from one size to the next (10x SLOs: linear cost is a factor of 10).

The lake is generated directly (1-minute buckets, written as the lake writes them): every
SLO has its own files, copies of 64 distinct generated day files per day, so each task
reads and verifies as many bytes as a real month's. The 3 days before the month (the
burn-rate lookback) are included: 33 partitions per SLO.

    .venv/bin/python bench/scale.py [--sizes 100,1000,10000] [--shard-size 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MONTH = "2026-11"
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
LOOKBACK_DAYS = 3
VARIANTS = 64  # distinct day files per day
GOALS = {"minutes": 10.0}


def _slo_yaml(s: int) -> str:
    method = s % 10
    budgeting = ("" if method < 8 else "  budgetingMethod: Timeslices\n" if method == 8
                 else "  budgetingMethod: RatioTimeslices\n")
    objective = ("{target: 0.999}" if method < 8 else
                 "{target: 0.99, timeSliceTarget: 0.99, timeSliceWindow: 1m}" if method == 8
                 else "{target: 0.99, timeSliceWindow: 1m}")
    labels = f"{{tier: standard, team: team-{s // 100:03d}}}"
    selector = f'http_requests_total{{service="svc-{s}"'
    return (f"apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\n"
            f"metadata: {{name: slo-{s:05d}, labels: {labels}}}\n"
            f"spec:\n  service: svc-{s // 10:04d}\n  description: Requests without errors.\n"
            "  indicator:\n    ratio:\n"
            f"      good:  {{selector: '{selector},code!~\"5..\"}}'}}\n"
            f"      total: {{selector: '{selector}}}'}}\n"
            f"  objective: {objective}\n  window: {{calendar: month}}\n{budgeting}")


def generate(base: Path, n_slos: int) -> None:
    """The lake for ``n_slos`` SLOs (smaller sizes use its first SLOs) and one catalog per
    size. Poisson traffic, 0.08 % errors, an incident (40 minutes at 5 %) in some files."""
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slo_jobs import lake

    lake_dir = base / "lake"
    stamp = base / f".complete-{n_slos}-v1"
    if stamp.exists():
        return
    rng = np.random.default_rng(7)
    for d in range(-LOOKBACK_DAYS, (END - START).days):
        first = START + timedelta(days=d)
        ts = pa.array([first + timedelta(minutes=i) for i in range(1440)],
                      pa.timestamp("us", tz="UTC"))
        files = []
        for v in range(VARIANTS):
            total = rng.poisson(600, 1440).astype(np.float64)
            p = np.full(1440, 0.0008)
            if (v + d) % 37 == 0:
                p[600:640] = 0.05
            good = total - rng.binomial(total.astype(np.int64), p)
            table = pa.table({"ts": ts, "good": good, "total": total,
                              "clipped": np.zeros(1440, bool), "has_data": np.ones(1440, bool),
                              "step_s": np.full(1440, 60, np.int32)}, schema=lake.SLI_SCHEMA)
            buf = io.BytesIO()
            pq.write_table(table, buf, **lake.write_options(table.schema))
            files.append(buf.getvalue())
        for s in range(n_slos):
            path = lake.sli_partition(lake_dir, f"slo-{s:05d}", first.date())
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[(s * 7 + d) % VARIANTS])
    stamp.write_text("ok\n")


def catalog_dir(base: Path, n: int) -> Path:
    """The first ``n`` SLOs as YAML, 100 to a file (a spec file is at most 1 MB)."""
    folder = base / f"slos-{n}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for first in range(0, n, 100):
            (folder / f"slos-{first:05d}.yaml").write_text(
                "---\n".join(_slo_yaml(s) for s in range(first, min(n, first + 100))))
        (folder / ".complete").write_text("ok\n")
    return folder


def task(args: argparse.Namespace) -> dict[str, Any]:
    """One task in this process: its body's wall time and the process's peak RSS."""
    from slo_jobs.core import periods
    from slo_jobs.report import monthly as report
    from slo_jobs.run import tasks

    base, slos = args.base, catalog_dir(args.base, args.n)
    lake_dir = base / "lake"
    t0 = time.perf_counter()
    plan_file = base / f"plan-{args.n}-{args.shard_size}.json"
    if args.task == "plan":
        plan = tasks.plan_shards(slos, args.shard_size)
        plan_file.write_text(json.dumps(plan))
        out: Any = {"shards": len(plan)}
    elif args.task == "shard":
        shard = json.loads(plan_file.read_text())[args.index]
        out = tasks.compute_shard(slos, lake_dir, START, END, shard)
    elif args.task == "merge":
        computed = [{"index": i} for i in range(args.shards)]
        out = tasks.merge_month(slos, lake_dir, START, END, computed)
    else:
        files = report.render(lake_dir, periods.month(MONTH), base / "out", source="bench",
                              generated_at=END, formats=["html", "json", "csv"])
        out = {"json": files.json.stat().st_size, "html": files.html.stat().st_size}
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = usage.ru_maxrss / 1024 / 1024  # KiB -> GiB
    # CPU time of the whole process (imports included): the cost, whatever else runs.
    return {"seconds": seconds, "rss_gib": rss, "cpu_s": usage.ru_utime + usage.ru_stime,
            "out": out}


def _run(args: argparse.Namespace, n: int, name: str, *extra: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--task", name, "--n", str(n),
                           "--base", str(args.base), "--shard-size", str(args.shard_size),
                           *extra], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{name} {' '.join(extra)}: failed\n{proc.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - t0
    return figures


def measure(args: argparse.Namespace, n: int) -> dict[str, Any]:
    catalog_dir(args.base, n)
    plan = _run(args, n, "plan")
    count = plan["out"]["shards"]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        per_shard = list(pool.map(lambda i: _run(args, n, "shard", "--index", str(i)),
                                  range(count)))
    shard_wall = time.perf_counter() - t0
    merge = _run(args, n, "merge", "--shards", str(count))
    render = _run(args, n, "render")
    return {"slos": n, "shards": count, "plan_s": plan["seconds"], "plan_rss": plan["rss_gib"],
            "shard_wall": shard_wall,
            "load_average": os.getloadavg()[1],  # other work on the machine, last 5 min
            "shard_max_s": max(s["seconds"] for s in per_shard),
            "shard_mean_s": sum(s["seconds"] for s in per_shard) / count,
            "shard_rss": max(s["rss_gib"] for s in per_shard),
            "shard_task_s": sum(s["process_s"] for s in per_shard),
            "shard_cpu_s": sum(s["cpu_s"] for s in per_shard),
            "cpu_per_slo_ms": sum(s["cpu_s"] for s in per_shard) / n * 1000,
            "merge_s": merge["seconds"], "merge_rss": merge["rss_gib"],
            "render_s": render["seconds"], "render_rss": render["rss_gib"],
            "total_s": plan["process_s"] + shard_wall + merge["process_s"]
            + render["process_s"]}


def table(results: list[dict[str, Any]]) -> str:
    rows = [("SLOs", "slos", "{:,}"), ("shards", "shards", "{}"),
            ("plan: task body, s", "plan_s", "{:.1f}"),
            ("plan: peak RSS, GiB", "plan_rss", "{:.2f}"),
            ("shards: wall (workers in parallel), s", "shard_wall", "{:.1f}"),
            ("shards: task-seconds in all (processes included), s", "shard_task_s", "{:.1f}"),
            ("shards: CPU seconds in all (processes included), s", "shard_cpu_s", "{:.1f}"),
            ("shards: CPU per SLO, ms", "cpu_per_slo_ms", "{:.0f}"),
            ("one shard: mean / longest task body, s", None, ""),
            ("one shard: peak RSS, GiB", "shard_rss", "{:.2f}"),
            ("merge: task body, s", "merge_s", "{:.1f}"),
            ("merge: peak RSS, GiB", "merge_rss", "{:.2f}"),
            ("render JSON+CSV+HTML: task body, s", "render_s", "{:.1f}"),
            ("render: peak RSS, GiB", "render_rss", "{:.2f}"),
            ("total wall (plan, shards, merge, render), s", "total_s", "{:.1f}")]
    lines = []
    for label, key, fmt in rows:
        cells = []
        for i, r in enumerate(results):
            value = (f"{r['shard_mean_s']:.1f} / {r['shard_max_s']:.1f}" if key is None
                     else fmt.format(r[key]))
            if i and key not in (None, "slos", "shards") and results[i - 1][key]:
                value += f" (x{r[key] / results[i - 1][key]:.1f})"
            cells.append(value)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    head = "| | " + " | ".join(f"{r['slos']:,} SLOs" for r in results) + " |"
    return "\n".join([head, "|---" * (len(results) + 1) + "|", *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--shard-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--base", type=Path, default=ROOT / ".cache" / "scale")
    for hidden in ("--task", "--n", "--index", "--shards"):
        parser.add_argument(hidden, help=argparse.SUPPRESS,
                            type=str if hidden == "--task" else int)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(task(args), default=str))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    t0 = time.perf_counter()
    generate(args.base, max(sizes))
    print(f"lake: {max(sizes):,} SLOs x {(END - START).days + LOOKBACK_DAYS} days x 1,440 "
          f"buckets in {args.base / 'lake'} (ready in {time.perf_counter() - t0:.0f} s)",
          flush=True)
    results = []
    for n in sizes:
        results.append(measure(args, n))
        print(json.dumps(results[-1]), flush=True)
    print()
    print(table(results))
    last = results[-1]
    minutes = (last["plan_s"] + last["shard_wall"] + last["merge_s"]) / 60
    print(f"\n{last['slos']:,} SLOs: compute (plan, shards, merge) {minutes:.1f} min on "
          f"{args.workers} workers (goal < {GOALS['minutes']:g} min: "
          f"{'met' if minutes < GOALS['minutes'] else 'NOT met'}); cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()
