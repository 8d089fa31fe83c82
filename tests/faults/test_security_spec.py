"""Security: SLO files are read safely and names are checked before they become paths.

YAML is loaded with a safe loader (no tags that construct objects) and bounded (file size,
node count after alias expansion, recursive aliases). SLO and service names are refused in the
spec unless path-safe, and checked again where the lake and the report build paths from them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from slo_jobs import lake
from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import names, periods
from slo_jobs.core.errors import LakeError, SloJobsError, SpecError
from slo_jobs.report import monthly as report
from slo_jobs.spec import catalog
from slo_jobs.spec import io as specio
from slo_jobs.spec.tables import DAG_ID, IDENTIFIER
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = (ROOT / "tests" / "fixtures" / "spec" / "invalid" / "native-target-too-high.yaml"
        ).read_text().replace("target: 1.5", "target: 0.999")
UNSAFE = ["../etc/passwd", "..", "a/b", "/etc", "a\\b", "a\x00b", "web.availability",
          "Api", "-x", "x-", "a" * 64, "%2e%2e"]


def _one_line(problems: list[str], path: Path, expected: str) -> None:
    assert problems == [f"{path}{expected}"]


@pytest.mark.parametrize(("name", "expected"), [
    ("unsafe-name", f":4: metadata.name: '../etc/passwd'; {names.SAFE_NAME_HINT}"),
    ("unsafe-service", f":6: spec.service: 'api/v2'; {names.SAFE_NAME_HINT}"),
    ("yaml-alias-bomb", ":1: (document): more than 20000 YAML nodes once aliases are expanded; "
                        "expected a small SLO document (aliases are limited to keep loading "
                        "bounded)"),
])
def test_unsafe_document_is_refused_in_one_line(name: str, expected: str) -> None:
    path = FIXTURES / f"{name}.yaml"
    slos, problems, _ = catalog.load_all([path])
    assert slos == []
    _one_line(problems, path, expected)


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_never_become_paths(name: str, tmp_path: Path) -> None:
    assert not names.SAFE_NAME.match(name)
    # The spec refuses them; the lake checks again where it builds a path (defence in depth).
    with pytest.raises(LakeError, match="not safe as a partition path"):
        lake.sli_partition(tmp_path, name, date(2026, 9, 1))
    with pytest.raises(LakeError, match="not safe as a partition path"), \
            lake.slo_lock(tmp_path, name):
        pass
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_traversal_and_writes_nothing(tmp_path: Path) -> None:
    slos = tmp_path / "slos"
    slos.mkdir()
    (slos / "evil.yaml").write_text((FIXTURES / "unsafe-name.yaml").read_text())
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "extract", "--month",
                           "2026-09", "--slos", str(slos), "--prometheus-url",
                           "http://127.0.0.1:9", "--lake", str(tmp_path / "lake")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "../etc/passwd" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.yaml", "slos"]


def test_report_service_filter_is_not_a_path(tmp_path: Path) -> None:
    # --service picks files named report-<service>.html: only a service of the month passes.
    sep = periods.month("2026-09")
    write_buckets(tmp_path / "lake", "web-availability", sep.start, [(9, 10)] * 60)
    write_result(tmp_path / "lake", compute_window(
        tmp_path / "lake", [SloParams("web-availability", "web", "d", "h", 0.99)], sep))
    with pytest.raises(SloJobsError, match=r"--service: found '\.\./\.\./x'"):
        report.render(tmp_path / "lake", sep, tmp_path / "out", source="s",
                      generated_at=periods.month("2026-10").start, service="../../x")
    assert not list(tmp_path.rglob("*.html")) and not (tmp_path.parent / "x.html").exists()


PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/object:pathlib.Path {{}}",
]


@pytest.mark.parametrize("tag", PYTHON_TAGS, ids=["apply", "new", "name", "object"])
def test_yaml_constructs_no_objects(tag: str, tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    path = tmp_path / "slo.yaml"
    path.write_text(GOOD + f"extra: {tag.format(marker=marker)}\n")
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    message = str(err.value)
    assert message.startswith(f"{path}:") and "\n" not in message
    assert "malformed YAML" in message and "python" in message
    assert not marker.exists()  # nothing ran


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text("a: &a [*a]\n")
    with pytest.raises(SpecError, match=r":1: \(document\): a recursive alias"):
        catalog.load([path])


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    # Ten levels of ten: 10**10 nodes if expanded; refused from the node graph alone.
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=f"more than {specio.MAX_NODES} YAML nodes"):
        catalog.load([path])


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD + "# " + "x" * specio.MAX_FILE_BYTES + "\n")
    with pytest.raises(SpecError, match=f"expected an SLO file under {specio.MAX_FILE_BYTES}"):
        catalog.load([path])


def _validate(*paths: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", *map(str, paths)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_devices_and_fifos_are_refused_unread(tmp_path: Path) -> None:
    # /dev/zero has size 0 and never ends; a FIFO without a writer blocks an ordinary open.
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.yaml")
    started = time.monotonic()
    # Named on the command line.
    proc = _validate(tmp_path / "zero.yaml", tmp_path / "pipe.yaml")
    assert time.monotonic() - started < 30  # the timeout above is the hang's only bound
    assert proc.returncode == 1
    assert sorted(proc.stderr.strip().splitlines()) == [
        f"{tmp_path / name}:1: (document): not a regular file (a device, FIFO or socket); "
        "expected an SLO YAML file" for name in ("pipe.yaml", "zero.yaml")]


def test_unreadable_entries_of_a_folder_are_named(tmp_path: Path) -> None:
    # Inside a folder they are refused as when named directly, never skipped: a validate that
    # said "ok" would hide an SLO that is not in the catalog.
    folder = tmp_path / "slos"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.yaml")
    (folder / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    (folder / "loop.yml").symlink_to(folder / "loop.yml")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.yaml"))
        proc = _validate(folder)
    assert proc.returncode == 1
    assert proc.stdout == ""
    device = ":1: (document): not a regular file (a device, FIFO or socket); expected an " \
        "SLO YAML file"
    assert sorted(proc.stderr.strip().splitlines()) == sorted([
        f"{folder / 'gone.yaml'}: cannot read: No such file or directory; expected a "
        "readable file",
        f"{folder / 'loop.yml'}: cannot read: Too many levels of symbolic links; expected a "
        "readable file",
        f"{folder / 'sock.yaml'}: cannot read: No such device or address; expected a "
        "readable file",
        f"{folder / 'pipe.yaml'}{device}",
        f"{folder / 'zero.yaml'}{device}"])


@pytest.mark.parametrize(("text", "expected"), [
    ("a: " + "[" * 10_000 + "]" * 10_000 + "\n",
     f":1: (document): nested more than {specio.MAX_DEPTH} levels deep"),
    ("a: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
     f":1: (document): nested more than {specio.MAX_DEPTH} levels deep"),
    ("".join(f"{' ' * i}a:\n" for i in range(200)) + " " * 200 + "b: 1\n",
     f":{specio.MAX_DEPTH + 1}: (document): nested more than {specio.MAX_DEPTH} levels deep"),
    (GOOD.replace("target: 0.999", "target: " + "9" * 5_000),
     ": (document): an integer of 5000 digits; expected a number of at most"),
])
def test_deep_nesting_and_huge_integers_are_one_line(text: str, expected: str,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    proc = _validate(path)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"{path}:") and expected in line, line
    assert "unexpected" not in line


@pytest.mark.parametrize("field", ["metadata.name", "spec.service"])
def test_names_ending_in_a_newline_are_refused(field: str, tmp_path: Path) -> None:
    assert not names.SAFE_NAME.match("checkout\n")
    text = GOOD.replace("name: ", 'name: "x-\\n"  # ', 1) if field == "metadata.name" else \
        GOOD.replace("service: ", 'service: "x\\n"  # ', 1)
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    slos, problems, _ = catalog.load_all([path])
    assert slos == []
    [line] = problems
    assert f": {field}: " in line and names.SAFE_NAME_HINT in line, line
    with pytest.raises(LakeError, match="not safe as a partition path"):
        lake.sli_partition(tmp_path, "checkout\n", date(2026, 9, 1))
    # The other validated names end where the pattern says, too.
    assert not IDENTIFIER.match("loaded_at\n") and not DAG_ID.match("slo_extract\n")


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "10000-01", "2026-13"])
def test_out_of_range_months_are_one_line(month: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "report", "--month", month,
                           "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stderr == f"error: month: found {month!r}; expected " + (
        "YYYY-MM, e.g. 2026-09\n" if month in ("10000-01", "2026-13") else
        "a year from 1970 to 9998, e.g. 2026-09\n")
    assert not (tmp_path / "out").exists()
