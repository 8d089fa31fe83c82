"""The indicator kinds of the native format and the queries they are made of, as strict
pydantic models: ``Query`` (a counter selector or a windowed expression) and one model per
kind (``Ratio``, also the ``quality`` kind's, ``Latency``, ``Threshold``, ``Freshness``,
``Completeness``; ``Completion`` lives with the tables it reads), gathered in ``Indicator``.
``schema.py`` holds the document around them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import io, promql
from .percentile import HistogramFields
from .promql import has_placeholder
from .tables import CompletenessColumns, Completion, TableSource, identifier, optional_duration

PROMQL_OP = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

Op = Literal["lt", "lte", "gt", "gte"]
Kind = Literal["ratio", "quality", "latency", "threshold", "freshness", "completion",
               "completeness"]
KINDS = ("ratio", "quality", "latency", "threshold", "freshness", "completion", "completeness")


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
