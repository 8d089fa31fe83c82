"""The stages chained for one month: what the CLI's ``run`` and the DAG both do."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import compute, lake, pipelines, report
from .extract import PrometheusClient, PrometheusConfig, extract_period
from .extract.extractor import DEFAULT_STEP, DayResult
from .periods import Period
from .pipelines.record import AirflowFor
from .pipelines.sources import AirflowConfig
from .spec import Slo


def extract(config: PrometheusConfig, slos: Sequence[Slo], period: Period, lake_dir: Path,
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
                 lake_dir: Path, step: timedelta = DEFAULT_STEP,
                 airflow_for: AirflowFor | None = None,
                 concurrency: int = EXTRACT_CONCURRENCY) -> list[DayResult]:
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
    if tables:
        results.extend(pipelines.record_days(tables, days, lake_dir, airflow_for or _env))
    prom = [s for s in slos if s.pipeline is None]
    if not prom:
        return results
    with PrometheusClient(config) as client:
        def one(slo: Slo) -> list[DayResult]:
            with lake.slo_lock(lake_dir, slo.name):
                lake.remove_stale_temps(lake_dir, slo.name, days)
                return extract_period(client, [slo], days, lake_dir, step)

        # Threads: the work is waiting for Prometheus and decoding its answers.
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            for done in pool.map(one, prom):
                results.extend(done)
    return results


def run_month(config: PrometheusConfig, slos: Sequence[Slo], period: Period, lake_dir: Path,
              out_dir: Path, generated_at: datetime) -> tuple[list[dict[str, Any]],
                                                              report.ReportFiles]:
    extract(config, slos, period, lake_dir)
    # Burn rates at the start of the month look back up to 3 days: fetch those days too
    # when the lake lacks them, so the alert timeline does not start on partial windows.
    first = period.start.date()
    lookback = [first - timedelta(days=i) for i in (3, 2, 1)]
    for slo in slos:
        missing = lake.missing_days(lake_dir, slo.name, lookback)
        if missing:
            extract_days(config, [slo], missing, lake_dir)
    rows = compute.compute_month(lake_dir, slos, period)
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
