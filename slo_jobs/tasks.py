"""Task bodies for orchestrators: explicit arguments in, small JSON-able summaries out.

The DAGs call these with the run's data interval; nothing here reads the clock
or knows about Airflow.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from . import compute, pipeline, report, spec
from .errors import SloJobsError
from .extract import PrometheusConfig
from .periods import Period, month_of


def period_of(interval_start: datetime | None, interval_end: datetime | None) -> Period:
    """The calendar month a monthly data interval covers; refuses any other interval."""
    if interval_start is None or interval_end is None:
        raise SloJobsError("data interval: missing; expected a monthly data interval")
    period = month_of(interval_start)
    if period.start != interval_start or period.end != interval_end:
        raise SloJobsError(f"data interval: found [{interval_start}, {interval_end}); "
                           "expected one whole calendar month in UTC")
    return period


def slo_names(slos_dir: Path) -> list[str]:
    return [s.name for s in spec.load([slos_dir])]


def _one(slos_dir: Path, name: str) -> spec.Slo:
    for s in spec.load([slos_dir]):
        if s.name == name:
            return s
    raise SloJobsError(f"SLO {name!r}: not found in {slos_dir}")


def extract_month(config: PrometheusConfig, slos_dir: Path, lake_dir: Path, slo_name: str,
                  interval_start: datetime | None,
                  interval_end: datetime | None) -> dict[str, Any]:
    period = period_of(interval_start, interval_end)
    results = pipeline.extract(config, [_one(slos_dir, slo_name)], period, lake_dir)
    return {"slo": slo_name, "period": period.label, "partitions": len(results),
            "rows": sum(r.rows for r in results), "clipped": sum(r.clipped for r in results)}


def compute_month(slos_dir: Path, lake_dir: Path, interval_start: datetime | None,
                  interval_end: datetime | None) -> str:
    period = period_of(interval_start, interval_end)
    rows = compute.month_summary(lake_dir, spec.load([slos_dir]), period)
    return str(compute.write_summary(lake_dir, period, rows))


def render_month(lake_dir: Path, out_dir: Path, source: str,
                 interval_start: datetime | None,
                 interval_end: datetime | None) -> dict[str, str]:
    period = period_of(interval_start, interval_end)
    rows = compute.read_summary(lake_dir, period)
    # The report's "generated" stamp is the end of the data interval, not the clock.
    files = report.render(rows, period, out_dir, source=source, generated_at=period.end)
    print(pipeline.table(rows))
    return {"html": str(files.html), "pdf": str(files.pdf), "json": str(files.json),
            "csv": str(files.csv)}
