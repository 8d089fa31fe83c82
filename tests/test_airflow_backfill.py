"""``airflow backfill create`` for three months, with a real scheduler and API server
(``airflow standalone`` on loopback) in a throwaway AIRFLOW_HOME, its metadata in a
PostgreSQL database of its own (SQLite takes one writer at a time: the scheduler, the API
server and ``backfill create`` writing together fail with "database is locked").

Slow (two to four minutes, more on a busy machine): it starts every Airflow component and runs
18 task instances.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import httpx
import pandas as pd
import pytest

from demo import prom
from tests import airflow_procs, services
from tests.conftest import ROOT, true_counts

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BIN = Path(sys.executable).parent
MONTHS = [("2026-07", "2026-07-01", "2026-08-01"), ("2026-08", "2026-08-01", "2026-09-01"),
          ("2026-09", "2026-09-01", "2026-10-01")]
SLO_FILE = "checkout.yaml"
SLOS = ["checkout-availability", "checkout-latency"]
MONTHS_DAYS = {"2026-07": 31, "2026-08": 31, "2026-09": 30}
TIMEOUT_S = 600  # minutes more than needed on an idle machine: CI runners are shared


def _env(home: Path, port: int, prometheus: str, data: Path,
         pg: services.Postgres) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url,
        # Two cores at most on CI: few worker processes, one API worker.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__WORKERS": "1",
        # Only the backfill's runs: no scheduled run of the latest month on unpause, and no
        # re-parsing of unchanged DAG files while the test runs.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(prom.free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(prom.free_port()),
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": prometheus,
        "SLO_JOBS_SLOS_DIR": str(data / "slos"),
        "SLO_JOBS_LAKE_DIR": str(data / "lake"),
        "SLO_JOBS_OUT_DIR": str(data / "out"),
    })
    return env


def _runs(pg: services.Postgres) -> dict[str, str]:
    """logical date -> state of the DAG's backfill runs."""
    rows = pg.query("SELECT logical_date, state FROM dag_run WHERE dag_id = %s "
                    "AND run_type = 'backfill'", "slo_monthly_report")
    return {d.astimezone(UTC).date().isoformat(): s for d, s in rows}


def _task_states(pg: services.Postgres) -> list[tuple[str, str, int, str]]:
    return [(r, t, m, s) for r, t, m, s in pg.query(
        "SELECT run_id, task_id, map_index, state FROM task_instance "
        "ORDER BY run_id, task_id, map_index")]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).is_success
    except httpx.HTTPError:
        return False


def _failure(what: str, home: Path, db: services.Postgres) -> str:
    tail = (home / "standalone.log").read_text(errors="replace")[-3000:]
    states = "\n".join(map(str, _task_states(db)))
    return f"{what}\ntask instances:\n{states}\nstandalone log tail:\n{tail}"


def test_airflow_backfill_of_three_months(prometheus: str, truth: pd.DataFrame,
                                          metadata_db: services.Postgres,
                                          tmp_path: Path) -> None:
    home, data = tmp_path / "airflow", tmp_path / "data"
    home.mkdir()
    port = prom.free_port()
    env = _env(home, port, prometheus, data, metadata_db)
    # Two SLOs keep the test lean (18 task instances); the mapping is the same for six.
    (data / "slos").mkdir(parents=True)
    shutil.copy(ROOT / "slos" / SLO_FILE, data / "slos" / SLO_FILE)
    db = metadata_db

    def airflow(*args: str) -> None:
        done = subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=home,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-2000:]}"

    prep = subprocess.run([sys.executable, str(ROOT / "tests" / "airflow_prep.py"), "3",
                           "slo_monthly_report"], env=env, cwd=home,
                          capture_output=True, text=True)
    assert prep.returncode == 0, prep.stderr[-2000:]
    log = (home / "standalone.log").open("wb")
    standalone = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env, cwd=home,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Tasks report to the API server: queue the runs once it answers.
        deadline = time.monotonic() + TIMEOUT_S
        while not _answers(port):
            assert standalone.poll() is None, _failure("standalone exited", home, db)
            assert time.monotonic() < deadline, _failure("API server not up", home, db)
            time.sleep(1)
        # The command docs/operations.md documents; it only queues the runs.
        airflow("backfill", "create", "--dag-id", "slo_monthly_report",
                "--from-date", "2026-07-01", "--to-date", "2026-09-01", "--max-active-runs", "1")
        runs = _runs(db)
        assert sorted(runs) == ["2026-07-01", "2026-08-01", "2026-09-01"], runs
        while time.monotonic() < deadline and standalone.poll() is None:
            runs = _runs(db)
            if all(s in {"success", "failed"} for s in runs.values()):
                break
            time.sleep(2)
        if runs != {d: "success" for d in ("2026-07-01", "2026-08-01", "2026-09-01")}:
            pytest.fail(_failure(f"backfill runs after {TIMEOUT_S} s (standalone exit "
                                 f"{standalone.poll()}): {runs}; expected 3 successful runs",
                                 home, db))
    finally:
        airflow_procs.stop([standalone], home)
        log.close()
    assert airflow_procs.processes_with(home) == [], "processes of the test's Airflow still running"

    for month, start, end in MONTHS:
        records = json.loads((data / "out" / month / "summary.json").read_text())
        assert sorted(r["slo"] for r in records) == SLOS
        for r in records:
            assert (r["good"], r["total"]) == true_counts(truth, r["slo"], start, end), month
            assert r["coverage"] == 1.0 and r["period"] == month
        for name in ("report.html", "report.pdf", "summary.csv"):
            assert (data / "out" / month / name).stat().st_size > 0, (month, name)
    for month, _, _ in MONTHS:
        assert len(list((data / "lake").glob(f"sli/*/date={month}-*/part-0.parquet"))) == \
            len(SLOS) * MONTHS_DAYS[month], month
