"""Run completion read from a real Airflow API server (loopback, throwaway AIRFLOW_HOME,
simple auth manager with a password), with runs created and finished through the REST API.

Runs are created for the hours before now and set to their final state now, so their
lateness is known by construction: a run for the interval ending k hours before the current
hour H finishes between k and k + 1 hours after its interval's end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from demo import prom
from slo_jobs import lake, spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.run import runner
from slo_jobs.run.sources import Sources
from slo_jobs.sources.pipelines.readers import AirflowConfig
from slo_jobs.sources.pipelines.record import RUN_SCHEMA, detail_partition
from slo_jobs.spec import catalog
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
PASSWORD = "pipeline-s3cret-pw"  # noqa: S105 - a throwaway test credential
DAG_ID = "orders_etl"
WITHIN = timedelta(hours=3)
# k -> the PATCHed states, in order (none: the run stays queued; absent: no run at all).
SCENARIO: dict[int, list[str]] = {1: ["success"], 2: ["failed", "success"], 3: ["failed"],
                                  5: ["failed", "success"], 6: ["success"], 7: []}
GOOD = {1, 2}  # finished successfully within 3 h; k >= 3 finished >= 3 h after the end

ETL_DAG = '''
import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable


@dag(dag_id="orders_etl", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
     start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def orders_etl():
    @task
    def load() -> None:
        pass

    load()


orders_etl()
'''

PREP = '''
import argparse
from airflow.cli.commands.dag_command import dag_reserialize
from airflow.utils.db import initdb
initdb()
dag_reserialize(argparse.Namespace(bundle_name=None))
'''


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("airflow-api-home")
    (home / "dags").mkdir()
    (home / "dags" / "orders_etl.py").write_text(ETL_DAG)
    (home / "passwords.json").write_text(f'{{"admin": "{PASSWORD}"}}')
    env = {**os.environ, "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
           "AIRFLOW__API_AUTH__JWT_SECRET": "throwaway-test-secret"}
    subprocess.run([sys.executable, "-c", PREP], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = prom.free_port()
    url = f"http://127.0.0.1:{port}"
    airflow = str(Path(sys.executable).parent / "airflow")
    with (home / "api.log").open("wb") as log:
        proc = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/api/v2/version", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((home / "api.log").read_text()[-2000:])
            time.sleep(0.5)
        else:
            raise RuntimeError("the Airflow API server did not start in 120 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def runs(api: str) -> datetime:
    """Create the scenario's runs; return the hour H they are relative to."""
    now = datetime.now(UTC)
    if now.minute >= 58:  # keep every run within one clock hour of H
        time.sleep(150)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    token = httpx.post(f"{api}/auth/token", json={"username": "admin", "password": PASSWORD}
                       ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{api}/api/v2/dags/{DAG_ID}/dagRuns"
    for k, states in SCENARIO.items():
        end = hour - timedelta(hours=k)
        r = httpx.post(base, headers=auth, json={
            "dag_run_id": f"k{k}", "logical_date": _iso(end - timedelta(hours=1)),
            "data_interval_start": _iso(end - timedelta(hours=1)),
            "data_interval_end": _iso(end)})
        assert r.status_code == 200, r.text
        for state in states:
            r = httpx.patch(f"{base}/k{k}", headers=auth, json={"state": state})
            assert r.status_code == 200 and r.json()["state"] == state, r.text
    return hour


def _slos(folder: Path, extra: str = "") -> list[spec.Slo]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "etl.yaml").write_text(f"""
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: orders-etl-completion{extra}}}
spec:
  service: orders-etl
  indicator:
    completion: {{dag: {DAG_ID}, within: 3h, expectEvery: 1h}}
  objective: {{target: 0.9}}
""")
    return catalog.load([folder])


def _config(api: str, password: str = PASSWORD) -> Any:
    return lambda conn_id: AirflowConfig(url=api, username="admin", password=password)


