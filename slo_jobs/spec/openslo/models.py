"""The OpenSLO v1 documents slo-jobs reads (SLO, SLI, DataSource, Service), as pydantic
models: what each may hold, before any conversion to the native model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import indicators, io, schema

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "DataSource", "Service")
UNSUPPORTED_KINDS = ("AlertPolicy", "AlertCondition", "AlertNotificationTarget")
CALENDAR_UNITS = {"w": "week", "M": "month", "Q": "quarter", "y": "year", "Y": "year"}
CALENDAR_DURATIONS = {"week": "1w", "month": "1M", "quarter": "1Q", "year": "1y"}
# Any Monday that starts a year (2024-01-01) aligns weeks, months, quarters and years at once.
DEFAULT_START = "2024-01-01 00:00:00"



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
        return io.time_zone(value)


class TimeWindow(_Open):
    duration: str
    isRolling: bool = False
    calendar: Calendar | None = None


class Objective(_Open):
    displayName: str = ""
    op: indicators.Op | None = None
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
    budgetingMethod: schema.BudgetingMethod
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
