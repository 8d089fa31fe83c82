"""Shared fixtures: the real test Prometheus, the generator's truth, a throwaway Airflow home."""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "demo"

# Airflow reads its home when first imported: point it at a throwaway folder before any test
# imports it, so tests never touch a developer's real Airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="slo-jobs-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("SLO_JOBS_PROMETHEUS_URL", None)
os.environ.pop("AIRFLOW_CONN_PROMETHEUS_DEFAULT", None)
if str(ROOT / "dags") not in sys.path:
    sys.path.insert(0, str(ROOT / "dags"))

from demo import prom  # noqa: E402
from slo_jobs.core import redaction  # noqa: E402
from tests import services  # noqa: E402

# The files that take minutes (a whole Airflow, every backend over a month of real scrapes,
# the daily then the monthly DAG), longest first: handed out first (scripts/test.sh keeps
# the collection order), they run beside the rest of the suite instead of after it.
SLOW_FIRST = ("test_airflow_celery.py", "test_extract_real.py", "test_airflow_backfill.py",
              "test_lake_record.py", "test_delivery.py", "test_lake_object_store.py",
              "test_dag_e2e.py", "test_dag_extract.py", "test_doc_commands.py", "test_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest as found


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    """A secret a test's configuration registered is masked for the rest of the process, as
    in a task; here the next test is another process's work (a throwaway password holding
    "pipeline" would otherwise mask that word in every later test's output)."""
    known = set(redaction._registered)
    yield
    redaction._registered.clear()
    redaction._registered.update(known)


@pytest.fixture(autouse=True, scope="module")
def _forget_module_secrets() -> Iterator[None]:
    """The same for what a module's shared fixture registered (an object store's test key
    holding "slo-jobs" would mask the product's name in every later module's reports)."""
    known = set(redaction._registered)
    yield
    redaction._registered.clear()
    redaction._registered.update(known)

Counts = Callable[[pd.DataFrame], tuple[int, int]]


def expected_quantile(q: float, hist: dict[float, float]) -> float:
    """histogram_quantile's rule (docs/slo-math.md), written apart from slo_jobs': counts
    made monotonic, the first bucket reaching the rank, linear in it from the bound below
    (0 below the lowest, unless that bound is <= 0), the highest finite bound for +Inf."""
    bounds = np.array(sorted(hist))
    counts = np.maximum.accumulate(np.array([hist[b] for b in bounds], dtype=float))
    if len(bounds) < 2 or bounds[-1] != math.inf or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    i = int(np.searchsorted(counts[:-1], rank, side="left"))
    if i == len(bounds) - 1:
        return float(bounds[-2])
    if i == 0 and bounds[0] <= 0:
        return float(bounds[0])
    lower = bounds[i - 1] if i else 0.0
    below = counts[i - 1] if i else 0.0
    return float(lower + (bounds[i] - lower) * (rank - below) / (counts[i] - below))


def _events(good: Callable[[pd.DataFrame], pd.Series],
            total: Callable[[pd.DataFrame], pd.Series] = lambda t: t.requests) -> Counts:
    return lambda t: (int(good(t).sum()), int(total(t).sum()))


def _slices(width: str, good: Callable[[pd.DataFrame], bool]) -> Counts:
    """Time slices of ``width``: (good slices, slices), each judged on its minutes' rows."""
    def counts(t: pd.DataFrame) -> tuple[int, int]:
        groups = [g for _, g in t.groupby(t.ts.dt.floor(width))]
        return sum(bool(good(g)) for g in groups), len(groups)
    return counts


def _p95_within(threshold: float) -> Callable[[pd.DataFrame], bool]:
    bounds = {0.1: "le_0_1", 0.3: "le_0_3", 1.0: "le_1", math.inf: "requests"}
    return lambda g: expected_quantile(
        0.95, {b: float(g[c].sum()) for b, c in bounds.items()}) <= threshold


# The truth of each demo SLO, from the generator's per-minute counts: (service, its exact
# (good, total) over the service's truth rows of a span). The service "enricher" reads
# streaming.parquet (demo/extras.py), every other service truth.parquet.
TRUTH: dict[str, tuple[str, Counts]] = {
    "checkout-availability": ("checkout", _events(lambda t: t.requests - t.errors)),
    "checkout-latency": ("checkout", _events(lambda t: t.le_0_3)),
    "search-availability": ("search", _events(lambda t: t.requests - t.errors)),
    "search-latency": ("search", _events(lambda t: t.le_0_1)),
    "frontend-availability": ("frontend", _events(lambda t: t.requests - t.errors)),
    "frontend-latency": ("frontend", _events(lambda t: t.le_1)),
    "checkout-errors": ("checkout", _events(lambda t: t.requests - t.errors)),
    "checkout-latency-p95": ("checkout", _slices("5min", _p95_within(0.3))),
    "frontend-latency-tiers-typical": ("frontend", _events(lambda t: t.le_0_3)),
    "frontend-latency-tiers-slowest": ("frontend", _events(lambda t: t.le_1)),
    # every search request gets a response: the responses are its requests
    "search-quality": ("search", _events(lambda t: t.requests - t.degraded)),
    # the worst partition's lag at each minute's end, at most 1000
    "enricher-consumer-lag": ("enricher", _events(
        lambda t: t[["lag_0", "lag_1", "lag_2"]].max(axis=1) <= 1000,
        lambda t: pd.Series(1, index=t.index))),
    "enricher-event-latency": ("enricher", _events(lambda t: t.le_5, lambda t: t.events)),
    # 50 events a second over the 5 minutes before every minute's end of the slice
    "enricher-throughput": ("enricher", _slices("5min", lambda g: (g.events_5m >= 15000).all())),
}


@pytest.fixture(scope="session")
def demo_tsdb() -> Path:
    return prom.build(CACHE)


@pytest.fixture(scope="session")
def prometheus(demo_tsdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus on loopback serving a private copy of the demo history."""
    data = tmp_path_factory.mktemp("prometheus") / "tsdb"
    shutil.copytree(demo_tsdb, data)
    port = prom.free_port()
    proc = prom.start(data, port, data.parent / "prometheus.log")
    yield f"http://127.0.0.1:{port}"
    prom.stop(proc)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback: its endpoint URL."""
    from tests.s3server import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def bucket(s3: str, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket of the test server for one test."""
    from tests.s3server import client

    name = "lake-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    client(s3).create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


DEMO_SLOS = len(TRUTH) + 4  # the Prometheus SLOs and the project's four pipeline SLOs


def service_slos() -> list[Any]:
    """The demo's SLOs read from Prometheus (slos/ without the pipeline SLOs)."""
    from slo_jobs.spec import catalog

    return [s for s in catalog.load([ROOT / "slos"]) if s.pipeline is None]


def api_with_overrides(folder: Path) -> Any:
    """tests/fixtures/rules/api.yaml with two alerting.burnRates overrides: a page over
    4 h / 20 m at factor 10 and a ticket over 1 d / 2 h spending 5 % of the budget."""
    from slo_jobs.spec import catalog


    text = (ROOT / "tests" / "fixtures" / "rules" / "api.yaml").read_text().replace(
        "  window: {rolling: 28d}",
        "  window: {rolling: 28d}\n  alerting:\n    burnRates:\n"
        "      - {severity: page, longWindow: 4h, shortWindow: 20m, factor: 10}\n"
        "      - {severity: ticket, longWindow: 1d, shortWindow: 2h, budgetConsumed: 0.05}")
    path = folder / "override.yaml"
    path.write_text(text)
    return catalog.load([path])[0]


@pytest.fixture(scope="session")
def truth(demo_tsdb: Path) -> pd.DataFrame:
    return pd.read_parquet(CACHE / "truth.parquet")


# What the lake's minute rows add up to where that is not the SLO's (good, total): a
# percentile objective keeps each minute's events, the throughput floor each minute's verdict.
MINUTE_ROWS: dict[str, tuple[str, Counts]] = {
    "checkout-latency-p95": ("checkout", _events(lambda t: t.le_0_3)),
    "enricher-throughput": ("enricher", _events(lambda t: t.events_5m >= 15000,
                                                lambda t: pd.Series(1, index=t.index))),
}


@functools.cache
def streaming_truth() -> pd.DataFrame:
    """The demo's streaming service, minute by minute (demo/extras.py)."""
    return pd.read_parquet(CACHE / "streaming.parquet")


def _over(truth: pd.DataFrame, rule: tuple[str, Counts], start: str, end: str
          ) -> tuple[int, int]:
    service, counts = rule
    t = streaming_truth() if service == "enricher" else truth[truth.service == service]
    return counts(t[(t.ts >= start) & (t.ts < end)])


def true_counts(truth: pd.DataFrame, slo: str, start: str, end: str) -> tuple[int, int]:
    """Exact (good, total) of a demo SLO over [start, end)."""
    return _over(truth, TRUTH[slo], start, end)


def true_minutes(truth: pd.DataFrame, slo: str, start: str, end: str) -> tuple[int, int]:
    """The sums of a demo SLO's minute rows in the lake over [start, end)."""
    return _over(truth, MINUTE_ROWS.get(slo, TRUTH[slo]), start, end)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the throwaway Airflow metadata database once per session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def metadata_db() -> Iterator[services.Postgres]:
    """A PostgreSQL ``airflow`` database of its own, for a test that runs a real scheduler:
    it takes concurrent writers (the scheduler, the API server, task processes and the CLI),
    where SQLite fails one of them with "database is locked" on a busy machine."""
    pg = services.start_postgres(prom.free_port())
    yield pg
    services.stop_postgres(pg)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def september_lake(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every demo SLO's September 2026 plus its 3-day burn-rate lookback, extracted once."""
    from slo_jobs.core import periods
    from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
    from slo_jobs.spec import catalog

    lake = tmp_path_factory.mktemp("september-lake")
    days = periods.month("2026-08").days[-3:] + periods.month("2026-09").days
    from slo_jobs.run.runner import extract_days
    from slo_jobs.run.sources import Sources

    slos = catalog.load([ROOT / "slos"])
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        for s in slos:
            if s.pipeline is None:
                extract_slo(client, s, days, lake)
    # The project's own pipelines read their exported run and load history.
    extract_days(Sources.from_env(airflow_for=_no_airflow),
                 [s for s in slos if s.pipeline is not None], days, lake)
    return lake


def _no_airflow(conn_id: str | None) -> Any:
    raise AssertionError("the demo pipelines read exported files, not the Airflow API")
