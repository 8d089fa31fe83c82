"""The validated SLO as the rest of the pipeline reads it: ``Slo``, with one indicator type
per kind, built from a schema ``Document`` by ``to_slo``.

``good`` and ``total`` always count events per extraction step, whatever the kind, so every
kind lands in the same lake columns; what only one kind has lives on its indicator type.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, ClassVar, Literal

from . import io
from .governance import Phase, Plan, plan_of
from .indicators import PROMQL_OP, Indicator, Kind, Op, Query, derived
from .links import Links, urls
from .promql import has_placeholder, number
from .schema import DEFAULT_MIN_COVERAGE, Document
from .tables import PipelineSource, TableRef

# The error bounds of an SLI read from a windowed PromQL expression (docs/extraction.md, where
# they are derived; measured by tests/realdata/test_extract_real.py on jittered 15-60 s
# scrapes through Prometheus 2.42, Prometheus 3's selectors and VictoriaMetrics): its error
# ratio 1 - SLI within this share of itself (0.15 % measured), and its event counts within
# this share of the truth (8.2 % low measured, Prometheus' extrapolation of each window).
EXPR_SLI_ERROR = 0.01
EXPR_COUNT_ERROR = 0.10


@dataclass(frozen=True)
class Target:

    """One objective of an SLO; the first is the one reports judge ``met`` by."""

    target: float
    display_name: str = ""
    time_slice_target: float | None = None
    time_slice_window: timedelta | None = None


@dataclass(frozen=True)
class BurnRateAlert:
    """An alerting override: fire iff both windows burn faster than ``factor``
    (docs/slo-math.md)."""

    severity: str
    long_window: timedelta
    short_window: timedelta
    factor: float | None = None
    budget_consumed: float | None = None


# One type per indicator kind: what only that kind has. ``source`` is set when the SLI is
# read from the Airflow API or a table instead of Prometheus.
@dataclass(frozen=True)
class RatioSli:
    kind: ClassVar[Kind] = "ratio"
    bad: Query | None = None  # a bad/total ratio's bad events (good = total - bad)
    raw: bool = False  # a ratio PromQL gives per slice, not countable events
    quality: bool = False  # written as ``indicator.quality``: named so in reports
    source: ClassVar[None] = None


@dataclass(frozen=True)
class LatencySli:
    kind: ClassVar[Kind] = "latency"
    threshold: float  # seconds: the histogram bucket whose count is the good events
    # Buckets kept in the lake for percentiles: "all", some bounds, or () for none.
    buckets: Literal["all"] | tuple[float, ...] = ()
    percentile: float | None = None  # a percentile objective (spec/percentile.py)
    source: ClassVar[None] = None


@dataclass(frozen=True)
class ThresholdSli:
    kind: ClassVar[Kind] = "threshold"
    op: Op
    value: float
    source: ClassVar[None] = None


@dataclass(frozen=True)
class FreshnessSli:
    kind: ClassVar[Kind] = "freshness"
    max_age: timedelta
    measure: str
    # The Prometheus form's query giving the newest Unix time (its age is kept too).
    timestamp: str | None = None
    # dbt-style status thresholds (strict: age > warn_after warns).
    warn_after: timedelta | None = None
    error_after: timedelta | None = None
    source: PipelineSource | None = None  # the table form


@dataclass(frozen=True)
class CompletionSli:
    kind: ClassVar[Kind] = "completion"
    source: PipelineSource


@dataclass(frozen=True)
class CompletenessSli:
    kind: ClassVar[Kind] = "completeness"
    source: PipelineSource | None = None  # None: two Prometheus counters


Sli = RatioSli | LatencySli | ThresholdSli | FreshnessSli | CompletionSli | CompletenessSli


@dataclass(frozen=True)
class Slo:
    """A validated SLO, as the rest of the pipeline sees it.

    ``good`` and ``total`` always count events per extraction step, whatever the indicator
    kind: a bad/total ratio gets ``good = total - bad``; threshold and freshness indicators
    give one event per slice (``total`` 1 when there is data, ``good`` 1 when the slice is
    good), so every kind lands in the same lake columns.
    """

    name: str
    service: str
    description: str
    target: float
    good: Query
    total: Query
    sli: Sli
    labels: dict[str, str]
    source: str
    spec_hash: str
    objectives: tuple[Target, ...] = ()
    budgeting_method: Literal["Occurrences", "Timeslices", "RatioTimeslices"] = "Occurrences"
    time_slice_target: float | None = None
    time_slice_window: timedelta | None = None
    window_kind: Literal["calendar", "rolling"] = "calendar"
    calendar_unit: Literal["week", "month", "quarter", "year"] | None = "month"
    rolling_window: timedelta | None = None
    time_zone: str = "UTC"
    window_start: str | None = None
    no_data_policy: Literal["good", "bad", "skip"] = "skip"
    burn_rate_alerts: tuple[BurnRateAlert, ...] = ()
    min_coverage: float = DEFAULT_MIN_COVERAGE
    # spec.judgeFewEvents: judged even below the sparse-SLO rule's event count.
    judge_few_events: bool = False
    tier: str | None = None
    team: str | None = None
    display_name: str = ""
    prometheus_url: str | None = None
    scrape_interval: timedelta | None = None
    # The first objective's dated phases, and planned maintenance (slo_jobs/governance).
    phases: tuple[Phase, ...] = ()
    maintenance: Plan | None = None
    # Labels whose values the bad events are attributed to (counter SLIs; () for none).
    breakdown: tuple[str, ...] = ()
    # One objective of an SLO whose objectives have different thresholds (spec/objectives.py):
    # the SLO's name as written and the objective's displayName; None and "" otherwise.
    objective_of: str | None = None
    objective: str = ""
    # spec.errorCategories: (name, counter selector) in spec order; () for none.
    error_categories: tuple[tuple[str, str], ...] = ()
    # spec.links: where to look when it burns; shown and annotated, never hashed.
    links: Links | None = None
    # Where it was defined and the validated definition (for export-openslo and messages).
    line: int = field(default=1, compare=False)
    definition: Document | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> Kind:
        return self.sli.kind

    @property
    def indicator(self) -> str:
        """The indicator's name in reports: its kind, or ``quality`` for that ratio."""
        return "quality" if isinstance(self.sli, RatioSli) and self.sli.quality else self.kind

    def shown(self) -> dict[str, str | None]:
        """Summary columns beside the figures: ``indicator`` and the links' URLs."""
        return {"indicator": self.indicator, **urls(self.links, self.labels)}

    @property
    def pipeline(self) -> PipelineSource | None:
        """The Airflow API or table this SLI is read from; None when Prometheus has it."""
        return self.sli.source

    @property
    def time_slice_window_s(self) -> int | None:
        return None if self.time_slice_window is None else int(
            self.time_slice_window.total_seconds())

    @property
    def approximate(self) -> bool:
        """Whether its events are read from a windowed PromQL ``expr`` (extract.method
        "promql"): as exact as the backend's ``increase`` (docs/extraction.md)."""
        part = self.sli.bad if isinstance(self.sli, RatioSli) and self.sli.bad else self.good
        if self.total.selector is not None and part.selector is not None:
            return False
        return any(q.expr is not None and has_placeholder(q.expr) for q in (self.good,
                                                                             self.total))

    def approximation(self, sli: float | None) -> dict[str, Any]:
        """Summary columns: ``approximate``, and the bound of the SLI's error as an absolute
        SLI (``EXPR_SLI_ERROR`` of its error ratio ``1 - sli``) with the counts' bound."""
        known = self.approximate and sli is not None
        return {"approximate": self.approximate,
                "sli_error_bound": EXPR_SLI_ERROR * (1 - sli) if known and sli is not None
                else None,
                "count_error_bound": EXPR_COUNT_ERROR if self.approximate else None}

    def as_row(self) -> dict[str, Any]:
        return {"slo": self.name, "service": self.service, "target": self.target,
                "description": self.description, "spec_hash": self.spec_hash}


