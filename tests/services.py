"""Redis and a throwaway PostgreSQL cluster on loopback, from the Debian packages
``redis-server`` and ``postgresql`` (scripts/bootstrap.sh installs both).

PostgreSQL refuses to run as root, so as root the cluster is created and started as the
``postgres`` user the Debian package adds (``runuser``); as anyone else, as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Debian keeps the server programs out of PATH, one folder per major version.
PG_ROOT = Path("/usr/lib/postgresql")


def pg_path() -> str:
    """PATH with the newest Debian PostgreSQL server folder first."""
    versions = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return os.pathsep.join([str(p) for p in reversed(versions)] + [os.environ.get("PATH", "")])


def _wait(ready: object, what: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} not up after {timeout:.0f} s; log tail:\n{tail}")
        time.sleep(0.2)


def start_redis(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """A Redis on 127.0.0.1:port that keeps nothing on disk (the broker of one test)."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server: not installed; run make install (scripts/bootstrap.sh)"
    log = folder / "redis.log"
    proc = subprocess.Popen(
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    def ready() -> bool:
        assert proc.poll() is None, f"redis-server exited: {log.read_text(errors='replace')}"
        return "Ready to accept connections" in (log.read_text(errors="replace")
                                                 if log.exists() else "")

    _wait(ready, "redis-server", log)
    return proc


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Postgres:
    folder: Path  # the cluster's data folder is folder/data
    port: int
    user: str  # the OS user the server runs as ("" for the caller)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``airflow`` database (trust authentication on loopback)."""
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def dsn(self, database: str = "airflow") -> str:
        return f"host=127.0.0.1 port={self.port} user=airflow dbname={database}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one query against the ``airflow`` database, on a connection of its own."""
        import psycopg2

        con = psycopg2.connect(self.dsn())
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            con.close()


def _as_server_user(args: list[str], user: str) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else args


def start_postgres(port: int) -> Postgres:
    """initdb a new cluster into a fresh folder under the system temp folder, start it on
    127.0.0.1:port only (no Unix socket) and create the database ``airflow``.

    The folder is not under pytest's tmp_path: that one is private to the caller, and as
    root the server runs as ``postgres``, which must own its data folder.
    """
    import psycopg2

    folder = Path(tempfile.mkdtemp(prefix="slo-jobs-postgres-"))
    user = "postgres" if os.geteuid() == 0 else ""
    if user:
        shutil.chown(folder, user)
    path = pg_path()
    initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
    assert initdb and pg_ctl, "initdb/pg_ctl: not installed; run make install (postgresql)"
    env = {**os.environ, "PATH": path, "LC_ALL": "C.UTF-8"}
    subprocess.run(_as_server_user([initdb, "-D", str(folder / "data"), "-U", "airflow",
                                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"],
                                   user),
                   check=True, capture_output=True, env=env)
    # fsync off: the cluster lives as long as one test, durability buys nothing here.
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
               "-c max_connections=200")
    done = subprocess.run(_as_server_user([pg_ctl, "-D", str(folder / "data"), "-l",
                                           str(folder / "postgres.log"), "-w", "-t", "60",
                                           "-o", options, "start"], user),
                          capture_output=True, text=True, env=env)
    pg = Postgres(folder, port, user)
    if done.returncode != 0:
        log = folder / "postgres.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        stop_postgres(pg)
        raise RuntimeError(f"pg_ctl start: {done.stderr.strip()}\n{tail}")
    con = psycopg2.connect(pg.dsn("postgres"))
    con.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with con.cursor() as cur:
        cur.execute("CREATE DATABASE airflow")
    con.close()
    return pg


def stop_postgres(pg: Postgres) -> None:
    """Stop the server (fast shutdown: open sessions are ended) and delete the cluster."""
    pg_ctl = shutil.which("pg_ctl", path=pg_path())
    if pg_ctl and (pg.folder / "data" / "postmaster.pid").exists():
        subprocess.run(_as_server_user([pg_ctl, "-D", str(pg.folder / "data"), "-m", "fast",
                                        "-w", "-t", "60", "stop"], pg.user),
                       capture_output=True, env={**os.environ, "PATH": pg_path()})
    shutil.rmtree(pg.folder, ignore_errors=True)
