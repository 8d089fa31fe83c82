"""Reporting periods: a calendar month as a half-open UTC interval."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SloJobsError

_MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")
# Prometheus counts from 1970; the upper bound leaves room for a period's end and the
# months before it (trends, lookback) inside what datetime can hold.
FIRST_YEAR, LAST_YEAR = 1970, 9998
# A UTC month's report waits this long past the month's end: every zone's month has ended
# (the latest, UTC-12, 12 hours later) and late scrapes have arrived.
LOCAL_MONTH_SETTLE = timedelta(hours=12, minutes=10)
# How long after a day's end its samples may still be arriving (remote write, a slow
# scrape): the daily extraction waits this long, and a day read sooner is not final
# (docs/extraction.md, "When a day is complete").
INGEST_GRACE = timedelta(minutes=15)
# The lake's resolution: every SLI series is stored, and every figure computed, per whole
# UTC minute (one bucket).
BUCKET = timedelta(minutes=1)
BUCKET_S = 60
DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # lake timestamps count microseconds from here
HOUR_S, DAY_S = 3_600, 86_400
# Seconds per unit of a duration as OpenSLO and Prometheus write it (``5m``, ``28d``).
UNIT_SECONDS = {"s": 1, "m": 60, "h": HOUR_S, "d": DAY_S, "w": 7 * DAY_S}


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, with a label such as ``2026-09``; a calendar period also
    knows its ``kind`` (``month``, ``week``, ``quarter``, ``year``), so it can be found in
    another time zone (``in_zone``) without parsing its label again at every step."""

    label: str
    start: datetime
    end: datetime
    kind: str = field(default="", compare=False)

    def in_zone(self, tz: str) -> Period:
        """The same calendar period in ``tz`` (its UTC interval)."""
        if not self.kind:
            raise ValueError(f"period {self.label!r} is not a calendar period")
        return calendar(self.kind, self.label, tz)

    @property
    def days(self) -> list[date]:
        """The UTC days (lake partitions) that overlap the period."""
        return utc_days(self)

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def month(label: str) -> Period:
    """Parse ``YYYY-MM`` into the calendar month it names (UTC)."""
    m = _MONTH.match(label.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise SloJobsError(f"month: found {label!r}; expected YYYY-MM, e.g. 2026-09")
    if not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        raise SloJobsError(f"month: found {label!r}; expected a year from {FIRST_YEAR} to "
                           f"{LAST_YEAR}, e.g. 2026-09")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=UTC)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
    return Period(f"{y:04d}-{mo:02d}", start, end, "month")


