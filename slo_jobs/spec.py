"""SLO definitions as code: load, validate and normalise ``slos/*.yaml``.

One SLO per YAML document, Kubernetes style (the README documents every field)::

    apiVersion: slo-jobs/v1
    kind: ServiceLevelObjective
    metadata: {name: checkout-availability, labels: {tier: critical, team: payments}}
    spec:
      service: checkout
      indicator:
        ratio:
          good:  {selector: 'http_requests_total{service="checkout",code!~"5.."}'}
          total: {selector: 'http_requests_total{service="checkout"}'}
      objective: {target: 0.999}
      window: {calendar: month}

Indicator kinds: ``ratio`` (good or bad events over total events, or a raw ratio),
``latency`` (a histogram's bucket at a threshold over its count), ``threshold`` (a gauge
compared with a value per time slice) and ``freshness`` (the age of the newest data or of the
last completed run). Files in OpenSLO v1 (``apiVersion: openslo/v1``) are imported by
``openslo.py`` into the same models. Every problem becomes one line
``<file>:<line>: <field>: <found>; <expected>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import promql, specio
from .errors import SpecError
from .governance.model import Maintenance, Phase, Plan, check_phases, plan_of
from .spec_pipeline import (
    CompletenessColumns,
    Completion,
    PipelineSource,
    TableRef,
    TableSource,
    identifier,
    optional_duration,
)
from .specio import RawDoc

API_VERSION = "slo-jobs/v1"
KIND = "ServiceLevelObjective"
MAINTENANCE_KIND = "MaintenanceWindows"
SAFE_NAME = specio.SAFE_NAME
WINDOW_PLACEHOLDERS = ("{{.window}}", "{{window}}", "{{ window }}", "{{ .window }}")
TIERS = ("critical", "essential", "standard", "best_effort")
EXTRACT_STEP = timedelta(minutes=1)
# spec.minCoverage: the share of buckets with data a period needs before it can be judged.
DEFAULT_MIN_COVERAGE = 0.9
_PROMQL_OP = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

Op = Literal["lt", "lte", "gt", "gte"]
Kind = Literal["ratio", "latency", "threshold", "freshness", "completion", "completeness"]
KINDS = ("ratio", "latency", "threshold", "freshness", "completion", "completeness")
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _safe(value: str) -> str:
    return specio.safe_name(value)


def _duration(value: str) -> str:
    specio.duration(value)
    return value


def has_placeholder(text: str) -> bool:
    return any(p in text for p in WINDOW_PLACEHOLDERS)


def _fill(text: str, window: str) -> str:
    for p in WINDOW_PLACEHOLDERS:
        text = text.replace(p, window)
    return text


def _checked_expr(text: str) -> str:
    # Parsed as Prometheus will see it: the window placeholder replaced by a step.
    promql.check_expr(_fill(text, "1m"))
    return text


class Query(_Strict):
    """A counter selector (the tool builds ``increase``) or a raw PromQL expression."""

    selector: str | None = None
    expr: str | None = None

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else promql.check_selector(value)

    @field_validator("expr")
    @classmethod
    def _expr(cls, value: str | None) -> str | None:
        return None if value is None else _checked_expr(value)

    @model_validator(mode="after")
    def _one_of(self) -> Query:
        if (self.selector is None) == (self.expr is None):
            raise ValueError("expected exactly one of 'selector' or 'expr'")
        if self.expr is not None and not has_placeholder(self.expr):
            raise ValueError("expr needs a window placeholder {{.window}}, e.g. "
                             "sum(increase(x_total[{{.window}}]))")
        if self.selector is not None and not self.selector.strip():
            raise ValueError("expected a metric selector such as http_requests_total{job=\"api\"}")
        return self

    def promql(self, window: str) -> str:
        """The PromQL counting this query's events over each ``window``."""
        if self.selector is not None:
            return f"sum(increase({self.selector.strip()}[{window}]))"
        return _fill(self.expr or "", window)


