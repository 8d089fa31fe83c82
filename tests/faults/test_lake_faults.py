"""Fault 6: the lake. Corrupt partitions are named with the command that re-extracts them; a
lake that cannot be written fails cleanly with no partial file; concurrent writers of one
partition leave exactly one correct file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slo_jobs import compute, lake, spec
from slo_jobs.core.errors import LakeError
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from tests.conftest import ROOT
from tests.faults.conftest import DAY, SEP
from tests.test_extract_integration import lake_digest


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:]


def _foreign(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"ts": [1], "value": [0.5]}), sink)
    return bytes(sink.getvalue().to_pybytes())


CORRUPTIONS = {
    "truncated-half": lambda d: d[: len(d) // 2],
    "truncated-footer": lambda d: d[:-8],
    "empty": lambda d: b"",
    "not-parquet": lambda d: b"ts,good,total\n" * 100,
    # Flipped bits inside data pages: DuckDB alone would read a wrong number from some.
    "bit-flip-early": lambda d: _flip(d, 200),
    "bit-flip-middle": lambda d: _flip(d, len(d) // 2),
    "foreign-schema": _foreign,
}


@pytest.fixture()
def month_lake(prometheus: str, slo: spec.Slo, reference: Path, tmp_path: Path) -> Path:
    target = lake.sli_partition(tmp_path, slo.name, DAY)
    target.parent.mkdir(parents=True)
    shutil.copy(reference, target)
    return tmp_path


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_partition_is_named_with_the_fix(corruption: str, month_lake: Path,
                                                 slo: spec.Slo) -> None:
    assert compute.month_summary(month_lake, [slo], SEP)[0]["total"] > 0  # intact: fine
    part = lake.sli_partition(month_lake, slo.name, DAY)
    part.write_bytes(CORRUPTIONS[corruption](part.read_bytes()))
    with pytest.raises(LakeError) as err:
        compute.month_summary(month_lake, [slo], SEP)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{part}: ")
    assert "slo-jobs extract --month 2026-09" in message and str(DAY) in message


def test_cli_names_the_corrupt_file_in_one_line(month_lake: Path, slo: spec.Slo) -> None:
    part = lake.sli_partition(month_lake, slo.name, DAY)
    part.write_bytes(part.read_bytes()[:1000])
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "compute", "--month", "2026-09",
                           "--slos", str(ROOT / "slos" / "checkout.yaml"), "--lake",
                           str(month_lake)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert str(part) in proc.stderr and "slo-jobs extract --month 2026-09" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unwritable_lake_fails_cleanly(prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    # A file where the sli/ folder belongs: no write can succeed (root ignores chmod).
    (tmp_path / "sli").write_text("")
    with PrometheusClient(PrometheusConfig(prometheus)) as client, \
            pytest.raises(LakeError, match=r"cannot write \(Not a directory\)") as err:
        extract_slo(client, slo, [DAY], tmp_path)
    assert "\n" not in str(err.value)
    assert [p.name for p in tmp_path.rglob("*")] == ["sli"]


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from slo_jobs.spec import catalog
    from slo_jobs.core.errors import LakeError
    from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
    from slo_jobs.core.periods import month
    slo = catalog.load([Path(sys.argv[3])])[0]
    with PrometheusClient(PrometheusConfig(sys.argv[1])) as client:
        # Queries first, then writes: the size limit makes every write fail like a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            extract_slo(client, slo, month("2026-09").days[:3], Path(sys.argv[2]))
        except LakeError as exc:
            print(exc)
            sys.exit(1)
""")


def test_full_disk_fails_cleanly_and_keeps_old_partitions(
        prometheus: str, slo: spec.Slo, month_lake: Path) -> None:
    before = lake_digest(month_lake)
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, prometheus, str(month_lake),
                           str(ROOT / "slos" / "checkout.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip().endswith("cannot write (File too large)")
    assert str(DAY) in proc.stdout and proc.stderr == ""
    assert lake_digest(month_lake) == before  # the old partition intact, no temp file left


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from slo_jobs.spec import catalog
    from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
    from slo_jobs.core.periods import month
    slo = catalog.load([Path(sys.argv[3])])[0]
    with PrometheusClient(PrometheusConfig(sys.argv[1])) as client:
        for _ in range(4):
            extract_slo(client, slo, month("2026-09").days[:1], Path(sys.argv[2]))
""")


def test_concurrent_writers_leave_one_correct_partition(
        prometheus: str, slo: spec.Slo, reference: Path, tmp_path: Path) -> None:
    args = [sys.executable, "-c", WRITER, prometheus, str(tmp_path),
            str(ROOT / "slos" / "checkout.yaml")]
    writers = [subprocess.Popen(args, cwd=ROOT) for _ in range(2)]
    part = lake.sli_partition(tmp_path, slo.name, DAY)
    reads = 0
    # Read while they write: a reader sees the old or the new file, never half of one.
    while any(w.poll() is None for w in writers) and reads < 10_000:
        if part.exists():
            lake.read_verified(part)
            reads += 1
        time.sleep(0.005)  # leave the two cores to the writers
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert reads > 0
    assert [p.name for p in part.parent.iterdir()] == [lake.PART]
    assert part.read_bytes() == reference.read_bytes()
