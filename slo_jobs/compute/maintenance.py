"""Planned maintenance in the compute: which buckets a window covers, what the summary
records about them, and the note a month gets when its windows change after it was computed.

A bucket overlapping a window with ``countAs: excluded`` has good = total = 0 (nothing is
counted, and it is not missing data); with ``countAs: good`` its events all count as good.
Where both overlap, exclusion wins. docs/slo-math.md has the arithmetic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..core.periods import BUCKET_S, Period
from ..spec.governance import Interval, Plan

Ranges = tuple[tuple[int, int], ...]
# Copied from the summary first computed for a month, so a later change shows what it was.
BASELINE = ("sli", "budget_remaining", "status", "met", "excluded_minutes", "as_of")


def _index(t: datetime, origin: datetime, up: bool) -> int:
    seconds = (t - origin).total_seconds()
    return int(-(-seconds // BUCKET_S) if up else seconds // BUCKET_S)


def bucket_ranges(plan: Plan | None, origin: datetime, n: int) -> tuple[Ranges, Ranges]:
    """(excluded, counted good) bucket index ranges ``[a, b)`` within ``[0, n)``; a bucket
    touched by a window at all is covered (windows need not fall on whole minutes)."""
    if plan is None:
        return (), ()
    out: dict[str, list[tuple[int, int]]] = {"excluded": [], "good": []}
    for i in plan.intervals(origin, origin + timedelta(seconds=n * BUCKET_S)):
        a = max(0, _index(i.start, origin, up=False))
        b = min(n, _index(i.end, origin, up=True))
        if a < b:
            out[i.count_as].append((a, b))
    return tuple(out["excluded"]), tuple(out["good"])


def masks(excluded: Ranges, as_good: Ranges, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the buckets left out and of those counted good (exclusion wins)."""
    skip, forced = np.zeros(n, bool), np.zeros(n, bool)
    for a, b in excluded:
        skip[a:b] = True
    for a, b in as_good:
        forced[a:b] = True
    return skip, forced & ~skip


def _window_rows(intervals: Sequence[Interval]) -> list[dict[str, Any]]:
    return [{"start": i.start, "end": i.end, "count_as": i.count_as, "reason": i.reason}
            for i in intervals]


def fingerprint(windows: Sequence[dict[str, Any]] | None) -> str:
    """Identifies a period's windows: equal windows give equal text, in any order."""
    rows = sorted([w["start"].isoformat(), w["end"].isoformat(), w["count_as"]]
                  for w in windows or [])
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]


def fields(plan: Plan | None, period: Period, as_of: datetime) -> dict[str, Any]:
    """Summary columns: the period's windows and the minutes they took out or counted good
    up to ``as_of`` (the buckets the compute treated so)."""
    n = int((as_of - period.start).total_seconds()) // BUCKET_S
    skip, forced = masks(*bucket_ranges(plan, period.start, n), n)
    windows = _window_rows(plan.intervals(period.start, period.end)) if plan else []
    return {"maintenance_windows": windows or None,
            "maintenance_hash": fingerprint(windows),
            "excluded_minutes": int(skip.sum()) * BUCKET_S / 60,
            "counted_good_minutes": int(forced.sum()) * BUCKET_S / 60}


def note_changes(rows: list[dict[str, Any]], stored: Sequence[dict[str, Any]]) -> None:
    """Mark the rows whose maintenance windows differ from those of the month's stored
    summary: ``maintenance_changed`` and ``first_<field>`` (the figures as first computed,
    kept through later recomputes), so a past month never changes silently."""
    before = {r["slo"]: r for r in stored}
    for r in rows:
        old = before.get(r["slo"])
        r["maintenance_changed"] = False
        for f in BASELINE:
            r[f"first_{f}"] = None
        if old is None:
            continue
        old_hash = old.get("maintenance_hash") or fingerprint(None)
        if old.get("maintenance_changed"):
            # Already changed once: keep the first figures, whatever happens now.
            r["maintenance_changed"] = True
            r.update({f"first_{f}": old.get(f"first_{f}") for f in BASELINE})
        elif old_hash != r["maintenance_hash"]:
            r["maintenance_changed"] = True
            r.update({f"first_{f}": old.get(f, 0.0 if f == "excluded_minutes" else None)
                      for f in BASELINE})
