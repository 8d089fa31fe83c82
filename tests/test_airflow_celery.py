"""The DAGs on the CeleryExecutor: Redis as the broker, PostgreSQL for Airflow's metadata and
Celery results, two ``airflow celery worker`` processes, all on loopback, against the test
Prometheus; the same month outputs as ``dag.test()`` runs of the same months.

The run, in order (each step waits for the one before), with the commands
docs/operations.md "CeleryExecutor" documents (``backfill create`` only queues runs; the
scheduler hands their tasks to the workers):

1. ``slo_extract`` for 2026-09-15;
2. ``slo_monthly_report`` for September, which keeps the day step 1 extracted and fills the
   rest of its month;
3. ``slo_monthly_report`` for July and August (a backfill of two months) and, beside it,
   ``slo_pipeline_freshness`` for 10:00 on 2026-09-15: an hour recorded again into a complete
   day must leave the day as it was.

Each monthly run ends with its delivery tasks: the team's email reaches a real SMTP server
(aiosmtpd) on loopback, sent by a worker.

Slow (two and a half to seven minutes on two shared cores): it starts every Airflow
component, Redis and PostgreSQL, and runs 40 task instances, each in a process of its own:
5 of ``slo_extract`` (its two SLOs in one ``extract_shard``), 11 per month of
``slo_monthly_report`` (one ``fill_shard``, one ``compute_shard``) and 2 of
``slo_pipeline_freshness``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from demo import prom
from tests import airflow_procs, services
from tests.conftest import ROOT
from tests.receivers import SmtpServer, smtp_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BIN = Path(sys.executable).parent
TIMEOUT_S = 900  # many minutes more than needed on an idle machine: CI runners are shared
WORKERS = ("worker-1", "worker-2")
# (label, data interval start, end) of the monthly runs, in the order they run: a month's
# report reads the months before it (trend, decisions), so the reference keeps the order.
MONTHS = [("2026-09", "2026-09-01", "2026-10-01"), ("2026-07", "2026-07-01", "2026-08-01"),
          ("2026-08", "2026-08-01", "2026-09-01")]
DAY = "2026-09-15"  # the day slo_extract extracts before the September run
HOUR = "2026-09-15T10:00:00+00:00"  # the hour slo_pipeline_freshness records after it
PIPELINE_SLO = "lake-freshness"
TEAM_EMAIL = "payments-sre@example.com"  # checkout's team; the pipelines' has no address
# The span holding the render time, the one part of a report that differs between runs.
RENDERED_AT = re.compile(r'<span id="rendered-at">[^<]*</span>')


def slo_folder(folder: Path) -> Path:
    """checkout.yaml (two Prometheus SLOs) and the first pipeline SLO of pipelines.yaml with
    the exported load log it reads: every DAG has work, and few task instances."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "slos" / "checkout.yaml", folder / "checkout.yaml")
    first = (ROOT / "slos" / "pipelines.yaml").read_text().split("\n---\n", 1)[0]
    assert f"name: {PIPELINE_SLO}\n" in first
    (folder / "pipelines.yaml").write_text(first + "\n")
    shutil.copytree(ROOT / "slos" / "pipeline-data", folder / "pipeline-data")
    (folder / "teams.yaml").write_text(
        f"teams:\n  payments: {{size: 6, email: [{TEAM_EMAIL}]}}\n  slo-platform: {{size: 3}}\n")
    return folder


def run_reference(base: Path, prometheus: str) -> None:
    """The three months run with ``dag.test()`` (in process, no executor) on their own lake."""
    slos = slo_folder(base / "slos")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(base / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
            "slo_monthly_report")
        for _, _, end in MONTHS:
            run = dag.test(logical_date=datetime.fromisoformat(end).replace(tzinfo=UTC))
            assert run.state == "success", end


def _env(home: Path, port: int, prometheus: str, data: Path, redis: int,
         pg: services.Postgres) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg.url,
        # One task at a time per worker: two workers, two cores on CI.
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__WORKERS": "1",
        # Every component signs and checks the task tokens with the same secret.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # Only the runs the test creates, and no re-parsing while it runs.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": prometheus,
        "SLO_JOBS_SLOS_DIR": str(data / "slos"),
        "SLO_JOBS_LAKE_DIR": str(data / "lake"),
        "SLO_JOBS_OUT_DIR": str(data / "out"),
    })
    return env


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    port = prom.free_port()
    proc = services.start_redis(tmp_path, port)
    yield port
    services.stop_redis(proc)