def _derived(expr: str) -> Query:
    # Queries built by the tool from a checked spec; the placeholder rule is for users' exprs.
    return Query.model_construct(selector=None, expr=expr)


class Ratio(_Strict):
    """``good``/``total``, ``bad``/``total``, or a ``raw`` ratio with its ``rawType``."""

    good: Query | None = None
    bad: Query | None = None
    total: Query | None = None
    raw: str | None = None
    rawType: Literal["success", "failure"] | None = None

    _raw = field_validator("raw")(promql.check_optional_expr)

    @model_validator(mode="after")
    def _one_form(self) -> Ratio:
        counts = (self.good is not None) + (self.bad is not None)
        if self.raw is not None or self.rawType is not None:
            if counts or self.total is not None or self.raw is None or self.rawType is None:
                raise ValueError("a raw ratio takes exactly 'raw' and 'rawType' "
                                 "(success or failure), without good, bad or total")
        elif counts != 1 or self.total is None:
            raise ValueError("expected 'total' and exactly one of 'good' or 'bad'")
        return self


class Latency(_Strict):
    """A Prometheus histogram: good = the bucket at ``threshold``, total = its ``_count``."""

    histogram: str
    threshold: float = Field(gt=0)
    le: str | None = None

    @field_validator("histogram")
    @classmethod
    def _base_name(cls, value: str) -> str:
        name = value.split("{", 1)[0].strip()
        if not name or not name.replace("_", "a").replace(":", "a").isalnum() or (
                "{" in value and not value.rstrip().endswith("}")):
            raise ValueError("expected a histogram name with optional matchers, e.g. "
                             "http_request_duration_seconds{service=\"api\"}")
        if name.endswith(("_bucket", "_count", "_sum")):
            raise ValueError(f"expected the histogram's base name "
                             f"{name.rsplit('_', 1)[0]!r}, without the _bucket/_count suffix")
        return promql.check_selector(value.strip())

    def _series(self, suffix: str, extra: str = "") -> str:
        name, _, rest = self.histogram.partition("{")
        matchers = rest.rstrip().removesuffix("}").strip().rstrip(",")
        both = ",".join(m for m in (matchers, extra) if m)
        return f"{name}{suffix}{{{both}}}" if both else f"{name}{suffix}"

    def bucket_label(self) -> str:
        if self.le is not None:
            return self.le
        return _num(self.threshold)

    def good(self) -> Query:
        return Query(selector=self._series("_bucket", f'le="{self.bucket_label()}"'))

    def total(self) -> Query:
        return Query(selector=self._series("_count"))


class Threshold(_Strict):
    """A gauge compared with ``value`` at the end of every time slice (e.g. ``up``, a lag)."""

    query: str
    op: Op
    value: float

    _query = field_validator("query")(promql.check_expr)


class Freshness(_Strict):
    """Good slices are those whose age (now minus the newest time) is at most ``maxAge``.

    The newest time is a Prometheus ``timestamp`` query or, with ``table``, the newest
    ``loadedAt`` of the rows loaded by then.  ``warnAfter``/``errorAfter`` give the
    dbt-style status of the age at the end of a period.
    """

    measure: Literal["newestData", "runCompletion"] = "newestData"
    timestamp: str | None = None
    table: TableSource | None = None
    loadedAt: str = "loaded_at"
    maxAge: str
    warnAfter: str | None = None
    errorAfter: str | None = None

    _timestamp = field_validator("timestamp")(promql.check_optional_expr)
    _max_age = field_validator("maxAge")(_duration)
    _status = field_validator("warnAfter", "errorAfter")(optional_duration)
    _column = field_validator("loadedAt")(identifier)

    @model_validator(mode="after")
    def _source(self) -> Freshness:
        if (self.timestamp is None) == (self.table is None):
            raise ValueError("expected exactly one of 'timestamp' (a Prometheus query giving "
                             "a Unix time) or 'table' (rows with a loadedAt column)")
        return self