def _counts(ind: Indicator) -> tuple[Query, Query]:
    """(good, total) event queries for any indicator kind."""
    r = ind.ratio or ind.quality
    if r is not None:
        if r.raw is not None:
            ratio = r.raw if r.rawType == "success" else f"1 - ({r.raw})"
            return (derived(f"sum({ratio})"), derived(f"count({r.raw})"))
        if r.good is not None and r.total is not None:
            return r.good, r.total
        assert r.bad is not None and r.total is not None
        # A selector with no errors yet has no series at all: count that as zero bad events.
        good = (f"clamp_min(({r.total.promql('{{.window}}')}) - "
                f"(({r.bad.promql('{{.window}}')}) or vector(0)), 0)")
        return derived(good), r.total
    if ind.latency is not None:
        return ind.latency.good(), ind.latency.total()
    if ind.threshold is not None:
        t = ind.threshold
        assert t.op is not None and t.value is not None  # objectives.py fills them in
        good = f"min(({t.query}) {PROMQL_OP[t.op]} bool {number(t.value)})"
        return derived(good), derived(f"max(({t.query}) * 0 + 1)")
    if ind.completeness is not None and ind.completeness.processed is not None:
        assert ind.completeness.expected is not None
        return ind.completeness.processed, ind.completeness.expected
    if ind.freshness is None or ind.freshness.timestamp is None:
        # Read from the Airflow API or a table: no query; names the source in messages.
        return derived(f"pipeline {ind.kind}: good"), derived(f"pipeline {ind.kind}: total")
    f = ind.freshness
    # Written exactly as the equivalent threshold on the age, so an OpenSLO round trip
    # (which has no freshness kind) keeps the same queries and spec hash.
    age = f"time() - ({f.timestamp})"
    good = f"min(({age}) <= bool {number(io.duration(f.maxAge).total_seconds())})"
    return derived(good), derived(f"max(({age}) * 0 + 1)")