class Airflow:
    """The test's Airflow: the components it started and queries of its metadata."""

    def __init__(self, home: Path, env: dict[str, str], pg: services.Postgres) -> None:
        self.home, self.env, self.pg = home, env, pg
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.procs.append(subprocess.Popen([str(BIN / "airflow"), *args], env=self.env,
                                           cwd=self.home, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def cli(self, *commands: tuple[str, ...]) -> None:
        """Run airflow commands side by side (each costs seconds of start-up); all must
        succeed."""
        started = [(args, subprocess.Popen([str(BIN / "airflow"), *args], env=self.env,
                                           cwd=self.home, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True))
                   for args in commands]
        for args, proc in started:
            _, err = proc.communicate()
            assert proc.returncode == 0, f"airflow {' '.join(args)}: {err[-2000:]}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.pg.query(sql, *params)

    def runs(self, dag_id: str) -> dict[str, str]:
        """data interval start (UTC, ISO) -> state of the DAG's runs."""
        rows = self.query("SELECT data_interval_start, state FROM dag_run WHERE dag_id = %s",
                          dag_id)
        return {d.astimezone(UTC).isoformat(): s for d, s in rows}

    def failure(self, what: str) -> str:
        states = "\n".join(map(str, self.query(
            "SELECT dag_id, run_id, task_id, map_index, state FROM task_instance "
            "ORDER BY dag_id, run_id, task_id, map_index")))
        logs = "".join(f"\n--- {p.name} tail:\n{p.read_text(errors='replace')[-1500:]}"
                       for p in sorted(self.home.glob("*.log")))
        return f"{what}\ntask instances:\n{states}{logs}"

    def wait_for(self, dag_id: str, starts: list[str], deadline: float) -> None:
        """Wait until the DAG's runs starting at ``starts`` and its backfills end; fail unless
        every run succeeded."""
        runs: dict[str, str] = {}
        while time.monotonic() < deadline:
            assert all(p.poll() is None for p in self.procs), self.failure("a component exited")
            runs = {s: st for s, st in self.runs(dag_id).items() if s in starts}
            # The scheduler marks a backfill complete a loop after its last run ends; only
            # then may the DAG get another.
            if len(runs) == len(starts) and all(st in {"success", "failed"}
                                                for st in runs.values()) \
                    and not self.query("SELECT id FROM backfill WHERE dag_id = %s "
                                       "AND completed_at IS NULL", dag_id):
                break
            time.sleep(2)
        if runs != {s: "success" for s in starts}:
            pytest.fail(self.failure(f"{dag_id} runs: {runs}; expected {starts} successful"))


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).is_success
    except httpx.HTTPError:
        return False


def _utc(day: str) -> str:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).isoformat()


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def test_celery_executor_runs_the_dags_like_dag_test(
        prometheus: str, airflow_db: Path, broker: int, metadata_db: services.Postgres,
        mail: SmtpServer, tmp_path: Path) -> None:
    home, data, reference = tmp_path / "airflow", tmp_path / "data", tmp_path / "reference"
    home.mkdir()
    slo_folder(data / "slos")
    port = prom.free_port()
    af = Airflow(home, {**_env(home, port, prometheus, data, broker, metadata_db),
                        "AIRFLOW_CONN_SMTP_DEFAULT": mail.connection()}, metadata_db)
    with (home / "prep.log").open("wb") as log:
        prep = subprocess.Popen([sys.executable, str(ROOT / "tests" / "airflow_prep.py"), "3",
                                 "slo_extract", "slo_monthly_report", "slo_pipeline_freshness"],
                                env=af.env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    run_reference(reference, prometheus)  # meanwhile: it needs no executor
    assert prep.wait() == 0, (home / "prep.log").read_text(errors="replace")[-2000:]
    backfill = ("backfill", "create", "--dag-id")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        af.start("api-server", "api-server")
        af.start("scheduler", "scheduler")
        for name in WORKERS:
            af.start(name, "celery", "worker", "--celery-hostname", f"{name}@%h",
                     "--skip-serve-logs")
        # Tasks report to the API server: a task a worker starts before it answers fails.
        while not _answers(port):
            assert all(p.poll() is None for p in af.procs), af.failure("a component exited")
            assert time.monotonic() < deadline, af.failure("API server not up")
            time.sleep(1)
        af.cli((*backfill, "slo_extract", "--from-date", DAY, "--to-date", DAY))  # 1.
        af.wait_for("slo_extract", [_utc(DAY)], deadline)
        day_files = sorted((data / "lake").glob(f"sli/slo=checkout-*/date={DAY}/*.parquet"))
        assert len(day_files) == 2, day_files
        written = {p: p.stat().st_mtime_ns for p in day_files}
        af.cli((*backfill, "slo_monthly_report", "--from-date", "2026-09-01",  # 2.
                "--to-date", "2026-09-01"))
        af.wait_for("slo_monthly_report", [_utc("2026-09-01")], deadline)
        # 3. The months in order: each month's trend reads the month before (a backfill is
        # not held to the DAG's max_active_runs).
        af.cli((*backfill, "slo_monthly_report", "--from-date", "2026-07-01",
                "--to-date", "2026-08-01", "--max-active-runs", "1"),
               (*backfill, "slo_pipeline_freshness", "--from-date", HOUR, "--to-date", HOUR))
        af.wait_for("slo_monthly_report", [_utc(start) for _, start, _ in MONTHS], deadline)
        af.wait_for("slo_pipeline_freshness", [HOUR], deadline)
        executed = {w: (home / f"{w}.log").read_text(errors="replace").count(
            "Executing workload in Celery") for w in WORKERS}
        tasks = af.query("SELECT dag_id, state, count(*) FROM task_instance "
                         "GROUP BY dag_id, state ORDER BY dag_id, state")
    finally:
        airflow_procs.stop(af.procs, home)
    assert airflow_procs.processes_with(home) == [], "processes of the test's Airflow running"

    # Every task ran on a Celery worker, and both workers took tasks.
    assert "Loaded executor: :CeleryExecutor:" in (home / "scheduler.log").read_text()
    assert all(state == "success" for _, state, _ in tasks), tasks
    # a shard task per DAG run's extraction, not one per SLO
    assert {dag: n for dag, _, n in tasks} == {"slo_extract": 5,
                                               "slo_monthly_report": 11 * len(MONTHS),
                                               "slo_pipeline_freshness": 2}, tasks
    assert sum(n for _, _, n in tasks) == sum(executed.values()), (tasks, executed)
    assert all(n > 0 for n in executed.values()), executed
    # The daily DAG's day was kept by the September run, not extracted again.
    assert {p: p.stat().st_mtime_ns for p in day_files} == written

    ref_lake, lake = reference / "lake", data / "lake"
    for month, _, _ in MONTHS:
        ref, got = reference / "out" / month, data / "out" / month
        assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in ref.iterdir())
        records, ref_records = (json.loads((d / "summary.json").read_text()) for d in (got, ref))
        assert [r["slo"] for r in records] == [r["slo"] for r in ref_records], month
        differing = {(r["slo"], k): (v, e[k]) for r, e in zip(records, ref_records, strict=True)
                     for k, v in r.items() if e.get(k, "absent") != v}
        assert differing == {} and records == ref_records, (month, differing)
        for name in ("summary.csv", "incidents.csv"):
            assert (got / name).read_bytes() == (ref / name).read_bytes(), (month, name)
        html, ref_html = ((d / "report.html").read_text() for d in (got, ref))
        assert RENDERED_AT.sub("", html) == RENDERED_AT.sub("", ref_html), month
        assert (got / "report.pdf").stat().st_size > 0
    # The same partitions, row for row, the pipeline SLO's re-recorded hour included.
    parts = sorted(p.relative_to(lake) for p in lake.glob("sli/*/*/part-0.parquet"))
    assert parts == sorted(p.relative_to(ref_lake)
                           for p in ref_lake.glob("sli/*/*/part-0.parquet"))
    assert any(f"slo={PIPELINE_SLO}" in str(p) and DAY in str(p) for p in parts)
    for rel in parts:
        assert pq.read_table(lake / rel).equals(pq.read_table(ref_lake / rel)), rel
    # Each month's email, once, to the one team with an address, its PDF attached.
    sent = {m.message["Subject"].split(",")[0]: m for m in mail.box.mails}
    assert len(mail.box.mails) == len(MONTHS)
    assert sorted(sent) == sorted(f"SLO report {month}" for month, _, _ in MONTHS)
    for month, _, _ in MONTHS:
        assert sent[f"SLO report {month}"].recipients == [TEAM_EMAIL]
        assert sent[f"SLO report {month}"].attachments() == {  # the team's own PDF
            "report-team-payments.pdf": (data / "out" / month / "report-team-payments.pdf"
                                         ).read_bytes()}
