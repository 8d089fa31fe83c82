"""OpenSLO v1 import (``apiVersion: openslo/v1``).

SLO, SLI, DataSource and Service documents (from any of the files read) become the native
``Slo`` of ``slo_jobs.spec``, so both formats are validated and computed the same way. What
OpenSLO can say but slo-jobs cannot compute yet (alert policies, composite SLOs, non-Prometheus
sources, ...) is refused with one "not supported yet" line naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ...core.names import SAFE_NAME, SAFE_NAME_HINT
from .. import checks, io, model, objectives, promql, schema
from ..io import RawDoc
from . import annotate
from .models import (
    API_VERSION,
    CALENDAR_UNITS,
    UNSUPPORTED_KINDS,
    DataSourceDoc,
    Metric,
    MetricSource,
    Objective,
    ServiceDoc,
    SliDoc,
    SliSpec,
    SloDoc,
    SloSpec,
    TimeWindow,
)

_SELECTOR = re.compile(r"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*\s*(?:\{[^{}]*\})?|\{[^{}]+\})\s*$")
_SUM_OF = re.compile(r"^\s*sum\s*\((.*)\)\s*$", re.S)

Loc = tuple[Any, ...]
T = TypeVar("T")

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
            self.problems.append(f"{doc.at(())}: {io.describe(data)}; expected a mapping")
            return
        if data.get("apiVersion") != API_VERSION:
            found = io.describe(data.get("apiVersion"))
            self.problems.append(f"{doc.at(('apiVersion',))}: {found}; "
                                 f"expected {API_VERSION} (or {schema.API_VERSION})")
            return
        kind = data.get("kind")
        if kind in UNSUPPORTED_KINDS:
            self.problems.append(f"{doc.at(('kind',))}: {kind} not supported yet; expected "
                                 "one of SLO, SLI, DataSource, Service (slo-jobs derives "
                                 "burn-rate alerts from the SLO itself)")
            return
        model = _MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            self.problems.append(f"{doc.at(('kind',))}: {io.describe(kind)}; expected "
                                 "one of SLO, SLI, DataSource, Service")
            return
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            self.problems.extend(io.validation_problems(exc, doc, model))
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
            raise self.fail(doc, loc + ("spec", "query"), io.describe(query),
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
                raise self.fail(doc, qloc, io.describe(query),
                                "counter: true expects a counter selector such as "
                                "http_requests_total{code=\"200\"} (or counter: false with an "
                                "expression counting events over {{.window}})")
            return {"selector": query}
        if not promql.has_placeholder(query):
            raise self.fail(doc, qloc, io.describe(query),
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
            for i, o in enumerate(objectives):
                if o.op is None or o.value is None:
                    raise self.fail(slo_doc, ("spec", "objectives", i), "no op/value",
                                    "expected op (lt, lte, gt, gte) and value in the "
                                    "objectives of a thresholdMetric")
            # Each objective keeps its op and value: objectives.expand folds them into the
            # indicator when they agree and splits the SLO per objective when they differ.
            query = str(sli.thresholdMetric.metricSource.spec["query"]).strip()
            return {"threshold": {"query": query}}, urls[0]
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
        parts = io.duration_parts(w.duration)
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

    def convert(self, slo: SloDoc, doc: RawDoc) -> list[model.Slo]:
        s = slo.spec
        # Independent parts are checked separately so one run reports all of them.
        before = len(self.problems)
        self._try(self._unsupported, s, doc)
        window = self._try(self.window, s.timeWindow, doc)
        found = self._try(self._indicator, s, doc)
        links, problems = annotate.links(slo.metadata.annotations, doc)
        self.problems.extend(problems)
        if len(self.problems) > before or window is None or found is None:
            return []
        indicator, url = annotate.indicator(found[0], slo.metadata.annotations), found[1]
        labels = {k: ",".join(v) if isinstance(v, list) else v
                  for k, v in slo.metadata.labels.items()}
        kind = next(iter(indicator))
        raw = kind in ("ratio", "quality") and "raw" in indicator[kind]
        problem = checks.objective_rules(
            s.budgetingMethod, kind, raw,
            [schema.Objective.model_construct(**_objective(o)) for o in s.objectives])
        if problem:
            self.problems.append(f"{doc.at(('spec', 'budgetingMethod'))}: "
                                 f"{s.budgetingMethod}; {problem}")
            return []
        native = {
            "apiVersion": schema.API_VERSION, "kind": schema.KIND,
            "metadata": {"name": slo.metadata.name, "displayName": slo.metadata.displayName,
                         "labels": labels},
            "spec": {
                "service": s.service, "description": s.description, "indicator": indicator,
                "objectives": [_objective(o, kind == "threshold") for o in s.objectives],
                "window": window, "budgetingMethod": s.budgetingMethod, "links": links,
            },
        }
        # Paths of the converted document mostly match the OpenSLO ones, so its line map
        # still points near the field at fault.
        view = RawDoc(doc.file, native, doc.lines)
        try:
            parsed = schema.Document.model_validate(native)
        except ValidationError as exc:
            self.problems.extend(io.validation_problems(exc, view, schema.Document))
            return []
        found_problems = objectives.problems(parsed, view.at)
        if found_problems:
            self.problems.extend(found_problems)
            return []
        slos = objectives.expand(parsed, doc.file, prometheus_url=url,
                                 line=doc.line(("metadata", "name")))
        of = slo.metadata.annotations.get(objectives.ANNOTATION)
        if of is None:
            return slos
        # Exported from an SLO whose objectives have different latency thresholds.
        where = ("metadata", "annotations", objectives.ANNOTATION)
        if not SAFE_NAME.match(of):
            raise self.fail(doc, where, repr(of), f"expected the name of the SLO this is an "
                            f"objective of: {SAFE_NAME_HINT.removeprefix('expected ')}")
        if len(s.objectives) != 1:
            raise self.fail(doc, where, f"{of!r} on an SLO of {len(s.objectives)} objectives",
                            "expected one objective in an SLO that is an objective of another")
        return [model.as_objective(slos[0], of, s.objectives[0].displayName)]

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


def _objective(o: Objective, threshold: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"displayName": o.displayName, "target": o.fraction}
    if threshold:
        out.update(op=o.op, value=o.value)
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


def import_documents(docs: Sequence[RawDoc]) -> tuple[list[model.Slo], list[str]]:
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
                                f"{io.describe(ds.spec.connectionDetails)}; expected "
                                "connectionDetails with a url")
    for sli, doc in imp.slis.values():
        try:
            imp.check_sli(sli, doc)
        except _Problem as exc:
            imp.problems.append(str(exc))
    slos: list[model.Slo] = []
    for slo, doc in imp.slos:
        try:
            converted = imp.convert(slo, doc)
        except _Problem as exc:
            imp.problems.append(str(exc))
            continue
        slos.extend(converted)
    # A problem in a shared SLI is reported once, not once per SLO referring to it.
    return slos, list(dict.fromkeys(imp.problems))
