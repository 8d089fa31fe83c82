"""Killing an extraction or a backfill mid-run and running it again leaves the lake exactly as
an uninterrupted run does, and a resumed backfill does not redo finished days."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_jobs import lake
from slo_jobs.core import periods
from slo_jobs.decisions import teams
from slo_jobs.lake import atomicio
from slo_jobs.run import backfill, runner
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
SLOS = ROOT / "slos" / "checkout.yaml"  # two SLOs: enough to be killed between them
CLI = [sys.executable, "-m", "slo_jobs.cli"]
RENDERED = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # the render time the CLI would pass


def content(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) and the SHA-256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def parts(lake_dir: Path) -> list[Path]:
    return sorted(lake_dir.glob("sli/*/date=*/part-0.parquet"))


def kill_when(proc: subprocess.Popen[bytes], lake_dir: Path, written: int) -> int:
    """SIGKILL ``proc``'s process group once ``written`` partitions exist (0: once a
    partition is being written, its temp file there); return how many exist."""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if written and len(parts(lake_dir)) >= written or not written and any(
                    lake_dir.glob(f"sli/*/date=*/{atomicio.TEMP_PREFIX}*")):
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, \
        f"the run ended on its own (exit {proc.returncode}) before it could be killed"
    return len(parts(lake_dir))


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.fixture(scope="module")
def reference(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """September of the checkout SLOs (and the days before it they read), extracted in one
    uninterrupted run."""
    lake_dir = tmp_path_factory.mktemp("reference") / "lake"
    with Sources.from_env(prometheus) as sources:
        runner.fill_month(sources, catalog.load([SLOS]), periods.month("2026-09"), lake_dir,
                          None, redo=True)
    return lake_dir


def test_extract_killed_mid_run_then_rerun_equals_uninterrupted(
        prometheus: str, reference: Path, tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    args = ["extract", "--month", "2026-09", "--slos", str(SLOS), "--lake", str(lake_dir),
            "--prometheus-url", prometheus]
    # An SLO's partitions are renamed together at the end of its write: kill while the
    # first ones are being written.
    left = kill_when(start(args), lake_dir, written=0)
    assert left < len(parts(reference)), \
        f"expected a partial lake after the kill, found all {left} partitions"
    assert content(lake_dir) != content(reference)
    subprocess.run(CLI + args, check=True, capture_output=True)
    assert content(lake_dir) == content(reference)


def test_temp_file_of_a_writer_killed_mid_write_is_cleared(
        prometheus: str, reference: Path, tmp_path: Path) -> None:
    import shutil

    lake_dir = tmp_path / "lake"
    shutil.copytree(reference, lake_dir)
    # What a SIGKILL between the temp file's creation and its rename leaves behind.
    target = lake.sli_partition(lake_dir, "checkout-latency", periods.month("2026-09").days[9])
    (target.parent / ".tmp-k1ll3d.parquet").write_bytes(target.read_bytes()[:1000])
    target.unlink()
    assert content(lake_dir) != content(reference)
    subprocess.run(CLI + ["extract", "--month", "2026-09", "--slos", str(SLOS), "--lake",
                          str(lake_dir), "--prometheus-url", prometheus],
                   check=True, capture_output=True)
    assert content(lake_dir) == content(reference)


@pytest.fixture(scope="module")
def reference_backfill(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("reference-backfill")
    backfill.backfill(Sources.from_env(prometheus), catalog.load([SLOS]), "2026-08",
                      "2026-09", base / "lake", base / "out",
                      progress=False, rendered_at=RENDERED, teams=teams.load_for([SLOS]))
    return base


def test_backfill_killed_mid_run_resumes_without_redoing_days(
        prometheus: str, reference_backfill: Path, tmp_path: Path) -> None:
    lake_dir, out = tmp_path / "lake", tmp_path / "out"
    args = ["backfill", "--from", "2026-08", "--to", "2026-09", "--slos", str(SLOS),
            "--lake", str(lake_dir), "--out", str(out), "--prometheus-url", prometheus]
    left = kill_when(start(args + ["--no-progress"]), lake_dir, written=20)
    days = 2 * (3 + 31 + 30)  # both SLOs: August's 3 lookback days, August and September
    assert 0 < left < days
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in parts(lake_dir)}

    resumed = subprocess.run(CLI + args, check=True, capture_output=True, text=True)
    # finished days were kept as they were, and only the rest was extracted
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in before} == before
    extracted = sum(int(line.split(": ")[1].split()[0]) for line in resumed.stdout.splitlines()
                    if "SLO-days extracted" in line)
    assert extracted == days - len(before)
    # a progress bar per month and per SLO
    for label in ("2026-08", "2026-09", "checkout-availability", "checkout-latency"):
        assert label in resumed.stderr
    assert content(lake_dir) == content(reference_backfill / "lake")
    for month in ("2026-08", "2026-09"):
        for name in ("summary.json", "summary.csv", "report.html"):
            assert without_render_time(out / month / name) == \
                without_render_time(reference_backfill / "out" / month / name), (month, name)


def without_render_time(path: Path) -> bytes:
    """The file, less the one clock reading a report carries (its render time)."""
    return re.sub(rb'<span id="rendered-at">[^<]*</span>', b"", path.read_bytes())


def test_files_synced_together_appear_at_the_end_in_order(tmp_path: Path) -> None:
    """Inside synced_together, no target changes until the block ends; then every file is
    there, more than one batch's worth included, and no temp file is left."""
    targets = [tmp_path / f"d{i % 7}" / f"f{i}" for i in range(atomicio._MAX_PENDING + 5)]
    (tmp_path / "d0").mkdir()
    (tmp_path / "d0" / "f0").write_bytes(b"old")
    with atomicio.synced_together():
        for i, target in enumerate(targets[:3]):
            atomicio.write_file(target, f"new {i}".encode())
        assert (tmp_path / "d0" / "f0").read_bytes() == b"old"
        assert not targets[1].exists()
        for i, target in enumerate(targets[3:], start=3):
            atomicio.write_file(target, f"new {i}".encode())
    assert [t.read_bytes() for t in targets] == [f"new {i}".encode()
                                                for i in range(len(targets))]
    assert not list(tmp_path.rglob(f"{atomicio.TEMP_PREFIX}*"))


def test_a_failure_inside_synced_together_replaces_nothing_pending(tmp_path: Path) -> None:
    (tmp_path / "kept").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomicio.synced_together():
        atomicio.write_file(tmp_path / "kept", b"new")
        atomicio.write_file(tmp_path / "fresh", b"new")
        raise RuntimeError("the source failed half way")
    assert (tmp_path / "kept").read_bytes() == b"old"
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