class Completeness(_Strict):
    """Records (or partitions) processed over expected: two Prometheus counters or a table."""

    processed: Query | None = None
    expected: Query | None = None
    table: TableSource | None = None
    columns: CompletenessColumns | None = None

    @model_validator(mode="after")
    def _source(self) -> Completeness:
        counters = self.processed is not None and self.expected is not None
        table = self.table is not None and self.columns is not None
        if counters == table or (not counters and (self.processed or self.expected)) or (
                not table and (self.table or self.columns)):
            raise ValueError("expected 'processed' and 'expected' (Prometheus counters) or "
                             "'table' and 'columns' {at, processed, expected}")
        return self


class Indicator(_Strict):
    ratio: Ratio | None = None
    latency: Latency | None = None
    threshold: Threshold | None = None
    freshness: Freshness | None = None
    completion: Completion | None = None
    completeness: Completeness | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Indicator:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"expected exactly one of {', '.join(KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)


class Objective(_Strict):
    displayName: str = ""
    target: float = Field(ge=0.0, lt=1.0)
    timeSliceTarget: float | None = Field(default=None, gt=0.0, le=1.0)
    timeSliceWindow: str | None = None
    # Dated targets (slo_jobs/governance): each period is judged by the phase in force.
    phases: list[Phase] | None = None

    _phases = field_validator("phases")(check_phases)

    @field_validator("timeSliceWindow")
    @classmethod
    def _slice(cls, value: str | None) -> str | None:
        if value is not None:
            width = specio.duration(value, "mhd")
            if width % EXTRACT_STEP:
                raise ValueError("expected whole minutes, e.g. 1m or 5m")
        return value


