"""Spec fields for governance: dated target phases and planned maintenance windows.

Kept apart from the SLO schema so that schema only names them: ``spec.objective.phases``,
``spec.maintenance``, and the per-service ``kind: MaintenanceWindows`` document. Durations and
zones are parsed by ``io``, as everywhere in a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.names import safe_name
from . import io

CountAs = Literal["excluded", "good"]


def _duration_of(text: str, units: str = "smhdw") -> timedelta:
    return io.duration(text, units)
# A cron expanded over more occurrences than this in one window is a mistake (every minute).
MAX_OCCURRENCES = 50_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _day(value: str) -> str:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("expected a date 'YYYY-MM-DD', e.g. '2026-04-01'") from None
    if len(value) != 10:
        raise ValueError("expected a date 'YYYY-MM-DD', e.g. '2026-04-01'")
    return value


def parse_instant(value: str) -> datetime:
    """``2026-09-12T02:00:00Z`` or with an offset; without a zone it is UTC (as --as-of)."""
    raw = value.strip()
    parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _instant(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_instant(value)
    except ValueError:
        raise ValueError("expected an ISO 8601 instant such as '2026-09-12T02:00:00Z'") from None
    return value


class Phase(_Strict):
    """A target in force from ``start`` (midnight in the SLO's time zone) on."""

    name: str = Field(min_length=1, max_length=80)
    target: float = Field(gt=0.0, lt=1.0)
    start: str

    _start = field_validator("start")(_day)

    def starts(self, tz: str) -> datetime:
        """Midnight of ``start`` in the SLO's zone ``tz``."""
        d = date.fromisoformat(self.start)
        return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))


def phase_in_force(phases: tuple[Phase, ...], tz: str, at: datetime
                   ) -> tuple[int, Phase] | None:
    """The phase (with its index) in force at ``at``; None before the first one. Here, below
    the stages, so the report's compute and the generated rules read one rule."""
    current = None
    for i, p in enumerate(phases):
        if p.starts(tz) <= at:
            current = (i, p)
    return current


def check_phases(phases: list[Phase] | None) -> list[Phase] | None:
    """Phases must start strictly one after the other (a second phase on the same day
    would make the first one never apply)."""
    for i in range(1, len(phases or [])):
        assert phases is not None
        if phases[i].start <= phases[i - 1].start:
            raise ValueError(f"phases[{i}].start {phases[i].start} is not after phases[{i - 1}]"
                             f".start {phases[i - 1].start}; expected phases strictly ordered "
                             "by start")
    return phases


class Window(_Strict):
    """One planned window: an explicit ``start``/``end``, or a ``cron`` with a ``duration``."""

    start: str | None = None
    end: str | None = None
    cron: str | None = None
    duration: str | None = None
    timeZone: str = "UTC"
    reason: str = Field(default="", max_length=200)

    _instants = field_validator("start", "end")(_instant)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            _duration_of(value, "mhd")
        return value

    @field_validator("timeZone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return io.time_zone(value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ValueError("expected a cron of five fields, e.g. '0 2 * * SUN' "
                             "(02:00 every Sunday)")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        explicit = self.start is not None or self.end is not None
        repeated = self.cron is not None or self.duration is not None
        if explicit == repeated or (explicit and (self.start is None or self.end is None)) or (
                repeated and (self.cron is None or self.duration is None)):
            raise ValueError("expected 'start' and 'end' (ISO 8601 instants), or 'cron' and "
                             "'duration' (e.g. '0 2 * * SUN' and 2h)")
        if explicit and parse_instant(self.end or "") <= parse_instant(self.start or ""):
            raise ValueError(f"end {self.end} is not after start {self.start}; expected a "
                             "window that ends after it starts")
        return self


class Maintenance(_Strict):
    """``spec.maintenance``: windows whose buckets are left out of good and total
    (``countAs: excluded``) or counted good (``countAs: good``)."""

    countAs: CountAs = "excluded"
    windows: list[Window] = Field(min_length=1)


class ServiceMaintenance(Maintenance):
    service: str

    _service = field_validator("service")(safe_name)


class MaintenanceMetadata(_Strict):
    name: str

    _name = field_validator("name")(safe_name)


class MaintenanceDocument(_Strict):
    """``kind: MaintenanceWindows``: windows for every SLO of ``spec.service``."""

    apiVersion: Literal["slo-jobs/v1"]
    kind: Literal["MaintenanceWindows"]
    metadata: MaintenanceMetadata
    spec: ServiceMaintenance


@dataclass(frozen=True)
class Interval:
    """One occurrence of a window, in UTC: ``[start, end)``."""

    start: datetime
    end: datetime
    count_as: CountAs
    reason: str


@dataclass(frozen=True)
class Plan:
    """An SLO's maintenance: its own windows and its service's, each with how it counts."""

    groups: tuple[tuple[CountAs, tuple[Window, ...]], ...]

    def intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """Every occurrence overlapping ``[start, end)``, clipped to it, by start."""
        out: list[Interval] = []
        for count_as, windows in self.groups:
            for w in windows:
                for a, b in _occurrences(w, start, end):
                    lo, hi = max(a, start), min(b, end)
                    if lo < hi:
                        out.append(Interval(lo, hi, count_as, w.reason))
        return sorted(out, key=lambda i: (i.start, i.end, i.count_as))

    def merged(self, other: Plan | None) -> Plan:
        return self if other is None else Plan(self.groups + other.groups)


def _occurrences(w: Window, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    if w.start is not None and w.end is not None:
        return [(parse_instant(w.start), parse_instant(w.end))]
    assert w.cron is not None and w.duration is not None
    length = _duration_of(w.duration)
    zone = ZoneInfo(w.timeZone)
    # Wall-clock cron in the window's zone, starting early enough to catch an occurrence
    # that began before ``start`` and is still running.
    it = croniter(w.cron, (start - length).astimezone(zone) - timedelta(seconds=1))
    out: list[tuple[datetime, datetime]] = []
    while len(out) < MAX_OCCURRENCES:
        at: datetime = it.get_next(datetime).astimezone(UTC)
        if at >= end:
            break
        out.append((at, at + length))
    return out


def plan_of(maintenance: Maintenance | None) -> Plan | None:
    return None if maintenance is None else Plan(((maintenance.countAs,
                                                   tuple(maintenance.windows)),))
