"""The lake on an S3-compatible object store (moto's server on loopback): a month run through
the CLI gives what a local lake gives, byte for byte, and credentials stay out of the output."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from slo_jobs import lake
from slo_jobs.core import redaction
from slo_jobs.core.errors import LakeError
from slo_jobs.lake.objectstore import ObjectPath, ObjectStoreConfig
from tests.conftest import ROOT
from tests.s3server import ACCESS_KEY, SECRET_KEY, client, env

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "slo_jobs.cli"]
AS_OF = "2026-10-01T06:00Z"  # September is over: the whole month, nothing estimated


def cli(args: list[str], extra_env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLO_JOBS_"))}
    return subprocess.run(CLI + args, capture_output=True, text=True, check=check,
                          env={**base, **(extra_env or {})}, cwd=ROOT)


def objects(endpoint: str, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix`` and its bytes, read with a plain S3 client."""
    s3: Any = client(endpoint)
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"].removeprefix(prefix)] = body
    return out


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def without_render_time(summary: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(summary.read_text())
    return [{k: v for k, v in r.items() if k not in ("generated_at", "rendered_at")}
            for r in rows]


# Every table the lake keeps: checkout's SLI partitions, its error categories and its kept
# histogram buckets (checkout-detail.yaml), and a second service's.
DEMO_FILES = ("checkout.yaml", "checkout-detail.yaml", "search.yaml", "teams.yaml")


@pytest.fixture(scope="module")
def demo_slos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slos")
    for name in DEMO_FILES:
        (folder / name).write_bytes((ROOT / "slos" / name).read_bytes())
    return folder


@pytest.fixture(scope="module")
def local_run(prometheus: str, demo_slos: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """September of those demo SLOs, run through the CLI into a local lake."""
    base = tmp_path_factory.mktemp("local-run")
    cli(["run", "--month", "2026-09", "--slos", str(demo_slos), "--lake", str(base / "lake"),
         "--out", str(base / "out"), "--prometheus-url", prometheus, "--as-of", AS_OF])
    return base


def test_month_run_on_object_store_equals_local_lake(
        prometheus: str, s3: str, bucket: str, demo_slos: Path, local_run: Path,
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = cli(["run", "--month", "2026-09", "--slos", str(demo_slos), "--lake",
               f"s3://{bucket}/lake",
               "--out", str(out), "--prometheus-url", prometheus, "--as-of", AS_OF],
              env(s3))
    # The same summary.json (the render time aside, which is the clock's).
    assert without_render_time(out / "2026-09" / "summary.json") == \
        without_render_time(local_run / "out" / "2026-09" / "summary.json")
    # The same layout, and every partition and monthly table byte for byte the same file;
    # the local lake's flock files and the month set's manifest in the bucket are the only
    # differences.
    local = {k: v for k, v in files(local_run / "lake").items()
             if not k.startswith(".locks/")}
    stored = objects(s3, bucket, "lake/")
    manifests = {k: json.loads(stored.pop(k)) for k in list(stored) if k.endswith("_set.json")}
    assert sorted(stored) == sorted(local)
    assert stored == local
    # The manifest names every table of the month, each with the ETag of its bytes.
    month = "monthly/month=2026-09/"
    tables = sorted(k.removeprefix(month) for k in stored if k.startswith(month))
    assert list(manifests) == [f"{month}_set.json"]
    assert tables == sorted(k.removeprefix(month) for k in local if k.startswith(month))
    assert {"summary.parquet", "journeys.parquet", "categories.parquet"} <= set(tables)
    assert manifests[f"{month}_set.json"] == {"files": {
        t: f'"{hashlib.md5(stored[month + t]).hexdigest()}"' for t in tables}}
    slos = json.loads((out / "2026-09" / "summary.json").read_text())
    assert len([k for k in stored if k.startswith("sli/")]) >= len(slos) * 30
    assert any(k.startswith("categories/") for k in stored)
    assert any(k.startswith("buckets/") for k in stored)
    # Nothing half-written stays behind: no temp objects, no multipart upload in progress.
    assert not any(".tmp-" in k for k in stored)
    assert "Uploads" not in client(s3).list_multipart_uploads(Bucket=bucket)  # type: ignore
    # Credentials appear nowhere the run wrote or printed.
    for text in (run.stdout, run.stderr, *(p.read_text(errors="replace")
                                           for p in out.rglob("*") if p.is_file())):
        assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_lake_url_from_the_environment(prometheus: str, s3: str, bucket: str,
                                       local_run: Path) -> None:
    """``SLO_JOBS_LAKE_URL`` stands for ``--lake``: compute and show read the store."""
    cli(["run", "--month", "2026-09", "--slos", "slos/checkout.yaml", "--lake",
         f"s3://{bucket}/p", "--out", str(local_run / "unused"),
         "--prometheus-url", prometheus, "--as-of", AS_OF], env(s3))
    shown = cli(["show", "--month", "2026-09"],
                {**env(s3), "SLO_JOBS_LAKE_URL": f"s3://{bucket}/p"})
    assert "checkout-availability" in shown.stdout and "search-" not in shown.stdout


def test_store_errors_are_one_line_without_credentials(s3: str, tmp_path: Path) -> None:
    for where, found in (("s3://no-such-bucket-here/lake", "no-such-bucket-here"),
                         ("s3://UPPER/lake", "not a valid S3 bucket name")):
        res = cli(["compute", "--month", "2026-09", "--slos", "slos/checkout.yaml",
                   "--lake", where, "--as-of", AS_OF], env(s3), check=False)
        assert res.returncode == 1, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and found in lines[0] and "Traceback" not in res.stderr, \
            res.stderr
        assert SECRET_KEY not in res.stderr + res.stdout
        assert ACCESS_KEY not in res.stderr + res.stdout
    # A server that does not answer: the error names the lake, not the credentials.
    res = cli(["show", "--month", "2026-09", "--lake", "s3://lake-bucket/x"],
              {**env("http://127.0.0.1:9"), "AWS_MAX_ATTEMPTS": "1"}, check=False)
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "s3://lake-bucket/x" in res.stderr and SECRET_KEY not in res.stderr


def test_credentials_never_in_repr_and_redacted_once_known() -> None:
    config = ObjectStoreConfig.from_connection("AKIACONNECTIONKEY", "conn-secret-value-123",
                                               {"endpoint_url": "http://127.0.0.1:1"})
    root = lake.location("s3://slo-lake/prefix", config)
    assert isinstance(root, ObjectPath)
    shown = f"{config!r} {root!r} {root} {root / 'sli'}"
    assert "conn-secret-value-123" not in shown and "AKIACONNECTIONKEY" not in shown
    assert redaction.redact("failed with conn-secret-value-123") == "failed with ***"


def test_lake_locations() -> None:
    root = lake.location("s3://slo-lake/a/b/")
    assert isinstance(root, ObjectPath) and str(root) == "s3://slo-lake/a/b"
    part = lake.sli_partition(root, "checkout-availability", date(2026, 9, 1))
    assert str(part) == ("s3://slo-lake/a/b/sli/slo=checkout-availability/date=2026-09-01/"
                         "part-0.parquet")
    assert part.parent.parent.name == "slo=checkout-availability"
    assert lake.location("lake") == Path("lake")
    for bad in ("s3://user:pw@slo-lake/x", "gs://slo-lake/x", "s3:///x"):
        with pytest.raises(LakeError) as err:
            lake.location(bad)
        assert "pw" not in str(err.value)
