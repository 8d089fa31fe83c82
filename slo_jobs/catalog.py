"""The SLO catalog: every definition under the given files and folders, native or OpenSLO,
validated together so that names are unique across both formats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import SpecError
from .openslo import import_documents
from .spec import io
from .spec.io import RawDoc
from .spec.load import located, source_problem, validate_native
from .spec.model import Slo


def load_all(paths: Iterable[Path], env: Mapping[str, str] | None = None
             ) -> tuple[list[Slo], list[str], int]:
    """Every SLO of ``paths`` and every problem found (as lines), and the number of files."""
    files = io.yaml_files(paths)
    problems: list[str] = []
    native: list[RawDoc] = []
    foreign: list[RawDoc] = []
    for f in files:
        try:
            docs = io.read_documents(f)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        for doc in docs:
            unresolved = io.resolve_env(doc, env)
            if unresolved:
                # A query with a literal ${VAR} in it would only fail later, in Prometheus.
                problems.extend(unresolved)
                continue
            version = doc.data.get("apiVersion") if isinstance(doc.data, dict) else None
            is_openslo = isinstance(version, str) and version.lower().startswith("openslo/")
            (foreign if is_openslo else native).append(doc)
    slos: list[Slo] = []
    for doc in native:
        slo, found = validate_native(doc)
        problems.extend(found)
        if slo is not None:
            slos.append(slo)
    imported, found = import_documents(foreign)
    problems.extend(found)
    for slo in imported:
        problem = source_problem(slo, located(f"{slo.source}:{slo.line}"))
        if problem:
            problems.append(problem)
        else:
            slos.append(slo)
    seen: dict[str, Slo] = {}
    for slo in slos:
        if slo.name in seen:
            first = seen[slo.name]
            problems.append(f"{slo.source}:{slo.line}: metadata.name: {slo.name!r} is already "
                            f"defined in {first.source}:{first.line}; expected a unique SLO name")
        seen.setdefault(slo.name, slo)
    return sorted(slos, key=lambda s: s.name), problems, len(files)


def load(paths: Iterable[Path], env: Mapping[str, str] | None = None) -> list[Slo]:
    """Load SLOs from files and folders (``*.yaml``/``*.yml``), sorted by name."""
    slos, problems, _ = load_all(paths, env)
    if problems:
        raise SpecError("\n".join(problems))
    return slos


def load_file(path: Path) -> list[Slo]:
    """Validate every document of one YAML file; raise SpecError listing all problems."""
    return load([path])