def _hash(slo: Slo) -> str:
    """Identifies what is computed: equal for equivalent native and OpenSLO definitions."""
    fresh = slo.sli if isinstance(slo.sli, FreshnessSli) else None
    canonical: dict[str, Any] = {
        "name": slo.name, "service": slo.service, "description": slo.description,
        "labels": slo.labels, "good": slo.good.promql("$step"),
        "total": slo.total.promql("$step"),
        "objectives": [[o.target, o.time_slice_target, str(o.time_slice_window)]
                       for o in slo.objectives],
        "method": slo.budgeting_method, "window": [slo.window_kind, slo.calendar_unit,
                                                   str(slo.rolling_window), slo.time_zone],
        "no_data": slo.no_data_policy,
        "pipeline": slo.pipeline.key() if slo.pipeline else None,
        "status": [str(fresh.warn_after), str(fresh.error_after)] if fresh else ["None", "None"],
        "alerts": [[a.severity, str(a.long_window), str(a.short_window), a.factor,
                    a.budget_consumed] for a in slo.burn_rate_alerts],
    }
    if slo.min_coverage != DEFAULT_MIN_COVERAGE:  # the default keeps earlier hashes
        canonical["min_coverage"] = slo.min_coverage
    if slo.judge_few_events:  # off keeps earlier hashes
        canonical["judge_few_events"] = True
    if slo.phases:
        canonical["phases"] = [p.model_dump() for p in slo.phases]
    if slo.breakdown:  # without one, the hash stays what it was before the field existed
        canonical["breakdown"] = list(slo.breakdown)
    if slo.objective_of is not None:  # a whole SLO keeps the hash it had before objectives
        canonical["objective_of"] = [slo.objective_of, slo.objective]
    if slo.error_categories:  # likewise: a hash without categories is unchanged
        canonical["error_categories"] = [list(c) for c in slo.error_categories]
    if isinstance(slo.sli, LatencySli) and slo.sli.buckets:  # none keeps earlier hashes
        canonical["buckets"] = slo.sli.buckets
    if slo.maintenance is not None:
        canonical["maintenance"] = [[c, [w.model_dump() for w in ws]]
                                    for c, ws in slo.maintenance.groups]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def to_slo(doc: Document, source: str, prometheus_url: str | None = None,
           line: int = 1) -> Slo:
    s, meta = doc.spec, doc.metadata
    good, total = _counts(s.indicator)
    objectives = tuple(Target(
        target=o.target, display_name=o.displayName,
        time_slice_target=o.timeSliceTarget if o.timeSliceTarget is not None else (
            1.0 if s.budgetingMethod == "Timeslices" else None),
        time_slice_window=None if o.timeSliceWindow is None else io.duration(
            o.timeSliceWindow)) for o in s.all_objectives)
    w = s.window
    alerts = tuple(BurnRateAlert(
        severity=a.severity, long_window=io.duration(a.longWindow),
        short_window=io.duration(a.shortWindow), factor=a.factor,
        budget_consumed=a.budgetConsumed) for a in (s.alerting.burnRates if s.alerting else []))
    slo = Slo(
        name=meta.name, service=s.service, description=s.description,
        target=objectives[0].target, good=good, total=total, sli=_sli(s.indicator, source),
        labels=dict(meta.labels), source=source, spec_hash="",
        objectives=objectives, budgeting_method=s.budgetingMethod,
        time_slice_target=objectives[0].time_slice_target,
        time_slice_window=objectives[0].time_slice_window,
        window_kind="rolling" if w.rolling else "calendar", calendar_unit=w.calendar,
        rolling_window=io.duration(w.rolling) if w.rolling else None,
        time_zone=w.timeZone or "UTC", window_start=w.startTime,
        no_data_policy=s.noDataPolicy,
        burn_rate_alerts=alerts, min_coverage=s.minCoverage,
        judge_few_events=s.judgeFewEvents, tier=meta.labels.get("tier"),
        team=meta.labels.get("team") or meta.labels.get("owner"),
        display_name=meta.displayName, prometheus_url=prometheus_url, line=line,
        scrape_interval=_maybe_duration(s.scrapeInterval),
        phases=tuple(s.all_objectives[0].phases or ()), maintenance=plan_of(s.maintenance),
        breakdown=tuple(s.breakdown or ()), links=s.links, definition=doc,
        error_categories=tuple((s.errorCategories or {}).items()))
    return replace(slo, spec_hash=_hash(slo))