class Window(_Strict):
    rolling: str | None = None
    calendar: Literal["week", "month", "quarter", "year"] | None = None
    timeZone: str | None = None
    startTime: str | None = None

    @field_validator("rolling")
    @classmethod
    def _rolling(cls, value: str | None) -> str | None:
        if value is not None:
            specio.duration(value, "dw")
        return value

    @field_validator("timeZone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else specio.time_zone(value)

    @field_validator("startTime")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        if value is not None:
            from datetime import datetime

            try:
                datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise ValueError("expected 'YYYY-MM-DD HH:MM:SS', e.g. "
                                 "'2024-01-01 00:00:00'") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Window:
        if (self.rolling is None) == (self.calendar is None):
            raise ValueError("expected exactly one of 'rolling' (e.g. 28d) or "
                             "'calendar' (week, month, quarter or year)")
        if self.rolling is not None and (self.timeZone or self.startTime):
            raise ValueError("timeZone and startTime apply to calendar windows only")
        return self


class BurnRate(_Strict):
    severity: Literal["page", "ticket"]
    longWindow: str
    shortWindow: str
    factor: float | None = Field(default=None, gt=0)
    budgetConsumed: float | None = Field(default=None, gt=0, le=1)

    @field_validator("longWindow", "shortWindow")
    @classmethod
    def _window(cls, value: str) -> str:
        specio.duration(value, "mhd")
        return value

    @model_validator(mode="after")
    def _check(self) -> BurnRate:
        if (self.factor is None) == (self.budgetConsumed is None):
            raise ValueError("expected exactly one of 'factor' (e.g. 14.4) or "
                             "'budgetConsumed' (e.g. 0.02)")
        if specio.duration(self.shortWindow) >= specio.duration(self.longWindow):
            raise ValueError("expected shortWindow shorter than longWindow")
        return self


class Alerting(_Strict):
    burnRates: list[BurnRate] = Field(min_length=1)


class Metadata(_Strict):
    name: str
    displayName: str = ""
    labels: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(_safe)

    @field_validator("labels")
    @classmethod
    def _tier(cls, value: dict[str, str]) -> dict[str, str]:
        if "tier" in value and value["tier"] not in TIERS:
            raise ValueError(f"tier {value['tier']!r}: expected one of {', '.join(TIERS)}")
        return value


class Spec(_Strict):
    service: str
    description: str = ""
    indicator: Indicator
    objective: Objective | None = None
    objectives: list[Objective] | None = None
    window: Window = Window(calendar="month")
    budgetingMethod: BudgetingMethod = "Occurrences"
    noDataPolicy: Literal["good", "bad", "skip"] = "skip"
    alerting: Alerting | None = None
    # Below this share of buckets with data the period is "insufficient data", never met.
    minCoverage: float = Field(default=DEFAULT_MIN_COVERAGE, ge=0.0, le=1.0)
    # How often Prometheus scrapes the SLI's series; measured from the samples when absent.
    scrapeInterval: str | None = None
    # Planned windows left out of good and total, or counted good (slo_jobs/governance).
    maintenance: Maintenance | None = None

    _service = field_validator("service")(_safe)
    _scrape = field_validator("scrapeInterval")(optional_duration)

    @model_validator(mode="after")
    def _objectives(self) -> Spec:
        if (self.objective is None) == (self.objectives is None) or self.objectives == []:
            raise ValueError("expected 'objective: {target: ...}' or a non-empty "
                             "'objectives' list (not both)")
        raw = self.indicator.ratio is not None and self.indicator.ratio.raw is not None
        problem = objective_rules(self.budgetingMethod, self.indicator.kind, raw,
                                  self.all_objectives)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def all_objectives(self) -> list[Objective]:
        return [self.objective] if self.objective is not None else list(self.objectives or [])


def objective_rules(method: str, kind: str, raw: bool, objectives: list[Objective]
                    ) -> str | None:
    """What is wrong with this budgeting method for these objectives, if anything."""
    for o in objectives:
        if method == "Timeslices" and o.timeSliceWindow is None:
            return ("budgetingMethod Timeslices needs timeSliceWindow (and timeSliceTarget) "
                    "in every objective, e.g. 1m and 0.99")
        if method == "Timeslices" and o.timeSliceTarget is None and kind in ("ratio", "latency"):
            return ("budgetingMethod Timeslices needs timeSliceTarget in every objective: "
                    "the share of good events that makes a slice good")
        if method == "RatioTimeslices" and (o.timeSliceWindow is None
                                            or o.timeSliceTarget is not None):
            return ("budgetingMethod RatioTimeslices needs timeSliceWindow and no "
                    "timeSliceTarget in every objective")
        if method == "Occurrences" and (o.timeSliceWindow or o.timeSliceTarget):
            return ("timeSliceTarget and timeSliceWindow need budgetingMethod Timeslices "
                    "or RatioTimeslices")
    if len({o.timeSliceWindow for o in objectives}) > 1:
        return "expected one timeSliceWindow shared by all objectives"
    if kind in ("threshold", "freshness") and method != "Timeslices":
        return (f"a {kind} indicator is judged per time slice; expected budgetingMethod "
                "Timeslices")
    if kind in ("completion", "completeness") and method != "Occurrences":
        return (f"a {kind} indicator counts runs or records; expected budgetingMethod "
                "Occurrences")
    if raw and method == "Occurrences":
        return ("a raw ratio cannot be summed as events; expected budgetingMethod "
                "RatioTimeslices or Timeslices")
    return None


class Document(_Strict):
    apiVersion: Literal["slo-jobs/v1"]
    kind: Literal["ServiceLevelObjective"]
    metadata: Metadata
    spec: Spec


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
    labels: dict[str, str]
    source: str
    spec_hash: str
    kind: Kind = "ratio"
    bad: Query | None = None
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
    threshold_op: Literal["lt", "lte", "gt", "gte"] | None = None
    threshold_value: float | None = None
    latency_threshold: float | None = None
    freshness_max_age: timedelta | None = None
    freshness_measure: str | None = None
    # The Prometheus form's query giving the newest Unix time (its age is kept too).
    freshness_timestamp: str | None = None
    # dbt-style status thresholds of a freshness SLI (strict: age > warn_after warns).
    warn_after: timedelta | None = None
    error_after: timedelta | None = None
    # Set when the SLI is read from the Airflow API or a table instead of Prometheus.
    pipeline: PipelineSource | None = None
    burn_rate_alerts: tuple[BurnRateAlert, ...] = ()
    min_coverage: float = DEFAULT_MIN_COVERAGE
    tier: str | None = None
    team: str | None = None
    display_name: str = ""
    prometheus_url: str | None = None
    scrape_interval: timedelta | None = None
    # The first objective's dated phases, and planned maintenance (slo_jobs/governance).
    phases: tuple[Phase, ...] = ()
    maintenance: Plan | None = None
    # Where it was defined and the validated definition (for export-openslo and messages).
    line: int = field(default=1, compare=False)
    definition: Document | None = field(default=None, compare=False, repr=False)

    @property
    def time_slice_window_s(self) -> int | None:
        return None if self.time_slice_window is None else int(
            self.time_slice_window.total_seconds())

    def as_row(self) -> dict[str, Any]:
        return {"slo": self.name, "service": self.service, "target": self.target,
                "description": self.description, "spec_hash": self.spec_hash}


def _counts(ind: Indicator) -> tuple[Query, Query, Query | None]:
    """(good, total, bad) event queries for any indicator kind."""
    if ind.ratio is not None:
        r = ind.ratio
        if r.raw is not None:
            ratio = r.raw if r.rawType == "success" else f"1 - ({r.raw})"
            return (_derived(f"sum({ratio})"), _derived(f"count({r.raw})"), None)
        if r.good is not None and r.total is not None:
            return r.good, r.total, None
        assert r.bad is not None and r.total is not None
        # A selector with no errors yet has no series at all: count that as zero bad events.
        good = (f"clamp_min(({r.total.promql('{{.window}}')}) - "
                f"(({r.bad.promql('{{.window}}')}) or vector(0)), 0)")
        return _derived(good), r.total, r.bad
    if ind.latency is not None:
        return ind.latency.good(), ind.latency.total(), None
    if ind.threshold is not None:
        t = ind.threshold
        good = f"min(({t.query}) {_PROMQL_OP[t.op]} bool {_num(t.value)})"
        return _derived(good), _derived(f"max(({t.query}) * 0 + 1)"), None
    if ind.completeness is not None and ind.completeness.processed is not None:
        assert ind.completeness.expected is not None
        return ind.completeness.processed, ind.completeness.expected, None
    if ind.freshness is None or ind.freshness.timestamp is None:
        # Read from the Airflow API or a table: no query; names the source in messages.
        return _derived(f"pipeline {ind.kind}: good"), _derived(f"pipeline {ind.kind}: total"), None
    f = ind.freshness
    # Written exactly as the equivalent threshold on the age, so an OpenSLO round trip
    # (which has no freshness kind) keeps the same queries and spec hash.
    age = f"time() - ({f.timestamp})"
    good = f"min(({age}) <= bool {_num(specio.duration(f.maxAge).total_seconds())})"
    return _derived(good), _derived(f"max(({age}) * 0 + 1)"), None


def _hash(slo: Slo) -> str:
    """Identifies what is computed: equal for equivalent native and OpenSLO definitions."""
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
        "status": [str(slo.warn_after), str(slo.error_after)],
        "alerts": [[a.severity, str(a.long_window), str(a.short_window), a.factor,
                    a.budget_consumed] for a in slo.burn_rate_alerts],
    }
    if slo.min_coverage != DEFAULT_MIN_COVERAGE:  # the default keeps earlier hashes
        canonical["min_coverage"] = slo.min_coverage
    if slo.phases:
        canonical["phases"] = [p.model_dump() for p in slo.phases]
    if slo.maintenance is not None:
        canonical["maintenance"] = [[c, [w.model_dump() for w in ws]]
                                    for c, ws in slo.maintenance.groups]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _num(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def to_slo(doc: Document, source: str, prometheus_url: str | None = None,
           line: int = 1) -> Slo:
    s, meta = doc.spec, doc.metadata
    good, total, bad = _counts(s.indicator)
    objectives = tuple(Target(
        target=o.target, display_name=o.displayName,
        time_slice_target=o.timeSliceTarget if o.timeSliceTarget is not None else (
            1.0 if s.budgetingMethod == "Timeslices" else None),
        time_slice_window=None if o.timeSliceWindow is None else specio.duration(
            o.timeSliceWindow)) for o in s.all_objectives)
    w = s.window
    ind = s.indicator
    alerts = tuple(BurnRateAlert(
        severity=a.severity, long_window=specio.duration(a.longWindow),
        short_window=specio.duration(a.shortWindow), factor=a.factor,
        budget_consumed=a.budgetConsumed) for a in (s.alerting.burnRates if s.alerting else []))
    slo = Slo(
        name=meta.name, service=s.service, description=s.description,
        target=objectives[0].target, good=good, total=total, labels=dict(meta.labels),
        source=source, spec_hash="", kind=ind.kind,  # type: ignore[arg-type]
        bad=bad, objectives=objectives, budgeting_method=s.budgetingMethod,
        time_slice_target=objectives[0].time_slice_target,
        time_slice_window=objectives[0].time_slice_window,
        window_kind="rolling" if w.rolling else "calendar", calendar_unit=w.calendar,
        rolling_window=specio.duration(w.rolling) if w.rolling else None,
        time_zone=w.timeZone or "UTC", window_start=w.startTime,
        no_data_policy=s.noDataPolicy,
        threshold_op=ind.threshold.op if ind.threshold else None,
        threshold_value=ind.threshold.value if ind.threshold else None,
        latency_threshold=ind.latency.threshold if ind.latency else None,
        freshness_max_age=specio.duration(ind.freshness.maxAge) if ind.freshness else None,
        freshness_measure=ind.freshness.measure if ind.freshness else None,
        freshness_timestamp=ind.freshness.timestamp if ind.freshness else None,
        warn_after=_maybe_duration(ind.freshness.warnAfter if ind.freshness else None),
        error_after=_maybe_duration(ind.freshness.errorAfter if ind.freshness else None),
        pipeline=_pipeline(ind, source),
        burn_rate_alerts=alerts, min_coverage=s.minCoverage, tier=meta.labels.get("tier"),
        team=meta.labels.get("team") or meta.labels.get("owner"),
        display_name=meta.displayName, prometheus_url=prometheus_url, line=line,
        scrape_interval=_maybe_duration(s.scrapeInterval),
        phases=tuple(s.all_objectives[0].phases or ()), maintenance=plan_of(s.maintenance),
        definition=doc)
    return _replace_hash(slo)


def _maybe_duration(text: str | None) -> timedelta | None:
    return None if text is None else specio.duration(text)


def _pipeline(ind: Indicator, source: str) -> PipelineSource | None:
    """The non-Prometheus source of a pipeline SLI, or None when Prometheus has it."""
    f, c, k = ind.freshness, ind.completion, ind.completeness
    if f is not None and f.table is not None:
        return PipelineSource(kind="freshness", table=TableRef.of(f.table, source),
                              loaded_at=f.loadedAt, max_age=specio.duration(f.maxAge))
    if c is not None:
        return PipelineSource(kind="completion",
                              table=TableRef.of(c.runs, source) if c.runs else None,
                              dag=c.dag, within=specio.duration(c.within),
                              expect_every=_maybe_duration(c.expectEvery))
    if k is not None and k.table is not None and k.columns is not None:
        return PipelineSource(kind="completeness", table=TableRef.of(k.table, source),
                              at=k.columns.at, processed=k.columns.processed,
                              expected=k.columns.expected)
    return None


def _replace_hash(slo: Slo) -> Slo:
    from dataclasses import replace

    return replace(slo, spec_hash=_hash(slo))


def validate_native(doc: RawDoc) -> tuple[Slo | None, list[str]]:
    """Validate one native document already read (and ``${VAR}``-resolved)."""
    if not isinstance(doc.data, dict):
        return None, [f"{doc.at(())}: {specio.describe(doc.data)}; "
                      f"expected a mapping with apiVersion: {API_VERSION}"]
    if "apiVersion" not in doc.data and "kind" not in doc.data:
        return None, [f"{doc.at(())}: a mapping without apiVersion or kind; expected an SLO "
                      f"definition (apiVersion: {API_VERSION} or openslo/v1)"]
    try:
        parsed = Document.model_validate(doc.data)
    except ValidationError as exc:
        return None, specio.validation_problems(exc, doc, Document)
    slo = to_slo(parsed, doc.file, line=doc.line(("metadata", "name")))
    problem = source_problem(slo, doc.at)
    return (None, [problem]) if problem else (slo, [])


def _located(where: str) -> Callable[[tuple[str, ...]], str]:
    return lambda loc: f"{where}: {specio.field_path(loc)}"


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


def load_all(paths: Iterable[Path], env: Mapping[str, str] | None = None
             ) -> tuple[list[Slo], list[str], int]:
    """Every SLO of ``paths`` and every problem found (as lines), and the number of files."""
    from . import openslo

    files = specio.yaml_files(paths)
    problems: list[str] = []
    native: list[RawDoc] = []
    foreign: list[RawDoc] = []
    windows: list[RawDoc] = []
    for f in files:
        try:
            docs = specio.read_documents(f)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        for doc in docs:
            unresolved = specio.resolve_env(doc, env)
            if unresolved:
                # A query with a literal ${VAR} in it would only fail later, in Prometheus.
                problems.extend(unresolved)
                continue
            version = doc.data.get("apiVersion") if isinstance(doc.data, dict) else None
            is_openslo = isinstance(version, str) and version.lower().startswith("openslo/")
            is_windows = isinstance(doc.data, dict) and doc.data.get("kind") == MAINTENANCE_KIND
            (foreign if is_openslo else windows if is_windows else native).append(doc)
    slos: list[Slo] = []
    for doc in native:
        slo, found = validate_native(doc)
        problems.extend(found)
        if slo is not None:
            slos.append(slo)
    imported, found = openslo.import_documents(foreign)
    problems.extend(found)
    for slo in imported:
        problem = source_problem(slo, _located(f"{slo.source}:{slo.line}"))
        if problem:
            problems.append(problem)
        else:
            slos.append(slo)
    slos, found = with_service_windows(slos, windows)
    problems.extend(found)
    seen: dict[str, Slo] = {}
    for slo in slos:
        if slo.name in seen:
            first = seen[slo.name]
            problems.append(f"{slo.source}:{slo.line}: metadata.name: {slo.name!r} is already "
                            f"defined in {first.source}:{first.line}; expected a unique SLO name")
        seen.setdefault(slo.name, slo)
    return sorted(slos, key=lambda s: s.name), problems, len(files)


def with_service_windows(slos: list[Slo], docs: list[RawDoc]) -> tuple[list[Slo], list[str]]:
    """``kind: MaintenanceWindows`` documents added to every SLO of their service."""
    from dataclasses import replace

    from .governance.model import MaintenanceDocument

    plans: dict[str, Plan] = {}
    problems: list[str] = []
    for doc in docs:
        try:
            parsed = MaintenanceDocument.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(specio.validation_problems(exc, doc, MaintenanceDocument))
            continue
        plan = plan_of(parsed.spec)
        assert plan is not None
        plans[parsed.spec.service] = plan.merged(plans.get(parsed.spec.service))
    out = [_replace_hash(replace(s, maintenance=plans[s.service].merged(s.maintenance)))
           if s.service in plans else s for s in slos]
    return out, problems


def load(paths: Iterable[Path], env: Mapping[str, str] | None = None) -> list[Slo]:
    """Load SLOs from files and folders (``*.yaml``/``*.yml``), sorted by name."""
    slos, problems, _ = load_all(paths, env)
    if problems:
        raise SpecError("\n".join(problems))
    return slos


def load_file(path: Path) -> list[Slo]:
    """Validate every document of one YAML file; raise SpecError listing all problems."""
    return load([path])
