"""A month's tables on an object store (moto's S3 server on loopback) are published and read
as one set: a manifest written last names each file's ETag, readers read each file at that
version, and a reader never gets some tables of one set and some of another."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from slo_jobs import compute, lake
from slo_jobs.core.errors import LakeError
from slo_jobs.lake import objectsets
from slo_jobs.lake.objectstore import ObjectPath
from tests.conftest import ROOT
from tests.lake_writer import set_table
from tests.s3server import client, env
from tests.test_lake_object_store_writers import keys, store

pytestmark = pytest.mark.integration
LABEL = "2026-09"
NAMES = ("summary", "decisions", "incidents")
FOLDER = f"lake/monthly/month={LABEL}"
FIX = f"re-run the merge (or slo-jobs compute --month {LABEL})"


def month(root: ObjectPath) -> ObjectPath:
    folder = lake.monthly_partition(root, LABEL).parent
    assert isinstance(folder, ObjectPath)
    return folder


def publish(root: ObjectPath, value: float, names: tuple[str, ...] = NAMES) -> None:
    with lake.publish_set(month(root)) as stage:
        for name in names:
            lake.write_atomic(set_table(value), stage / f"{name}.parquet")


def value(root: ObjectPath, name: str) -> float:
    rows = compute.read_table(root, LABEL, name)
    assert len(rows) == 1
    return float(rows[0]["value"])


def values(root: ObjectPath) -> dict[str, float | None]:
    """Each table's value; None for a table that fails with the "being replaced" error."""
    out: dict[str, float | None] = {}
    for name in NAMES:
        try:
            out[name] = value(root, name)
        except LakeError as exc:
            assert f"month {LABEL} is being replaced, or its replacement was interrupted: " \
                   f"{FIX}" in str(exc) and "\n" not in str(exc), exc
            out[name] = None
    return out


def manifest(s3: str, bucket: str) -> dict[str, Any]:
    body = client(s3).get_object(Bucket=bucket, Key=f"{FOLDER}/_set.json")  # type: ignore
    doc: dict[str, Any] = json.loads(body["Body"].read())
    return doc


def etag(s3: str, bucket: str, name: str) -> str:
    got: Any = client(s3).head_object(Bucket=bucket, Key=f"{FOLDER}/{name}")  # type: ignore
    return str(got["ETag"])


