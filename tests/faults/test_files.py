"""Files: every output is written whole by one helper, and a month is published as a set.

``slo_jobs.lake.atomicio`` writes through a temp file with a random name created with ``O_EXCL``
(a planted symlink is never followed), with the mode the umask gives, and removes its temp
file on any failure. A month's report folder and its computed tables in the lake are built
as a new version beside the old one and swapped in with one rename: a failure part-way
leaves the previous set whole, and a reader never sees files of two versions together.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from slo_jobs import lake, rules
from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import periods
from slo_jobs.core.errors import LakeError, SloJobsError
from slo_jobs.lake import atomicio
from slo_jobs.report import monthly as report
from slo_jobs.report import pdf
from slo_jobs.spec import catalog
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

# The instant the rules and dashboards are written for (the CLI's --at).
AT = datetime(2026, 10, 1, tzinfo=UTC)

NOV = periods.month("2026-11")
SLO = SloParams("web-availability", "web", "d", "h", 0.99)


def _compute(lake_dir: Path, good: int) -> None:
    write_buckets(lake_dir, SLO.name, NOV.start, [(good, 1000)] * 1440)
    write_result(lake_dir, compute_window(lake_dir, [SLO], NOV))


def _render(base: Path, day: int) -> report.ReportFiles:
    return report.render(base / "lake", NOV, base / "out", source="s",
                         generated_at=datetime(2026, 12, day, tzinfo=UTC))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture()
def umask() -> Iterator[None]:
    old = os.umask(0)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_outputs_get_the_mode_the_umask_gives(mask: int, tmp_path: Path, umask: None) -> None:
    os.umask(mask)
    _compute(tmp_path / "lake", 990)
    files = _render(tmp_path, 1)
    outputs = [files.html, files.pdf, files.json, files.csv, files.index,
               lake.sli_partition(tmp_path / "lake", SLO.name, NOV.start.date()),
               lake.monthly_partition(tmp_path / "lake", NOV.label)]
    api = catalog.load([ROOT / "tests" / "fixtures" / "rules" / "api.yaml"])
    outputs.append(rules.write(api, tmp_path / "rules" / "slo.rules.yml", AT))
    for path in outputs:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path  # not mkstemp's 0600
    # A month's folders are published whole (built beside, then exchanged): made by mkdir, so
    # they get the umask's mode too, never mkdtemp's 0700.
    for folder in (files.html.parent, lake.monthly_partition(tmp_path / "lake", NOV.label).parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder


def test_a_planted_symlink_at_a_temp_name_is_never_followed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    # The names an attacker can guess: the old fixed PDF temp name, and (with the random
    # part predicted) the helper's own next name.
    (out / ".tmp-report.pdf").symlink_to(victim)
    (out / ".tmp-report.pdf-guessed").symlink_to(victim)
    tokens = iter(["guessed", "guessed", "fresh"])
    monkeypatch.setattr(atomicio, "_token", lambda: next(tokens))
    atomicio.write_file(out / "report.pdf", b"%PDF-1.7 new")
    assert victim.read_text() == "precious"
    assert (out / "report.pdf").read_bytes() == b"%PDF-1.7 new"
    assert not (out / "report.pdf").is_symlink()
    # A real render into a month folder holding the old fixed name's trap.
    monkeypatch.undo()
    _compute(tmp_path / "lake", 990)
    month_dir = tmp_path / "out" / NOV.label
    month_dir.mkdir()
    (month_dir / ".tmp-report.pdf").symlink_to(victim)
    files = _render(tmp_path, 1)
    assert victim.read_text() == "precious"
    assert files.pdf.read_bytes().startswith(b"%PDF-")


def test_a_failed_write_leaves_no_temp_file_and_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    atomicio.write_text(target, "old")

    def half(fh: Any) -> None:
        fh.write(b"half of the new")
        raise RuntimeError("killed part-way")

    def full(fh: Any) -> None:
        fh.write(b"half of the new")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(RuntimeError):
        atomicio.write_file(target, half)
    with pytest.raises(SloJobsError, match=r"summary.json: cannot write \(No space left"):
        atomicio.write_file(target, full)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_render_leaves_the_previous_month_whole(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _compute(tmp_path / "lake", 990)
    files = _render(tmp_path, 1)
    month_dir = files.html.parent
    before = _files(month_dir)
    assert {"report.html", "report.pdf", "summary.json", "summary.csv"} <= set(before)
    _compute(tmp_path / "lake", 950)  # new figures: every file of the month changes

    def crash(*_: object, **__: object) -> bytes:
        raise RuntimeError("the PDF renderer died")

    # report.html is rendered before the PDF: written file by file, it would be new here.
    monkeypatch.setattr(pdf.HTML, "write_pdf", crash)
    with pytest.raises(RuntimeError):
        _render(tmp_path, 2)
    assert _files(month_dir) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [NOV.label, "index.html"]
    monkeypatch.undo()
    _render(tmp_path, 2)
    after = _files(month_dir)
    assert all(after[name] != before[name] for name in ("report.html", "summary.json"))
    assert b"2026-12-02" in after["report.html"]


def test_a_failed_compute_leaves_the_previous_tables_whole(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    _compute(tmp_path / "lake", 990)
    folder = lake.monthly_partition(tmp_path / "lake", NOV.label).parent
    before = _files(folder)
    assert len(before) == 5
    real, calls = lake.write_atomic, []

    def third_fails(table: pa.Table, target: Path) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise LakeError(f"{target}: cannot write (No space left on device)")
        real(table, target)

    monkeypatch.setattr(lake, "write_atomic", third_fails)
    with pytest.raises(LakeError, match="No space left"):
        _compute(tmp_path / "lake", 950)
    assert len(calls) == 3 and _files(folder) == before  # two new tables were not published


def test_readers_never_see_two_versions_together(tmp_path: Path) -> None:
    target = tmp_path / "2026-11"
    mixed: list[tuple[bytes, bytes]] = []
    done = threading.Event()

    def read_at(folder: int, name: str) -> bytes:
        fd = os.open(name, os.O_RDONLY, dir_fd=folder)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def read() -> None:
        while not done.is_set():
            folder = os.open(target, os.O_RDONLY | os.O_DIRECTORY)  # the month, opened once
            try:
                a, b = read_at(folder, "report.html"), read_at(folder, "summary.json")
            except FileNotFoundError:
                continue  # the set it opened was replaced and removed: read again
            finally:
                os.close(folder)
            if a != b:
                mixed.append((a, b))

    reader = threading.Thread(target=read)
    with atomicio.publish_folder(target) as stage:
        for name in ("report.html", "summary.json"):
            atomicio.write_text(stage / name, "0")
    reader.start()
    try:
        for version in range(1, 150):
            with atomicio.publish_folder(target) as stage:
                for name in ("report.html", "summary.json"):
                    atomicio.write_text(stage / name, str(version))
    finally:
        done.set()
        reader.join()
    assert mixed == []
    assert (target / "summary.json").read_text() == "149"
    assert list(tmp_path.iterdir()) == [target]  # no version left behind


def test_folders_left_by_a_killed_writer_are_removed_once_stale(tmp_path: Path) -> None:
    target = tmp_path / "2026-11"
    stale, young = tmp_path / ".tmp-2026-11-killed", tmp_path / ".tmp-2026-11-working"
    for folder in (stale, young):
        folder.mkdir()
        (folder / "report.html").write_text("half")
    # A writer at work holds its stage folder's lock (another process: flock is per open
    # file, so a child holds it); the killed writer's lock died with it.
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(young)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    try:
        with atomicio.publish_folder(target) as stage:
            atomicio.write_text(stage / "report.html", "whole")
    finally:
        holder.kill()
        holder.wait()
    assert not stale.exists() and young.exists()  # a young one may be another writer's
    assert (target / "report.html").read_text() == "whole"


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_truncated_monthly_summary_names_the_file_and_the_fix(tmp_path: Path) -> None:
    _compute(tmp_path / "lake", 990)
    summary = lake.monthly_partition(tmp_path / "lake", NOV.label)
    summary.write_bytes(summary.read_bytes()[:100])
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "report", "--month",
                           NOV.label, "--lake", str(tmp_path / "lake"), "--out",
                           str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"error: {summary}: not a readable Parquet file (")
    assert line.endswith("recompute it with slo-jobs compute --month 2026-11")
    assert "unexpected" not in line and not (tmp_path / "out" / NOV.label).exists()


LINK_SPEC = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: web-availability}
spec:
  service: web
  indicator:
    ratio:
      good:  {selector: 'ok_total{service="web"}'}
      total: {selector: 'all_total{service="web"}'}
  objective: {target: 0.99}
"""
PRIVATE = {"id_rsa": b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot for publishing\n",
           "notes.txt": b"private notes\n"}


