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

from pydantic import Field, StrictBool, field_validator, model_validator

from ..core.names import safe_name
from ..core.periods import BUCKET
from . import io
from .checks import check_breakdown, check_categories, objective_rules
from .governance import Maintenance, Phase, check_phases
from .indicators import Indicator, Op, _Strict
from .links import Links
from .percentile import filled, percentile_of, percentile_problem
from .tables import optional_duration

API_VERSION = "slo-jobs/v1"
KIND = "ServiceLevelObjective"
TIERS = ("critical", "essential", "standard", "best_effort")


def tier_name(text: str) -> str:
    """A tier as written (``best-effort``, ``Best_Effort``) in its one spelling (``best_effort``):
    what ``init --tier`` takes, a spec's ``tier`` label takes too."""
    return text.strip().lower().replace("-", "_")
DEFAULT_MIN_COVERAGE = 0.9
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]


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


