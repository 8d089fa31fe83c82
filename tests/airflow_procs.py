"""Stop every process a test's Airflow started, found by the AIRFLOW_HOME in its environment:
the task supervisor starts each task in a session (and process group) of its own, so the
groups of the started commands alone miss them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def processes_with(home: Path) -> list[int]:
    """Processes whose environment names this AIRFLOW_HOME: what the test started."""
    mark = f"AIRFLOW_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def _groups(procs: Sequence[subprocess.Popen[bytes]], home: Path) -> set[int]:
    """The started commands' process groups and every group a process of this Airflow runs
    in."""
    groups = {p.pid for p in procs}
    for pid in processes_with(home):
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    return groups


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def stop(procs: Sequence[subprocess.Popen[bytes]], home: Path) -> None:
    """Stop every process group the test started (each command was started with
    ``start_new_session=True``): TERM, then KILL what is still there."""
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        alive = _groups(procs, home)
        for group in alive:
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            for p in procs:
                p.poll()  # reap the direct children, so their groups can disappear
            alive = {g for g in _groups(procs, home) if _group_alive(g)}
            time.sleep(0.2)
        if not alive:
            break
    for p in procs:
        p.wait(timeout=10)
