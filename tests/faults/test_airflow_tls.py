"""The Airflow REST client on the request core Prometheus uses: TLS with the endpoint's CA
bundle and client certificate, the same retries and the same whole-request deadline.

The server is a real https server (Python's ssl) that requires a client certificate from a
throwaway CA and answers as the Airflow REST API v2 pages (``tests/faults/airflowapi.py``).
The runs it holds are generated here at odd minutes and in several zones; what the client
reads must equal the generated runs whose logical date lies in the asked range.
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from slo_jobs.core.errors import ExtractError, SloJobsError
from slo_jobs.sources.endpoint import AirflowConfig
from slo_jobs.sources.pipelines.judge import US
from slo_jobs.sources.pipelines.readers import AirflowClient, micros
from tests.conftest import ROOT
from tests.faults.airflowapi import AirflowApi
from tests.faults.conftest import FAST
from tests.faults.tlsutil import Pki, make_pki

PASSWORD = "airflow-tls-pw-0815"  # noqa: S105 - a throwaway test credential
DAG = "orders.etl-v2"
AFTER = datetime(2026, 3, 7, 23, 13, tzinfo=UTC)
UNTIL = datetime(2026, 3, 19, 4, 47, tzinfo=UTC)
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))]


def _generated() -> list[dict[str, Any]]:
    """300 runs of hour-long intervals ending at odd minutes from before AFTER to after UNTIL,
    logical date = interval start (as Airflow's), ids shuffled against time."""
    rng = random.Random(26)
    out = []
    t = AFTER - timedelta(hours=20, minutes=29)
    ids = rng.sample(range(1, 10_000), 300)
    for i in range(300):
        t += timedelta(minutes=rng.choice([47, 61, 73, 59]))
        zone = ZONES[i % len(ZONES)]
        start = t + timedelta(minutes=3, seconds=rng.randrange(60))
        end = start + timedelta(minutes=rng.randrange(1, 200))
        out.append({"id": ids[i], "dag_run_id": f"scheduled__{i}",
                    "logical_date": (t - timedelta(hours=1)).astimezone(zone).isoformat(),
                    "data_interval_start": (t - timedelta(hours=1)).astimezone(zone).isoformat(),
                    "data_interval_end": t.astimezone(zone).isoformat(),
                    "start_date": start.isoformat().replace("+00:00", "Z"),
                    "end_date": None if i % 17 == 0 else end.isoformat(),
                    "state": "running" if i % 17 == 0 else rng.choice(["success", "failed"])})
    return out


RUNS = _generated()


def _truth() -> list[tuple[str, int, int | None, str]]:
    """(run id, interval end, end, state) of the runs in (AFTER, UNTIL], by the API's id."""
    def us(text: str | None) -> int | None:
        if text is None:
            return None
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return int((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * US + t.microsecond

    inside = [r for r in RUNS
              if AFTER < datetime.fromisoformat(r["logical_date"]) <= UNTIL]
    return [(r["dag_run_id"], us(r["data_interval_end"]) or 0, us(r["end_date"]), r["state"])
            for r in sorted(inside, key=lambda r: r["id"])]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _read(config: AirflowConfig) -> list[tuple[str, int, int | None, str]]:
    with AirflowClient(config) as client:
        runs = client.runs(DAG, micros(AFTER), micros(UNTIL))
    return [(r.run_id, r.interval_end or 0, r.end, r.state) for r in runs]


def _config(url: str, **over: Any) -> AirflowConfig:
    return AirflowConfig(url, username="admin", password=PASSWORD, **{**FAST, **over})


@pytest.mark.parametrize("source", ["environment", "connection"])
def test_runs_over_mtls_equal_the_generated_runs(source: str, pki: Pki,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with AirflowApi({DAG: RUNS}, PASSWORD, pki) as api:
        if source == "environment":
            for key, value in {"URL": api.url, "USERNAME": "admin", "PASSWORD": PASSWORD,
                               "CA_BUNDLE": pki.ca, "CLIENT_CERT": pki.client_cert,
                               "CLIENT_KEY": pki.client_key}.items():
                monkeypatch.setenv(f"SLO_JOBS_AIRFLOW_{key}", str(value))
            config = AirflowConfig.from_env()
        else:
            port = int(api.url.rsplit(":", 1)[1])
            config = AirflowConfig.from_connection(
                "https", "127.0.0.1", port, None, "admin", PASSWORD,
                {"ca_bundle": str(pki.ca), "client_cert": str(pki.client_cert),
                 "client_key": str(pki.client_key)}, conn_id="airflow_api")
        truth = _truth()
        assert len(truth) > 200  # three pages of 100
        assert _read(config) == truth
        # One login, then the pages; every request carried the client certificate.
        assert [(r.method, r.path.split("?")[0]) for r in api.seen] == \
            [("POST", "/auth/token")] + [("GET", f"/api/v2/dags/{DAG}/dagRuns")] * 3
        assert {r.peer_cn for r in api.seen} == {"slo-jobs"}


def _refused(config: AirflowConfig) -> str:
    with pytest.raises(ExtractError) as err:
        _read(config)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"Airflow API at {config.url}: TLS ")
    assert "failed after" not in message  # configuration, not a passing fault: no retries
    assert PASSWORD not in message
    return message


def test_without_the_ca_bundle_fails_in_one_line(pki: Pki) -> None:
    with AirflowApi({DAG: RUNS}, PASSWORD, pki) as api:
        message = _refused(_config(api.url, client_cert=str(pki.client_cert),
                                   client_key=str(pki.client_key)))
    assert "server certificate not trusted" in message
    assert "SLO_JOBS_AIRFLOW_CA_BUNDLE" in message


@pytest.mark.parametrize("client", ["none", "foreign"])
def test_without_an_accepted_client_certificate_fails_in_one_line(
        client: str, pki: Pki, tmp_path: Path) -> None:
    creds: dict[str, str] = {}
    if client == "foreign":  # a certificate from another CA
        other = make_pki(tmp_path / "other")
        creds = {"client_cert": str(other.client_cert), "client_key": str(other.client_key)}
    with AirflowApi({DAG: RUNS}, PASSWORD, pki) as api:
        message = _refused(_config(api.url, ca_bundle=str(pki.ca), **creds))
        assert api.seen == []  # nothing was answered, the password never sent
    assert "handshake refused by the server" in message
    assert "SLO_JOBS_AIRFLOW_CLIENT_CERT" in message
    assert creds.get("client_cert", "no client certificate") in message


def test_transient_503s_are_retried_to_the_same_runs(pki: Pki) -> None:
    # The login and the second page each answered 503 twice, then served.
    with AirflowApi({DAG: RUNS}, PASSWORD, pki, lambda n: 503 if n in (1, 2, 5, 6) else None
                    ) as api:
        assert _read(_config(api.url, ca_bundle=str(pki.ca), client_cert=str(pki.client_cert),
                             client_key=str(pki.client_key))) == _truth()
        assert len(api.seen) == 1 + 2 + 3 + 2


def test_a_lasting_503_fails_after_the_attempts_in_one_line(pki: Pki) -> None:
    config = _config("", ca_bundle=str(pki.ca), client_cert=str(pki.client_cert),
                     client_key=str(pki.client_key), attempts=3)
    with AirflowApi({DAG: RUNS}, PASSWORD, pki, lambda n: 503 if n > 1 else None) as api:
        with pytest.raises(SloJobsError) as err:
            _read(dataclasses.replace(config, url=api.url))
        assert len(api.seen) == 1 + 3
    message = str(err.value)
    assert message.startswith(f"Airflow API at {api.url} failed after 3 attempts: HTTP 503 ")
    assert message.endswith(f"GET /api/v2/dags/{DAG}/dagRuns)") and "\n" not in message


def test_a_kept_alive_connection_dripping_headers_is_cut_at_the_deadline(pki: Pki) -> None:
    """The first page is answered; the second page's headers then drip a byte every 0.05 s
    on the same connection, each byte well inside the 1 s timeout, for a minute."""
    with AirflowApi({DAG: RUNS}, PASSWORD, pki, lambda n: "drip" if n > 2 else None) as api:
        with pytest.raises(ExtractError) as err:
            _read(_config(api.url, ca_bundle=str(pki.ca), client_cert=str(pki.client_cert),
                          client_key=str(pki.client_key), timeout_s=1.0, max_retry_s=2.0,
                          attempts=100))
        assert api.seen[2].client == api.seen[1].client  # the kept-alive connection
        # Every dripped answer was cut long before its headers ended.
        assert api.dripped and all(n < 1200 for n in api.dripped), api.dripped
    assert "no complete answer within 1 s" in str(err.value)


def test_a_truncated_answer_is_retried_to_the_same_runs(pki: Pki) -> None:
    cut = b'{"dag_runs": [{"id": 1, "dag_run_id": "a"'
    with AirflowApi({DAG: RUNS}, PASSWORD, pki, lambda n: cut if n in (3, 4) else None) as api:
        assert _read(_config(api.url, ca_bundle=str(pki.ca), client_cert=str(pki.client_cert),
                             client_key=str(pki.client_key))) == _truth()
        assert len(api.seen) == 1 + 3 + 2


@pytest.mark.parametrize(("body", "said"), [
    (b'{"dag_runs": [{"dag_run_id": "a", "data_interval_end": "not a time"}]}', "isoformat"),
    (b'{"dag_runs": [{"dag_run_id": "a", "start_date": 5}], "total_entries": 1}', "'5'"),
    (b'{"dag_runs": [], "total_entries": "many"}', "many"),
    (b'{"dag_runs": 7}', "no dag_runs list"), (b'{"dag_runs": ["x"]}', "str"),
    (b"[1, 2]", "dagRuns: a JSON list; expected an object"),
    (b"<html>proxy error</html>", "failed after 2 attempts: HTTP 200 with a body that is not "
                                  "JSON")])
def test_a_malformed_answer_is_one_line(body: bytes, said: str) -> None:
    with AirflowApi({DAG: RUNS}, PASSWORD, None, lambda n: body if n > 1 else None) as api:
        with pytest.raises(SloJobsError) as err:
            _read(_config(api.url, attempts=2))
    message = str(err.value)
    assert message.startswith("Airflow API ") and api.url in message and "\n" not in message
    assert said in message and PASSWORD not in message


WITHIN = timedelta(hours=2)
COMPLETION = f"""apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: orders-etl-completion}}
spec:
  service: orders-etl
  indicator:
    completion: {{dag: {DAG}, within: 2h}}
  objective: {{target: 0.9}}
"""


def test_cli_extract_judges_the_runs_read_over_mtls(pki: Pki, tmp_path: Path) -> None:
    """``slo-jobs extract`` with the Airflow API's settings from the environment: every run
    is judged once, good iff it succeeded by its interval's end plus ``within``."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "etl.yaml").write_text(COMPLETION)
    good = sum(1 for r in RUNS if r["state"] == "success"
               and datetime.fromisoformat(r["end_date"])
               <= datetime.fromisoformat(r["data_interval_end"]) + WITHIN)
    with AirflowApi({DAG: RUNS}, PASSWORD, pki) as api:
        env = {**os.environ, "SLO_JOBS_AIRFLOW_URL": api.url, "SLO_JOBS_AIRFLOW_USERNAME": "admin",
               "SLO_JOBS_AIRFLOW_PASSWORD": PASSWORD, "SLO_JOBS_AIRFLOW_CA_BUNDLE": str(pki.ca),
               "SLO_JOBS_AIRFLOW_CLIENT_CERT": str(pki.client_cert),
               "SLO_JOBS_AIRFLOW_CLIENT_KEY": str(pki.client_key)}
        proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "extract", "--month",
                               "2026-03", "--slos", str(tmp_path / "slos"), "--lake",
                               str(tmp_path / "lake")], capture_output=True, text=True,
                              timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert {r.peer_cn for r in api.seen} == {"slo-jobs"}
    runs = [row for p in sorted((tmp_path / "lake" / "pipeline_runs").rglob("*.parquet"))
            for row in pq.read_table(p).to_pylist()]
    assert sorted(r["run_id"] for r in runs) == sorted(r["dag_run_id"] for r in RUNS)
    assert sum(r["good"] for r in runs) == good
    sli = [pq.read_table(p).to_pydict() for p in (tmp_path / "lake" / "sli").rglob("*.parquet")]
    assert (sum(sum(t["good"]) for t in sli), sum(sum(t["total"]) for t in sli)) == \
        (good, len(RUNS))