def set_writer(s3: str, bucket: str, value: float,
               names: tuple[str, ...] = NAMES) -> subprocess.Popen[str]:
    """Another process publishing the month's set, one PUT per line it is sent."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lake_writer", "set", f"s3://{bucket}/lake",
         f"monthly/month={LABEL}", str(value), *(f"{n}.parquet" for n in names)],
        cwd=ROOT, env={**base, **env(s3)}, text=True, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def said(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read() if proc.stderr else ""
    return line


def go_on(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    # A reader waits for a writer half-way before failing; these tests need no wait.
    monkeypatch.setattr(objectsets, "WAITS", (0.0, 0.0))


def test_the_store_honours_if_match_on_get(s3: str, bucket: str) -> None:
    obj = month(store(s3, bucket)) / "probe"
    first = obj.put(b"one")
    assert obj.read_if(first) == b"one"
    second = obj.put(b"two")
    assert second != first and obj.etag() == second
    assert obj.read_if(first) is None  # 412: not the version asked for
    obj.unlink()
    assert obj.read_if(second) is None and obj.etag() is None


def test_a_set_is_named_by_its_manifest_and_stale_files_are_removed(s3: str,
                                                                    bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    files = [f"{n}.parquet" for n in NAMES]
    assert manifest(s3, bucket) == {"files": {f: etag(s3, bucket, f) for f in sorted(files)}}
    assert keys(s3, bucket) == sorted(f"{FOLDER}/{f}" for f in [*files, "_set.json"])
    assert values(root) == dict.fromkeys(NAMES, 1.0)
    # A set without the incidents: the old file is deleted, as a folder's exchange drops it.
    publish(root, 2.0, NAMES[:2])
    assert sorted(manifest(s3, bucket)["files"]) == ["decisions.parquet", "summary.parquet"]
    assert keys(s3, bucket) == sorted(f"{FOLDER}/{f}" for f in [*files[:2], "_set.json"])
    assert not lake.exists(month(root) / "incidents.parquet")
    assert value(root, "summary") == 2.0


def test_a_read_of_the_set_is_one_get_per_file(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    calls: list[str] = []
    root.store.client.meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name))
    with lake.reading_sets():
        assert [value(root, n) for n in NAMES] == [1.0, 1.0, 1.0]
        assert lake.exists(month(root) / "summary.parquet")
    assert calls == ["GetObject"] * 4  # the manifest once, then each table
    calls.clear()
    assert value(root, "summary") == 1.0  # a table alone: its manifest, then the table
    assert calls == ["GetObject"] * 2


def test_a_reader_during_a_republish_gets_the_old_set_or_a_clear_error(s3: str,
                                                                      bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    old = manifest(s3, bucket)["files"]
    writer = set_writer(s3, bucket, 2.0)
    seen = []
    for name in NAMES:  # after each of the writer's PUTs, read the whole month
        assert said(writer) == f"put {name}.parquet"
        seen.append(values(root))
        if name == "summary":
            path = month(root) / "summary.parquet"
            with pytest.raises(LakeError) as err:
                value(root, "summary")
            new = etag(s3, bucket, "summary.parquet").strip('"')
            assert str(err.value) == (
                f"{path}: found version {new}; expected version "
                f"{old['summary.parquet'].strip(chr(34))}, the one _set.json names: month "
                f"{LABEL} is being replaced, or its replacement was interrupted: {FIX}")
        go_on(writer)
    assert said(writer) == "published" and writer.wait() == 0
    # Tables already replaced fail; the others are the old set's; never a table of the new.
    assert seen == [{"summary": None, "decisions": 1.0, "incidents": 1.0},
                    {"summary": None, "decisions": None, "incidents": 1.0},
                    {"summary": None, "decisions": None, "incidents": None}]
    assert values(root) == dict.fromkeys(NAMES, 2.0)


def test_a_set_replaced_while_a_reader_reads_it_is_not_mixed(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    with lake.reading_sets():
        assert value(root, "decisions") == 1.0
        writer = set_writer(s3, bucket, 2.0)
        out, err = writer.communicate("\n" * len(NAMES), timeout=60)
        assert writer.returncode == 0, err
        with pytest.raises(LakeError) as exc:
            value(root, "summary")
    assert str(exc.value) == (f"{month(root) / '_set.json'}: month {LABEL} was replaced while "
                              "it was read; expected one version of it throughout: read it "
                              "again")
    assert values(root) == dict.fromkeys(NAMES, 2.0)  # a new read gets the new set


def test_a_publisher_killed_half_way_leaves_the_old_manifest(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    before = manifest(s3, bucket)
    writer = set_writer(s3, bucket, 2.0)
    assert said(writer) == "put summary.parquet"
    go_on(writer)
    assert said(writer) == "put decisions.parquet"
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert manifest(s3, bucket) == before
    assert values(root) == {"summary": None, "decisions": None, "incidents": 1.0}
    publish(root, 2.0)  # the re-run heals the month
    assert values(root) == dict.fromkeys(NAMES, 2.0)


def test_a_publisher_that_fails_half_way_leaves_the_old_manifest(s3: str,
                                                                 bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    before = manifest(s3, bucket)
    with pytest.raises(RuntimeError), lake.publish_set(month(root)) as stage:
        lake.write_atomic(set_table(3.0), stage / "summary.parquet")
        lake.write_atomic(set_table(3.0), stage / "breakdown.parquet")
        raise RuntimeError("the compute failed")
    assert manifest(s3, bucket) == before
    assert values(root) == {"summary": None, "decisions": 1.0, "incidents": 1.0}
    # A file no manifest names is no file of the month, though an object is there.
    assert f"{FOLDER}/breakdown.parquet" in keys(s3, bucket)
    assert not lake.exists(month(root) / "breakdown.parquet")
    with pytest.raises(LakeError, match="breakdown.parquet: missing; expected the computed "
                                        "breakdown of 2026-09"):
        compute.read_table(root, LABEL, "breakdown")
    publish(root, 4.0)
    assert values(root) == dict.fromkeys(NAMES, 4.0)
    assert f"{FOLDER}/breakdown.parquet" not in keys(s3, bucket)


def test_of_two_publishers_of_one_set_one_manifest_wins(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    publish(root, 1.0)
    first = set_writer(s3, bucket, 2.0)  # begins, replaces the summary, waits
    assert said(first) == "put summary.parquet"
    publish(root, 3.0)  # a second writer publishes the whole month meanwhile
    out, err = first.communicate("\n" * len(NAMES), timeout=60)
    assert first.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"slo_jobs.core.errors.LakeError: {month(root) / '_set.json'}: another writer published "
        f"month {LABEL} while this one wrote it; expected one writer of it at a time (theirs "
        f"stands; files both wrote fail to read until it is written again): {FIX}")
    # The second writer's manifest stands; the tables the first replaced after it fail.
    assert manifest(s3, bucket)["files"]["summary.parquet"] == etag(s3, bucket,
                                                                    "summary.parquet")
    assert values(root) == {"summary": 3.0, "decisions": None, "incidents": None}
    publish(root, 4.0)
    assert values(root) == dict.fromkeys(NAMES, 4.0)


def test_a_month_written_without_a_manifest_still_reads(s3: str, bucket: str) -> None:
    root = store(s3, bucket)
    for name in NAMES[:2]:  # as an earlier version wrote it: the tables alone
        client(s3).put_object(Bucket=bucket, Key=f"{FOLDER}/{name}.parquet",  # type: ignore
                              Body=lake.to_bytes(set_table(1.0)))
    assert value(root, "summary") == 1.0 and value(root, "decisions") == 1.0
    assert not lake.exists(month(root) / "incidents.parquet")
    publish(root, 2.0)  # the first set with a manifest
    assert values(root) == dict.fromkeys(NAMES, 2.0)
    assert sorted(manifest(s3, bucket)["files"]) == sorted(f"{n}.parquet" for n in NAMES)
