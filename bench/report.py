"""Benchmark the report stage: time and peak memory to render HTML and PDF, and per-team PDFs.

For 10, 100 and 200 SLOs of one month (synthetic lake, computed first), each size in its
own process so its peak RSS is its own: the HTML render, the PDF render, the PDF's pages
and the ratio of the PDF's time to the HTML's. With ``--teams``, a month of 1,000 SLOs in
50 teams (20 SLOs each, release decisions, priorities and toil computed as the monthly DAG
does): its HTML, JSON and CSV alone, then the same with every team's PDF, as the monthly
DAG's render task makes them (goal: all teams' PDFs in at most 600 s).

    .venv/bin/python bench/report.py [--sizes 10,100,200] [--teams]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEAM_SLOS, TEAMS = 1000, 50


def _month(lake: Path, n: int, teams: int = 0) -> None:
    """``n`` SLOs of November 2026, 5 to a service, a day-long incident on a few; with
    ``teams``, the SLOs spread over that many teams and the month's decision tables."""
    from slo_jobs import decisions
    from slo_jobs import lake as lakes
    from slo_jobs.compute import SloParams, _table, compute_window, write_result
    from slo_jobs.core import periods
    from tests.lakeutil import write_buckets

    period = periods.month("2026-11")
    slos = []
    for i in range(n):
        name = f"slo-{i:04d}"
        slos.append(SloParams(name, f"svc-{i // 5:03d}", "Requests served without error.",
                              "h", 0.999))
        # a day-long incident on a few SLOs so the report has incidents to draw
        write_buckets(lake, name, period.start.replace(day=3 + i % 20),
                      [(995.0 if i % 7 == 0 else 999.5, 1000.0)] * 1440)
    result = compute_window(lake, slos, period)
    with lakes.publish_set(lakes.monthly_partition(lake, period.label).parent) as stage:
        write_result(lake, result, stage)
        if teams:
            owners = [SimpleNamespace(name=s.name, team=f"team-{i % teams:02d}", tier="standard")
                      for i, s in enumerate(slos)]
            extra = decisions.month_tables(owners, result.summary, result.decisions,  # type: ignore[arg-type]
                                           result.incidents, {}, {})
            for name, rows in extra.items():
                lakes.write_atomic(_table(rows), stage / f"{name}.parquet")


def _render(lake: Path, out: Path, **kw: object) -> float:
    from slo_jobs.core import periods
    from slo_jobs.report import monthly as report

    t0 = time.perf_counter()
    report.render(lake, periods.month("2026-11"), out, source="bench",
                  generated_at=datetime(2026, 12, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]
    return time.perf_counter() - t0


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    return next((int(line.split()[-1]) for line in info.splitlines()
                 if line.startswith("Pages:")), 0)


def one(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        lake, out = Path(tmp) / "lake", Path(tmp) / "out"
        _month(lake, n)
        times = {fmt: _render(lake, out, formats=(fmt,)) for fmt in ("html", "pdf")}
        n_pages = _pages(out / "2026-11" / "report.pdf")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"slos": n, "html_s": times["html"], "pdf_s": times["pdf"], "rss_mib": rss,
            "pages": n_pages}


def teams() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        lake, out = Path(tmp) / "lake", Path(tmp) / "out"
        _month(lake, TEAM_SLOS, TEAMS)
        month = _render(lake, out, formats=("html", "json", "csv"))
        both = _render(lake, out, formats=("html", "json", "csv"), team_pdfs=True)
        pdfs = sorted((out / "2026-11").glob("report-team-*.pdf"))
        pages = [_pages(p) for p in pdfs]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"month_s": month, "with_teams_s": both, "teams": len(pdfs),
            "pages": sum(pages), "rss_mib": rss}


def _run(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="10,100,200")
    parser.add_argument("--teams", action="store_true",
                        help=f"also {TEAM_SLOS} SLOs in {TEAMS} teams: every team's PDF "
                             "(several minutes)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-teams", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    if args.one_teams:
        print(json.dumps(teams()))
        return
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'SLOs':>5} {'HTML s':>8} {'PDF s':>8} {'pages':>6} {'PDF/HTML':>9} "
          f"{'peak RSS MiB':>13} {'load 1 min':>11}")
    for n in (int(s) for s in args.sizes.split(",")):
        f = _run("--one", str(n))
        print(f"{f['slos']:>5} {f['html_s']:>8.2f} {f['pdf_s']:>8.2f} {f['pages']:>6} "
              f"{f['pdf_s'] / f['html_s']:>9.1f} {f['rss_mib']:>13.0f} "
              f"{os.getloadavg()[0]:>11.2f}")
    if args.teams:
        f = _run("--one-teams")
        print(f"{TEAM_SLOS} SLOs in {TEAMS} teams: HTML + JSON + CSV {f['month_s']:.1f} s; "
              f"with the {f['teams']:.0f} team PDFs ({f['pages']:.0f} pages) "
              f"{f['with_teams_s']:.1f} s, so the team PDFs "
              f"{f['with_teams_s'] - f['month_s']:.1f} s "
              f"(goal <= 600 s); peak RSS {f['rss_mib']:.0f} MiB; "
              f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
