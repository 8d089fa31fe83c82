"""Security: spec values reach DuckDB as bound data, never as SQL text.

SLO names, services and descriptions are registered as Arrow columns and every number is a
``$parameter``; the only identifiers built from spec values are partition paths, and those
names are validated first. A static check keeps it so: no SQL string of the compute path is
assembled with f-strings, ``%`` or ``.format``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from slo_jobs.compute import SloParams, compute_window
from slo_jobs.core import periods
from slo_jobs.core.errors import LakeError
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

SEP = periods.month("2026-09")
PAYLOADS = ["'); DROP TABLE slos; --", "x' OR '1'='1", '"; SELECT * FROM read_csv(\'/etc/passwd\')',
            "$files", "?", "\\'; COPY slos TO '/tmp/pwned.csv'; --", "🙂 ünï"]
# Per SLO: (good, total) in each of the first 600 buckets of the month, no data after.
BUCKETS = {"alpha-availability": (95.0, 100.0), "beta-availability": (7.0, 10.0)}


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("sql-lake")
    for name, bucket in BUCKETS.items():
        write_buckets(lake, name, SEP.start, [bucket] * 600)
    return lake


@pytest.mark.parametrize("payload", PAYLOADS)
def test_spec_text_is_data(payload: str, lake_dir: Path) -> None:
    slos = [SloParams(name, "svc", f"{payload} {name}", f"hash {payload}", 0.99)
            for name in BUCKETS]
    rows = {r["slo"]: r for r in compute_window(lake_dir, slos, SEP).summary}
    for name, (good, total) in BUCKETS.items():
        r = rows[name]
        # Stored as written, next to the numbers the buckets hold.
        assert r["description"] == f"{payload} {name}" and r["spec_hash"] == f"hash {payload}"
        assert (r["good"], r["total"]) == (600 * good, 600 * total)
        assert r["coverage"] == pytest.approx(600 / (30 * 1440), rel=1e-12)
    assert not Path("/tmp/pwned.csv").exists()


@pytest.mark.parametrize("name", ["x'; DROP TABLE slos; --", "../../etc/passwd", "a b"])
def test_unsafe_name_is_refused_before_any_sql(name: str, lake_dir: Path) -> None:
    # SloParams built by hand, bypassing the spec: the lake still refuses the name as a path.
    with pytest.raises(LakeError, match="not safe as a partition path"):
        compute_window(lake_dir, [SloParams(name, "svc", "d", "h", 0.99)], SEP)


def _formatted(node: ast.expr) -> bool:
    """Whether ``node`` builds text from values: an f-string, ``%`` or ``.format``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr) and any(
                isinstance(v, ast.FormattedValue) for v in sub.values):
            return True
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Mod):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                and sub.func.attr == "format":
            return True
    return False


def test_no_sql_is_assembled_from_values() -> None:
    offenders, checked = [], 0
    # The modules through which SLO spec values reach DuckDB.
    modules = [p for package in ("compute", "sources/pipelines", "lake", "report")
               for p in sorted((ROOT / "slo_jobs" / package).rglob("*.py"))]
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in {"execute", "sql", "query"} and node.args:
                checked += 1
                if _formatted(node.args[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert checked >= 5 and offenders == []
    assert _formatted(ast.parse('f"SELECT {x}"', mode="eval").body)  # the check does bite


def test_pipeline_sources_bind_paths_and_refuse_unsafe_identifiers(tmp_path: Path) -> None:
    """A pipeline SLO's file path reaches DuckDB as a value (quotes and semicolons are just
    characters of a file name); its column and table names must be plain identifiers."""
    from datetime import date

    from slo_jobs.core.errors import SpecError
    from slo_jobs.run.runner import extract_days
    from slo_jobs.run.sources import Sources
    from slo_jobs.spec import catalog

    weird = tmp_path / "x'); DROP TABLE t; --.csv"
    weird.write_text("loaded_at\n2026-09-01T00:00:00Z\n")

    def doc(table: str, column: str = "loaded_at") -> Path:
        path = tmp_path / "slo.yaml"
        path.write_text(
            "apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\n"
            "metadata: {name: orders-fresh}\nspec:\n  service: orders\n  indicator:\n"
            f"    freshness: {{table: {table}, loadedAt: '{column}', maxAge: 1h}}\n"
            "  budgetingMethod: Timeslices\n"
            "  objective: {target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}\n")
        return path

    [slo] = catalog.load([doc('{files: "' + weird.name + '"}')])
    tables = Sources.from_env(airflow_for=lambda c: None)  # type: ignore[arg-type, return-value]
    [day] = extract_days(tables, [slo], [date(2026, 9, 1)], tmp_path / "lake")
    assert day.rows == 1440
    for table, column in (("{files: a.csv}", 'loaded_at" FROM x; --'),
                          ("{database: w.duckdb, table: 't; DROP TABLE t'}", "loaded_at")):
        with pytest.raises(SpecError, match="expected a column name"):
            catalog.load([doc(table, column)])
