"""Fault 1: Prometheus down or flaky: retries, one-line errors, and a lake left as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.prom import free_port
from slo_jobs import spec
from slo_jobs.core import periods
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.spec import catalog
from tests.conftest import ROOT
from tests.faults.faultserver import FORWARD, FaultServer, Reply
from tests.test_extract_integration import lake_digest

SEP = periods.month("2026-09")
FAST = {"attempts": 3, "backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}


def flaky(upstream: str, failures: int, status: int = 503) -> FaultServer:
    """The real Prometheus behind a proxy that fails the first ``failures`` requests."""
    return FaultServer(upstream, lambda n, params: Reply(status, body=b"unavailable")
                       if n <= failures else FORWARD)


@pytest.fixture()
def slo() -> spec.Slo:
    return catalog.load([ROOT / "slos"])[0]


@pytest.fixture()
def populated_lake(prometheus: str, slo: spec.Slo, tmp_path: Path) -> Iterator[Path]:
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        extract_slo(client, slo, SEP.days[:2], tmp_path)
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_prometheus_down_fails_naming_url_and_leaves_lake(populated_lake: Path,
                                                         slo: spec.Slo) -> None:
    before = lake_digest(populated_lake)
    url = f"http://127.0.0.1:{free_port()}"
    with PrometheusClient(PrometheusConfig(url, **FAST)) as client:  # type: ignore[arg-type]
        with pytest.raises(ExtractError) as err:
            extract_slo(client, slo, SEP.days, populated_lake)
    message = str(err.value)
    assert url in message and "after 3 attempts" in message and "\n" not in message
    assert lake_digest(populated_lake) == before


def test_failure_midway_writes_nothing(prometheus: str, populated_lake: Path,
                                       slo: spec.Slo) -> None:
    # The first 6 requests (3 days) succeed, then the connection is refused for good.
    before = lake_digest(populated_lake)
    calls = 0
    with PrometheusClient(PrometheusConfig(prometheus, **FAST)) as client:  # type: ignore[arg-type]
        original = client._http._http.send  # the httpx client under the request core

        def send(request: httpx.Request, **kw: Any) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls > 6:
                raise httpx.ConnectError("refused")
            return original(request, **kw)

        client._http._http.send = send  # type: ignore[method-assign]
        with pytest.raises(ExtractError):
            extract_slo(client, slo, SEP.days, populated_lake)
    assert calls == 6 + 3
    assert lake_digest(populated_lake) == before


def test_transient_503_is_retried(prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    with flaky(prometheus, failures=2) as proxy, \
            PrometheusClient(PrometheusConfig(proxy.url, **FAST)) as client:  # type: ignore[arg-type]
        results = extract_slo(client, slo, SEP.days[:1], tmp_path)
    assert results[0].rows == 1440
    assert len(proxy.seen) == 4  # two failures, then the good and the total query


def test_persistent_503_gives_one_line(prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    with flaky(prometheus, failures=100, status=503) as proxy, \
            PrometheusClient(PrometheusConfig(proxy.url, **FAST)) as client:  # type: ignore[arg-type]
        with pytest.raises(ExtractError, match=r"failed after 3 attempts: HTTP 503"):
            extract_slo(client, slo, SEP.days[:1], tmp_path)
    assert not any(tmp_path.rglob("*.parquet"))


def test_cli_prometheus_down_one_line_no_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09",
         # The Prometheus SLOs only: pipeline SLOs are judged from sources of their own.
         *[a for f in ("checkout", "search", "frontend") for a in
           ("--slos", str(ROOT / "slos" / f"{f}.yaml"))],
         "--prometheus-url", url, "--lake", str(tmp_path / "lake"),
         "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("*.parquet"))
