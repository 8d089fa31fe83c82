"""Security of the HTTP requests: DAG ids that could walk the Airflow API's paths, names that
only look like loopback, credentials HTTP cannot carry, and a kept-alive connection that drips
the headers of its second answer.

Each case ends in one line naming what to fix (never a secret's value) and no ``unexpected``
error from the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slo_jobs import spec
from slo_jobs.core.errors import ExtractError, SloJobsError, SpecError
from slo_jobs.sources.endpoint import AirflowConfig, PrometheusConfig
from slo_jobs.sources.pipelines.readers import AirflowClient, micros
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo
from slo_jobs.spec import catalog
from tests.conftest import ROOT
from tests.faults.airflowapi import AirflowApi
from tests.faults.conftest import DAY, fast, no_parquet
from tests.faults.faultserver import FORWARD, FaultServer, Reply
from tests.faults.test_airflow_tls import AFTER, RUNS, UNTIL, _truth

PASSWORD = "http-sec-pw-4711"  # noqa: S105 - a throwaway test credential
COMPLETION = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: orders-etl-completion}
spec:
  service: orders-etl
  indicator:
    completion: {dag: DAG, within: 3h, expectEvery: 1h}
  objective: {target: 0.9}
"""


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, **(env or {})})


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


# --- DAG ids ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dag", ["..", ".", "../dagRuns", "a/b", "a%2Fb", "x" * 251, "etl\n",
                                 "etl?x=1", ""])
def test_dag_ids_outside_airflows_rule_are_refused_in_the_spec(dag: str, tmp_path: Path
                                                               ) -> None:
    path = tmp_path / "etl.yaml"
    path.write_text(COMPLETION.replace("DAG", repr(dag).replace("'", '"')))
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}:7: spec.indicator.completion.dag")
    assert "expected an Airflow DAG id" in message


def test_cli_validate_refuses_a_dot_dot_dag_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "etl.yaml"
    path.write_text(COMPLETION.replace("DAG", '".."'))
    line = _one_line(_cli("validate", str(path)))
    assert line.startswith(f"{path}:7: spec.indicator.completion.dag: '..'; expected")


@pytest.mark.parametrize("dag", ["..", ".", "a/b"])
def test_the_client_refuses_them_before_any_request(dag: str) -> None:
    with AirflowApi({dag: RUNS}, PASSWORD) as api, \
            AirflowClient(AirflowConfig(api.url, username="admin", password=PASSWORD)) as client:
        with pytest.raises(ExtractError) as err:
            client.runs(dag, micros(AFTER), micros(UNTIL))
        assert api.seen == []  # not even the login
    assert str(err.value).startswith(f"Airflow API {api.url}: DAG id {dag!r}: expected")


def test_a_dag_id_is_one_quoted_path_segment() -> None:
    # Airflow's \\w takes letters beyond ASCII: sent percent-encoded, as one segment.
    dag = "étl.v2"
    with AirflowApi({dag: RUNS}, PASSWORD) as api, \
            AirflowClient(AirflowConfig(api.url, username="admin", password=PASSWORD)) as client:
        runs = client.runs(dag, micros(AFTER), micros(UNTIL))
        paths = {r.path.split("?")[0] for r in api.seen if r.method == "GET"}
    assert paths == {"/api/v2/dags/%C3%A9tl.v2/dagRuns"}
    assert [r.run_id for r in runs] == [t[0] for t in _truth()]


# --- loopback -------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "warned"), [
    ("127.0.0.1.probe.invalid", True), ("127.example.invalid", True), ("localhost.invalid", True),
    ("127.0.0.1", False), ("127.3.2.1", False), ("[::1]", False), ("localhost", False),
    ("[::2]", True)])
