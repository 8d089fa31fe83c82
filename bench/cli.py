"""Benchmark the command's answer time: ``-h``, a usage error, and ``show`` of a 10-SLO month.

Each command runs as a user runs it (a new process); the figure is the fastest of
``--repeat`` runs, as wall time and as the process's CPU time (user + system). On an idle
machine the two agree; on a shared one wall time also counts waiting for a core, so the
goal is judged on CPU time and the wall time is printed beside it.

    .venv/bin/python bench/cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (what, arguments, goal in seconds, expected exit status)
CASES = [
    ("-h", ["-h"], 0.5, 0),
    ("usage error: run --month 2026-9", ["run", "--month", "2026-9"], 0.5, 1),
    ("usage error: unknown option", ["show", "--mnth", "2026-11"], 0.5, 2),
    ("show, 10-SLO month", ["show", "--month", "2026-11"], 1.0, 0),
]


def _lake(folder: Path, n: int = 10) -> None:
    """A computed month of ``n`` SLOs (2026-11), as ``slo-jobs compute`` leaves it."""
    from slo_jobs.compute import SloParams, compute_window, write_result
    from slo_jobs.core import periods
    from tests.lakeutil import write_buckets

    period = periods.month("2026-11")
    slos = []
    for i in range(n):
        name = f"slo-{i:04d}"
        slos.append(SloParams(name, f"svc-{i // 5:03d}", "Requests served without error.",
                              "h", 0.999))
        write_buckets(folder, name, period.start.replace(day=3 + i % 20),
                      [(995.0 if i % 7 == 0 else 999.5, 1000.0)] * 1440)
    write_result(folder, compute_window(folder, slos, period))


def _timed(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, exit status) of one ``slo-jobs`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _lake(Path(tmp) / "lake")
        print(f"{'command':<36} {'wall s':>7} {'CPU s':>7} {'goal s':>7}  goal")
        for what, argv, goal, expected in CASES:
            runs = [_timed(argv, Path(tmp)) for _ in range(max(1, args.repeat))]
            if any(rc != expected for _w, _c, rc in runs):
                raise SystemExit(f"{what}: exit status {runs[0][2]}, expected {expected}")
            wall, cpu = min(w for w, _c, _r in runs), min(c for _w, c, _r in runs)
            verdict = "met" if cpu <= goal else "NOT met"
            print(f"{what:<36} {wall:>7.2f} {cpu:>7.2f} {goal:>7.2f}  {verdict}")


if __name__ == "__main__":
    main()
