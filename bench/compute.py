"""Benchmark the compute stage: 1,000 SLOs x 30 days at 1-minute resolution (43.2 M rows).

Prints, from one run on one machine, side by side:
  (a) floor:  a bare DuckDB scan summing good and total over the same files,
  (b) slo-jobs: the full computation for the month (summary, decisions, daily series,
      hourly burn rates, the alert timeline and incidents),
  (c) pandas: the same outputs (bench/pandas_reference.py) as a pandas user would write
      them: pyarrow reads, whole-frame window, slice and run-length operations, one process,
with wall time, CPU time, peak memory, and the ratios (b)/(a) and (c)/(b).
Each phase runs in its own process, so its peak RSS is its own.

    .venv/bin/python bench/compute.py [--slos 1000] [--days 30] [--skip-pandas]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MONTH = "2026-11"
GOALS = {"b_over_a": 5.0, "c_over_b": 10.0, "rss_gib": 2.0}


def generate(lake_dir: Path, n_slos: int, days: int) -> None:
    """Write dense day partitions with Poisson traffic, 0.1 % errors and a few incidents."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slo_jobs import lake

    # Files as the lake writes them (lake.write_options: LZ4, page checksums): verification has
    # real work to do.
    stamp = lake_dir / f".complete-{n_slos}x{days}-v4"
    if stamp.exists():
        return
    rng = np.random.default_rng(7)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    per_day = 1440
    for d in range(days):
        first = start + timedelta(days=d)
        ts = pa.array([first + timedelta(minutes=i) for i in range(per_day)],
                      pa.timestamp("us", tz="UTC"))
        for s in range(n_slos):
            total = rng.poisson(600, per_day).astype(np.float64)
            p = np.full(per_day, 0.0008)
            if (s + d) % 37 == 0:  # an incident: 40 minutes at 5 % errors
                p[600:640] = 0.05
            good = total - rng.binomial(total.astype(np.int64), p)
            table = pa.table({"ts": ts, "good": good, "total": total,
                              "clipped": np.zeros(per_day, bool),
                              "has_data": np.ones(per_day, bool),
                              "step_s": np.full(per_day, 60, np.int32)}, schema=lake.SLI_SCHEMA)
            path = lake.sli_partition(lake_dir, f"slo-{s:04d}", first.date())
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path, **lake.write_options(table.schema))
    stamp.write_text("ok\n")


def params(n_slos: int) -> list:  # type: ignore[type-arg]
    from slo_jobs.compute import SloParams

    out = []
    for s in range(n_slos):
        method = "Occurrences" if s % 10 < 8 else ("Timeslices" if s % 10 == 8
                                                   else "RatioTimeslices")
        out.append(SloParams(name=f"slo-{s:04d}", service=f"svc-{s // 10:03d}",
                             description="", spec_hash="bench", target=0.999, method=method,
                             slice_seconds=60.0, slice_target=0.99, no_data="skip"))
    return out


def phase(name: str, lake_dir: Path, n_slos: int) -> dict[str, float]:
    """Run one phase in this process and return its figures."""
    from bench.pandas_reference import reference
    from slo_jobs.compute import compute_window, connect, write_result
    from slo_jobs.core import periods

    # Modules are imported before the clock starts: the phases time the computation, not the
    # interpreter compiling pandas, DuckDB and numpy (no bytecode cache on some hosts).
    period = periods.month(MONTH)
    slos = params(n_slos)
    t0, cpu0 = time.perf_counter(), _cpu()
    if name == "floor":
        files = [str(p) for p in sorted((lake_dir / "sli").glob("slo=*/date=*/part-0.parquet"))]
        rows = connect().execute(
            "SELECT slo, sum(good), sum(total) FROM read_parquet($f, hive_partitioning = true) "
            "GROUP BY slo", {"f": files}).fetchall()
        count = len(rows)
    elif name == "slo-jobs":
        result = compute_window(lake_dir, slos, period)
        write_result(lake_dir / "out", result)
        count = len(result.summary)
    else:
        count = len(reference(lake_dir, slos, period)["summary"])
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB -> GiB
    return {"seconds": seconds, "cpu_s": _cpu() - cpu0, "rss_gib": rss, "slos": count}


def _cpu() -> float:
    """User + system CPU seconds of this process and its finished children (slo-jobs' worker
    processes): on a shared machine the wall time also counts other people's work."""
    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lake", type=Path, default=ROOT / ".cache" / "bench-lake")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    lake_dir = args.lake / f"{args.slos}x{args.days}"
    if args.phase:
        print(json.dumps(phase(args.phase, lake_dir, args.slos)))
        return
    t0 = time.perf_counter()
    generate(lake_dir, args.slos, args.days)
    print(f"data: {args.slos} SLOs x {args.days} days x 1,440 buckets = "
          f"{args.slos * args.days * 1440:,} rows in {lake_dir} "
          f"(ready in {time.perf_counter() - t0:.0f} s)")
    names = ["floor", "slo-jobs"] + ([] if args.skip_pandas else ["pandas"])
    figures = {}
    for name in names:
        out = subprocess.run([sys.executable, __file__, "--phase", name, "--slos",
                              str(args.slos), "--days", str(args.days), "--lake",
                              str(args.lake)], check=True, capture_output=True, text=True)
        figures[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n{'phase':<10} {'wall s':>8} {'CPU s':>8} {'peak RSS GiB':>13}")
    for name, f in figures.items():
        print(f"{name:<10} {f['seconds']:>8.2f} {f['cpu_s']:>8.2f} {f['rss_gib']:>13.2f}")
    b_over_a = figures["slo-jobs"]["seconds"] / figures["floor"]["seconds"]
    print(f"\n(b)/(a) slo-jobs vs bare scan: {b_over_a:5.2f}x  (goal <= {GOALS['b_over_a']:g}x: "
          f"{'met' if b_over_a <= GOALS['b_over_a'] else 'NOT met'})")
    if "pandas" in figures:
        c_over_b = figures["pandas"]["seconds"] / figures["slo-jobs"]["seconds"]
        print(f"(c)/(b) pandas vs slo-jobs:     {c_over_b:5.2f}x  (goal >= "
              f"{GOALS['c_over_b']:g}x: {'met' if c_over_b >= GOALS['c_over_b'] else 'NOT met'})"
              f"; in CPU time {figures['pandas']['cpu_s'] / figures['slo-jobs']['cpu_s']:5.2f}x")
    rss = figures["slo-jobs"]["rss_gib"]
    print(f"slo-jobs peak RSS:              {rss:5.2f} GiB (goal < {GOALS['rss_gib']:g} GiB: "
          f"{'met' if rss < GOALS['rss_gib'] else 'NOT met'})")


if __name__ == "__main__":
    main()
