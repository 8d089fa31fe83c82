"""Writers of an object store lake (moto's S3 server on loopback): a writer killed by SIGKILL
mid-upload leaves the old partition (or none) whole, and two writers of one partition lose
nothing and show readers no mix."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from typing import Any

import numpy as np
import pytest

from slo_jobs import lake
from slo_jobs.lake.objectstore import ObjectPath, ObjectStoreConfig
from tests.conftest import ROOT
from tests.lake_writer import MINUTES, day_table
from tests.s3server import ACCESS_KEY, SECRET_KEY, client, env

pytestmark = pytest.mark.integration
DAY = date(2026, 9, 14)
SLO = "checkout-availability"


def writer(mode: str, *args: str, endpoint: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen([sys.executable, "-m", "tests.lake_writer", mode, *args],
                            cwd=ROOT, env={**base, **env(endpoint)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def store(endpoint: str, bucket: str) -> ObjectPath:
    root = lake.location(f"s3://{bucket}/lake", ObjectStoreConfig(
        endpoint_url=endpoint, region="us-east-1", access_key=ACCESS_KEY,
        secret_key=SECRET_KEY))
    assert isinstance(root, ObjectPath)
    return root


def keys(endpoint: str, bucket: str) -> list[str]:
    listed: Any = client(endpoint).list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    return sorted(o["Key"] for o in listed.get("Contents", []))


def uploads_in_progress(endpoint: str, bucket: str) -> list[Any]:
    got: Any = client(endpoint).list_multipart_uploads(Bucket=bucket)  # type: ignore
    return list(got.get("Uploads", []))


class SlowProxy:
    """A loopback TCP proxy to the S3 server that forwards what the client sends at
    ``rate`` bytes/s and counts it, so a test can kill a writer in the middle of a PUT."""

    def __init__(self, upstream: str, rate: int) -> None:
        self.upstream_port = int(upstream.rsplit(":", 1)[1])
        self.rate, self.sent = rate, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(conn, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, slow: bool) -> None:
        try:
            while chunk := src.recv(16384 if slow else 65536):
                if slow:
                    time.sleep(len(chunk) / self.rate)
                    self.sent += len(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def kill_mid_upload(s3: str, bucket: str, key: str) -> tuple[int, int]:
    """Start a writer of a ~32 MB file at ``key`` through a slow proxy, SIGKILL it once a
    quarter of the bytes went out; return (bytes sent, file size)."""
    rows = 2_000_000  # two random float columns: ~32 MB that zstd cannot shrink
    proxy = SlowProxy(s3, rate=8_000_000)
    try:
        proc = writer("big", f"s3://{bucket}/lake", key, str(rows), endpoint=proxy.url)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while proxy.sent < 8_000_000 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        return proxy.sent, rows * 16
    finally:
        proxy.close()


def test_writer_killed_mid_upload_leaves_the_old_partition_whole(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    part = lake.sli_partition(root, SLO, DAY)
    old = day_table(DAY, np.arange(MINUTES) % 7.0)
    lake.write_atomic(old, part)
    sent, size = kill_mid_upload(s3, bucket, str(part.key).removeprefix("lake/"))
    assert 0 < sent < size, f"killed after {sent} of {size} bytes: not mid-upload"
    # The reader sees the old partition, whole and checksummed, and nothing else is there.
    assert lake.read_verified(part, MINUTES).equals(old)
    assert keys(s3, bucket) == [part.key]
    assert uploads_in_progress(s3, bucket) == []


def test_writer_killed_mid_upload_of_a_new_partition_leaves_none(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    part = lake.sli_partition(root, SLO, DAY)
    sent, size = kill_mid_upload(s3, bucket, str(part.key).removeprefix("lake/"))
    assert 0 < sent < size
    assert not part.exists()
    assert lake.missing_days(root, SLO, [DAY]) == [DAY]  # the next run writes it
    assert keys(s3, bucket) == [] and uploads_in_progress(s3, bucket) == []


def test_merge_retries_when_another_writer_came_between(s3: str, bucket: str) -> None:
    """Writer A reads the partition; writer B (another process) merges its hour and lands
    first; A's conditional PUT then fails, and A merges again into B's version."""
    root = store(s3, bucket)
    part = lake.sli_partition(root, SLO, DAY)
    seen: list[float] = []

    def merge_a(old: Any) -> Any:
        seen.append(0.0 if old is None else float(old.column("good").to_numpy().sum()))
        if len(seen) == 1:
            b = writer("merge", f"s3://{bucket}/lake", SLO, DAY.isoformat(), "5", endpoint=s3)
            out, err = b.communicate(timeout=60)
            assert b.returncode == 0, err
        from tests.lake_writer import set_hour
        return set_hour(old, DAY, 2)

    lake.update(part, lake.SLI_SCHEMA, merge_a)
    good = lake.read_verified(part, MINUTES).column("good").to_numpy()
    # A's first merge saw no partition, its second saw B's hour (60 minutes of 6).
    assert seen == [0.0, 360.0]
    expected = np.zeros(MINUTES)
    expected[120:180], expected[300:360] = 3, 6
    assert np.array_equal(good, expected)


def test_two_concurrent_writers_merging_one_partition_lose_nothing(s3: str,
                                                                   bucket: str) -> None:
    root = store(s3, bucket)
    part = lake.sli_partition(root, SLO, DAY)
    url = f"s3://{bucket}/lake"
    evens = [str(h) for h in range(0, 24, 2)]
    odds = [str(h) for h in range(1, 24, 2)]
    procs = [writer("merge", url, SLO, DAY.isoformat(), *hours, endpoint=s3)
             for hours in (evens, odds)]
    repeated = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        repeated.append(int(out.strip()))
    good = lake.read_verified(part, MINUTES).column("good").to_numpy()
    # Every hour h of both writers holds h + 1: no writer's merge was overwritten.
    assert np.array_equal(good, np.repeat(np.arange(1, 25, dtype=float), 60))
    print(f"merges repeated after a lost conditional PUT: {repeated}")


def test_two_writers_replacing_one_partition_readers_see_one_version(s3: str,
                                                                     bucket: str) -> None:
    root = store(s3, bucket)
    part = lake.sli_partition(root, SLO, DAY)
    url = f"s3://{bucket}/lake"
    lake.write_atomic(day_table(DAY, np.full(MINUTES, 1.0)), part)
    procs = [writer("replace", url, SLO, DAY.isoformat(), value, "25", endpoint=s3)
             for value in ("2", "3")]
    seen = set()
    while any(p.poll() is None for p in procs):
        good = lake.read_verified(part, MINUTES).column("good").to_numpy()
        assert len(set(good)) == 1, "a reader saw a mix of two writers' partitions"
        seen.add(float(good[0]))
    for p in procs:
        assert p.wait() == 0, p.stderr.read() if p.stderr else ""
    final = float(lake.read_verified(part, MINUTES).column("good").to_numpy()[0])
    assert final in (2.0, 3.0) and seen <= {1.0, 2.0, 3.0}
    assert keys(s3, bucket) == [part.key]
