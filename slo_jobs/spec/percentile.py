"""``spec.indicator.latency.buckets`` and ``percentile``: which histogram buckets the lake
keeps beside the SLI (so the report can show p50, p95 and p99), and the percentile objective
("p95 under 500 ms", judged per time slice).

A percentile objective is a Timeslices latency SLO whose slices are good when the share of
requests at or under the threshold is at least the percentile: at a bucket boundary that is
exactly "the slice's interpolated percentile is at or under the threshold"
(docs/slo-math.md), so ``percentile`` fills each objective's ``timeSliceTarget``.
Kept apart from ``schema`` so its field declarations stay one page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

KEEP_ALL = "all"
Buckets = Literal["all"] | list[float] | None
MAX_BUCKETS = 64  # bounds named in the spec; "all" takes what the histogram has


class _Objective(Protocol):
    timeSliceTarget: Any

    def model_copy(self, *, update: dict[str, Any]) -> Any: ...


ObjectiveT = TypeVar("ObjectiveT", bound=_Objective)


def check_buckets(value: Any) -> Any:
    """``all`` or a list of finite bucket bounds, each once, at most MAX_BUCKETS (checked
    before pydantic's own, whose union type would give a line per alternative)."""
    if value is None or value == KEEP_ALL:
        return value
    if not isinstance(value, list) or not value or len(value) > MAX_BUCKETS or not all(
            isinstance(b, int | float) and not isinstance(b, bool) for b in value):
        raise ValueError(f"expected 'all' or a list of 1 to {MAX_BUCKETS} bucket bounds in "
                         "seconds, e.g. [0.1, 0.3, 1]")
    if not all(math.isfinite(b) for b in value):
        raise ValueError("expected finite bucket bounds (+Inf, the count, is always kept)")
    if len(set(value)) != len(value):
        raise ValueError("expected each bucket bound once")
    return sorted(value)


def check_percentile(value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise ValueError(f"{value:g}: expected a percentile as a share in (0, 1), e.g. 0.95 "
                         "for p95")
    return value


def filled(percentile: float | None, objectives: Sequence[ObjectiveT]) -> list[ObjectiveT]:
    """The objectives with ``timeSliceTarget`` set to ``percentile`` where it is absent."""
    if percentile is None:
        return list(objectives)
    return [o if o.timeSliceTarget is not None else o.model_copy(
        update={"timeSliceTarget": percentile}) for o in objectives]


def percentile_problem(percentile: float | None, method: str,
                       objectives: Sequence[_Objective]) -> str | None:
    """A percentile objective needs time slices, each judged by the percentile itself."""
    if percentile is None:
        return None
    if method != "Timeslices":
        return (f"indicator.latency.percentile {percentile:g} is judged per time slice; "
                f"expected budgetingMethod Timeslices (found {method})")
    other = [o.timeSliceTarget for o in objectives if o.timeSliceTarget not in (None,
                                                                                percentile)]
    if other:
        return (f"indicator.latency.percentile {percentile:g} is each slice's target; found "
                f"timeSliceTarget {other[0]:g}; expected none, or {percentile:g}")
    return None


class HistogramFields(BaseModel):
    """The latency indicator's fields of this module (``indicators.Latency`` inherits them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # The histogram buckets the lake keeps beside the SLI; None: only the threshold's.
    buckets: Buckets = None
    # A percentile objective: each time slice is good when this share of its requests is
    # at or under the threshold.
    percentile: float | None = None

    _buckets = field_validator("buckets", mode="before")(check_buckets)
    _percentile = field_validator("percentile")(check_percentile)


def percentile_of(indicator: Any) -> float | None:
    """A spec indicator's percentile objective, if it is a latency indicator with one."""
    latency = getattr(indicator, "latency", None)
    return None if latency is None else latency.percentile
