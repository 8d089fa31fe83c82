"""Security: a pipeline SLO's table source reads its own data and nothing else of the host.

A spec's ``database:`` is opened with DuckDB's file access turned off once it is attached, so
a view over ``read_text(...)`` inside it cannot read host files; ``files:`` must resolve
(``..`` and symlinks followed) inside the SLO file's folder or a folder of
``SLO_JOBS_DATA_DIRS``, checked at validation and again for every file a glob matches.
"""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path

import duckdb
import pytest

from slo_jobs.core.errors import ExtractError
from slo_jobs.run.runner import extract_days
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog

DAY = date(2026, 9, 1)
DOC = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: orders-fresh}
spec:
  service: orders
  indicator:
    freshness: {table: TABLE, maxAge: 1h}
  budgetingMethod: Timeslices
  objective: {target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}
"""


def _no_airflow(conn: str | None) -> None:
    raise AssertionError("a table source must not need the Airflow API")


TABLES = Sources.from_env(airflow_for=_no_airflow)


@pytest.fixture()
def host(tmp_path: Path) -> tuple[Path, str]:
    """A "host file" outside the SLO folder, holding a marker that must never be read."""
    marker = "root-secret-" + secrets.token_hex(8)
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "passwd.csv").write_text(f"loaded_at\n2026-09-01T00:00:00Z\n{marker}\n")
    return outside / "passwd.csv", marker


def _doc(folder: Path, table: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "orders.yaml"
    path.write_text(DOC.replace("TABLE", table))
    return path


def test_a_database_view_cannot_read_host_files(tmp_path: Path, host: tuple[Path, str]
                                                ) -> None:
    passwd, marker = host
    slos = tmp_path / "slos"
    slos.mkdir()
    con = duckdb.connect(str(slos / "dw.duckdb"))
    con.execute("CREATE TABLE loads AS SELECT TIMESTAMPTZ '2026-09-01 00:00:00+00' AS loaded_at")
    # What an attacker puts in a database the SLO names: its text becomes "data".
    # (The attacker's own SQL, built here as they would: a view cannot take parameters.)
    con.execute(f"CREATE VIEW stolen AS SELECT content AS loaded_at "  # noqa: S608
                f"FROM read_text('{passwd}')")
    con.execute("CREATE VIEW etc AS SELECT content AS loaded_at FROM read_text('/etc/passwd')")
    con.close()
    # The control: a plain table of the same database is read.
    [ok] = catalog.load([_doc(slos, "{database: dw.duckdb, table: loads}")])
    [day] = extract_days(TABLES, [ok], [DAY], tmp_path / "lake")
    assert day.rows == 1440
    for view in ("stolen", "etc"):
        [slo] = catalog.load([_doc(slos, f"{{database: dw.duckdb, table: {view}}}")])
        with pytest.raises(ExtractError) as err:
            extract_days(TABLES, [slo], [DAY], tmp_path / f"lake-{view}")
        message = str(err.value)
        assert "disabled by configuration" in message and "\n" not in message, message
        assert marker not in message and "root:" not in message
        assert not (tmp_path / f"lake-{view}").exists()


@pytest.mark.parametrize("files", ["/etc/passwd/", "/etc/*", "/etc/**/*.csv",
                                   "../host/passwd.csv", "../host/*.csv", "data/../../host/"])
def test_files_outside_the_slo_folder_are_refused_at_validation(files: str, tmp_path: Path,
                                                                host: tuple[Path, str]) -> None:
    path = _doc(tmp_path / "slos", f'{{files: "{files}"}}')
    slos, problems, _ = catalog.load_all([path])
    assert slos == []
    [line] = problems
    assert line.startswith(f"{path}:7: spec.indicator.freshness.table.files: {files!r} "
                           "resolves to "), line
    assert "expected a path inside the SLO file's folder" in line


def test_a_symlink_out_of_the_folder_is_refused_when_read(tmp_path: Path,
                                                          host: tuple[Path, str]) -> None:
    passwd, marker = host
    data = tmp_path / "slos" / "data"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("loaded_at\n2026-09-01T00:00:00Z\n")
    (data / "b.csv").symlink_to(passwd)  # planted after validation would look the same
    [slo] = catalog.load([_doc(tmp_path / "slos", "{files: data/*.csv}")])
    with pytest.raises(ExtractError) as err:
        extract_days(TABLES, [slo], [DAY], tmp_path / "lake")
    message = str(err.value)
    assert f"{data / 'b.csv'}: resolves to {passwd}, outside" in message, message
    assert marker not in message and not (tmp_path / "lake").exists()


def test_data_dirs_allow_a_folder_elsewhere(tmp_path: Path, host: tuple[Path, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    (warehouse / "loads.csv").write_text("loaded_at\n2026-09-01T00:00:00Z\n")
    path = _doc(tmp_path / "slos", f"{{files: {warehouse}/*.csv}}")
    assert catalog.load_all([path])[1]  # refused without the allow-list ...
    monkeypatch.setenv("SLO_JOBS_DATA_DIRS", str(warehouse))
    [slo] = catalog.load([path])  # ... read with it
    [day] = extract_days(TABLES, [slo], [DAY], tmp_path / "lake")
    assert day.rows == 1440
