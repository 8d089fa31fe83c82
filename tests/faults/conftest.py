"""Fixtures of the fault tests: one demo SLO, a reference extraction, fast retry settings."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo import prom
from slo_jobs import spec
from slo_jobs.core import periods
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.spec import catalog
from tests.conftest import ROOT

SEP = periods.month("2026-09")
DAY = SEP.days[0]
# Retries that take milliseconds, so a test of the retry path stays fast.
FAST: dict[str, float] = {"attempts": 3, "backoff_s": 0.01, "backoff_max_s": 0.05,
                          "timeout_s": 5.0, "max_retry_s": 20.0}


def fast(url: str, **overrides: float) -> PrometheusConfig:
    return PrometheusConfig(url, **{**FAST, **overrides})  # type: ignore[arg-type]


StartProm = Callable[..., tuple[str, "subprocess.Popen[bytes]"]]


@pytest.fixture(scope="session")
def slo() -> spec.Slo:
    """checkout-availability: a ratio of two counter selectors."""
    return catalog.load([ROOT / "slos"])[0]


@pytest.fixture(scope="session")
def reference(prometheus: str, slo: spec.Slo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The partition of DAY extracted straight from Prometheus, no fault in between."""
    lake = tmp_path_factory.mktemp("reference")
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        return extract_slo(client, slo, [DAY], lake)[0].path


def no_parquet(lake: Path) -> bool:
    return not any(p for p in lake.rglob("*") if p.is_file() and "parquet" in p.name)


@pytest.fixture()
def private_prometheus(demo_tsdb: Path, tmp_path: Path) -> Iterator[StartProm]:
    """Start a Prometheus of its own over a copy of the demo history (it may be killed)."""
    procs: list[subprocess.Popen[bytes]] = []
    data = tmp_path / "prom" / "tsdb"
    shutil.copytree(demo_tsdb, data)

    def start(*args: str, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
        port = port or prom.free_port()
        proc = prom.start(data, port, extra=list(args))
        procs.append(proc)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in procs:
        prom.stop(proc)
