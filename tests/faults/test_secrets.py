"""Security: credentials come from the environment or the Airflow Connection and leak nowhere.

The whole pipeline runs with a bearer token behind a server that demands it; then every line
it printed, every file it wrote (lake Parquet with its metadata, HTML, PDF, JSON, CSV) and the
error of a failing run are searched for the token: zero hits.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from slo_jobs import spec
from slo_jobs.errors import ExtractError
from slo_jobs.extract import PrometheusClient, PrometheusConfig, extract_slo
from tests.conftest import ROOT
from tests.faults.conftest import DAY
from tests.faults.faultserver import FORWARD, FaultServer, Reply


def test_whole_pipeline_with_a_token_leaks_it_nowhere(prometheus: str, tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(16)
    with FaultServer(prometheus, lambda n, p: Reply(503, b"warming up") if n == 1
                     else FORWARD) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09", "--slos",
             str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url", server.url,
             "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
            env={**os.environ, "SLO_JOBS_PROMETHEUS_TOKEN": token})
    assert proc.returncode == 0, proc.stderr
    # The token was really used, on every request.
    assert server.seen and all(s.headers.get("Authorization") == f"Bearer {token}"
                               for s in server.seen)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".parquet", ".html", ".pdf", ".json"} <= kinds, kinds
    assert token not in proc.stdout + proc.stderr
    for path in files:
        assert token.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("status", [401, 403, 422, 503])
def test_credentials_echoed_by_the_server_are_redacted(status: int, prometheus: str,
                                                       slo: spec.Slo, tmp_path: Path) -> None:
    token, password = "tok-" + secrets.token_hex(8), "pw-" + secrets.token_hex(8)

    def echo(n: int, _: dict[str, str]) -> Reply:
        # Echo what the client sent, decoded where it is basic auth.
        seen = server.seen[-1].headers.get("Authorization", "")
        if seen.startswith("Basic "):
            seen += " " + base64.b64decode(seen[6:]).decode()
        body = f'{{"status":"error","errorType":"auth","error":"bad {seen}"}}'
        return Reply(status, body.encode() if status == 422 else f"denied: {seen}".encode())

    for creds in ({"token": token}, {"username": "reader", "password": password}):
        with FaultServer(prometheus, echo) as server:
            cfg = PrometheusConfig(server.url, attempts=2, backoff_s=0.01, **creds)
            with PrometheusClient(cfg) as client, pytest.raises(ExtractError) as err:
                extract_slo(client, slo, [DAY], tmp_path)
        basic = base64.b64encode(f"reader:{password}".encode()).decode()
        message = str(err.value)
        assert token not in message and password not in message and basic not in message
        assert status == 503 or "***" in message  # the echo was there, and was redacted
        assert token not in repr(cfg) and password not in repr(cfg)
