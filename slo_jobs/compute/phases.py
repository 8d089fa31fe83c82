"""Progressive SLOs: the target of each period is that of the phase in force at its start.

A phase starts at midnight of its ``start`` day in the SLO's time zone. A period that starts
before the first phase is judged by the objective's own ``target``; one that starts inside a
phase keeps that phase's target for the whole period, even if the next phase begins before it
ends (a month is never judged by two targets).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..core.periods import Period
from ..spec import Slo
from ..spec.governance import Phase, phase_in_force
from .params import SloParams

PHASE_FIELDS = ("phase", "phase_start", "next_phase", "next_phase_target", "next_phase_start",
                "next_phase_met")


def in_force(slo: Slo, at: datetime) -> tuple[int, Phase] | None:
    """The phase (with its index) in force at ``at``; None before the first one."""
    return phase_in_force(slo.phases, slo.time_zone, at)


def target_at(slo: Slo, at: datetime) -> float:
    found = in_force(slo, at)
    return slo.target if found is None else found[1].target


def params(slo: Slo, period: Period) -> SloParams:
    """The compute parameters of ``slo`` for ``period``, with the target in force."""
    base = SloParams.of(slo)
    return replace(base, target=target_at(slo, period.start)) if slo.phases else base


def fields(slo: Slo, period: Period, row: dict[str, Any]) -> dict[str, Any]:
    """Summary columns: the phase judging the period and the next phase, with whether the
    period's SLI already meets the next phase's target (null when the period is not judged)."""
    if not slo.phases:
        return dict.fromkeys(PHASE_FIELDS)
    found = in_force(slo, period.start)
    index = -1 if found is None else found[0]
    nxt = slo.phases[index + 1] if index + 1 < len(slo.phases) else None
    judged = row.get("met") is not None and row.get("sli") is not None
    return {
        "phase": None if found is None else found[1].name,
        "phase_start": None if found is None else found[1].start,
        "next_phase": None if nxt is None else nxt.name,
        "next_phase_target": None if nxt is None else nxt.target,
        "next_phase_start": None if nxt is None else nxt.start,
        "next_phase_met": (row["sli"] >= nxt.target) if nxt is not None and judged else None,
    }
