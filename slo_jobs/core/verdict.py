"""The figures an SLO is judged by: its own window's (docs/slo-math.md, "Judged on its own
window").

The compute stage writes each SLO's calendar month (in its zone) and, beside it, the SLO's own
window to date (``window_*``: its week, quarter, year or rolling window). An SLO is judged on
its own window everywhere a verdict is given (met or missed, status, budget, priorities,
release decisions); the calendar month is shown beside it as context (``month_*``). For a
calendar-month SLO the two are the same window.

At the bottom of the package: it imports nothing of slo-jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

# The summary fields that carry the verdict, taken from the own window when it differs.
HEADLINE = ("sli", "budget_consumed", "budget_remaining", "budget_consumed_to_date", "status",
            "outlook", "met", "estimated", "coverage", "good", "total", "bad", "allowed_bad",
            "budget_remaining_events", "budget_minutes", "budget_remaining_minutes", "exhaustion",
            "exhaustion_days")
# The summary columns ``judged`` reads besides the headline fields.
COLUMNS = ("period", "period_start", "period_end", "window_label", "window_start", "window_end",
           "as_of", *(f"window_{f}" for f in HEADLINE))
# The month's figures kept beside the verdict as context.
CONTEXT = ("sli", "budget_remaining", "status", "met", "outlook")
# What summary.json and summary.csv add to the summary's fields: the window judged and the
# month beside it.
REPORTED = ("window", *(f"month_{f}" for f in CONTEXT))
# Statuses without a verdict: neither met nor missed, no release blocked, no priority.
UNJUDGED = ("no data", "insufficient data", "too few events")


def own_window(row: Mapping[str, Any]) -> bool:
    """Whether the row's SLO has a window of its own besides the calendar month."""
    start, end = row.get("window_start"), row.get("window_end")
    return start is not None and (start, end) != (row.get("period_start"), row.get("period_end"))


def judged(row: Mapping[str, Any], window_period: bool = False) -> dict[str, Any]:
    """The summary row as its SLO is judged: the headline fields of its own window, the
    month's as ``month_*``, ``window`` naming the window judged and ``judged_end`` when it
    ends. ``window_period``: ``period_start``/``_end`` become the own window's too (for the
    decisions, whose elapsed share and budget reset are the window's)."""
    out = dict(row)
    for f in CONTEXT:
        out[f"month_{f}"] = row.get(f)
    out["window"] = row.get("window_label") or row.get("period")
    out["judged_start"], out["judged_end"] = row.get("period_start"), row.get("period_end")
    out["own_window"] = own_window(row)
    if not out["own_window"]:
        return out
    for f in HEADLINE:
        if f"window_{f}" in row:
            out[f] = row[f"window_{f}"]
    out["judged_start"], out["judged_end"] = row["window_start"], row["window_end"]
    days, at = out.get("exhaustion_days"), row.get("as_of")
    out["exhaustion_at"] = at + timedelta(days=days) if days is not None and at else None
    if window_period:
        out["period_start"], out["period_end"] = row["window_start"], row["window_end"]
    return out
