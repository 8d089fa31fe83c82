"""A month computed in shards (one task each) and merged equals the month computed at once.

The SLOs cover what changes the computation's shape: three time zones (one with half-hour
offsets, so 15-minute snapshots), a quarter and a rolling window, both time-slice methods,
progressive phases and a maintenance window, with incidents and a day without data.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slo_jobs import compute, lake
from slo_jobs.compute import shards
from slo_jobs.core import periods
from slo_jobs.core.errors import SloJobsError
from slo_jobs.lake import ObjectStoreConfig
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests.s3server import ACCESS_KEY, SECRET_KEY, client

NOV = periods.month("2026-11")
FIRST, DAYS = date(2026, 9, 25), 68  # the quarter to date, the lookback and 1 December
SLOS = [  # name, window, extra spec lines
    ("a-utc", "{calendar: month}", ""),
    ("b-la", "{calendar: month, timeZone: America/Los_Angeles}", ""),
    ("c-kolkata-quarter", "{calendar: quarter, timeZone: Asia/Kolkata}", ""),
    ("d-rolling", "{rolling: 28d}", ""),
    ("e-slices", "{calendar: month, timeZone: Europe/Berlin}",
     "  budgetingMethod: Timeslices\n"),
    ("f-ratio-slices", "{calendar: month}", "  budgetingMethod: RatioTimeslices\n"),
    ("g-phases", "{calendar: month}", ""),
    ("h-maintenance", "{calendar: month}",
     "  maintenance:\n    windows:\n"
     "      - {start: '2026-11-12T10:00:00Z', end: '2026-11-12T12:00:00Z', reason: upgrade}\n"),
]


def _spec(name: str, window: str, extra: str) -> str:
    if name == "g-phases":
        objective = ("  objective:\n    target: 0.99\n    phases:\n"
                     "      - {name: first, target: 0.995, start: '2026-10-01'}\n"
                     "      - {name: second, target: 0.999, start: '2026-12-01'}\n")
    elif "RatioTimeslices" in extra:
        objective = "  objective: {target: 0.99, timeSliceWindow: 5m}\n"
    elif "Timeslices" in extra:
        objective = "  objective: {target: 0.99, timeSliceTarget: 0.99, timeSliceWindow: 5m}\n"
    else:
        objective = "  objective: {target: 0.999}\n"
    return (f"apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\n"
            f"metadata: {{name: {name}, labels: {{tier: critical, team: team-{name[0]}}}}}\n"
            f"spec:\n  service: svc-{name[0]}\n  description: Requests without errors.\n"
            "  indicator:\n    ratio:\n"
            "      good:  {selector: 'http_requests_total{code!~\"5..\"}'}\n"
            "      total: {selector: 'http_requests_total'}\n"
            f"{objective}  window: {window}\n{extra}")


def _write_lake(lake_dir: Path) -> None:
    rng = np.random.default_rng(11)
    for k, (name, _, _) in enumerate(SLOS):
        for d in range(DAYS):
            day = FIRST + timedelta(days=d)
            first = datetime(day.year, day.month, day.day, tzinfo=UTC)
            total = rng.poisson(500, 1440).astype(float)
            p = np.full(1440, 0.0005)
            if (d + k) % 9 == 0:
                p[300 + 40 * k:400 + 40 * k] = 0.2  # an incident
            good = total - rng.binomial(total.astype(np.int64), p)
            has = np.ones(1440, bool)
            if d == 50 + k:
                has[:] = False  # a day without data
                good[:] = total[:] = 0.0
            lake.write_atomic(pa.table({
                "ts": pa.array([first + timedelta(minutes=i) for i in range(1440)],
                               pa.timestamp("us", tz="UTC")),
                "good": good, "total": total, "clipped": np.zeros(1440, bool),
                "has_data": has, "step_s": np.full(1440, 60, np.int32)},
                schema=lake.SLI_SCHEMA), lake.sli_partition(lake_dir, name, day))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:  # type: ignore[type-arg]
    base = tmp_path_factory.mktemp("shards")
    (base / "slos").mkdir()
    (base / "slos" / "all.yaml").write_text("---\n".join(_spec(*s) for s in SLOS))
    _write_lake(base / "lake")
    return base, catalog.load([base / "slos"])


def _month_tables(lake_dir: Path) -> dict[str, pa.Table]:
    folder = lake.monthly_partition(lake_dir, NOV.label).parent
    return {p.name: pq.read_table(p) for p in sorted(folder.glob("*.parquet"))}


def _shard(lake_dir: Path, slos: list, index: int, size: int) -> Path:  # type: ignore[type-arg]
    """Shard ``index`` of shards of ``size`` of the catalog ``slos``, computed."""
    folder: Path = shards.compute_shard(lake_dir, shards.members(slos, index, size), NOV,
                                        index, size)
    return folder


def _copy_lake(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=shutil.copy2)
    return dst


@pytest.mark.parametrize("size", [1, 3, 8, 50])
def test_sharded_month_equals_the_month_computed_at_once(setup: tuple[Path, list],  # type: ignore[type-arg]
                                                         size: int, tmp_path: Path) -> None:
    base, slos = setup
    whole = _copy_lake(base / "lake", tmp_path / "whole")
    runner.compute_month(whole, slos, NOV)
    parts = _copy_lake(base / "lake", tmp_path / "parts")
    n = shards.count(len(slos), size)
    assert n == -(-len(SLOS) // size)
    # Shards run in any order, as an orchestrator's workers finish them.
    for i in reversed(range(n)):
        _shard(parts, slos, i, size)
    rows = runner.merge_shards(parts, slos, NOV, list(range(n)))
    expected, got = _month_tables(whole), _month_tables(parts)
    assert set(got) == set(expected) >= {"summary.parquet", "daily.parquet", "burn.parquet",
                                         "incidents.parquet", "priorities.parquet"}
    for name, table in expected.items():
        assert got[name].equals(table), name
    assert rows == expected["summary.parquet"].to_pylist()
    # The shards are gone; the incidents and the half-hour zone's month were computed.
    assert not (parts / "monthly" / ".shards").exists()
    assert expected["incidents.parquet"].num_rows > 0
    summary = {r["slo"]: r for r in expected["summary.parquet"].to_pylist()}
    assert summary["c-kolkata-quarter"]["window_label"] == "2026-Q4"
    assert summary["c-kolkata-quarter"]["period_start"] == datetime(2026, 10, 31, 18, 30,
                                                                    tzinfo=UTC)


def test_a_sharded_month_in_a_bucket_is_the_sharded_month_in_a_folder(
        setup: tuple[Path, list], s3: str, bucket: str, tmp_path: Path) -> None:  # type: ignore[type-arg]
    # The merge streams each shard's table into the month's file, on a disk and in a bucket
    # alike: the same bytes (one row group per shard), and no shard left behind.
    base, slos = setup
    parts = _copy_lake(base / "lake", tmp_path / "parts")
    root = lake.location(f"s3://{bucket}/lake", ObjectStoreConfig(
        endpoint_url=s3, region="us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY))
    for f in sorted(parts.rglob("*.parquet")):
        lake.write_atomic(pq.read_table(f), root / f.relative_to(parts).as_posix())
    for lake_dir in (parts, root):
        for i in range(3):
            shards.compute_shard(lake_dir, shards.members(slos, i, 3), NOV, i, 3)
        runner.merge_shards(lake_dir, slos, NOV, [0, 1, 2])
    folder = lake.monthly_partition(parts, NOV.label).parent
    month = f"lake/monthly/month={NOV.label}/"
    listed: Any = client(s3).list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    stored = {o["Key"] for o in listed["Contents"]}
    assert not any("/.shards/" in k for k in stored)
    assert sorted(k.removeprefix(month) for k in stored if k.startswith(month)) == \
        sorted([p.name for p in folder.iterdir()] + ["_set.json"])
    for p in sorted(folder.iterdir()):
        got = client(s3).get_object(Bucket=bucket, Key=month + p.name)  # type: ignore[attr-defined]
        assert got["Body"].read() == p.read_bytes(), p.name


def test_a_shard_rerun_replaces_exactly_that_shard(setup: tuple[Path, list],  # type: ignore[type-arg]
                                                   tmp_path: Path) -> None:
    base, slos = setup
    parts = _copy_lake(base / "lake", tmp_path / "parts")
    folder = _shard(parts, slos, 1, 3)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    other = _shard(parts, slos, 0, 3)
    before = {p.name: p.stat().st_ino for p in other.iterdir()}
    assert _shard(parts, slos, 1, 3) == folder
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    assert {p.name: p.stat().st_ino for p in other.iterdir()} == before
    names = [r["slo"] for r in pq.read_table(folder / "summary.parquet").to_pylist()]
    assert sorted(names) == ["d-rolling", "e-slices", "f-ratio-slices"]
    assert not list(folder.parent.glob(".tmp-*"))


def test_merge_refuses_shards_that_do_not_cover_the_catalog(setup: tuple[Path, list],  # type: ignore[type-arg]
                                                            tmp_path: Path) -> None:
    base, slos = setup
    parts = _copy_lake(base / "lake", tmp_path / "parts")
    for i in range(3):
        _shard(parts, slos, i, 3)
    with pytest.raises(SloJobsError, match=r"month 2026-11: shards: g-phases, h-maintenance: "
                                           r"not computed by any shard"):
        runner.merge_shards(parts, slos, NOV, [0, 1])
    changed = [s for s in slos if s.name != "a-utc"] + [
        catalog.load([_changed(tmp_path)])[0]]
    with pytest.raises(SloJobsError, match="a-utc: computed from a definition that has "
                                           "changed since"):
        runner.merge_shards(parts, changed, NOV, [0, 1, 2])
    with pytest.raises(SloJobsError, match="b-la: computed but no longer in the catalog"):
        runner.merge_shards(parts, [s for s in slos if s.name != "b-la"], NOV, [0, 1, 2])
    (shards.shard_folder(parts, NOV.label, 1) / "daily.parquet").unlink()
    with pytest.raises(SloJobsError, match=r"shard=00001/daily.parquet: not a readable "
                                           r"Parquet file .*; expected a shard's computed "
                                           r"table; re-run the month's compute_shard tasks"):
        runner.merge_shards(parts, slos, NOV, [0, 1, 2])
    # Nothing was published by the refused merges.
    assert not lake.monthly_partition(parts, NOV.label).exists()


def _changed(tmp_path: Path) -> Path:
    path = tmp_path / "changed.yaml"
    path.write_text(_spec(*SLOS[0]).replace("target: 0.999", "target: 0.995"))
    return path


def test_shard_size_and_index_are_checked() -> None:
    with pytest.raises(SloJobsError, match="shard_size: found 0; expected a whole number"):
        shards.count(10, 0)
    assert shards.count(0, 200) == 1 and shards.count(400, 200) == 2 \
        and shards.count(401, 200) == 3
    five = [type("Named", (), {"name": f"s{i}"})() for i in range(5)]
    assert [s.name for s in shards.members(five, 2, 2)] == ["s4"]  # type: ignore[arg-type]
    with pytest.raises(SloJobsError, match=r"shard: found 3; expected 0 to 2 \(5 SLOs in "
                                           r"shards of 2\)"):
        shards.members(five, 3, 2)  # type: ignore[arg-type]


def test_a_shard_forks_no_worker_processes(setup: tuple[Path, list],  # type: ignore[type-arg]
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The orchestrator spreads the shards over its workers; the process pool is the CLI's.
    from slo_jobs.compute import stream

    base, slos = setup
    parts = _copy_lake(base / "lake", tmp_path / "parts")

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker process pool was started")

    monkeypatch.setattr(stream, "MIN_SLOS_PER_PROCESS", 1)
    monkeypatch.setattr(stream.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(stream, "ProcessPoolExecutor", no_pool)
    with pytest.raises(AssertionError, match="pool was started"):
        runner.compute_month(parts, slos, NOV)  # the CLI's path does use one
    _shard(parts, slos, 0, 8)
    runner.merge_shards(parts, slos, NOV, [0])
    assert len(compute.read_summary(parts, NOV)) == len(SLOS)
