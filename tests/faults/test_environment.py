"""Fault 7: the process time zone and locale change no number.

The whole pipeline (extract, compute, report) runs twice: in UTC with the C locale, and in
America/New_York with a German locale activated in the process (decimal comma, other
collation). The lake must be identical byte for byte, and every figure of summary.json equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.test_extract_integration import lake_digest

# Activates the environment's locale (Python leaves LC_NUMERIC at "C" unless asked), proves it
# is in force, then runs the CLI.
RUN = """
import locale, sys, time
locale.setlocale(locale.LC_ALL, "")
print("locale", locale.setlocale(locale.LC_NUMERIC), locale.format_string("%.1f", 1.5),
      time.strftime("%Z"), flush=True)
from slo_jobs.cli import main
sys.argv = ["slo-jobs", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """de_DE.UTF-8 compiled into a private folder (LOCPATH), so no system change is needed."""
    locpath = tmp_path_factory.mktemp("locales")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(locpath / "de_DE.UTF-8")],
                   check=True, capture_output=True, timeout=120)
    return locpath


def _start(prometheus: str, where: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, "run", "--month", "2026-09", "--slos",
         str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url", prometheus,
         "--lake", str(where / "lake"), "--out", str(where / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "LANGUAGE": "", **env})


def _result(proc: subprocess.Popen[str], where: Path) -> tuple[str, dict[str, Any]]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    summary = json.loads((where / "out" / "2026-09" / "summary.json").read_text())
    return out.splitlines()[0], summary


def _figures(value: Any, path: str = "") -> dict[str, Any]:
    """Every number and string of summary.json by its path, minus when it was generated."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() if "generated" not in key
                for k, v in _figures(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value)
                for k, v in _figures(item, f"{path}[{i}]").items()}
    return {path: value}


def test_time_zone_and_locale_change_no_number(prometheus: str, german: Path,
                                               tmp_path: Path) -> None:
    # Both at once: they share nothing but the Prometheus they read.
    utc_proc = _start(prometheus, tmp_path / "utc", {"TZ": "UTC", "LC_ALL": "C.UTF-8"})
    ny_proc = _start(prometheus, tmp_path / "ny", {
        "TZ": "America/New_York", "LC_ALL": "de_DE.UTF-8", "LOCPATH": str(german)})
    utc_line, utc = _result(utc_proc, tmp_path / "utc")
    ny_line, ny = _result(ny_proc, tmp_path / "ny")
    assert utc_line.split()[1:] == ["C.UTF-8", "1.5", "UTC"]
    assert ny_line.split()[1:3] == ["de_DE.UTF-8", "1,5"] and ny_line.split()[3] in {"EDT", "EST"}
    assert lake_digest(tmp_path / "utc" / "lake") == lake_digest(tmp_path / "ny" / "lake")
    figures = _figures(utc)
    assert len(figures) > 20
    assert _figures(ny) == figures
