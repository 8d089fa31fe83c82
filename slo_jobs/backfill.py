"""Backfill: extract, compute and report every month of a range, resumably.

What is done is not redone: a day that already has its partition is not pulled
again, and a month whose report matches its computed summary for the current SLO
definitions is not rendered again (``redo=True`` does everything anew).  Every
output replaces its own day or month only, so overlapping or repeated backfills
leave each month exactly once.  A period the source no longer holds is written as
empty partitions, and the report shows its coverage instead of a clean 100 %.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import compute, lake, periods, pipeline, pipelines, report
from .errors import SloJobsError
from .extract import PrometheusClient, PrometheusConfig, extract_slo
from .extract.extractor import DEFAULT_STEP
from .lake import LakeDir
from .periods import Period
from .pipelines.record import AirflowFor
from .pipelines.sources import AirflowConfig
from .spec import Slo

REPORT_FILES = ("report.html", "report.pdf", "summary.json", "summary.csv")


@dataclass(frozen=True)
class MonthOutcome:
    period: str
    extracted_days: int  # SLO-days pulled from Prometheus by this run
    reported: bool  # False when the month's report was already current
    rows: list[dict[str, Any]]


def _env_airflow(conn_id: str | None) -> AirflowConfig:
    return AirflowConfig.from_env()


def _source(config: PrometheusConfig, slos: Sequence[Slo]) -> str:
    if all(s.pipeline is not None for s in slos):
        return "pipeline sources (see Data pipelines)"
    return config.url


def months(first: str, last: str) -> list[Period]:
    """Every calendar month from ``first`` to ``last`` (``YYYY-MM``), both included."""
    a, b = periods.month(first), periods.month(last)
    if b.start < a.start:
        raise SloJobsError(f"--to {b.label}: before --from {a.label}; expected a range such "
                           "as --from 2026-07 --to 2026-09")
    out = [a]
    while out[-1].start < b.start:
        out.append(periods.month_of(out[-1].end))
    return out


def _published(rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("slo", "spec_hash", "good", "total", "buckets")
    return sorted(tuple(r.get(k) for k in keys) for r in rows)


def report_is_current(lake_dir: LakeDir, out_dir: Path, slos: Sequence[Slo],
                      period: Period) -> bool:
    """True if the month's summary covers exactly ``slos`` and its report shows that summary."""
    if not lake.monthly_partition(lake_dir, period.label).exists():
        return False
    rows = compute.read_summary(lake_dir, period)
    if sorted((r["slo"], r["spec_hash"]) for r in rows) != \
            sorted((s.name, s.spec_hash) for s in slos):
        return False
    folder = out_dir / period.label
    if not all((folder / name).exists() for name in REPORT_FILES):
        return False
    try:
        shown = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(shown, list) and _published(shown) == _published(rows)


def _todo(slo: Slo, period: Period, lake_dir: LakeDir, redo: bool, as_of: datetime) -> list[date]:
    """The SLO's month in its own zone (all of it with ``redo``), then the days it reads
    besides (burn-rate lookback, own window to date), each unless already complete."""
    month, before = pipeline.month_days(slo, period.label, as_of)
    todo = month if redo else lake.missing_days(lake_dir, slo.name, month, as_of)
    return todo + lake.missing_days(lake_dir, slo.name, before, as_of)


def _extract_missing(client: PrometheusClient, slo: Slo, period: Period, lake_dir: LakeDir,
                     redo: bool, progress: bool, step: timedelta,
                     airflow_for: AirflowFor, as_of: datetime) -> int:
    if slo.pipeline is not None:
        # Read from its own source (the Airflow API, a table), never Prometheus: one read of
        # the source for all the days, written day by day under the SLO's lock.
        todo = [d for d in _todo(slo, period, lake_dir, redo, as_of)
                if datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1) <= as_of]
        pipelines.record_days([slo], todo, lake_dir, airflow_for)
        return len(todo)
    with lake.slo_lock(lake_dir, slo.name):
        todo = _todo(slo, period, lake_dir, redo, as_of)
        lake.remove_stale_temps(lake_dir, slo.name, todo)
        # One day at a time: each finished day is kept if the run is interrupted.
        for day in tqdm(todo, desc=f"  {slo.name}", unit="day", leave=False,
                        disable=not progress, file=sys.stderr):
            extract_slo(client, slo, [day], lake_dir, step, as_of)
    return len(todo)


def backfill(config: PrometheusConfig, slos: Sequence[Slo], first: str, last: str,
             lake_dir: LakeDir, out_dir: Path, *, redo: bool = False, progress: bool = True,
             rendered_at: datetime, step: timedelta = DEFAULT_STEP,
             airflow_for: AirflowFor | None = None) -> list[MonthOutcome]:
    """Bring every month from ``first`` to ``last`` to a complete lake and a current report.

    Each SLO's month is its calendar month in its own zone, with the burn-rate lookback and
    its own window to date. Pipeline SLOs are read from their own sources; the Airflow API
    settings come from ``airflow_for`` (by connection id) or the environment.
    ``rendered_at`` is the time the reports record as their render time (the caller's
    clock), and the as-of: nothing after it is extracted, and a month still running is
    reported to date.
    """
    todo = months(first, last)
    outcomes = []
    with PrometheusClient(config) as client:
        for period in todo:
            extracted = 0
            with tqdm(total=len(slos), desc=period.label, unit="SLO", disable=not progress,
                      file=sys.stderr) as bar:
                for slo in slos:
                    bar.set_postfix_str(slo.name)
                    extracted += _extract_missing(client, slo, period, lake_dir, redo,
                                                  progress, step, airflow_for or _env_airflow,
                                                  rendered_at)
                    bar.update(1)
            if redo or extracted or not report_is_current(lake_dir, out_dir, slos, period):
                rows = compute.compute_month(lake_dir, slos, period, rendered_at)
                report.render(lake_dir, period, out_dir, source=_source(config, slos),
                              generated_at=rendered_at)
                outcomes.append(MonthOutcome(period.label, extracted, True, rows))
            else:
                outcomes.append(MonthOutcome(period.label, 0, False,
                                             compute.read_summary(lake_dir, period)))
    return outcomes
