"""A whole Airflow on the CeleryExecutor on loopback, for the benchmarks that measure the DAGs
end to end: Redis as the broker, a PostgreSQL cluster of its own for the metadata and Celery's
results, the API server, the scheduler, the dag-processor and two ``airflow celery worker``
processes (one task at a time each: the reference machine's 2 cores), configured as
docs/operations.md "CeleryExecutor" says and as tests/test_airflow_celery.py runs them.

Each component's CPU is read from /proc as the sum over its process tree of user and system
time, reaped children included: a Celery worker's task processes end inside the measured
window, and their time is then its pool process's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import prom  # noqa: E402
from tests import airflow_procs, services  # noqa: E402  (plain helpers, no pytest)

BIN = Path(sys.executable).parent
WORKERS = ("worker-1", "worker-2")
TICK = os.sysconf("SC_CLK_TCK")


def _stat_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of its reaped children)."""
    table = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            table[int(proc.name)] = (int(fields[1]),
                                     sum(int(f) for f in fields[11:15]) / TICK)
    return table


def tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process tree (a root and all its descendants)."""
    table = _stat_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += table.get(pid, (0, 0.0))[1]
            todo.extend(children.get(pid, []))
        out[name] = total
    return out


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    pg: services.Postgres
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.pg.query(sql, *params)

    def cli(self, *args: str) -> None:
        done = subprocess.run([str(BIN / "airflow"), *args], env=self.env, cwd=self.home,
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"airflow {' '.join(args)}: failed\n{done.stderr[-3000:]}")

    def roots(self) -> dict[str, int]:
        """The process tree of each component, PostgreSQL's postmaster included."""
        postmaster = int((self.pg.folder / "data" / "postmaster.pid").read_text().split()[0])
        return {**{n: p.pid for n, p in self.procs.items()}, "postgres": postmaster}

    def alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                tail = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} exited with {p.returncode}; log tail:\n{tail}")

    def executed(self) -> int:
        """Task workloads the Celery workers took, from their logs."""
        return sum((self.home / f"{w}.log").read_text(errors="replace").count(
            "Executing workload in Celery") for w in WORKERS)

    def wait_runs(self, dag_id: str, runs: int, timeout_s: float) -> dict[str, int]:
        """Wait until the DAG has ``runs`` ended runs and no open backfill; their states."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.alive()
            states = dict(self.query("SELECT state, count(*) FROM dag_run WHERE dag_id = %s "
                                     "GROUP BY state", dag_id))
            ended = states.get("success", 0) + states.get("failed", 0)
            # The scheduler closes a backfill a loop after its last run: only then is it done.
            if ended >= runs and not self.query("SELECT id FROM backfill WHERE dag_id = %s "
                                                "AND completed_at IS NULL", dag_id):
                return states
            if time.monotonic() > deadline:
                raise SystemExit(f"{dag_id}: runs {states} after {timeout_s:.0f} s; "
                                 f"expected {runs} ended (logs in {self.home})")
            time.sleep(1)


def _env(home: Path, api_port: int, redis_port: int, db_url: str,
         extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),  # this checkout's slo_jobs, whatever the venv holds
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # Only the runs the benchmark creates, and no re-parsing while it measures.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        **extra,
    })
    return env


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).is_success
    except httpx.HTTPError:
        return False


@contextmanager
def celery_airflow(home: Path, pool_slots: int, dag_ids: list[str],
                   extra_env: dict[str, str]) -> Iterator[Stack]:
    """A fresh Airflow (new metadata database, new broker) with ``dag_ids`` unpaused and the
    pool ``prometheus`` of ``pool_slots``; every process stopped on the way out."""
    home.mkdir(parents=True, exist_ok=True)
    redis_port, api_port = prom.free_port(), prom.free_port()
    redis = services.start_redis(home, redis_port)
    pg = services.start_postgres(prom.free_port())
    stack = Stack(home, _env(home, api_port, redis_port, pg.url, extra_env), pg)
    try:
        with (home / "prep.log").open("wb") as log:
            subprocess.run([sys.executable, str(ROOT / "tests" / "airflow_prep.py"),
                            str(pool_slots), *dag_ids], env=stack.env, cwd=home, stdout=log,
                           stderr=subprocess.STDOUT, check=True)
        for name, args in [("api-server", ["api-server"]), ("scheduler", ["scheduler"]),
                           ("dag-processor", ["dag-processor"]),
                           *((w, ["celery", "worker", "--celery-hostname", f"{w}@%h",
                                  "--skip-serve-logs"]) for w in WORKERS)]:
            with (home / f"{name}.log").open("wb") as log:
                stack.procs[name] = subprocess.Popen(
                    [str(BIN / "airflow"), *args], env=stack.env, cwd=home, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
        stack.procs["redis"] = redis
        deadline = time.monotonic() + 300
        # A task started before the API server answers fails: wait for it.
        while not _answers(api_port):
            stack.alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"API server not up after 300 s (logs in {home})")
            time.sleep(1)
        yield stack
    finally:
        airflow_procs.stop([p for n, p in stack.procs.items() if n != "redis"], home)
        services.stop_redis(redis)
        services.stop_postgres(pg)


def xcoms(stack: Stack, dag_id: str, task_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    """The return values of the DAG's tasks named, as stored (JSON)."""
    rows = stack.query("SELECT value FROM xcom WHERE dag_id = %s AND key = 'return_value' "
                       "AND task_id = ANY(%s)", dag_id, list(task_ids))
    return [v for (v,) in rows if isinstance(v, dict)]

