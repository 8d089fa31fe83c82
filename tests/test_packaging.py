"""The wheel carries the SQL and templates; the library never imports Airflow."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_ships_sql_and_templates(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    wheel = next(tmp_path.glob("slo_jobs-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for sql in (ROOT / "sql").glob("*.sql"):
        assert f"slo_jobs/sql/{sql.name}" in names
    for tpl in (ROOT / "reports" / "templates").iterdir():
        assert f"slo_jobs/templates/{tpl.name}" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # the default release policy ships beside the code that reads it
    assert "slo_jobs/decisions/release-policy.yaml" in names
    # the demo history generator is for the demo and the tests, not the product
    assert not [n for n in names if n.startswith("demo/") or "/demo/" in n]


def test_installed_wheel_finds_its_resources(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d",
                    str(tmp_path / "dist")], cwd=ROOT, check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("slo_jobs-*.whl"))
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = ("import slo_jobs.core.resources as r; print(r.sql_dir()); print(r.templates_dir()); "
            "r.sql('budget_status')")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(tmp_path / "site")})
    site = str(tmp_path / "site")
    assert out.stdout.splitlines() == [f"{site}/slo_jobs/sql", f"{site}/slo_jobs/templates"]


def test_library_never_imports_airflow() -> None:
    for path in (ROOT / "slo_jobs").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import airflow", "from airflow")), path
    code = ("import sys, slo_jobs.cli, slo_jobs.run.runner, slo_jobs.run.tasks; "
            "print(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
