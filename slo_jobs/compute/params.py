"""What the compute stage needs to know about each SLO, read off the validated spec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..core import burnrate
from ..spec import DEFAULT_MIN_COVERAGE, BurnRateAlert, Slo
from ..spec.governance import Plan

METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
NO_DATA = ("good", "bad", "skip")


def _attr(slo: Slo, names: tuple[str, ...], default: Any) -> Any:
    for n in names:
        value = getattr(slo, n, None)
        if value is not None:
            return value
    return default


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


@dataclass(frozen=True)
class SloParams:
    name: str
    service: str
    description: str
    spec_hash: str
    target: float
    method: str = "Occurrences"
    slice_seconds: float = 60.0
    slice_target: float = 1.0  # Timeslices only; RatioTimeslices judges the mean ratio
    no_data: str = "skip"
    time_zone: str = "UTC"
    # Period P behind the alert factors f = p * P / L: a rolling SLO's own length; None means
    # the length of the window being computed (a calendar period).
    alert_period_s: float | None = None
    # spec.alerting.burnRates: replace the four default alert conditions (as rules.py does).
    burn_rates: tuple[BurnRateAlert, ...] = ()
    # Below this coverage the window is "insufficient data": no status, never met.
    min_coverage: float = DEFAULT_MIN_COVERAGE
    # Planned maintenance windows (slo_jobs/governance): excluded or counted good.
    maintenance: Plan | None = None
    # spec.judgeFewEvents: judge the SLO even below the sparse-SLO rule's event count.
    judge_few_events: bool = False

    @property
    def budget_fraction(self) -> float:
        return burnrate.budget_fraction(self.target)

    @property
    def min_events(self) -> int:
        """The events a window needs to be judged (0: judged whatever its traffic)."""
        return 0 if self.judge_few_events else burnrate.min_events(self.target)

    @classmethod
    def of(cls, slo: Slo) -> SloParams:
        method = str(_attr(slo, ("budgeting_method", "method"), "Occurrences"))
        return cls(
            name=slo.name, service=slo.service, description=slo.description,
            spec_hash=slo.spec_hash, target=slo.target, method=method,
            slice_seconds=_seconds(_attr(slo, ("time_slice_window", "time_slice_seconds",
                                                "slice_seconds"), None), 60.0),
            slice_target=float(_attr(slo, ("time_slice_target", "slice_target"), 1.0)),
            no_data=str(_attr(slo, ("no_data_policy", "no_data"), "skip")),
            time_zone=str(_attr(slo, ("time_zone", "timezone"), "UTC")),
            alert_period_s=(_seconds(_attr(slo, ("rolling_window",), None), 0.0) or None)
            if _attr(slo, ("window_kind",), "calendar") == "rolling" else None,
            burn_rates=tuple(_attr(slo, ("burn_rate_alerts",), ())),
            min_coverage=float(_attr(slo, ("min_coverage",), DEFAULT_MIN_COVERAGE)),
            maintenance=getattr(slo, "maintenance", None),
            judge_few_events=bool(getattr(slo, "judge_few_events", False)),
        )
