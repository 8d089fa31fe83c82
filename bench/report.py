"""Benchmark the report stage: time and peak memory to render HTML and PDF.

For 10, 100 and 200 SLOs of one month (synthetic lake, computed first), each size in its
own process so its peak RSS is its own.

    .venv/bin/python bench/report.py [--sizes 10,100,200]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(n: int) -> dict[str, float]:
    from slo_jobs.compute import SloParams, compute_window, write_result
    from slo_jobs.core import periods
    from slo_jobs.report import monthly as report
    from tests.lakeutil import write_buckets

    period = periods.month("2026-11")
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        slos = []
        for i in range(n):
            name = f"slo-{i:04d}"
            slos.append(SloParams(name, f"svc-{i // 5:03d}", "Requests served without error.",
                                  "h", 0.999))
            # a day-long incident on a few SLOs so the report has incidents to draw
            write_buckets(lake, name, period.start.replace(day=3 + i % 20),
                          [(995.0 if i % 7 == 0 else 999.5, 1000.0)] * 1440)
        write_result(lake, compute_window(lake, slos, period))
        times = {}
        for fmt in ("html", "pdf"):
            t0 = time.perf_counter()
            report.render(lake, period, Path(tmp) / "out", source="bench",
                          generated_at=datetime(2026, 12, 1, tzinfo=UTC), formats=(fmt,))
            times[fmt] = time.perf_counter() - t0
        pages = subprocess.run(["pdfinfo", str(Path(tmp) / "out" / "2026-11" / "report.pdf")],
                               capture_output=True, text=True).stdout
        n_pages = next((int(line.split()[-1]) for line in pages.splitlines()
                        if line.startswith("Pages:")), 0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"slos": n, "html_s": times["html"], "pdf_s": times["pdf"], "rss_mib": rss,
            "pages": n_pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="10,100,200")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    print(f"{'SLOs':>5} {'HTML s':>8} {'PDF s':>8} {'pages':>6} {'peak RSS MiB':>13}")
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                             capture_output=True, text=True)
        f = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{f['slos']:>5} {f['html_s']:>8.2f} {f['pdf_s']:>8.2f} {f['pages']:>6} "
              f"{f['rss_mib']:>13.0f}")


if __name__ == "__main__":
    main()
