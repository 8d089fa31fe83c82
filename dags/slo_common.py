"""Run-time settings shared by the slo-jobs DAGs: folders and the Prometheus connection.

Nothing here runs at parse time; the DAG files call these inside task bodies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from slo_jobs.extract import PrometheusConfig

_ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_CONN_ID = "prometheus_default"


@dataclass(frozen=True)
class Paths:
    slos: Path
    lake: Path
    out: Path


def paths() -> Paths:
    return Paths(
        slos=Path(os.environ.get("SLO_JOBS_SLOS_DIR", _ROOT / "slos")),
        lake=Path(os.environ.get("SLO_JOBS_LAKE_DIR", _ROOT / "lake")),
        out=Path(os.environ.get("SLO_JOBS_OUT_DIR", _ROOT / "reports" / "out")),
    )


def prometheus_config(conn_id: str = PROMETHEUS_CONN_ID) -> PrometheusConfig:
    """The Airflow Connection if it exists, else ``$SLO_JOBS_PROMETHEUS_URL``."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowRuntimeError

    try:
        conn = Connection.get(conn_id)
    except AirflowRuntimeError:
        return PrometheusConfig.from_env()
    return PrometheusConfig.from_connection(conn.conn_type, conn.host, conn.port, conn.schema,
                                            conn.login, conn.password, conn.extra_dejson)
