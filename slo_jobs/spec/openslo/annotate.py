"""What OpenSLO v1 carries in ``metadata.annotations`` for slo-jobs: an SLO's runbook and
dashboard links (``spec.links`` natively) and the ``quality`` name of a ratio indicator,
which OpenSLO has no kind for. Both directions, so an export imports back the same SLO."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import schema
from ..io import RawDoc
from ..links import ANNOTATIONS, check_url

INDICATOR = "slo-jobs/indicator"


def export(doc: schema.Document) -> dict[str, str]:
    """The annotations of a native SLO (none: an empty mapping)."""
    out: dict[str, str] = {}
    links = doc.spec.links
    for name in ANNOTATIONS:
        url = getattr(links, name) if links is not None else None
        if url:
            out[name] = url
    if doc.spec.indicator.quality is not None:
        out[INDICATOR] = "quality"
    return out


def links(annotations: Mapping[str, str], doc: RawDoc
          ) -> tuple[dict[str, str] | None, list[str]]:
    """``spec.links`` from the annotations ``runbook`` and ``dashboard`` (or their rule
    annotation names ``runbook_url``, ``dashboard_url``), and a problem line for each one
    that is no http(s) URL."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for name, alias in ANNOTATIONS.items():
        key = name if name in annotations else alias
        value = annotations.get(key)
        if value is None:
            continue
        try:
            out[name] = str(check_url(value))
        except ValueError as exc:
            problems.append(f"{doc.at(('metadata', 'annotations', key))}: {value!r}; {exc}")
    return out or None, problems


def indicator(found: dict[str, Any], annotations: Mapping[str, str]) -> dict[str, Any]:
    """The native indicator, a ratio renamed ``quality`` when the annotation says so."""
    if annotations.get(INDICATOR) == "quality" and "ratio" in found:
        return {"quality": found["ratio"]}
    return found