def with_maintenance(slo: Slo, plan: Plan) -> Slo:
    """``slo`` with a service's maintenance windows added to its own (a new spec hash)."""
    changed = replace(slo, maintenance=plan.merged(slo.maintenance))
    return replace(changed, spec_hash=_hash(changed))


def as_objective(slo: Slo, of: str, objective: str) -> Slo:
    """``slo`` as the objective ``objective`` (its displayName) of the SLO named ``of``."""
    changed = replace(slo, objective_of=of, objective=objective)
    return replace(changed, spec_hash=_hash(changed))


def _maybe_duration(text: str | None) -> timedelta | None:
    return None if text is None else io.duration(text)


def _sli(ind: Indicator, source: str) -> Sli:
    """The kind's own type; a pipeline SLI's table paths resolved against its SLO file."""
    r = ind.ratio or ind.quality
    if r is not None:
        return RatioSli(bad=r.bad, raw=r.raw is not None, quality=ind.quality is not None)
    if ind.latency is not None:
        lat = ind.latency
        assert lat.threshold is not None  # set in each objective's own SLO (objectives.py)
        return LatencySli(threshold=lat.threshold, percentile=lat.percentile,
                          buckets="all" if lat.buckets == "all" else tuple(lat.buckets or ()))
    if ind.threshold is not None:
        assert ind.threshold.op is not None and ind.threshold.value is not None
        return ThresholdSli(op=ind.threshold.op, value=ind.threshold.value)
    f, c, k = ind.freshness, ind.completion, ind.completeness
    if f is not None:
        table = None if f.table is None else PipelineSource(
            kind="freshness", table=TableRef.of(f.table, source), loaded_at=f.loadedAt,
            max_age=io.duration(f.maxAge))
        return FreshnessSli(max_age=io.duration(f.maxAge), measure=f.measure,
                            timestamp=f.timestamp, warn_after=_maybe_duration(f.warnAfter),
                            error_after=_maybe_duration(f.errorAfter), source=table)
    if c is not None:
        return CompletionSli(source=PipelineSource(
            kind="completion", table=TableRef.of(c.runs, source) if c.runs else None,
            dag=c.dag, within=io.duration(c.within),
            expect_every=_maybe_duration(c.expectEvery)))
    assert k is not None
    if k.table is None or k.columns is None:
        return CompletenessSli()
    return CompletenessSli(source=PipelineSource(
        kind="completeness", table=TableRef.of(k.table, source), at=k.columns.at,
        processed=k.columns.processed, expected=k.columns.expected))
