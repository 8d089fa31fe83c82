"""A fresh Debian 12 gets every program the suite starts: `make test` installs it first.

The tests and the package start a few programs outside .venv. Each one must come from a
Debian package that scripts/bootstrap.sh installs, and docs/operations.md "A fresh machine"
must list the same packages, so a new test that starts a new program fails here until both are
updated.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import services
from tests.conftest import ROOT

# Program -> the Debian packages it needs (the binary's own package first).
PROGRAMS: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "promtool": ("prometheus",),
    "pdftotext": ("poppler-utils",),
    "pdftoppm": ("poppler-utils",),
    "pdfimages": ("poppler-utils",),
    "pdfinfo": ("poppler-utils",),
    # localedef is in libc-bin (essential); the de_DE sources it compiles are in locales.
    "localedef": ("libc-bin", "locales"),
    "bash": ("bash",),
    "chromium": ("chromium",),
    "victoria-metrics": ("victoria-metrics",),
    # /usr/bin/redis-server links to redis-tools' redis-check-rdb.
    "redis-server": ("redis-tools", "redis-server"),
    "initdb": ("postgresql-15", "postgresql"),
    "pg_ctl": ("postgresql-15", "postgresql"),
    # scripts/same_outputs.py takes a revision out of the clone with git archive | tar
    "git": ("git",),
    "tar": ("tar",),
}
# Packages the bootstrap gets through another one it lists: a dependency, or the version
# Debian 12's `postgresql` stands for.
PULLED_IN_BY = {"redis-tools": "redis-server", "postgresql-15": "postgresql"}
# Essential packages: on every Debian, even a minimal one; the bootstrap need not list them.
ESSENTIAL = {"libc-bin", "bash", "tar"}
# What a machine has before the bootstrap can run: the clone itself needs git
# (docs/operations.md, "A fresh machine").
PRESUMED = {"git"}
# Other names a program is looked up by (upstream's binary names), never Debian's.
ALIASES = {"victoria-metrics-prod": "victoria-metrics"}
# Run from .venv or by the tests' own Python: installed from requirements.lock, not Debian.
FROM_VENV = {"airflow", "api-server", "standalone", "tsdb", "create-blocks-from", "openmetrics",
             "moto_server"}
# What the package itself needs at run time besides programs (WeasyPrint's libraries, the
# fonts the PDF embeds, time zones for TZ=... in tests/faults/test_environment.py).
LIBRARIES = {"python3", "python3-venv", "libpango-1.0-0", "libpangoft2-1.0-0",
             "libharfbuzz-subset0", "fonts-dejavu-core", "tzdata"}

# ["prog", ...] as the first element of an argument list, shutil.which("prog"), and the
# CHROMIUM = "chromium" style constant the browser test uses.
STARTS = re.compile(r'(?:(?:run|Popen|check_output)\(\s*\[\s*|which\(\s*)"([a-z][\w.-]*)"')
# which(NAME) with NAME = "program" defined in the same file
BY_CONSTANT = re.compile(r"which\(\s*([A-Z][A-Z0-9_]*)\s*\)")


def deb_packages() -> list[str]:
    text = (ROOT / "scripts" / "bootstrap.sh").read_text()
    found = re.search(r"^DEB_PACKAGES=\(([^)]*)\)", text, re.M)
    assert found, "scripts/bootstrap.sh: no DEB_PACKAGES=(...) line"
    return found.group(1).split()


def programs_started() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for folder in ("tests", "slo_jobs", "demo", "scripts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".sh") or path.name == "test_bootstrap.py":
                continue
            text = path.read_text()
            names = STARTS.findall(text)
            for constant in BY_CONSTANT.findall(text):
                value = re.search(rf'^{constant}\s*=\s*"([a-z][\w.-]*)"', text, re.M)
                assert value, f"{path}: which({constant}): no {constant} = \"...\" to resolve"
                names.append(value.group(1))
            for name in names:
                name = ALIASES.get(name, name)
                out.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return out


def test_scan_finds_the_programs_known_to_be_started() -> None:
    # If the scan broke (a pattern change), the next test would pass vacuously.
    found = programs_started()
    assert {"promtool", "pdftotext", "localedef", "chromium", "victoria-metrics"} <= set(found)
    assert "tests/faults/test_environment.py" in found["localedef"]


def test_every_started_program_comes_from_a_bootstrapped_package() -> None:
    packages = set(deb_packages())
    problems = []
    for name, where in sorted(programs_started().items()):
        if name in FROM_VENV:
            continue
        if name not in PROGRAMS:
            problems.append(f"{sorted(where)}: start {name!r}; add it and its Debian package "
                            "to PROGRAMS here and to DEB_PACKAGES")
            continue
        missing = [p for p in PROGRAMS[name] if p not in packages and p not in ESSENTIAL
                   and p not in PRESUMED and PULLED_IN_BY.get(p) not in packages]
        if missing:
            problems.append(f"{name}: needs {missing}, not in scripts/bootstrap.sh DEB_PACKAGES")
    assert not problems, "\n".join(problems)


def test_every_bootstrapped_package_is_needed_and_documented() -> None:
    packages = deb_packages()
    needed = {p for ps in PROGRAMS.values() for p in ps} | LIBRARIES
    assert set(packages) <= needed, f"not needed by anything: {set(packages) - needed}"
    doc = (ROOT / "docs" / "operations.md").read_text()
    section = doc.split("## A fresh machine", 1)
    assert len(section) == 2, "docs/operations.md: no '## A fresh machine' section"
    listed = set(re.findall(r"`([a-z0-9][a-z0-9.+-]+)`", section[1].split("\n## ", 1)[0]))
    assert set(packages) <= listed, f"docs/operations.md misses {set(packages) - listed}"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian system")
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_program_belongs_to_the_package_named_for_it(program: str) -> None:
    """On this machine the mapping is checked against dpkg's own records."""
    exe = shutil.which(program, path=services.pg_path())  # Debian's PostgreSQL is off PATH
    assert exe is not None, f"{program}: not installed; run make install (scripts/bootstrap.sh)"
    owner = subprocess.run(["dpkg", "-S", str(Path(exe).resolve())], capture_output=True,
                           text=True)
    for path in (exe, str(Path(exe).resolve()).removeprefix("/usr")):
        if owner.returncode != 0:  # /usr/bin vs /bin (merged /usr): dpkg knows one of them
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    assert owner.stdout.split(":", 1)[0] == PROGRAMS[program][0], owner.stdout + owner.stderr


def test_the_locale_the_environment_test_compiles_is_available(tmp_path: Path) -> None:
    # A minimal Debian has localedef but not the de_DE sources: those come with `locales`.
    done = subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8",
                           str(tmp_path / "de_DE.UTF-8")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"localedef -i de_DE: {done.stderr.strip()}; install locales"
