"""The native SLO format's schema (``apiVersion: slo-jobs/v1``), as strict pydantic models.

One SLO per YAML document, Kubernetes style (docs/spec.md documents every field)::

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

Indicator kinds: ``ratio`` (good or bad events over total events, or a raw ratio; ``quality``
is one too, named for degraded responses), ``latency`` (a histogram's bucket at a threshold
over its count), ``threshold`` (a gauge compared with a value per time slice), ``freshness``
(the age of the newest data or of the last run), ``completion`` and ``completeness`` (data
pipelines). These models say what a valid document is; ``model.py`` makes the ``Slo``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from ..core.names import safe_name
from ..core.periods import BUCKET
from . import io, promql
from .checks import check_breakdown, check_categories, objective_rules
from .governance import Maintenance, Phase, check_phases
from .links import Links
from .percentile import HistogramFields, filled, percentile_of, percentile_problem
from .promql import has_placeholder
from .tables import CompletenessColumns, Completion, TableSource, identifier, optional_duration

API_VERSION = "slo-jobs/v1"
KIND = "ServiceLevelObjective"
TIERS = ("critical", "essential", "standard", "best_effort")


def tier_name(text: str) -> str:
    """A tier as written (``best-effort``, ``Best_Effort``) in its one spelling (``best_effort``):
    what ``init --tier`` takes, a spec's ``tier`` label takes too."""
    return text.strip().lower().replace("-", "_")
DEFAULT_MIN_COVERAGE = 0.9
PROMQL_OP = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

Op = Literal["lt", "lte", "gt", "gte"]
Kind = Literal["ratio", "quality", "latency", "threshold", "freshness", "completion",
               "completeness"]
KINDS = ("ratio", "quality", "latency", "threshold", "freshness", "completion", "completeness")
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: str) -> str:
    io.duration(value)
    return value


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
        return None if value is None else promql.check_windowed_expr(value)

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
        return promql.fill(self.expr or "", window)


def derived(expr: str) -> Query:
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


class Latency(_Strict, HistogramFields):
    """A Prometheus histogram: good = the bucket at ``threshold``, total = its ``_count``."""

    histogram: str
    threshold: float | None = Field(default=None, gt=0)  # or in each objective
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
        # objectives.py sets the threshold before a query is built
        return self.le if self.le is not None else promql.number(self.threshold or 0)

    def good(self) -> Query:
        return Query(selector=self._series("_bucket", f'le="{self.bucket_label()}"'))

    def total(self) -> Query:
        return Query(selector=self._series("_count"))


class Threshold(_Strict):
    """A gauge compared with ``value`` at the end of every time slice (e.g. ``up``, a lag)."""

    query: str
    op: Op | None = None  # op and value: here or in each objective
    value: float | None = None

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
    quality: Ratio | None = None  # a ratio of responses served in full (or degraded: bad)
    latency: Latency | None = None
    threshold: Threshold | None = None
    freshness: Freshness | None = None
    completion: Completion | None = None
    completeness: Completeness | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Indicator:
        if sum(getattr(self, k) is not None for k in KINDS) != 1:
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
    threshold: float | None = Field(default=None, gt=0)  # its own: spec/objectives.py
    op: Op | None = None  # its own op and value (a threshold indicator)
    value: float | None = None

    _phases = field_validator("phases")(check_phases)

    @field_validator("timeSliceWindow")
    @classmethod
    def _slice(cls, value: str | None) -> str | None:
        if value is not None:
            width = io.duration(value, "mhd")
            if width % BUCKET:
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
            io.duration(value, "dw")
        return value

    @field_validator("timeZone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else io.time_zone(value)

    @field_validator("startTime")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        if value is not None:
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
        io.duration(value, "mhd")
        return value

    @model_validator(mode="after")
    def _check(self) -> BurnRate:
        if (self.factor is None) == (self.budgetConsumed is None):
            raise ValueError("expected exactly one of 'factor' (e.g. 14.4) or "
                             "'budgetConsumed' (e.g. 0.02)")
        if io.duration(self.shortWindow) >= io.duration(self.longWindow):
            raise ValueError("expected shortWindow shorter than longWindow")
        return self


class Alerting(_Strict):
    burnRates: list[BurnRate] = Field(min_length=1)


class Metadata(_Strict):
    name: str
    displayName: str = ""
    labels: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(safe_name)

    @field_validator("labels")
    @classmethod
    def _tier(cls, value: dict[str, str]) -> dict[str, str]:
        if "tier" not in value:
            return value
        if tier_name(value["tier"]) not in TIERS:
            raise ValueError(f"tier {value['tier']!r}: expected one of {', '.join(TIERS)}")
        return {**value, "tier": tier_name(value["tier"])}


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
    judgeFewEvents: StrictBool = False  # judged below the sparse-SLO rule (slo-math.md)
    # How often Prometheus scrapes the SLI's series; measured from the samples when absent.
    scrapeInterval: str | None = None
    # Planned windows left out of good and total, or counted good (slo_jobs/governance).
    maintenance: Maintenance | None = None
    # Labels whose values the bad events are attributed to (counter SLIs only, see load.py);
    # each multiplies the label-value combinations the lake keeps per minute.
    breakdown: list[str] | None = None
    errorCategories: dict[str, str] | None = None  # name -> counter selector (load.py)
    links: Links | None = None  # runbook and dashboard (links.py); not in the spec hash

    _service = field_validator("service")(safe_name)
    _breakdown = field_validator("breakdown")(check_breakdown)
    _categories = field_validator("errorCategories")(check_categories)
    _scrape = field_validator("scrapeInterval")(optional_duration)

    @model_validator(mode="after")
    def _objectives(self) -> Spec:
        if (self.objective is None) == (self.objectives is None) or self.objectives == []:
            raise ValueError("expected 'objective: {target: ...}' or a non-empty "
                             "'objectives' list (not both)")
        raw = any(r is not None and r.raw is not None for r in (self.indicator.ratio,
                                                                self.indicator.quality))
        problem = percentile_problem(percentile_of(self.indicator), self.budgetingMethod,
                                     self.all_objectives) or objective_rules(
            self.budgetingMethod, self.indicator.kind, raw, self.all_objectives)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def all_objectives(self) -> list[Objective]:
        return filled(percentile_of(self.indicator), [self.objective] if self.objective
                      is not None else list(self.objectives or []))


class Document(_Strict):
    apiVersion: Literal["slo-jobs/v1"]
    kind: Literal["ServiceLevelObjective"]
    metadata: Metadata
    spec: Spec


