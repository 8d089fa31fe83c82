"""The SLO catalog: every definition under the given files and folders, native or OpenSLO,
validated together so that names are unique across both formats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..core.errors import SpecError
from . import io
from .governance import MaintenanceDocument, Plan, plan_of
from .io import RawDoc
from .journey import Journey, is_journey
from .journey import check as check_journeys
from .load import located, source_problem, validate_native
from .model import Slo, with_maintenance
from .openslo import import_documents

MAINTENANCE_KIND = "MaintenanceWindows"


def load_all(paths: Iterable[Path], env: Mapping[str, str] | None = None
             ) -> tuple[list[Slo], list[str], int]:
    """Every SLO of ``paths`` and every problem found (as lines), and the number of files."""
    slos, _, problems, files = load_all_with_journeys(paths, env)
    return slos, problems, files


def load_all_with_journeys(paths: Iterable[Path], env: Mapping[str, str] | None = None
                           ) -> tuple[list[Slo], list[Journey], list[str], int]:
    """``load_all`` with the journeys found valid among the files (``validate`` counts
    them)."""
    found = _scan(paths, env)
    return found.slos, found.journeys, found.problems + found.journey_problems, found.files


@dataclass
class _Scan:
    slos: list[Slo]
    problems: list[str]
    files: int
    window_files: dict[str, list[str]]  # service -> files of its MaintenanceWindows
    openslo_files: list[str]
    journeys: list[Journey]
    # Apart: loading some files of a folder (a shard's) leaves steps naming SLOs elsewhere.
    journey_problems: list[str]


def _scan(paths: Iterable[Path], env: Mapping[str, str] | None) -> _Scan:
    files = yaml_files(paths)
    problems: list[str] = []
    native: list[RawDoc] = []
    foreign: list[RawDoc] = []
    windows: list[RawDoc] = []
    journey_docs: list[RawDoc] = []
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
            is_windows = isinstance(doc.data, dict) and doc.data.get("kind") == MAINTENANCE_KIND
            (foreign if is_openslo else windows if is_windows else
             journey_docs if is_journey(doc) else native).append(doc)
    slos: list[Slo] = []
    for doc in native:
        found_slos, found = validate_native(doc)
        problems.extend(found)
        slos.extend(found_slos)
    imported, found = import_documents(foreign)
    problems.extend(found)
    for slo in imported:
        problem = source_problem(slo, located(f"{slo.source}:{slo.line}"))
        if problem:
            problems.append(problem)
        else:
            slos.append(slo)
    window_files: dict[str, list[str]] = {}
    slos, found = _with_service_windows(slos, windows, window_files)
    problems.extend(found)
    seen: dict[str, Slo] = {}
    for slo in slos:
        if slo.name in seen:
            first = seen[slo.name]
            problems.append(f"{slo.source}:{slo.line}: metadata.name: {slo.name!r} is already "
                            f"defined in {first.source}:{first.line}; expected a unique SLO name")
        seen.setdefault(slo.name, slo)
    journeys, journey_problems = check_journeys(journey_docs, slos)
    return _Scan(sorted(slos, key=lambda s: s.name), problems, len(files), window_files,
                 list(dict.fromkeys(doc.file for doc in foreign)), journeys, journey_problems)


def _with_service_windows(slos: list[Slo], docs: list[RawDoc], files: dict[str, list[str]]
                          ) -> tuple[list[Slo], list[str]]:
    """``kind: MaintenanceWindows`` documents added to every SLO of their service; the files
    they are in noted in ``files`` by service."""
    plans: dict[str, Plan] = {}
    problems: list[str] = []
    for doc in docs:
        try:
            parsed = MaintenanceDocument.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(io.validation_problems(exc, doc, MaintenanceDocument))
            continue
        plan = plan_of(parsed.spec)
        assert plan is not None
        plans[parsed.spec.service] = plan.merged(plans.get(parsed.spec.service))
        if doc.file not in files.setdefault(parsed.spec.service, []):
            files[parsed.spec.service].append(doc.file)
    return [with_maintenance(s, plans[s.service]) if s.service in plans else s
            for s in slos], problems


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the ``*.yaml``/``*.yml`` entries of the folders named and their
    subfolders (hidden ones and team files excepted); a file named twice (a folder and a
    file in it) once.

    Every entry but a folder is listed, a device, FIFO, socket or broken link too: reading
    it then refuses it by name, as when it is named directly, instead of a folder's SLO
    silently missing from the catalog.
    """
    paths = list(paths)
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = [*p.rglob("*.yaml"), *p.rglob("*.yml")]
            files.extend(sorted(f for f in found if not f.is_dir() and not any(
                part.startswith(".") for part in f.relative_to(p).parts)
                and f.name not in io.TEAM_FILE_NAMES + io.POLICY_FILE_NAMES))
        elif p.exists():
            files.append(p)
        else:
            raise SpecError(f"{p}: no such file or folder; expected SLO YAML files")
    unique: dict[str, Path] = {}
    for f in files:
        # realpath, not resolve(): a symlink loop is an entry to refuse, not a crash here.
        unique.setdefault(os.path.realpath(f), f)
    files = list(unique.values())
    if not files:
        raise SpecError(f"{', '.join(map(str, paths))}: no *.yaml files; "
                        "expected SLO definitions")
    return files


def load(paths: Iterable[Path], env: Mapping[str, str] | None = None) -> list[Slo]:
    """Load SLOs from files and folders (``*.yaml``/``*.yml``), sorted by name. Journeys
    are not checked here (some files of a folder may hold a journey over SLOs of others):
    ``load_all`` and ``load_with_journeys`` do."""
    found = _scan(paths, env)
    if found.problems:
        raise SpecError("\n".join(found.problems))
    return found.slos


def load_with_journeys(paths: Iterable[Path], env: Mapping[str, str] | None = None
                       ) -> tuple[list[Slo], list[Journey]]:
    """``load``, and the ``kind: Journey`` documents among the files, checked against the
    SLOs (sorted by name)."""
    found = _scan(paths, env)
    if found.problems or found.journey_problems:
        raise SpecError("\n".join(found.problems + found.journey_problems))
    return found.slos, found.journeys


def load_indexed(paths: Iterable[Path], env: Mapping[str, str] | None = None
                 ) -> tuple[list[Slo], dict[str, list[str]]]:
    """``load``, and for each SLO name the files its definition is read from: its own and
    those of its service's maintenance windows. Loading just those files gives the same
    SLO (same spec hash), which lets a task that needs a few SLOs of a large catalog skip
    parsing the rest once the whole catalog has been validated."""
    found = _scan(paths, env)
    if found.problems:
        raise SpecError("\n".join(found.problems))
    # An OpenSLO SLO may take its indicator from a document in another file: every
    # OpenSLO file is part of each imported SLO's definition.
    openslo = found.openslo_files
    return found.slos, {s.name: list(dict.fromkeys(
        [*(openslo if s.source in openslo else [s.source]),
         *found.window_files.get(s.service, [])])) for s in found.slos}

