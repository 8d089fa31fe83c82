"""Reporting periods: a calendar month as a half-open UTC interval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .errors import SloJobsError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, with a label such as ``2026-09``."""

    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        n = (self.end - self.start).days
        return [(self.start + timedelta(days=i)).date() for i in range(n)]

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def month(label: str) -> Period:
    """Parse ``YYYY-MM`` into the calendar month it names (UTC)."""
    m = _MONTH.match(label.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise SloJobsError(f"month: found {label!r}; expected YYYY-MM, e.g. 2026-09")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=UTC)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
    return Period(f"{y:04d}-{mo:02d}", start, end)


def month_of(instant: datetime) -> Period:
    """The calendar month containing ``instant`` (converted to UTC)."""
    u = instant.astimezone(UTC)
    return month(f"{u.year:04d}-{u.month:02d}")


def previous(period: Period) -> Period:
    return month_of(period.start - timedelta(days=1))
