"""Validating one native document already read: the schema, then ``to_slo``, then the
checks that need the file's location (a pipeline table outside the SLO folder)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from . import io, objectives
from .io import RawDoc
from .model import LatencySli, RatioSli, Slo
from .schema import API_VERSION, Document


def validate_native(doc: RawDoc) -> tuple[list[Slo], list[str]]:
    """Validate one native document already read (and ``${VAR}``-resolved): its SLO, or
    one per objective when their thresholds differ (``objectives``)."""
    if not isinstance(doc.data, dict):
        return [], [f"{doc.at(())}: {io.describe(doc.data)}; "
                    f"expected a mapping with apiVersion: {API_VERSION}"]
    if "apiVersion" not in doc.data and "kind" not in doc.data:
        return [], [f"{doc.at(())}: a mapping without apiVersion or kind; expected an SLO "
                    f"definition (apiVersion: {API_VERSION} or openslo/v1)"]
    try:
        parsed = Document.model_validate(doc.data)
    except ValidationError as exc:
        return [], io.validation_problems(exc, doc, Document)
    found = objectives.problems(parsed, doc.at)
    if found:
        return [], found
    slos = objectives.expand(parsed, doc.file, line=doc.line(("metadata", "name")))
    # The objectives of one SLO share its fields: a problem of one is a problem of all.
    found = list(dict.fromkeys(p for s in slos if (
        p := source_problem(s, doc.at) or breakdown_problem(s, doc.at))))
    return ([], found) if found else (slos, [])


def located(where: str) -> Callable[[tuple[str, ...]], str]:
    return lambda loc: f"{where}: {io.field_path(loc)}"


def breakdown_problem(slo: Slo, at: Callable[[tuple[str, ...]], str]) -> str | None:
    """``spec.breakdown`` or ``spec.errorCategories`` on an SLI whose events are not counted
    from counter selectors (the only ones whose series carry the labels, or that a category's
    counter can be set against), or judged per time slice, as a problem line."""
    if slo.breakdown:
        found = f"{at(('spec', 'breakdown'))}: [{', '.join(slo.breakdown)}]"
    elif slo.error_categories:
        names = ", ".join(n for n, _ in slo.error_categories)
        found = f"{at(('spec', 'errorCategories'))}: {{{names}}}"
    else:
        return None
    expected = ("expected it only on a ratio (good or bad, and total, as counter selectors) "
                "or latency indicator with budgetingMethod Occurrences")
    if not counted_by_selector(slo):
        return f"{found} on a {_form(slo)} indicator; {expected}"
    if slo.budgeting_method != "Occurrences":
        return f"{found} with budgetingMethod {slo.budgeting_method}; {expected}"
    return None


def counted_by_selector(slo: Slo) -> bool:
    """Are the SLI's events counted from counter selectors (ratio with selectors, latency)?"""
    if isinstance(slo.sli, LatencySli):
        return True
    if not isinstance(slo.sli, RatioSli) or slo.sli.raw:
        return False
    part = slo.sli.bad or slo.good
    return slo.total.selector is not None and part.selector is not None


def _form(slo: Slo) -> str:
    if isinstance(slo.sli, RatioSli):
        return "raw ratio" if slo.sli.raw else "ratio 'expr'"
    return slo.kind


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

