"""promtool around the generated rules: evaluating the recording rules into TSDB blocks
(``slo-jobs rules --backfill``) with the credentials in a file, never on a command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ..core import redaction
from ..core.errors import SloJobsError


def _takes_http_config(exe: str) -> bool:
    """Whether this promtool accepts ``--http.config.file`` (2.42, Debian 12's, does not)."""
    try:
        shown = subprocess.run([exe, "tsdb", "create-blocks-from", "rules", "--help"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--http.config.file" in shown.stdout + shown.stderr


def backfill(rule_file: Path, url: str, start: datetime, end: datetime, output_dir: Path,
             promtool: str = "promtool", http_config: Path | None = None) -> list[Path]:
    """Evaluate the recording rules over ``[start, end)`` with ``promtool tsdb
    create-blocks-from rules`` against Prometheus at ``url``; the blocks land in
    ``output_dir`` (move them into Prometheus' data folder to use them).

    Credentials go to promtool only in ``http_config`` (a file), never in its command
    line, which every local user can read; a promtool without that option is refused."""
    exe = shutil.which(promtool)
    if exe is None:
        raise SloJobsError("promtool: not found on PATH; expected Prometheus' promtool "
                           "(apt-get install prometheus)")
    if end <= start:
        raise SloJobsError(f"--end: {end.isoformat()} is not after --start "
                           f"{start.isoformat()}; expected a later end")
    url, user, password = redaction.split_userinfo(url)
    if user or password:
        raise SloJobsError(f"--prometheus-url: {redaction.redact(url)} carries credentials; "
                           "expected them in SLO_JOBS_PROMETHEUS_USERNAME / _PASSWORD")
    if http_config is not None and not _takes_http_config(exe):
        raise SloJobsError(
            f"{exe}: this promtool has no --http.config.file option, so it cannot be given "
            "the Prometheus credentials (SLO_JOBS_PROMETHEUS_TOKEN / _USERNAME / _PASSWORD) "
            "without showing them on its command line; expected a promtool whose "
            "'tsdb create-blocks-from rules --help' lists --http.config.file, or a "
            "Prometheus URL that needs no credentials (e.g. on its own host)")
    output_dir.mkdir(parents=True, exist_ok=True)
    before = set(output_dir.iterdir())
    cmd = [exe, "tsdb", "create-blocks-from", "rules",
           "--start", str(int(start.timestamp())), "--end", str(int(end.timestamp())),
           "--url", url, "--output-dir", str(output_dir)]
    if http_config is not None:
        cmd += ["--http.config.file", str(http_config)]
    done = subprocess.run([*cmd, str(rule_file)], capture_output=True, text=True)
    if done.returncode != 0:
        last = redaction.redact((done.stderr.strip().splitlines() or ["no output"])[-1])
        raise SloJobsError(f"{rule_file}: promtool tsdb create-blocks-from rules failed: "
                           f"{last}; expected a reachable Prometheus at {url}")
    return sorted(p for p in set(output_dir.iterdir()) - before if (p / "meta.json").exists())


def http_config(token: str | None, username: str | None, password: str | None) -> Path | None:
    """A promtool HTTP config file for the credentials in the environment, if any."""
    if not token and not username:
        return None
    conf: dict[str, Any] = ({"authorization": {"type": "Bearer", "credentials": token}}
                            if token else
                            {"basic_auth": {"username": username, "password": password or ""}})
    # Not an output: a secret handed to promtool, owner-only (mkstemp's 0600) on purpose and
    # deleted by the caller after the run, so it does not go through atomicio.
    fd, name = tempfile.mkstemp(prefix="slo-jobs-promtool-", suffix=".yml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(conf, f)
    return Path(name)
