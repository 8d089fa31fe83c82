"""A real S3-compatible server for tests: moto's server mode on a free loopback port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from demo.prom import free_port

# Test credentials: moto accepts any, and these are what a leak check looks for.
ACCESS_KEY = "AKIASLOJOBSTESTKEY01"
SECRET_KEY = "s3cr3t-slo-jobs-lake-key-do-not-log"


def env(endpoint: str) -> dict[str, str]:
    """The environment a writer gets: where the store is and the credentials."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1"}


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """Start ``moto_server`` on 127.0.0.1, yield its URL, stop it."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert exe, "moto_server not installed: run make install (moto[server] is in the lock)"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "MOTO_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"moto_server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "moto_server did not start within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(endpoint: str) -> object:
    """A plain botocore client, for what the tests check behind the library's back."""
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY)
