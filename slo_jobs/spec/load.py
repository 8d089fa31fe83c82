"""Validating one native document already read: the schema, then ``to_slo``, then the
checks that need the file's location (a pipeline table outside the SLO folder)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from . import io
from .io import RawDoc
from .model import Slo, to_slo
from .schema import API_VERSION, Document


def validate_native(doc: RawDoc) -> tuple[Slo | None, list[str]]:
    """Validate one native document already read (and ``${VAR}``-resolved)."""
    if not isinstance(doc.data, dict):
        return None, [f"{doc.at(())}: {io.describe(doc.data)}; "
                      f"expected a mapping with apiVersion: {API_VERSION}"]
    if "apiVersion" not in doc.data and "kind" not in doc.data:
        return None, [f"{doc.at(())}: a mapping without apiVersion or kind; expected an SLO "
                      f"definition (apiVersion: {API_VERSION} or openslo/v1)"]
    try:
        parsed = Document.model_validate(doc.data)
    except ValidationError as exc:
        return None, io.validation_problems(exc, doc, Document)
    slo = to_slo(parsed, doc.file, line=doc.line(("metadata", "name")))
    problem = source_problem(slo, doc.at)
    return (None, [problem]) if problem else (slo, [])


def located(where: str) -> Callable[[tuple[str, ...]], str]:
    return lambda loc: f"{where}: {io.field_path(loc)}"


def source_problem(slo: Slo, at: Callable[[tuple[str, ...]], str]) -> str | None:
    """A pipeline table source outside the SLO file's folder (and SLO_JOBS_DATA_DIRS), as
    a problem line located by ``at``; None when it is inside or there is none."""
    src = slo.pipeline
    if src is None or src.table is None:
        return None
    ref = src.table
    problem = ref.outside()
    if problem is None:
        return None
    holder = ("completion", "runs") if src.kind == "completion" else (src.kind, "table")
    key = "files" if ref.files is not None else "database"
    written = ref.written if ref.files is not None else ref.written.rpartition(":")[0]
    return f"{at(('spec', 'indicator', *holder, key))}: {written!r} {problem}"