def _private(base: Path) -> Path:
    folder = base / "private"
    folder.mkdir()
    for name, data in PRIVATE.items():
        (folder / name).write_bytes(data)
    return folder


def _published(base: Path) -> list[bytes]:
    """Every regular file slo-jobs could have written, links left unfollowed."""
    found = []
    for top in (base / "out", base / "lake", base / "rules"):
        for folder, _, names in os.walk(top):
            found += [(Path(folder) / n).read_bytes() for n in names
                      if not (Path(folder) / n).is_symlink()]
    return found


# (what is linked to the private folder or file, the command that writes there)
LINKS = {
    "month folder": ("out/2026-11", ["report", "--month", "2026-11"]),
    "parent folder": ("out/stakeholders", ["summary-page", "--month", "2026-11"]),
    "file in the month folder": ("out/2026-11/notes.txt", ["report", "--month", "2026-11"]),
    "lake month folder": ("lake/monthly/month=2026-11",
                          ["compute", "--month", "2026-11", "--as-of", "2026-11-02T05:45+05:30"]),
    "rules file": ("rules/slo-rules.yaml", ["rules", "--out", "rules/slo-rules.yaml"]),
}


@pytest.mark.parametrize("case", LINKS)
def test_a_planted_link_where_slo_jobs_writes_is_refused(case: str, tmp_path: Path) -> None:
    _compute(tmp_path / "lake", 990)
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "web.yaml").write_text(LINK_SPEC)
    if case == "file in the month folder":
        _render(tmp_path, 2)  # an earlier render: the set that carries over
    private = _private(tmp_path)
    link, args = LINKS[case]
    (tmp_path / "rules").mkdir()
    if (tmp_path / link).is_dir():
        shutil.rmtree(tmp_path / link)  # the lake's computed month, replaced by the link
    (tmp_path / link).unlink(missing_ok=True)
    (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / link).symlink_to(private / "notes.txt" if "file" in case else private)
    options = {"report": ["--lake", "lake", "--out", "out"], "compute": ["--lake", "lake"],
               "summary-page": ["--lake", "lake", "--out", "out"], "rules": []}[args[0]]
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args, *options,
                           *(["--slos", "slos"] if args[0] in ("compute", "rules") else [])],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: {tmp_path / link}: a symbolic link where slo-jobs writes; expected a real "
        f"{'file or folder' if case != 'parent folder' else 'folder'} (a link planted here "
        "could publish or overwrite files elsewhere)"]
    # The private files are as they were, the link still there, and nothing published them.
    assert {p.name: p.read_bytes() for p in private.iterdir()} == PRIVATE
    assert (tmp_path / link).is_symlink()
    assert not [d for d in _published(tmp_path) for secret in PRIVATE.values() if secret in d]


def test_a_linked_lake_partition_folder_is_refused(prometheus: str, tmp_path: Path) -> None:
    private = _private(tmp_path)
    day = tmp_path / "lake" / "sli" / "slo=checkout-availability" / "date=2026-09-13"
    day.parent.mkdir(parents=True)
    day.symlink_to(private)
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "extract", "--month", "2026-09",
                           "--slos", str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url",
                           prometheus, "--lake", "lake"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: {day}: a symbolic link where slo-jobs writes; expected a real folder (a link "
        "planted here could publish or overwrite files elsewhere)"]
    assert sorted(p.name for p in private.iterdir()) == sorted(PRIVATE)