def test_loopback_is_decided_by_the_address_not_a_prefix(
        host: str, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    # A URL of its own for each client: a warning comes once per URL.
    with caplog.at_level("WARNING"):
        PrometheusClient(PrometheusConfig(f"http://{host}:{9000 + len(host)}",
                                          token="loopback-token-123")).close()
        AirflowClient(AirflowConfig(f"http://{host}:{8000 + len(host)}",
                                    token="loopback-token-123")).__exit__()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == (2 if warned else 0), lines
    assert not warned or {m.split(" at ")[0] for m in lines} == \
        {"warning: Prometheus", "warning: Airflow API"}
    assert all("plain http" in m and "loopback-token" not in m for m in lines)


# --- credentials HTTP cannot carry ------------------------------------------------------------

BAD = {"trailing newline": ("s3cr3t-token-value\n", "ends with a line break"),
       "inner newline": ("s3cr3t\ntoken-value", "contains a line break"),
       "non-ASCII": ("s3cr3t-tökén-value", "contains a non-ASCII character"),
       "control": ("s3cr3t-\x7ftoken-value", "contains a control character")}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("variable", ["SLO_JOBS_PROMETHEUS_TOKEN", "SLO_JOBS_PROMETHEUS_PASSWORD",
                                      "SLO_JOBS_AIRFLOW_TOKEN", "SLO_JOBS_AIRFLOW_PASSWORD"])
def test_a_credential_http_cannot_carry_is_named_when_read(
        case: str, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value, problem = BAD[case]
    service = variable.split("_")[2]
    monkeypatch.setenv(f"SLO_JOBS_{service}_URL", "https://127.0.0.1:9")
    monkeypatch.setenv(f"SLO_JOBS_{service}_USERNAME", "admin")
    monkeypatch.setenv(variable, value)
    config = PrometheusConfig if service == "PROMETHEUS" else AirflowConfig
    with pytest.raises(ExtractError) as err:
        config.from_env()
    message = str(err.value)
    assert message.startswith(f"{variable}: {problem}; expected printable ASCII on one line")
    assert "\n" not in message and "s3cr3t" not in message


@pytest.mark.parametrize("field", ["password", "login", "extra token"])
def test_a_connection_field_http_cannot_carry_is_named(field: str) -> None:
    value = "s3cr3t-pässword"
    parts = {"password": (None, value, {}), "login": (value, "pw-123456", {}),
             "extra token": (None, None, {"token": value})}[field]
    with pytest.raises(ExtractError) as err:
        AirflowConfig.from_connection("https", "127.0.0.1", 8080, None, parts[0], parts[1],
                                      parts[2], conn_id="airflow_api")
    assert str(err.value).startswith(f"Airflow API connection 'airflow_api': {field}: "
                                     "contains a non-ASCII character")
    assert "s3cr3t" not in str(err.value)


def test_a_token_with_a_space_and_a_password_in_the_url_are_named() -> None:
    with pytest.raises(ExtractError, match=r"^Prometheus token: contains a space"):
        PrometheusConfig("http://127.0.0.1:9", token="two words-token")
    with pytest.raises(ExtractError, match=r"^Prometheus password: contains a line break"):
        PrometheusConfig("http://admin:pw%0Aline@127.0.0.1:9")


@pytest.mark.parametrize("value", ["s3cr3t-token-value\n", "s3cr3t-tökén-value"])
def test_cli_names_the_variable_in_one_line(value: str, tmp_path: Path) -> None:
    proc = _cli("extract", "--month", "2026-09", "--slos", str(ROOT / "slos" / "checkout.yaml"),
                "--lake", str(tmp_path / "lake"),
                env={"SLO_JOBS_PROMETHEUS_URL": "http://127.0.0.1:9",
                     "SLO_JOBS_PROMETHEUS_TOKEN": value})
    line = _one_line(proc)
    assert "SLO_JOBS_PROMETHEUS_TOKEN: " in line and "s3cr3t" not in proc.stderr + proc.stdout
    assert not (tmp_path / "lake").exists() or no_parquet(tmp_path / "lake")


# --- a kept-alive connection dripping the headers of its second answer ------------------------

def test_a_kept_alive_connection_dripping_headers_is_cut_at_the_deadline(
        prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    """The first request is answered at once; every later one drips its headers a byte every
    0.05 s (each read well inside the 1 s timeout) for a minute, the first of them on the
    connection the first answer kept alive."""
    body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'

    def script(n: int, _: dict[str, str]) -> Reply:
        return FORWARD if n == 1 else Reply(body=body, drip_s=0.05, pad_s=60)

    with FaultServer(prometheus, script) as server, \
            PrometheusClient(fast(server.url, attempts=10_000, timeout_s=1.0,
                                  max_retry_s=2.0)) as client:
        with pytest.raises(SloJobsError) as err:
            extract_slo(client, slo, [DAY], tmp_path)
        seen = list(server.seen)
    assert seen[1].client == seen[0].client  # the second request came on the same connection
    dripped = [s for s in seen if s.dripped is not None]
    assert len(dripped) >= 2  # each attempt was cut at its 1 s and tried again
    assert all(s.dripped < s.head for s in dripped), [(s.dripped, s.head) for s in dripped]
    assert "no complete answer within 1 s" in str(err.value) and "\n" not in str(err.value)
    assert no_parquet(tmp_path)
