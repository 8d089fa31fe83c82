"""Maintenance windows in the generated rules: the record muting the alerts while a window
is open, and the steps whose minute or slice the report leaves out or counts good, so the
burn-rate windows read the report's buckets (docs/slo-math.md, Maintenance windows)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ..spec import Slo

# How far ahead a rule file spells out the maintenance windows (PromQL has no cron): an
# SLORulesOutdated ticket asks for the file again before it runs out.
HORIZON = timedelta(days=90)
MINUTE = 60


def maintenance_expr(slo: Slo, at: datetime) -> str | None:
    """1 while one of the SLO's maintenance windows (either kind) is open, from ``at`` to the
    horizon; None without windows. Each window spelled out in epoch seconds."""
    if slo.maintenance is None:
        return None
    spans = [(int(i.start.timestamp()), int(i.end.timestamp()))
             for i in slo.maintenance.intervals(at, at + HORIZON)]
    if not spans:
        return None
    return "vector(1) and on() (" + " or ".join(
        f"(vector(time()) >= {a} < {b})" for a, b in spans) + ")"


def touched(slo: Slo, at: datetime, lookback: timedelta, slice_s: int, count_as: str
            ) -> str | None:
    """1 at the steps ``p`` whose slice ``(p - slice_s, p]`` holds a minute bucket covered by
    a ``count_as`` window, from ``at - lookback`` to the horizon; None if there is none.

    The report covers ``[floor(start), ceil(end))`` in whole minutes; the slice's buckets
    start at ``p - slice_s`` .. ``p - 1m``, so it is touched iff ``floor(start) < p <
    ceil(end) + slice_s`` (a minute is the slice of 60 s)."""
    if slo.maintenance is None:
        return None
    spans = []
    for i in slo.maintenance.intervals(at - lookback, at + HORIZON):
        if i.count_as == count_as:
            a = math.floor(i.start.timestamp() / MINUTE) * MINUTE
            b = math.ceil(i.end.timestamp() / MINUTE) * MINUTE
            spans.append(f"(vector(time()) > {a} < {b + slice_s})")
    return "vector(1) and on() (" + " or ".join(spans) + ")" if spans else None


def kept(value: str, slo: Slo, at: datetime, lookback: timedelta, slice_s: int,
         good_value: str | None) -> str:
    """``value`` at a step, as the report counts it: absent where the step's minute or slice
    is excluded; ``good_value`` (None: ``value``) where it is counted good. Exclusion wins."""
    excluded = touched(slo, at, lookback, slice_s, "excluded")
    as_good = touched(slo, at, lookback, slice_s, "good")
    out = value
    if as_good is not None and good_value is not None:
        out = f"(({value}) unless on() ({as_good})) or (({good_value}) and on() ({as_good}))"
    if excluded is not None:
        out = f"({out}) unless on() ({excluded})"
    return out