def instant(text: str) -> datetime:
    """An ISO 8601 instant (``2026-09-15T12:00Z``, ``2026-09-15T12:00:00+02:00``, or a date
    for its midnight), UTC unless a zone is given, to the whole minute."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise SloJobsError(f"as-of: found {text!r}; expected an ISO 8601 instant such as "
                           "2026-09-15T12:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(second=0, microsecond=0)


def month_of(instant: datetime) -> Period:
    """The calendar month containing ``instant`` (converted to UTC)."""
    u = instant.astimezone(UTC)
    return month(f"{u.year:04d}-{u.month:02d}")


def month_range(first: str, last: str) -> list[Period]:
    """Every calendar month from ``first`` to ``last`` (``YYYY-MM``, the ``--from`` and
    ``--to`` of a command), both included; refused when ``last`` is before ``first``."""
    a, b = month(first), month(last)
    if b.start < a.start:
        raise SloJobsError(f"--to {b.label}: before --from {a.label}; expected a range such "
                           "as --from 2026-07 --to 2026-09")
    out = [a]
    while out[-1].start < b.start:
        out.append(month_of(out[-1].end))
    return out


def previous(period: Period) -> Period:
    return month_of(period.start - DAY)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SloJobsError(f"time zone: found {tz!r}; expected an IANA name such as "
                           "Europe/Berlin or UTC") from None


def calendar(kind: str, label: str, tz: str = "UTC") -> Period:
    """A calendar week, month, quarter or year in ``tz``, as a UTC interval (DST-correct).

    Labels: ``2026-09`` (month), ``2026-Q3`` (quarter), ``2026-W38`` (ISO week, Monday start),
    ``2026`` (year).
    """
    zone = _zone(tz)
    if kind == "year":
        yr = re.match(r"^(\d{4})$", label)
        if not yr or int(yr.group(1)) < 1:
            raise SloJobsError(f"year: found {label!r}; expected YYYY, e.g. 2026")
        local = datetime(int(yr.group(1)), 1, 1, tzinfo=zone)
        nxt = datetime(int(yr.group(1)) + 1, 1, 1, tzinfo=zone)
    elif kind == "month":
        m = month(label)
        y, mo = m.start.year, m.start.month
        local = datetime(y, mo, 1, tzinfo=zone)
        nxt = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=zone)
    elif kind == "quarter":
        q = re.match(r"\A(\d{4})-Q([1-4])\Z", label)
        if not q or not FIRST_YEAR <= int(q.group(1)) <= LAST_YEAR:
            raise SloJobsError(f"quarter: found {label!r}; expected YYYY-Qn, e.g. 2026-Q3")
        y, n = int(q.group(1)), int(q.group(2))
        local = datetime(y, 3 * n - 2, 1, tzinfo=zone)
        nxt = datetime(y + (n == 4), (3 * n) % 12 + 1, 1, tzinfo=zone)
    elif kind == "week":
        w = re.match(r"\A(\d{4})-W(\d{2})\Z", label)
        try:
            if not w or not FIRST_YEAR <= int(w.group(1)) <= LAST_YEAR:
                raise ValueError(label)
            monday = date.fromisocalendar(int(w.group(1)), int(w.group(2)), 1)
        except ValueError:
            raise SloJobsError(f"week: found {label!r}; expected YYYY-Www, e.g. 2026-W38"
                               ) from None
        local = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
        after = monday + timedelta(days=7)
        nxt = datetime(after.year, after.month, after.day, tzinfo=zone)
    else:
        raise SloJobsError(f"calendar window: found {kind!r}; expected week, month, quarter "
                           "or year")
    return Period(label, local.astimezone(UTC), nxt.astimezone(UTC), kind)


def label_of(kind: str, instant: datetime, tz: str = "UTC") -> str:
    """The label of the calendar ``kind`` period of ``tz`` that contains ``instant``."""
    local = instant.astimezone(_zone(tz))
    if kind == "year":
        return f"{local.year:04d}"
    if kind == "quarter":
        return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"
    if kind == "week":
        iso = local.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    return f"{local.year:04d}-{local.month:02d}"


_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _add_months(y: int, m: int, n: int) -> tuple[int, int]:
    k = y * 12 + (m - 1) + n
    return k // 12, k % 12 + 1


def _wall(zone: ZoneInfo, y: int, m: int, day: int, at: datetime) -> datetime:
    """The anchor's day (clamped to the month's length) and time of day in month (y, m)."""
    last = (date(*_add_months(y, m, 1), 1) - DAY).day
    return datetime(y, m, min(day, last), at.hour, at.minute, at.second, tzinfo=zone)


def containing(kind: str, instant: datetime, tz: str = "UTC",
               start_time: str | None = None) -> Period:
    """The calendar ``kind`` period of ``tz`` that holds ``instant``.

    ``start_time`` (``YYYY-MM-DD HH:MM:SS``, wall time in ``tz``; OpenSLO's calendar
    ``startTime``) anchors the periods: weeks start on its weekday, months on its day of the
    month, quarters and years in its month (a fiscal year from 1 February), all at its time
    of day. Without it, or with an anchor on the natural boundary, periods are the plain
    calendar ones with their usual labels (``2026-Q3``).
    """
    zone = _zone(tz)
    anchor = datetime.strptime(start_time, "%Y-%m-%d %H:%M:%S") if start_time else None
    natural = anchor is None or (anchor.time() == datetime.min.time() and (
        (kind == "week" and anchor.weekday() == 0) or (kind != "week" and anchor.day == 1 and (
            (anchor.month - 1) % _MONTHS.get(kind, 1) == 0))))
    if natural:
        return calendar(kind, label_of(kind, instant, tz), tz)
    assert anchor is not None
    local = instant.astimezone(zone)
    if kind == "week":
        day = local.date() - timedelta(days=(local.weekday() - anchor.weekday()) % 7)
        start = datetime(day.year, day.month, day.day, anchor.hour, anchor.minute,
                         anchor.second, tzinfo=zone)
        if start > local:
            start -= timedelta(days=7)
        nxt = start + timedelta(days=7)
        nxt = datetime(nxt.year, nxt.month, nxt.day, anchor.hour, anchor.minute, anchor.second,
                       tzinfo=zone)
    else:
        step = _MONTHS[kind]
        y, m = _add_months(local.year, local.month, -((local.month - anchor.month) % step))
        start = _wall(zone, y, m, anchor.day, anchor)
        if start > local:
            y, m = _add_months(y, m, -step)
            start = _wall(zone, y, m, anchor.day, anchor)
        nxt = _wall(zone, *_add_months(y, m, step), anchor.day, anchor)
    label = f"{kind} from {start:%Y-%m-%d %H:%M}"
    return Period(label, start.astimezone(UTC), nxt.astimezone(UTC))


def consecutive(days: Iterable[date]) -> list[list[date]]:
    """The days, sorted and without repeats, grouped into runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def midnight(day: date) -> datetime:
    """``day``'s UTC midnight."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_start(day: date) -> int:
    """The Unix time of ``day``'s UTC midnight."""
    return int(midnight(day).timestamp())


def whole_unit(seconds: int) -> tuple[int, str]:
    """``seconds`` in the largest of d, h, m, s that divides it: ``5400`` -> ``(90, "m")``."""
    for unit in "dhm":
        if seconds % (size := UNIT_SECONDS[unit]) == 0:
            return seconds // size, unit
    return seconds, "s"


def utc_days(period: Period) -> list[date]:
    """The UTC days (lake partitions) that overlap ``period``."""
    first = period.start.astimezone(UTC).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def rolling(at: datetime, length: timedelta) -> Period:
    """The rolling window ``[at - length, at)``."""
    end = at.astimezone(UTC)
    days = length.total_seconds() / DAY_S
    return Period(f"rolling-{days:g}d@{end.strftime('%Y-%m-%dT%H:%MZ')}", end - length, end)


def local_days(period: Period, tz: str = "UTC") -> list[tuple[date, datetime, datetime]]:
    """The local calendar days of ``period`` in ``tz``: (day, start UTC, end UTC), clipped."""
    zone = _zone(tz)
    first = period.start.astimezone(zone).date()
    out = []
    day = first
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        nxt_day = day + DAY
        end = datetime(nxt_day.year, nxt_day.month, nxt_day.day, tzinfo=zone).astimezone(UTC)
        if start >= period.end:
            break
        out.append((day, max(start, period.start), min(end, period.end)))
        day = nxt_day
    return out
