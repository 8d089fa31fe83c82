"""Benchmark what keeping a latency SLI's histogram buckets costs: the lake's size and the
extraction time of one month of the demo's checkout latency (a histogram with buckets 0.1,
0.3, 1 and +Inf, one series per bucket, scraped every 15 s), three ways:

  none:      spec.indicator.latency without ``buckets`` (the SLI partition only),
  threshold: ``buckets: [0.3]`` (the threshold's bucket and +Inf beside the SLI),
  all:       ``buckets: all``.

Each way extracts September 2026 (30 days) into a fresh lake from a loopback Prometheus
serving the demo history, three times, alternately; the fastest counts (the first pays for
Prometheus reading its blocks). Prints wall and CPU seconds and the bytes of the ``sli`` and
``buckets`` partitions.

    .venv/bin/python bench/buckets.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import prom  # noqa: E402
from slo_jobs.core import periods  # noqa: E402
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo  # noqa: E402
from slo_jobs.spec import catalog  # noqa: E402

MONTH = periods.month("2026-09")
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: checkout-latency}
spec:
  service: checkout
  indicator:
    latency:
      histogram: 'http_request_duration_seconds{service="checkout"}'
      threshold: 0.3
BUCKETS
  objective: {target: 0.99}
"""
WAYS = {"none": "", "threshold": "      buckets: [0.3]", "all": "      buckets: all"}
RUNS = 3


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet")) if folder.exists() else 0


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-buckets-"))
    data = work / "tsdb"
    shutil.copytree(prom.build(ROOT / ".cache" / "demo"), data)
    port = prom.free_port()
    proc = prom.start(data, port, work / "prometheus.log")
    best: dict[str, tuple[float, float, int, int]] = {}
    try:
        for run in range(RUNS):
            for way, field in WAYS.items():
                (work / "slo.yaml").write_text(DOC.replace("BUCKETS", field) if field
                                               else DOC.replace("BUCKETS\n", ""))
                (slo,) = catalog.load([work / "slo.yaml"])
                lake = work / f"lake-{way}-{run}"
                wall, cpu = time.perf_counter(), time.process_time()
                with PrometheusClient(PrometheusConfig(f"http://127.0.0.1:{port}")) as client:
                    extract_slo(client, slo, MONTH.days, lake)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                figures = (wall, cpu, _size(lake / "sli"), _size(lake / "buckets"))
                if way not in best or wall < best[way][0]:
                    best[way] = figures
                shutil.rmtree(lake)
    finally:
        prom.stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    base_wall, _, base_sli, _ = best["none"]
    print(f"{'buckets':<10} {'wall s':>7} {'cpu s':>6} {'x wall':>7} {'sli KiB':>8} "
          f"{'buckets KiB':>11} {'lake x':>7}")
    for way, (wall, cpu, sli, kept) in best.items():
        print(f"{way:<10} {wall:7.2f} {cpu:6.2f} {wall / base_wall:7.2f} {sli / 1024:8.0f} "
              f"{kept / 1024:11.0f} {(sli + kept) / base_sli:7.2f}")


if __name__ == "__main__":
    main()
