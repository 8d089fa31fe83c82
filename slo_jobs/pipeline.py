"""The stages chained for one month: what the CLI's ``run`` and the DAG both do."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import compute, lake, periods, pipelines, report
from .compute.engine import LOOKBACK
from .errors import SloJobsError
from .extract import PrometheusClient, PrometheusConfig, extract_slo
from .extract.extractor import DEFAULT_STEP, DayResult
from .lake import LakeDir
from .periods import Period
from .pipelines.record import AirflowFor
from .pipelines.sources import AirflowConfig
from .spec import Slo


def extract(config: PrometheusConfig, slos: Sequence[Slo], period: Period, lake_dir: LakeDir,
            step: timedelta = DEFAULT_STEP,
            airflow_for: AirflowFor | None = None) -> list[DayResult]:
    return extract_days(config, slos, period.days, lake_dir, step, airflow_for)


# Concurrent Prometheus queries of one extraction, like the default Airflow pool's slots.
EXTRACT_CONCURRENCY = 4
# What pipeline SLOs carry where a Prometheus is expected: they never query it.
NO_PROMETHEUS = PrometheusConfig(url="none (pipeline SLOs only)")


def prometheus_config(slos: Sequence[Slo], url: str | None) -> PrometheusConfig:
    """``--prometheus-url`` or the environment; not required when no SLO reads Prometheus."""
    if url is None and not os.environ.get("SLO_JOBS_PROMETHEUS_URL") and slos and all(
            s.pipeline is not None for s in slos):
        return NO_PROMETHEUS
    return PrometheusConfig.from_env(url)


def _env(conn_id: str | None) -> AirflowConfig:
    return AirflowConfig.from_env()


def extract_days(config: PrometheusConfig, slos: Sequence[Slo], days: list[date],
                 lake_dir: LakeDir, step: timedelta = DEFAULT_STEP,
                 airflow_for: AirflowFor | None = None,
                 concurrency: int = EXTRACT_CONCURRENCY,
                 as_of: datetime | None = None) -> list[DayResult]:
    """Replace exactly the ``days`` partitions of each SLO.

    Pipeline SLOs are read from their own sources (the Airflow API, a table); the
    Airflow API settings come from ``airflow_for`` (by connection id) or the environment.

    Each SLO is written under its lock, after clearing temp files a killed run left
    behind, so an interrupted extraction re-run leaves the lake as an uninterrupted one.
    At most ``concurrency`` SLOs query Prometheus at once (in the DAGs, the Airflow pool
    ``prometheus`` bounds the mapped tasks instead).
    """
    results: list[DayResult] = []
    tables = [s for s in slos if s.pipeline is not None]
    # Pipeline SLIs judge whole days (a run not there yet would count as missing).
    done = [d for d in days if as_of is None
            or datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1) <= as_of]
    if tables and done:
        results.extend(pipelines.record_days(tables, done, lake_dir, airflow_for or _env))
    prom = [s for s in slos if s.pipeline is None]
    if not prom:
        return results
    with PrometheusClient(config) as client:
        def one(slo: Slo) -> list[DayResult]:
            with lake.slo_lock(lake_dir, slo.name):
                lake.remove_stale_temps(lake_dir, slo.name, days)
                return extract_slo(client, slo, days, lake_dir, step, as_of)

        # Threads: the work is waiting for Prometheus and decoding its answers.
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            for written in pool.map(one, prom):
                results.extend(written)
    return results


def month_days(slo: Slo, label: str, as_of: datetime | None = None
               ) -> tuple[list[date], list[date]]:
    """The UTC days (lake partitions) a report of month ``label`` needs for ``slo``:
    (the days of its month in its own time zone, the other days it reads: the burn-rate
    lookback before the month and its own window to date). Days starting at or after
    ``as_of`` are left out: nothing is extracted for time that has not happened."""
    local = periods.calendar("month", label, slo.time_zone)
    at = local.end if as_of is None else min(as_of, local.end)
    window = compute.own_window(slo, at)
    lookback = max([LOOKBACK, *(a.long_window for a in slo.burn_rate_alerts)])
    start = min(local.start, window.start) - lookback

    def upto(p: Period) -> list[date]:
        return [d for d in periods.utc_days(p)
                if as_of is None or datetime(d.year, d.month, d.day, tzinfo=UTC) < as_of]

    month = upto(local)
    before = [d for d in upto(Period("", start, at)) if d not in set(month)]
    return month, before


def started(slos: Sequence[Slo], label: str, as_of: datetime) -> None:
    """Refuse a month that has not begun at ``as_of`` in any SLO's zone."""
    first = min((periods.calendar("month", label, s.time_zone).start for s in slos),
                default=periods.month(label).start)
    if as_of <= first:
        raise SloJobsError(f"month {label}: has not begun at as-of {as_of:%Y-%m-%dT%H:%MZ}; "
                           "expected a month that has started (or a later --as-of)")


def run_month(config: PrometheusConfig, slos: Sequence[Slo], period: Period, lake_dir: LakeDir,
              out_dir: Path, generated_at: datetime,
              as_of: datetime | None = None) -> tuple[list[dict[str, Any]],
                                                       report.ReportFiles]:
    """Extract, compute and render ``period`` as it stands at ``as_of`` (default: its end).

    Each SLO's month is its calendar month in its own zone, re-extracted whole; the days it
    reads besides (the burn-rate lookback, its own quarter or rolling window to date) are
    extracted when missing or incomplete. A month still running at ``as_of`` is reported to
    date and projected, marked estimated; no partition is written past ``as_of``.
    """
    if as_of is not None:
        started(slos, period.label, as_of)
    groups: dict[tuple[tuple[date, ...], tuple[date, ...]], list[Slo]] = {}
    for slo in slos:
        month, before = month_days(slo, period.label, as_of)
        groups.setdefault((tuple(month), tuple(before)), []).append(slo)
    for (in_month, others), group in groups.items():
        extract_days(config, group, list(in_month), lake_dir, as_of=as_of)
        for slo in group:
            missing = lake.missing_days(lake_dir, slo.name, list(others), as_of)
            if missing:
                extract_days(config, [slo], missing, lake_dir, as_of=as_of)
    rows = compute.compute_month(lake_dir, slos, period, as_of)
    files = report.render(lake_dir, period, out_dir, source=config.url,
                          generated_at=generated_at)
    return rows, files


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A short plain-text table of the month's SLOs for terminals and logs."""
    head = f"{'SLO':<28} {'target':>8} {'SLI':>10} {'budget left':>12} {'coverage':>9}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        sli = "n/a" if r["sli"] is None else f"{r['sli'] * 100:.4f}%"
        rem = "n/a" if r["budget_remaining"] is None else f"{r['budget_remaining'] * 100:.1f}%"
        lines.append(f"{r['slo']:<28} {r['target'] * 100:>7.2f}% {sli:>10} {rem:>12} "
                     f"{r['coverage'] * 100:>8.1f}%  {r['status']}")
    return "\n".join(lines)