def _expected(hour: datetime, start: datetime, end: datetime) -> dict[datetime, bool]:
    """Every hourly interval end whose deadline lies in (start, end], and its verdict."""
    out = {}
    e = start - WITHIN + timedelta(hours=1)
    e = e.replace(minute=0, second=0, microsecond=0)
    while e + WITHIN <= end:
        if e + WITHIN > start:
            k = round((hour - e).total_seconds() / 3600)
            out[e] = k in GOOD
        e += timedelta(hours=1)
    return out


def test_runs_from_the_api_are_judged_at_their_deadline(api: str, runs: datetime,
                                                         tmp_path: Path) -> None:
    hour = runs
    slos = _slos(tmp_path / "slos")
    days = [hour.date() - timedelta(days=1), hour.date(), hour.date() + timedelta(days=1)]
    runner.extract_days(Sources.from_env("http://unused", _config(api)), slos, days,
                        tmp_path / "lake")
    judged = []
    for d in days:
        path = detail_partition(tmp_path / "lake", "pipeline_runs", slos[0].name, d)
        judged += pq.read_table(path, schema=RUN_SCHEMA).to_pylist()
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    expected = _expected(hour, start, start + timedelta(days=3))
    assert {r["data_interval_end"]: r["good"] for r in judged} == expected
    by_id = {r["run_id"]: r for r in judged if r["run_id"]}
    assert set(by_id) == {f"k{k}" for k in SCENARIO}
    assert by_id["k5"]["state"] == "success" and by_id["k5"]["late_s"] > 0  # retried late
    assert by_id["k2"]["state"] == "success" and by_id["k2"]["late_s"] is None  # in time
    assert by_id["k7"]["state"] == "queued" and by_id["k7"]["end_date"] is None
    # The SLI buckets hold the same verdicts, one event per run at its deadline.
    total = good = 0
    for d in days:
        t = pq.read_table(lake.sli_partition(tmp_path / "lake", slos[0].name, d)).to_pydict()
        total += sum(t["total"])
        good += sum(t["good"])
    assert (good, total) == (sum(expected.values()), len(expected))


def test_a_wrong_password_is_one_line_and_writes_nothing(api: str, runs: datetime,
                                                         tmp_path: Path) -> None:
    slos = _slos(tmp_path / "slos")
    with pytest.raises(ExtractError) as exc:
        runner.extract_days(Sources.from_env("http://unused", _config(api, "wrong")), slos,
                            [runs.date()], tmp_path / "lake")
    text = str(exc.value)
    assert f"{api}/auth/token" in text and "HTTP 401" in text and "\n" not in text
    assert "wrong" not in text and not (tmp_path / "lake").exists()


def test_hourly_dag_records_one_interval_from_the_api(api: str, runs: datetime,
                                                      airflow_db: Path, tmp_path: Path) -> None:
    """slo_pipeline_freshness run with dag.test(): the interval [H-3h, H-2h) holds the
    deadline of the run that failed and was retried late (k=5); nothing else is written."""
    from airflow.dag_processing.dagbag import DagBag

    slos_dir = tmp_path / "slos"
    _slos(slos_dir)
    user_url = api.replace("http://", f"http://admin:{PASSWORD}@")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_AIRFLOW_API", user_url)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos_dir))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_pipeline_freshness.py")).get_dag(
            "slo_pipeline_freshness")
        run = dag.test(logical_date=runs - timedelta(hours=2))
    assert run.state == "success"
    start = runs - timedelta(hours=3)
    assert (run.data_interval_start, run.data_interval_end) == (start, runs - timedelta(hours=2))
    day = start.date()
    [judged] = pq.read_table(detail_partition(tmp_path / "lake", "pipeline_runs",
                                              "orders-etl-completion", day)).to_pylist()
    assert (judged["run_id"], judged["good"], judged["state"]) == ("k5", False, "success")
    t = pq.read_table(lake.sli_partition(tmp_path / "lake", "orders-etl-completion", day))
    has = t.column("has_data").to_pylist()
    first = (start - datetime(day.year, day.month, day.day, tzinfo=UTC)) // timedelta(minutes=1)
    assert [i for i, h in enumerate(has) if h] == list(range(first, first + 60))
    assert (sum(t.column("total").to_pylist()), sum(t.column("good").to_pylist())) == (1, 0)
    # The password reached the API and nothing else.
    for path in (tmp_path / "lake").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
