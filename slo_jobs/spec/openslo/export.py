"""OpenSLO v1 export of native SLOs (``slo-jobs export-openslo``), with a warning for each
field OpenSLO v1 cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from .. import io, model, objectives, schema
from . import annotate
from .models import API_VERSION, CALENDAR_DURATIONS, DEFAULT_START


def _metric(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _sli_spec(doc: schema.Document) -> dict[str, Any]:
    ind = doc.spec.indicator
    if ind.threshold is not None:
        return {"thresholdMetric": _metric(ind.threshold.query)}
    if ind.freshness is not None:
        return {"thresholdMetric": _metric(f"time() - ({ind.freshness.timestamp})")}
    if ind.latency is not None:
        parts = {"good": ind.latency.good(), "total": ind.latency.total()}
    elif ind.completeness is not None:
        assert ind.completeness.processed and ind.completeness.expected
        parts = {"good": ind.completeness.processed, "total": ind.completeness.expected}
    else:
        r = ind.ratio or ind.quality  # quality: a ratio, named in an annotation
        assert r is not None
        if r.raw is not None:
            return {"ratioMetric": {"counter": False, "rawType": r.rawType, "raw": _metric(r.raw)}}
        parts = {k: q for k, q in (("good", r.good), ("bad", r.bad), ("total", r.total))
                 if q is not None}
    if all(q.selector is not None for q in parts.values()):
        return {"ratioMetric": {"counter": True,
                                **{k: _metric(str(q.selector)) for k, q in parts.items()}}}
    return {"ratioMetric": {"counter": False, **{k: _metric(q.promql("{{.window}}"))
                                                 for k, q in parts.items()}}}


def _export_one(slo: model.Slo) -> tuple[dict[str, Any], list[str]]:
    doc = slo.definition
    assert doc is not None
    s, warnings = doc.spec, []
    if s.noDataPolicy != "skip":
        warnings.append(f"{slo.source}:{slo.line}: spec.noDataPolicy: {s.noDataPolicy!r} has "
                        "no OpenSLO v1 equivalent; not exported")
    if s.alerting is not None:
        warnings.append(f"{slo.source}:{slo.line}: spec.alerting: has no OpenSLO v1 "
                        "equivalent; not exported")
    if s.minCoverage != schema.DEFAULT_MIN_COVERAGE:
        warnings.append(f"{slo.source}:{slo.line}: spec.minCoverage: {s.minCoverage:g} has no "
                        "OpenSLO v1 equivalent; not exported")
    if s.judgeFewEvents:
        warnings.append(f"{slo.source}:{slo.line}: spec.judgeFewEvents: has no OpenSLO v1 "
                        "equivalent; not exported (the SLO falls back to the sparse-SLO rule)")
    # Governance fields (slo_jobs/governance) have no OpenSLO v1 form either.
    if slo.phases:
        warnings.append(f"{slo.source}:{slo.line}: spec.objective.phases: has no OpenSLO v1 "
                        "equivalent; not exported")
    if slo.maintenance is not None:
        warnings.append(f"{slo.source}:{slo.line}: spec.maintenance: has no OpenSLO v1 "
                        "equivalent; not exported")
    for name, value in (("breakdown", slo.breakdown), ("errorCategories", slo.error_categories)):
        if value:
            warnings.append(f"{slo.source}:{slo.line}: spec.{name}: has no OpenSLO v1 "
                            "equivalent; not exported")
    if isinstance(slo.sli, model.LatencySli) and slo.sli.buckets:  # percentile: a slice target
        warnings.append(f"{slo.source}:{slo.line}: spec.indicator.latency.buckets: has no "
                        "OpenSLO v1 equivalent; not exported")
    objectives = []
    for o in s.all_objectives:
        out: dict[str, Any] = {"target": o.target}
        if o.displayName:
            out = {"displayName": o.displayName, **out}
        if s.indicator.threshold is not None:
            out.update(op=s.indicator.threshold.op, value=s.indicator.threshold.value)
        if s.indicator.freshness is not None:
            out.update(op="lte", value=io.duration(
                s.indicator.freshness.maxAge).total_seconds())
        if o.timeSliceTarget is not None:
            out["timeSliceTarget"] = o.timeSliceTarget
        elif s.budgetingMethod == "Timeslices":
            out["timeSliceTarget"] = slo.time_slice_target
        if o.timeSliceWindow is not None:
            out["timeSliceWindow"] = o.timeSliceWindow
        objectives.append(out)
    w = s.window
    window: dict[str, Any] = (
        {"duration": w.rolling, "isRolling": True} if w.rolling else
        {"duration": CALENDAR_DURATIONS[str(w.calendar)], "isRolling": False,
         "calendar": {"startTime": w.startTime or DEFAULT_START, "timeZone": w.timeZone or "UTC"}})
    metadata: dict[str, Any] = {"name": slo.name}
    if doc.metadata.displayName:
        metadata["displayName"] = doc.metadata.displayName
    if doc.metadata.labels:
        metadata["labels"] = dict(doc.metadata.labels)
    if annotate.export(doc):
        metadata["annotations"] = annotate.export(doc)
    body: dict[str, Any] = {"description": s.description, "service": s.service,
                            "indicator": {"metadata": {"name": slo.name},
                                          "spec": _sli_spec(doc)},
                            "timeWindow": [window], "budgetingMethod": s.budgetingMethod,
                            "objectives": objectives}
    if not s.description:
        del body["description"]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata,
            "spec": body}, warnings


def _export_objectives(group: str, members: Sequence[model.Slo]
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    """The objectives of the SLO ``group``, each computed as an SLO of its own: one OpenSLO
    SLO with its objectives' op and value for a threshold indicator; for a latency one
    (a ratioMetric has one good query) an SLO per objective, annotated with ``group``."""
    parts = [_export_one(m) for m in members]
    warnings = list(dict.fromkeys(w for _, ws in parts for w in ws))
    first = parts[0][0]
    if "thresholdMetric" in first["spec"]["indicator"]["spec"]:
        merged = {**first, "metadata": {**first["metadata"], "name": group}}
        merged["spec"] = {**first["spec"], "objectives": [
            o for d, _ in parts for o in d["spec"]["objectives"]]}
        merged["spec"]["indicator"] = {**first["spec"]["indicator"], "metadata": {"name": group}}
        return [merged], warnings
    docs = []
    for d, _ in parts:
        d["metadata"]["annotations"] = {objectives.ANNOTATION: group}
        docs.append(d)
    slo = members[0]
    warnings.append(f"{slo.source}:{slo.line}: {group}: objectives with different latency "
                    "thresholds have no one-SLO OpenSLO v1 form (a ratioMetric has one good "
                    f"query); exported as {len(docs)} SLOs "
                    f"({', '.join(m.name for m in members)}), each annotated "
                    f"{objectives.ANNOTATION}: {group}")
    return docs, warnings


def export(slos: Sequence[model.Slo]) -> tuple[str, list[str]]:
    """OpenSLO v1 YAML (one document per SLO) and warnings for what has no equivalent."""
    docs, warnings = [], []
    groups: dict[str, list[model.Slo]] = {}
    for slo in slos:
        if slo.objective_of is not None:
            groups.setdefault(slo.objective_of, []).append(slo)
    done: set[str] = set()
    for slo in slos:
        if slo.pipeline is not None:
            warnings.append(f"{slo.source}:{slo.line}: {slo.name}: a {slo.kind} SLI read from "
                            "the Airflow API or a table has no OpenSLO v1 form; not exported")
            continue
        if slo.objective_of is not None:
            if slo.objective_of not in done:
                done.add(slo.objective_of)
                ds, ws = _export_objectives(slo.objective_of, groups[slo.objective_of])
                docs.extend(ds)
                warnings.extend(ws)
            continue
        d, w = _export_one(slo)
        docs.append(d)
        warnings.extend(w)
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, width=100)
    return text, warnings
