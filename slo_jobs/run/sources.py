"""SLI sources behind one interface, as slo-generator's backends are.

Every source reads whole UTC days of one SLO and hands them back as ``DayTable`` values,
all of a request read before the caller writes any (``daytable.write``):

- ``PrometheusSource``: Prometheus' HTTP API, or any that answers the same (VictoriaMetrics,
  Thanos, Mimir): counters from raw samples, other queries per bucket
  (``slo_jobs.sources.prometheus``).
- ``AirflowRunsSource``: completion SLIs judged from DAG runs in the Airflow REST API.
- ``TableSource``: freshness, completeness or completion from a table or files DuckDB reads.

``Sources`` picks each SLO's source and opens a Prometheus client only when an SLO reads
one (one client per connection), so a run of pipeline SLOs needs no Prometheus at all.
A new source is a class with ``label`` and ``read_days`` and a line in ``Sources.for_slo``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol

from ..core.periods import BUCKET
from ..lake.daytable import DayTable
from ..sources.endpoint import AirflowConfig, PrometheusConfig
from ..sources.pipelines import record
from ..sources.pipelines.record import AirflowFor
from ..sources.prometheus.client import PrometheusClient
from ..sources.prometheus.collector import fewer_collections
from ..sources.prometheus.extractor import read_days
from ..spec import Slo

# An SLO may name its own Prometheus connection with this label (None: the default).
CONNECTION_LABEL = "prometheus_conn_id"
PIPELINE_LABEL = "pipeline sources (see Data pipelines)"

PrometheusFor = Callable[[str | None], PrometheusConfig]


class SliSource(Protocol):
    """Reads whole UTC days of one SLO's SLI; writes nothing."""

    @property
    def label(self) -> str:
        """What a report names as this source (never a secret)."""
        ...

    def read_days(self, slo: Slo, days: Sequence[date],
                  as_of: datetime | None) -> list[DayTable]:
        """``days`` of ``slo``; nothing after ``as_of`` counts as data."""
        ...


class PrometheusSource:
    def __init__(self, client: PrometheusClient, step: timedelta = BUCKET) -> None:
        self.client, self.step = client, step

    @property
    def label(self) -> str:
        return self.client.config.url

    def read_days(self, slo: Slo, days: Sequence[date],
                  as_of: datetime | None) -> list[DayTable]:
        return read_days(self.client, slo, days, self.step, as_of)


class _JudgedSource:
    """A data-pipeline SLI: judged from runs or rows up to the as-of minute (a run whose
    deadline is still ahead is not missing yet)."""

    def __init__(self, airflow_for: AirflowFor) -> None:
        self.airflow_for = airflow_for

    def read_days(self, slo: Slo, days: Sequence[date],
                  as_of: datetime | None) -> list[DayTable]:
        return record.read_days(slo, days, self.airflow_for, as_of)


class AirflowRunsSource(_JudgedSource):
    label = "the Airflow API"


class TableSource(_JudgedSource):
    label = "a table"


def _airflow_from_env(conn_id: str | None) -> AirflowConfig:
    return AirflowConfig.from_env()


class Sources:
    """Each SLO's source, resolved lazily; close (or use as a context manager) when done."""

    def __init__(self, prometheus_for: PrometheusFor, airflow_for: AirflowFor | None = None,
                 step: timedelta = BUCKET) -> None:
        self.prometheus_for = prometheus_for
        self.airflow_for = airflow_for or _airflow_from_env
        self.step = step
        self._clients: dict[str | None, PrometheusSource] = {}

    @classmethod
    def from_env(cls, prometheus_url: str | None = None,
                 airflow_for: AirflowFor | None = None) -> Sources:
        """The CLI's sources: ``prometheus_url`` or ``SLO_JOBS_PROMETHEUS_URL`` for every
        Prometheus SLO, the Airflow API from ``SLO_JOBS_AIRFLOW_URL``."""
        return cls(lambda _conn: PrometheusConfig.from_env(prometheus_url), airflow_for)

    def for_slo(self, slo: Slo) -> SliSource:
        src = slo.pipeline
        if src is not None:
            if src.table is None:
                return AirflowRunsSource(self.airflow_for)
            return TableSource(self.airflow_for)
        conn = slo.labels.get(CONNECTION_LABEL) or None
        if conn not in self._clients:
            client = PrometheusClient(self.prometheus_for(conn))
            self._clients[conn] = PrometheusSource(client, self.step)
        return self._clients[conn]

    @staticmethod
    def reading() -> AbstractContextManager[None]:
        """The setting reads run under: fewer garbage collections while answers are
        decoded (``extract/collector.py``)."""
        return fewer_collections()

    def label(self, slos: Sequence[Slo]) -> str:
        """The report's source line: each Prometheus URL, and the pipeline sources."""
        found = sorted({self.for_slo(s).label for s in slos if s.pipeline is None})
        if any(s.pipeline is not None for s in slos):
            found.append(PIPELINE_LABEL)
        return "; ".join(found) or "no SLOs"

    def close(self) -> None:
        for src in self._clients.values():
            src.client.close()
        self._clients.clear()

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
