"""What the compute stage needs to know about each SLO, read off the validated spec."""

from __future__ import annotations

from dataclasses import dataclass

from ..core import burnrate
from ..core.periods import BUCKET_S
from ..spec import DEFAULT_MIN_COVERAGE, BurnRateAlert, Slo
from ..spec.governance import Plan

METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
NO_DATA = ("good", "bad", "skip")


@dataclass(frozen=True)
class SloParams:
    name: str
    service: str
    description: str
    spec_hash: str
    target: float
    method: str = "Occurrences"
    slice_seconds: float = float(BUCKET_S)
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
        window, rolling = slo.time_slice_window, slo.rolling_window
        return cls(
            name=slo.name, service=slo.service, description=slo.description,
            spec_hash=slo.spec_hash, target=slo.target, method=slo.budgeting_method,
            slice_seconds=float(BUCKET_S) if window is None else window.total_seconds(),
            slice_target=1.0 if slo.time_slice_target is None else float(slo.time_slice_target),
            no_data=slo.no_data_policy, time_zone=slo.time_zone,
            alert_period_s=(rolling.total_seconds() or None)
            if slo.window_kind == "rolling" and rolling is not None else None,
            burn_rates=slo.burn_rate_alerts, min_coverage=float(slo.min_coverage),
            maintenance=slo.maintenance, judge_few_events=slo.judge_few_events,
        )
