"""The monthly DAG's shard plan: the catalog validated once, each shard task handed its SLOs
(with their spec hashes) and the spec files that define them, and reading only those.

The catalog spreads its definitions over files the way a large one is: one file per native
SLO, a service's maintenance windows in a file of their own, OpenSLO SLOs whose indicator
is a document in another file. The shards computed from the plan merge into the same month
as the whole catalog computed at once.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from slo_jobs import lake
from slo_jobs.core.errors import SloJobsError
from slo_jobs.run import runner, tasks
from slo_jobs.spec import catalog, io
from tests.conftest import ROOT
from tests.test_compute_shards import NOV, SLOS, _spec, _write_lake

START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
WINDOWS = ("apiVersion: slo-jobs/v1\nkind: MaintenanceWindows\nmetadata: {name: a-upgrades}\n"
           "spec:\n  service: svc-a\n  windows:\n"
           "    - {start: '2026-11-20T01:00:00Z', end: '2026-11-20T03:00:00Z'}\n")


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "lake"
    _write_lake(path)
    return path


def _catalog(folder: Path) -> Path:
    """The SLOs of test_compute_shards one file each, svc-a's windows apart, and the OpenSLO
    demo split into its definitions (data source, service, SLI) and its SLOs."""
    folder.mkdir()
    for slo in SLOS:
        (folder / f"{slo[0]}.yaml").write_text(_spec(*slo))
    (folder / "windows.yaml").write_text(WINDOWS)
    docs = (ROOT / "tests/fixtures/spec/openslo/demo.yaml").read_text().split("\n---\n")
    (folder / "openslo").mkdir()
    (folder / "openslo" / "defs.yaml").write_text("\n---\n".join(docs[:3]) + "\n")
    (folder / "openslo" / "slos.yaml").write_text("\n---\n".join(docs[3:]) + "\n")
    return folder


def _month(lake_path: Path) -> dict[str, object]:
    folder = lake.monthly_partition(lake_path, NOV.label).parent
    return {p.name: pq.read_table(p) for p in sorted(folder.glob("*.parquet"))}


def test_each_shard_reads_only_its_own_spec_files(lake_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    slos_dir = _catalog(tmp_path / "slos")
    whole = catalog.load([slos_dir])
    openslo = {s.name for s in whole if s.source.endswith("openslo/slos.yaml")}
    assert len(whole) == len(SLOS) + len(openslo) and len(openslo) >= 4

    plan = tasks.plan_shards(slos_dir, 3)
    names = [s.name for s in whole]
    assert [list(p["slos"]) for p in plan] == [names[i:i + 3] for i in range(0, len(names), 3)]
    assert {n: h for p in plan for n, h in p["slos"].items()} == \
        {s.name: s.spec_hash for s in whole}
    for p in plan:  # its SLOs' files; svc-a's windows; every OpenSLO file for an import
        expected: set[str] = set()
        for name in p["slos"]:
            if name in openslo:
                expected |= {"openslo/defs.yaml", "openslo/slos.yaml"}
            else:
                expected.add(f"{name}.yaml")
            if name.startswith("a-"):
                expected.add("windows.yaml")
        assert sorted(p["files"]) == sorted(expected), p["index"]

    read: list[str] = []
    real = io.read_documents

    def spy(path: Path) -> list[io.RawDoc]:
        read.append(Path(path).relative_to(slos_dir).as_posix())
        return real(path)

    monkeypatch.setattr(io, "read_documents", spy)
    sharded = tmp_path / "sharded"
    shutil.copytree(lake_dir, sharded)
    computed = []
    for p in reversed(plan):
        read.clear()
        computed.append(tasks.compute_shard(slos_dir, sharded, START, END, p))
        assert sorted(read) == sorted(p["files"]), p["index"]
        assert computed[-1]["slos"] == len(p["slos"])
    monkeypatch.undo()
    tasks.merge_month(slos_dir, sharded, START, END, computed)

    at_once = tmp_path / "at-once"
    shutil.copytree(lake_dir, at_once)
    runner.compute_month(at_once, whole, NOV)
    expected_tables, got = _month(at_once), _month(sharded)
    assert set(got) == set(expected_tables)
    for name, table in expected_tables.items():
        assert got[name].equals(table), name  # type: ignore[attr-defined]
    summary = {r["slo"]: r for r in got["summary.parquet"].to_pylist()}  # type: ignore[attr-defined]
    assert summary["a-utc"]["excluded_minutes"] == 120  # svc-a's windows reached the shard


def test_a_shard_refuses_a_catalog_changed_since_the_plan(lake_dir: Path,
                                                          tmp_path: Path) -> None:
    slos_dir = _catalog(tmp_path / "slos")
    plan = tasks.plan_shards(slos_dir, 4)
    spec = slos_dir / "a-utc.yaml"
    spec.write_text(spec.read_text().replace("target: 0.999", "target: 0.995"))
    with pytest.raises(SloJobsError, match=r"^shard 0: SLO a-utc: removed or changed in .* "
                                           r"since the shards were planned; expected the "
                                           r"planned definitions"):
        tasks.compute_shard(slos_dir, lake_dir, START, END, plan[0])
    spec.write_text(_spec(*SLOS[0]))
    windows = slos_dir / "windows.yaml"  # svc-a's windows moved: its definition changed
    windows.write_text(WINDOWS.replace("T03:00", "T04:00"))
    with pytest.raises(SloJobsError, match=r"^shard 0: SLO a-utc: removed or changed"):
        tasks.compute_shard(slos_dir, lake_dir, START, END, plan[0])
    windows.unlink()
    with pytest.raises(SloJobsError, match=r"^shard 0: files: windows.yaml: no longer in .*; "
                                           r"expected the files the shards were planned from"):
        tasks.compute_shard(slos_dir, lake_dir, START, END, plan[0])
    shard = {**plan[1], "files": ["../outside.yaml"]}
    with pytest.raises(SloJobsError, match=r"^shard 1: files: found '\.\./outside\.yaml'; "
                                           r"expected a spec file under "):
        tasks.compute_shard(slos_dir, lake_dir, START, END, shard)
    # Nothing of the refused shards was written.
    assert not (lake_dir / "monthly").exists()
