"""TLS: the real Prometheus serves https only and demands a client certificate.

A throwaway CA signs the server and the client certificate; Prometheus gets them through
``--web.config.file``. With the CA bundle and the client certificate (from the environment or
an Airflow Connection's extra) the extraction equals the plain-http one byte for byte; without
either, it fails at once in one line naming the URL and what is missing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo import prom
from slo_jobs import spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from tests.conftest import ROOT
from tests.faults.conftest import DAY, fast
from tests.faults.tlsutil import Pki, make_pki, web_config


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https_url(pki: Pki, demo_tsdb: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus of its own over a copy of the demo history, reachable only over mTLS."""
    data = tmp_path_factory.mktemp("tls-prometheus") / "tsdb"
    shutil.copytree(demo_tsdb, data)

    def ready(port: int) -> bool:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        answer = httpx.get(f"https://127.0.0.1:{port}/-/ready", verify=ctx, timeout=1)
        return answer.status_code == 200

    port = prom.free_port()
    proc = prom.start(data, port, data.parent / "prometheus.log", ready=ready,
                      extra=[f"--web.config.file={web_config(pki, data.parent / 'web.yml')}"])
    yield f"https://127.0.0.1:{port}"
    prom.stop(proc)


def _env(url: str, pki: Pki) -> dict[str, str]:
    return {"SLO_JOBS_PROMETHEUS_URL": url, "SLO_JOBS_PROMETHEUS_CA_BUNDLE": str(pki.ca),
            "SLO_JOBS_PROMETHEUS_CLIENT_CERT": str(pki.client_cert),
            "SLO_JOBS_PROMETHEUS_CLIENT_KEY": str(pki.client_key)}


def _from(source: str, url: str, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> PrometheusConfig:
    if source == "environment":
        for key, value in _env(url, pki).items():
            monkeypatch.setenv(key, value)
        return PrometheusConfig.from_env()
    host, port = url.removeprefix("https://").rsplit(":", 1)
    return PrometheusConfig.from_connection(
        "https", host, int(port), None, None, None,
        {"ca_bundle": str(pki.ca), "client_cert": str(pki.client_cert),
         "client_key": str(pki.client_key)})


@pytest.mark.parametrize("source", ["environment", "connection"])
def test_mtls_extraction_equals_plain_http(source: str, https_url: str, pki: Pki,
                                           slo: spec.Slo, reference: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = _from(source, https_url, pki, monkeypatch)
    assert config.url == https_url and config.ca_bundle == str(pki.ca)
    with PrometheusClient(config) as client:
        result = extract_slo(client, slo, [DAY], tmp_path)[0]
    assert result.rows == 1440
    assert result.path.read_bytes() == reference.read_bytes()  # the plain-http partition


def _refused(config: PrometheusConfig, slo: spec.Slo, lake: Path) -> str:
    with PrometheusClient(config) as client, pytest.raises(ExtractError) as err:
        extract_slo(client, slo, [DAY], lake)
    assert not list(lake.rglob("*.parquet"))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"SLO {slo.name}, {DAY}: Prometheus at "
                                                      f"{config.url}: TLS ")
    return message


def test_without_the_ca_bundle_fails_in_one_line(https_url: str, pki: Pki, slo: spec.Slo,
                                                 tmp_path: Path) -> None:
    config = _fast(https_url, client_cert=str(pki.client_cert), client_key=str(pki.client_key))
    message = _refused(config, slo, tmp_path)
    assert "server certificate not trusted" in message and "CA_BUNDLE" in message
    assert "failed after" not in message  # configuration, not a passing fault: no retries


@pytest.mark.parametrize("client", ["none", "foreign"])
def test_without_an_accepted_client_certificate_fails_in_one_line(
        client: str, https_url: str, pki: Pki, slo: spec.Slo, tmp_path: Path) -> None:
    creds: dict[str, str] = {}
    if client == "foreign":  # a certificate from another CA
        other = make_pki(tmp_path / "other")
        creds = {"client_cert": str(other.client_cert), "client_key": str(other.client_key)}
    message = _refused(_fast(https_url, ca_bundle=str(pki.ca), **creds), slo, tmp_path)
    assert "handshake refused by the server" in message and "CLIENT_CERT" in message
    sent = creds.get("client_cert", "no client certificate")
    assert sent in message and "failed after" not in message


def test_cli_without_the_ca_bundle_says_one_line(https_url: str, pki: Pki,
                                                 tmp_path: Path) -> None:
    env = {**os.environ, **_env(https_url, pki)}
    del env["SLO_JOBS_PROMETHEUS_CA_BUNDLE"]
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "extract", "--month", "2026-09",
                           "--slos", str(ROOT / "slos" / "checkout.yaml"),
                           "--lake", str(tmp_path / "lake")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and https_url in lines[0] and "not trusted" in lines[0], lines
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("*.parquet"))


def _fast(url: str, **tls: str) -> PrometheusConfig:
    """Fast retries (a wrongly retried TLS refusal would still end quickly) plus TLS files."""
    return dataclasses.replace(fast(url), **tls)
