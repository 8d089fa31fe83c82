"""Fault 1: the real Prometheus is killed (SIGKILL) in the middle of a several-day extraction.

The kill is deterministic: the client's transport kills the process right after the first
raw-sample answer (a remote read, after the one that probed the read path) has been read, and
waits until it is gone, so every later request of
the same extraction meets a closed port. After a restart on the same data folder and port,
the re-run leaves the lake byte for byte as an uninterrupted run into another folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from slo_jobs import lake, spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from tests.faults.conftest import DAY, SEP, StartProm, fast
from tests.test_extract_integration import lake_digest

DAYS = SEP.days[:4]


class KillAfterFirstAnswer(httpx.BaseTransport):
    """Pass requests to Prometheus; SIGKILL it once the first raw-sample answer has been read
    in full (the client's first remote read is its probe of the read path)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.inner = httpx.HTTPTransport()
        self.proc = proc
        self.answered = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path.endswith("/read") and response.status_code == 200:
            self.answered += 1
            if self.answered == 2:
                self.proc.kill()
                self.proc.wait()  # gone, its port closed: no later request can race it
        return response

    def close(self) -> None:
        self.inner.close()


def _rows(lake_dir: Path) -> dict[str, list[dict[str, object]]]:
    return {str(p.relative_to(lake_dir)): pq.read_table(p).to_pylist()
            for p in sorted(lake_dir.rglob("*.parquet"))}


def test_sigkill_mid_extraction_then_restart_and_rerun(
        private_prometheus: StartProm, prometheus: str, slo: spec.Slo, reference: Path,
        tmp_path: Path) -> None:
    url, proc = private_prometheus()
    port = int(url.rsplit(":", 1)[1])
    lake_dir = tmp_path / "lake"
    # One day already in the lake from an earlier run: it must survive the failed run as is.
    old = lake.sli_partition(lake_dir, slo.name, DAY)
    old.parent.mkdir(parents=True)
    shutil.copy(reference, old)
    before = lake_digest(lake_dir)

    transport = KillAfterFirstAnswer(proc)
    with PrometheusClient(fast(url), transport=transport) as client, \
            pytest.raises(ExtractError) as err:
        extract_slo(client, slo, DAYS, lake_dir)
    message = str(err.value)
    assert transport.answered == 2 and proc.returncode == -9  # killed genuinely mid-run
    assert "\n" not in message and url in message
    assert message.startswith(f"SLO {slo.name}, {DAYS[1]}: Prometheus at {url} failed after 3 "
                              "attempts: connection failed")
    assert lake_digest(lake_dir) == before  # no partition written, no temp file left
    assert not list(lake_dir.rglob(".tmp-*"))

    # Prometheus comes back on the same data and port: the re-run completes.
    url_again, _ = private_prometheus(port=port)
    assert url_again == url
    with PrometheusClient(PrometheusConfig(url)) as client:
        assert len(extract_slo(client, slo, DAYS, lake_dir)) == len(DAYS)
    clean = tmp_path / "clean"
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        extract_slo(client, slo, DAYS, clean)
    assert lake_digest(lake_dir) == lake_digest(clean)  # SHA-256 of every file
    assert _rows(lake_dir) == _rows(clean)
    assert len(_rows(clean)) == len(DAYS)
