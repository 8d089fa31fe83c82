"""The package's shape, read from its own source: imports run one way (docs/architecture.md,
"Which way imports run"), no module imports itself back through others, only the lake knows
whether it lives on a disk or an object store, and the storage and math modules load no heavy
library."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PKG = ROOT / "slo_jobs"


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every slo_jobs module ``path`` imports, at any depth of the file (lazy ones too)."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("slo_jobs")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("slo_jobs"):
                continue
            for a in node.names:  # "from . import lake" names a module
                sub = f"{mod}.{a.name}"
                found.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PKG.parent / sub.replace(".", "/")).is_dir() else mod)
    return {m for m in found if m != me}


GRAPH = {_module(p): _imports(p) for p in PKG.rglob("*.py")}
# The stage packages from the bottom up: each imports only those before it (docs/architecture.md).
LAYERS = ["core", "lake", "spec", "decisions", "sources", "compute", "report", "review", "rules",
          "discovery", "deliver", "run", "cli"]


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def _package_graph() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mod, deps in GRAPH.items():
        out.setdefault(_top(mod), set()).update(
            _top(d) for d in deps if _top(d) not in (_top(mod), "slo_jobs"))
    return out


def test_every_module_is_in_a_stage_package() -> None:
    loose = sorted(m for m in GRAPH if m.count(".") == 1 and _top(m) not in LAYERS)
    assert not loose, loose  # slo_jobs/__init__.py (the version) only
    assert set(_package_graph()) - {"slo_jobs"} == set(LAYERS)


def test_packages_import_only_those_below_them() -> None:
    for package, deps in _package_graph().items():
        if package in LAYERS:
            above = sorted(d for d in deps if LAYERS.index(d) >= LAYERS.index(package))
            assert not above, f"{package} imports {above}"


@pytest.mark.parametrize("package", LAYERS)
def test_each_package_says_what_it_owns_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PKG / package / "__init__.py").read_text())) or ""
    assert "May import:" in doc, package
    may = doc.split("May import:", 1)[1]
    allowed = set(LAYERS) if "every stage package" in may else set(re.findall(r"``(\w+)``", may))
    assert _package_graph()[package] <= allowed | {package}, \
        (package, sorted(_package_graph()[package] - allowed))


def test_only_the_entry_layers_import_lazily() -> None:
    # A function-level import can hide a cycle. The two entry layers' import only downward
    # (the layer tests above) and are measured: the CLI's keep `slo-jobs -h` fast (each
    # command loads its stage when it runs), the run layer's keep the report and delivery
    # stages out of an extraction task's start (each orchestrator task is a new process).
    for path in PKG.rglob("*.py"):
        if _top(_module(path)) in ("cli", "run"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)
                         and (n.level or (n.module or "").startswith("slo_jobs"))]
                assert not inner, f"{path.relative_to(ROOT)}:{inner[0].lineno}"


def test_no_import_cycle() -> None:
    # Edges between modules; a package's __init__ counts as the package.
    state: dict[str, int] = {}

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(GRAPH.get(mod, ())):
            if dep == mod.rpartition(".")[0]:
                continue  # a submodule's import of its own package's __init__
            assert state.get(dep) != 1, " -> ".join([*path, mod, dep])
            if dep not in state:
                visit(dep, [*path, mod])
        state[mod] = 2

    for mod in sorted(GRAPH):
        if mod not in state:
            visit(mod, [])


# Where the lake lives, on a disk or an object store, is the lake package's to know
# (slo_jobs/lake/storage.py): everything else calls the lake's functions.
STORAGE_MODULES = {"slo_jobs.lake.objectstore", "slo_jobs.lake.objectsets",
                   "slo_jobs.lake.storage"}
STORAGE_NAMES = {"objectstore", "objectsets", "ObjectPath", "ObjectStore", "ObjectStorage"}


def test_only_the_lake_knows_where_it_lives() -> None:
    for path in sorted([*PKG.rglob("*.py"), *(ROOT / "dags").rglob("*.py")]):
        if path.is_relative_to(PKG / "lake"):
            continue
        where = path.relative_to(ROOT)
        assert not _imports(path) & STORAGE_MODULES, (where, _imports(path) & STORAGE_MODULES)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            named = ({node.id} if isinstance(node, ast.Name)
                     else {node.attr} if isinstance(node, ast.Attribute)
                     else {a.name for a in node.names} if isinstance(node, ast.ImportFrom)
                     else set())
            assert not named & STORAGE_NAMES, f"{where}:{getattr(node, 'lineno', 0)}: {named}"
        if "LakeDir" in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
            # a module handling lake paths does not tell a folder from an object store
            asks = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name) and n.func.id == "isinstance"
                    and "Path" in ast.unparse(n.args[1])]
            assert not asks, f"{where}:{asks[0]}: isinstance(..., Path)"


@pytest.mark.parametrize(("module", "absent"), [
    ("slo_jobs.lake", ("pydantic", "httpx", "duckdb")),
    ("slo_jobs.core.burnrate", ("pydantic", "httpx", "duckdb", "pyarrow")),
    ("slo_jobs.compute", ("httpx",)),
    ("slo_jobs.rules", ("duckdb",)),
    ("slo_jobs.spec.catalog", ("httpx", "duckdb")),
    # what `slo-jobs show` loads: the month's summary read back and printed
    ("slo_jobs.lake.computed", ("pydantic", "httpx", "duckdb", "pandas", "pyarrow.dataset")),
    ("slo_jobs.report.text", ("pydantic", "pyarrow", "duckdb", "pandas")),
    ("slo_jobs.cli", ("pyarrow", "duckdb", "pandas", "httpx", "yaml")),
])
def test_importing_a_layer_loads_no_heavier_library(module: str, absent: tuple[str, ...]) -> None:
    code = (f"import sys, {module}; print(','.join(m for m in {list(absent)!r} "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.strip()
    assert loaded == "", f"importing {module} loads {loaded}"


def test_modules_stay_short() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_the_pandas_reference_derives_the_same_constants_as_burnrate() -> None:
    # The benchmark's reference derives its alert table and burn windows from docs/slo-math.md
    # on its own (it must not import the engine it checks); both must still say the same.
    from bench import pandas_reference as ref
    from slo_jobs.core import burnrate

    assert [(share, long_s) for _sev, share, long_s, _short in ref.DEFAULT_ALERTS] == \
        list(burnrate.CONDITIONS.values())
    assert [long_s // short_s for _sev, _share, long_s, short_s in ref.DEFAULT_ALERTS] == \
        [burnrate.SHORT_WINDOW_DIVISOR] * len(burnrate.CONDITIONS)
    assert ref.BURN_WINDOWS == burnrate.BURN_WINDOWS_S
