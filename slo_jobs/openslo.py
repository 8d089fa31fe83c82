"""OpenSLO v1 import (``apiVersion: openslo/v1``) and export of native SLOs as OpenSLO.

Import turns SLO, SLI, DataSource and Service documents (from any of the files read) into the
native models of ``spec.py``, so both formats are validated and computed the same way. What
OpenSLO can say but slo-jobs cannot compute yet (alert policies, composite SLOs, non-Prometheus
sources, ...) is refused with one "not supported yet" line naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import spec, specio
from .specio import RawDoc

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "DataSource", "Service")
UNSUPPORTED_KINDS = ("AlertPolicy", "AlertCondition", "AlertNotificationTarget")
CALENDAR_UNITS = {"w": "week", "M": "month", "Q": "quarter", "y": "year", "Y": "year"}
CALENDAR_DURATIONS = {"week": "1w", "month": "1M", "quarter": "1Q", "year": "1y"}
# Any Monday that starts a year (2024-01-01) aligns weeks, months, quarters and years at once.
DEFAULT_START = "2024-01-01 00:00:00"
_SELECTOR = re.compile(r"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*\s*(?:\{[^{}]*\})?|\{[^{}]+\})\s*$")
_SUM_OF = re.compile(r"^\s*sum\s*\((.*)\)\s*$", re.S)

Loc = tuple[Any, ...]
T = TypeVar("T")


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Open):
    name: str
    displayName: str = ""
    labels: dict[str, str | list[str]] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class MetricSource(_Open):
    metricSourceRef: str | None = None
    type: str | None = None
    spec: dict[str, Any]


class Metric(_Open):
    metricSource: MetricSource


class RatioMetric(_Open):
    counter: bool = False
    good: Metric | None = None
    bad: Metric | None = None
    total: Metric | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: Metric | None = None


class SliSpec(_Open):
    description: str = ""
    ratioMetric: RatioMetric | None = None
    thresholdMetric: Metric | None = None

    @model_validator(mode="after")
    def _one(self) -> SliSpec:
        if (self.ratioMetric is None) == (self.thresholdMetric is None):
            raise ValueError("expected exactly one of ratioMetric or thresholdMetric")
        return self


class InlineSli(_Open):
    metadata: Metadata
    spec: SliSpec


class Calendar(_Open):
    startTime: str
    timeZone: str = "UTC"

    @field_validator("timeZone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return specio.time_zone(value)


class TimeWindow(_Open):
    duration: str
    isRolling: bool = False
    calendar: Calendar | None = None


class Objective(_Open):
    displayName: str = ""
    op: spec.Op | None = None
    value: float | None = None
    target: float | None = Field(default=None, ge=0.0, lt=1.0)
    targetPercent: float | None = Field(default=None, ge=0.0, lt=100.0)
    timeSliceTarget: float | None = Field(default=None, gt=0.0, le=1.0)
    timeSliceWindow: str | None = None
    indicator: Any = None
    indicatorRef: Any = None
    compositeWeight: Any = None

    @model_validator(mode="after")
    def _target(self) -> Objective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("expected exactly one of target (e.g. 0.999) or "
                             "targetPercent (e.g. 99.9)")
        return self

    @property
    def fraction(self) -> float:
        if self.target is not None:
            return self.target
        # Decimal keeps 99.9 % exactly 0.999, as a native target of 0.999 would be.
        return float(Decimal(str(self.targetPercent)) / 100)


class SloSpec(_Open):
    description: str = ""
    service: str
    indicator: InlineSli | None = None
    indicatorRef: str | None = None
    timeWindow: list[TimeWindow] = Field(min_length=1)
    budgetingMethod: spec.BudgetingMethod
    objectives: list[Objective] = Field(min_length=1)
    alertPolicies: list[Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> SloSpec:
        if (self.indicator is None) == (self.indicatorRef is None):
            raise ValueError("expected exactly one of indicator or indicatorRef")
        return self


class SloDoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SloSpec


class SliDoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: Metadata
    spec: SliSpec


class DataSourceSpec(_Open):
    description: str = ""
    type: str
    connectionDetails: Any = None


class DataSourceDoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["DataSource"]
    metadata: Metadata
    spec: DataSourceSpec


class ServiceSpec(_Open):
    description: str = ""


class ServiceDoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceSpec = ServiceSpec()


_MODELS: dict[str, type[BaseModel]] = {
    "SLO": SloDoc, "SLI": SliDoc, "DataSource": DataSourceDoc, "Service": ServiceDoc}


class _Problem(Exception):
    """One problem found while converting; becomes one line."""


class _Importer:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.slos: list[tuple[SloDoc, RawDoc]] = []
        self.slis: dict[str, tuple[SliDoc, RawDoc]] = {}
        self.sources: dict[str, tuple[DataSourceDoc, RawDoc]] = {}
        self.services: dict[str, tuple[ServiceDoc, RawDoc]] = {}

    def fail(self, doc: RawDoc, loc: Loc, found: str, expected: str) -> _Problem:
        return _Problem(f"{doc.at(loc)}: {found}; {expected}")

    # -- reading -------------------------------------------------------------------------

    def read(self, doc: RawDoc) -> None:
        data = doc.data
        if not isinstance(data, dict):
            self.problems.append(f"{doc.at(())}: {specio.describe(data)}; expected a mapping")
            return
        if data.get("apiVersion") != API_VERSION:
            found = specio.describe(data.get("apiVersion"))
            self.problems.append(f"{doc.at(('apiVersion',))}: {found}; "
                                 f"expected {API_VERSION} (or {spec.API_VERSION})")
            return
        kind = data.get("kind")
        if kind in UNSUPPORTED_KINDS:
            self.problems.append(f"{doc.at(('kind',))}: {kind} not supported yet; expected "
                                 "one of SLO, SLI, DataSource, Service (slo-jobs derives "
                                 "burn-rate alerts from the SLO itself)")
            return
        model = _MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            self.problems.append(f"{doc.at(('kind',))}: {specio.describe(kind)}; expected "
                                 "one of SLO, SLI, DataSource, Service")
            return
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            self.problems.extend(specio.validation_problems(exc, doc, model))
            return
        if isinstance(parsed, SloDoc):
            self.slos.append((parsed, doc))
            return
        registry: dict[str, Any] = (self.slis if isinstance(parsed, SliDoc) else
                                    self.sources if isinstance(parsed, DataSourceDoc) else
                                    self.services)
        name = parsed.metadata.name  # type: ignore[attr-defined]
        if name in registry:
            first = registry[name][1]
            self.problems.append(f"{doc.at(('metadata', 'name'))}: {kind} {name!r} is already "
                                 f"defined in {first.file}:{first.line(('metadata', 'name'))}; "
                                 f"expected unique {kind} names")
            return
        registry[name] = (parsed, doc)

    # -- checks shared by standalone and inline SLIs ---------------------------------------

    def source_url(self, ms: MetricSource, doc: RawDoc, loc: Loc) -> str | None:
        kind, url = ms.type, None
        if ms.metricSourceRef is not None:
            found = self.sources.get(ms.metricSourceRef)
            if found is not None:
                ds, _ = found
                kind = kind or ds.spec.type
                url = _url(ds.spec.connectionDetails)
            elif kind is None:
                raise self.fail(doc, loc + ("metricSourceRef",), repr(ms.metricSourceRef),
                                "expected the name of a DataSource document (none has it)")
        if kind is None:
            raise self.fail(doc, loc, "no type", "expected type: Prometheus or a "
                            "metricSourceRef naming a Prometheus DataSource")
        if kind != "Prometheus":
            raise self.fail(doc, loc + ("type",), f"{kind!r} not supported yet",
                            "expected Prometheus")
        extra = sorted(set(ms.spec) - {"query"})
        if extra:
            raise self.fail(doc, loc + ("spec", extra[0]), f"{extra[0]!r} not supported yet",
                            "expected only spec.query (a PromQL query)")
        query = ms.spec.get("query")
        if not isinstance(query, str) or not query.strip():
            raise self.fail(doc, loc + ("spec", "query"), specio.describe(query),
                            "expected a PromQL query")
        return url

    def counter_query(self, metric: Metric, counter: bool, doc: RawDoc, loc: Loc
                      ) -> dict[str, str]:
        query = str(metric.metricSource.spec["query"]).strip()
        qloc = loc + ("metricSource", "spec", "query")
        if counter:
            # Several OpenSLO examples write sum(selector): summing counters before increase()
            # would miss resets, so slo-jobs sums the per-series increases instead.
            inner = _SUM_OF.match(query)
            if inner and _SELECTOR.match(inner.group(1)):
                query = inner.group(1).strip()
            if not _SELECTOR.match(query):
                raise self.fail(doc, qloc, specio.describe(query),
                                "counter: true expects a counter selector such as "
                                "http_requests_total{code=\"200\"} (or counter: false with an "
                                "expression counting events over {{.window}})")
            return {"selector": query}
        if not spec.has_placeholder(query):
            raise self.fail(doc, qloc, specio.describe(query),
                            "counter: false expects an expression counting events over the "
                            "window placeholder, e.g. sum(increase(x_total[{{.window}}])), "
                            "or counter: true with a selector")
        return {"expr": query}

    def indicator(self, sli: SliSpec, doc: RawDoc, loc: Loc, objectives: Sequence[Objective],
                  slo_doc: RawDoc) -> tuple[dict[str, Any], str | None]:
        urls: list[str | None] = []
        if sli.thresholdMetric is not None:
            urls.append(self.source_url(sli.thresholdMetric.metricSource, doc,
                                        loc + ("thresholdMetric", "metricSource")))
            rules = {(o.op, o.value) for o in objectives}
            op, value = next(iter(rules))
            if op is None or value is None:
                raise self.fail(slo_doc, ("spec", "objectives", 0), "no op/value",
                                "expected op (lt, lte, gt, gte) and value in the objectives "
                                "of a thresholdMetric")
            if len(rules) > 1:
                raise self.fail(slo_doc, ("spec", "objectives"), "different op/value per "
                                "objective not supported yet", "expected the same op and value")
            query = str(sli.thresholdMetric.metricSource.spec["query"]).strip()
            return {"threshold": {"query": query, "op": op, "value": value}}, urls[0]
        r = sli.ratioMetric
        assert r is not None
        rloc = loc + ("ratioMetric",)
        for i, o in enumerate(objectives):
            if o.value is not None:
                raise self.fail(slo_doc, ("spec", "objectives", i, "value"), repr(o.value),
                                "value applies to a thresholdMetric; expected no value "
                                "for a ratioMetric")
        if r.raw is not None or r.rawType is not None:
            if r.raw is None or r.rawType is None or r.good or r.bad or r.total:
                raise self.fail(doc, rloc, "an incomplete raw ratio",
                                "expected raw with rawType (success or failure) and no "
                                "good, bad or total")
            urls.append(self.source_url(r.raw.metricSource, doc, rloc + ("raw", "metricSource")))
            return {"ratio": {"raw": str(r.raw.metricSource.spec["query"]).strip(),
                              "rawType": r.rawType}}, urls[0]
        if r.total is None or (r.good is None) == (r.bad is None):
            raise self.fail(doc, rloc, "neither good/total nor bad/total",
                            "expected total and exactly one of good or bad (or raw)")
        out: dict[str, Any] = {}
        for part in ("good", "bad", "total"):
            metric = getattr(r, part)
            if metric is not None:
                urls.append(self.source_url(metric.metricSource, doc,
                                            rloc + (part, "metricSource")))
                out[part] = self.counter_query(metric, r.counter, doc, rloc + (part,))
        if len({u for u in urls if u}) > 1:
            raise self.fail(doc, rloc, "queries on different Prometheus servers not supported "
                            "yet", "expected one DataSource per SLO")
        return {"ratio": out}, next((u for u in urls if u), None)

    # -- SLOs --------------------------------------------------------------------------------

    def window(self, tw: list[TimeWindow], doc: RawDoc) -> dict[str, Any]:
        loc: Loc = ("spec", "timeWindow")
        if len(tw) > 1:
            raise self.fail(doc, loc, f"{len(tw)} time windows not supported yet",
                            "expected one")
        w = tw[0]
        dloc = loc + (0, "duration")
        parts = specio.duration_parts(w.duration)
        if parts is None:
            raise self.fail(doc, dloc, repr(w.duration), "expected a duration such as 28d, "
                            "1w or 1M (m is minutes, M months)")
        n, unit = parts
        if w.isRolling:
            if w.calendar is not None:
                raise self.fail(doc, loc + (0, "calendar"), "a calendar on a rolling window",
                                "expected calendar only with isRolling: false")
            if unit in "dw":
                return {"rolling": w.duration}
            if unit in "MQyY":
                raise self.fail(doc, dloc, f"a rolling {w.duration!r} not supported yet",
                                "expected days or weeks, e.g. 30d or 4w")
            raise self.fail(doc, dloc, repr(w.duration), "expected a rolling window of whole "
                            "days or weeks, e.g. 28d")
        if unit == "m":
            raise self.fail(doc, dloc, f"{w.duration!r} is {n} minute{'s' * (n > 1)}",
                            f"expected {n}M for a calendar month (M is months, m minutes)")
        if n != 1 or unit not in CALENDAR_UNITS:
            raise self.fail(doc, dloc, f"a calendar window of {w.duration!r} not supported "
                            "yet", "expected 1w, 1M, 1Q or 1y")
        out: dict[str, Any] = {"calendar": CALENDAR_UNITS[unit]}
        if w.calendar is not None:
            out.update(timeZone=w.calendar.timeZone, startTime=w.calendar.startTime)
        return out

    def convert(self, slo: SloDoc, doc: RawDoc) -> spec.Slo | None:
        s = slo.spec
        # Independent parts are checked separately so one run reports all of them.
        before = len(self.problems)
        self._try(self._unsupported, s, doc)
        window = self._try(self.window, s.timeWindow, doc)
        found = self._try(self._indicator, s, doc)
        if len(self.problems) > before or window is None or found is None:
            return None
        indicator, url = found
        labels = {k: ",".join(v) if isinstance(v, list) else v
                  for k, v in slo.metadata.labels.items()}
        kind = next(iter(indicator))
        raw = kind == "ratio" and "raw" in indicator["ratio"]
        problem = spec.objective_rules(
            s.budgetingMethod, kind, raw,
            [spec.Objective.model_construct(**_objective(o)) for o in s.objectives])
        if problem:
            self.problems.append(f"{doc.at(('spec', 'budgetingMethod'))}: "
                                 f"{s.budgetingMethod}; {problem}")
            return None
        native = {
            "apiVersion": spec.API_VERSION, "kind": spec.KIND,
            "metadata": {"name": slo.metadata.name, "displayName": slo.metadata.displayName,
                         "labels": labels},
            "spec": {
                "service": s.service, "description": s.description, "indicator": indicator,
                "objectives": [_objective(o) for o in s.objectives],
                "window": window, "budgetingMethod": s.budgetingMethod,
            },
        }
        # Paths of the converted document mostly match the OpenSLO ones, so its line map
        # still points near the field at fault.
        view = RawDoc(doc.file, native, doc.lines)
        try:
            parsed = spec.Document.model_validate(native)
        except ValidationError as exc:
            self.problems.extend(specio.validation_problems(exc, view, spec.Document))
            return None
        return spec.to_slo(parsed, doc.file, prometheus_url=url,
                           line=doc.line(("metadata", "name")))

    def _try(self, check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except _Problem as exc:
            self.problems.append(str(exc))
            return None

    def _unsupported(self, s: SloSpec, doc: RawDoc) -> None:
        if s.alertPolicies:
            raise self.fail(doc, ("spec", "alertPolicies"), "alert policies not supported yet",
                            "expected no alertPolicies (burn-rate alerts come from the "
                            "budget, see the alerting field of the native format)")
        for i, o in enumerate(s.objectives):
            for name in ("indicator", "indicatorRef", "compositeWeight"):
                if getattr(o, name) is not None:
                    raise self.fail(doc, ("spec", "objectives", i, name),
                                    "composite SLOs not supported yet",
                                    "expected one indicator per SLO, in spec.indicator")

    def _indicator(self, s: SloSpec, doc: RawDoc) -> tuple[dict[str, Any], str | None]:
        loc: Loc
        if s.indicatorRef is not None:
            found = self.slis.get(s.indicatorRef)
            if found is None:
                raise self.fail(doc, ("spec", "indicatorRef"), repr(s.indicatorRef),
                                "expected the name of an SLI document (none has it)")
            sli, sli_doc, loc = found[0].spec, found[1], ("spec",)
        else:
            assert s.indicator is not None
            sli, sli_doc, loc = s.indicator.spec, doc, ("spec", "indicator", "spec")
        return self.indicator(sli, sli_doc, loc, s.objectives, doc)

    def check_sli(self, sli: SliDoc, doc: RawDoc) -> None:
        """A standalone SLI must be importable even if no SLO uses it yet."""
        r, loc = sli.spec.ratioMetric, ("spec",)
        pairs: list[tuple[Loc, Metric]] = []
        if sli.spec.thresholdMetric is not None:
            pairs.append((("thresholdMetric",), sli.spec.thresholdMetric))
        if r is not None:
            pairs.extend((("ratioMetric", p), getattr(r, p))
                         for p in ("good", "bad", "total", "raw") if getattr(r, p) is not None)
        for sub, metric in pairs:
            self.source_url(metric.metricSource, doc, loc + sub + ("metricSource",))
            if r is not None and sub[-1] != "raw":
                self.counter_query(metric, r.counter, doc, loc + sub)


def _objective(o: Objective) -> dict[str, Any]:
    out: dict[str, Any] = {"displayName": o.displayName, "target": o.fraction}
    if o.timeSliceTarget is not None:
        out["timeSliceTarget"] = o.timeSliceTarget
    if o.timeSliceWindow is not None:
        out["timeSliceWindow"] = o.timeSliceWindow
    return out


def _url(details: Any) -> str | None:
    items = details if isinstance(details, list) else [details]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            return str(item["url"])
    return None


def import_documents(docs: Sequence[RawDoc]) -> tuple[list[spec.Slo], list[str]]:
    """Convert OpenSLO documents (references may cross files); return SLOs and problems."""
    imp = _Importer()
    for doc in docs:
        imp.read(doc)
    for ds, doc in imp.sources.values():
        if ds.spec.type != "Prometheus":
            imp.problems.append(f"{doc.at(('spec', 'type'))}: {ds.spec.type!r} not supported "
                                "yet; expected Prometheus")
        elif _url(ds.spec.connectionDetails) is None:
            imp.problems.append(f"{doc.at(('spec', 'connectionDetails'))}: "
                                f"{specio.describe(ds.spec.connectionDetails)}; expected "
                                "connectionDetails with a url")
    for sli, doc in imp.slis.values():
        try:
            imp.check_sli(sli, doc)
        except _Problem as exc:
            imp.problems.append(str(exc))
    slos: list[spec.Slo] = []
    for slo, doc in imp.slos:
        try:
            converted = imp.convert(slo, doc)
        except _Problem as exc:
            imp.problems.append(str(exc))
            continue
        if converted is not None:
            slos.append(converted)
    # A problem in a shared SLI is reported once, not once per SLO referring to it.
    return slos, list(dict.fromkeys(imp.problems))


# -- export ----------------------------------------------------------------------------------


def _metric(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _sli_spec(doc: spec.Document) -> dict[str, Any]:
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
        assert ind.ratio is not None
        r = ind.ratio
        if r.raw is not None:
            return {"ratioMetric": {"counter": False, "rawType": r.rawType, "raw": _metric(r.raw)}}
        parts = {k: q for k, q in (("good", r.good), ("bad", r.bad), ("total", r.total))
                 if q is not None}
    if all(q.selector is not None for q in parts.values()):
        return {"ratioMetric": {"counter": True,
                                **{k: _metric(str(q.selector)) for k, q in parts.items()}}}
    return {"ratioMetric": {"counter": False, **{k: _metric(q.promql("{{.window}}"))
                                                 for k, q in parts.items()}}}


def _export_one(slo: spec.Slo) -> tuple[dict[str, Any], list[str]]:
    doc = slo.definition
    assert doc is not None
    s, warnings = doc.spec, []
    if s.noDataPolicy != "skip":
        warnings.append(f"{slo.source}:{slo.line}: spec.noDataPolicy: {s.noDataPolicy!r} has "
                        "no OpenSLO v1 equivalent; not exported")
    if s.alerting is not None:
        warnings.append(f"{slo.source}:{slo.line}: spec.alerting: has no OpenSLO v1 "
                        "equivalent; not exported")
    if s.minCoverage != spec.DEFAULT_MIN_COVERAGE:
        warnings.append(f"{slo.source}:{slo.line}: spec.minCoverage: {s.minCoverage:g} has no "
                        "OpenSLO v1 equivalent; not exported")
    objectives = []
    for o in s.all_objectives:
        out: dict[str, Any] = {"target": o.target}
        if o.displayName:
            out = {"displayName": o.displayName, **out}
        if s.indicator.threshold is not None:
            out.update(op=s.indicator.threshold.op, value=s.indicator.threshold.value)
        if s.indicator.freshness is not None:
            out.update(op="lte", value=specio.duration(
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
    body: dict[str, Any] = {"description": s.description, "service": s.service,
                            "indicator": {"metadata": {"name": slo.name},
                                          "spec": _sli_spec(doc)},
                            "timeWindow": [window], "budgetingMethod": s.budgetingMethod,
                            "objectives": objectives}
    if not s.description:
        del body["description"]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata,
            "spec": body}, warnings


def export(slos: Sequence[spec.Slo]) -> tuple[str, list[str]]:
    """OpenSLO v1 YAML (one document per SLO) and warnings for what has no equivalent."""
    docs, warnings = [], []
    for slo in slos:
        if slo.pipeline is not None:
            warnings.append(f"{slo.source}:{slo.line}: {slo.name}: a {slo.kind} SLI read from "
                            "the Airflow API or a table has no OpenSLO v1 form; not exported")
            continue
        d, w = _export_one(slo)
        docs.append(d)
        warnings.extend(w)
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, width=100)
    return text, warnings
