"""Pipeline SLI arithmetic (docs/slo-math.md), on plain arrays and records: no I/O here.

Times are integer microseconds since the epoch (UTC), so comparisons at the boundaries are
exact: an age of exactly ``max_age`` is fresh, one microsecond more is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

US = 1_000_000
Status = Literal["pass", "warn", "error"]


def ages_at(instants: npt.NDArray[np.int64], loads: npt.NDArray[np.int64]
            ) -> npt.NDArray[np.float64]:
    """``age(t) = t - max(loaded_at <= t)`` for each instant, in seconds; NaN if none yet.

    Only rows loaded by ``t`` count, so a past instant is judged as it was at the time.
    """
    loads = np.sort(loads)
    idx = np.searchsorted(loads, instants, side="right") - 1
    ages = np.full(len(instants), np.nan)
    seen = idx >= 0
    ages[seen] = (instants[seen] - loads[idx[seen]]) / US
    return ages


def fresh(ages: npt.NDArray[np.float64], max_age_s: float) -> npt.NDArray[np.bool_]:
    """Good iff the age is at most ``max_age_s``; never loaded (NaN) is stale, not "no data"."""
    with np.errstate(invalid="ignore"):
        return np.asarray(ages <= max_age_s)


def dbt_status(age_s: float | None, warn_after_s: float | None,
               error_after_s: float | None) -> Status | None:
    """dbt source freshness: error if age > error_after, else warn if > warn_after (strict)."""
    if warn_after_s is None and error_after_s is None:
        return None
    if age_s is None or np.isnan(age_s):
        return "error"  # nothing was ever loaded: as stale as it gets
    if error_after_s is not None and age_s > error_after_s:
        return "error"
    if warn_after_s is not None and age_s > warn_after_s:
        return "warn"
    return "pass"


@dataclass(frozen=True)
class Run:
    """One DAG run as Airflow records it (times in microseconds; None when not set)."""

    run_id: str
    interval_start: int | None
    interval_end: int | None
    start: int | None
    end: int | None
    state: str


@dataclass(frozen=True)
class RunVerdict:
    run_id: str | None  # None: no run exists for an expected interval
    interval_start: int
    interval_end: int
    deadline: int
    start: int | None
    end: int | None
    state: str  # Airflow's state, or "missing"
    good: bool

    @property
    def finished_after_s(self) -> float | None:
        """How long after its interval's end the run finished."""
        return None if self.end is None else (self.end - self.interval_end) / US

    @property
    def late_s(self) -> float | None:
        """How far past the deadline it finished (None: on time or never finished)."""
        if self.end is None or self.end <= self.deadline:
            return None
        return (self.end - self.deadline) / US


def judge_runs(runs: Sequence[Run], within_s: int, start: int, end: int,
               expect_every_s: int | None = None) -> list[RunVerdict]:
    """The runs whose deadline (interval end + within) falls in ``(start, end]``.

    A run is good iff it succeeded and finished by its deadline; its final state counts, so
    a run that failed and was retried is good only if the retry finished in time.  With
    ``expect_every_s``, each interval of that length (aligned to the epoch, as cron
    schedules like @hourly and @daily are in UTC) without a run is a bad "missing" run.
    Runs without a data interval (manual runs with no logical date) are not judged.
    """
    within = within_s * US
    out: list[RunVerdict] = []
    ends: set[int] = set()
    for r in runs:
        if r.interval_end is None or r.interval_start is None:
            continue
        deadline = r.interval_end + within
        if not start < deadline <= end:
            continue
        ends.add(r.interval_end)
        good = r.state == "success" and r.end is not None and r.end <= deadline
        out.append(RunVerdict(r.run_id, r.interval_start, r.interval_end, deadline, r.start,
                              r.end, r.state, good))
    if expect_every_s:
        every = expect_every_s * US
        # Interval ends e with start < e + within <= end, on the schedule's grid.
        first = -(-(start - within + 1) // every) * every
        for e in range(first, end - within + 1, every):
            if e not in ends:
                out.append(RunVerdict(None, e - every, e, e + within, None, None, "missing",
                                       False))
    return sorted(out, key=lambda v: (v.deadline, v.run_id or ""))
