"""The long view: each SLO's last 12 months (the reported one and the 11 before), as the
report's chart, ``months`` in summary.json and ``history.csv``.

The summaries of the months before are read once per render (``read``), only the columns
a month's point needs, and kept as one small record per SLO and month; the previous two
months' records also serve the "vs previous" column and the trend table. Each month is its
SLO's judged figures as that month's summary holds them: its calendar month, or for an SLO
judged on its own window (a quarter, a rolling window) that window to date at the month's
as-of, labelled as such. A month without a summary row for the SLO, or without events, is a
gap: shown as none, never as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from .. import compute, lake
from ..core.periods import Period, previous
from ..core.verdict import COLUMNS as VERDICT_COLUMNS
from ..core.verdict import HEADLINE, judged
from ..lake import LakeDir
from . import charts
from .exports import csv_text
from .text import whole

MONTHS = 12
# history.csv, one row per SLO and month; summary.json's ``months`` items without slo/service.
HISTORY_FIELDS = ("slo", "service", "month", "window", "target", "sli", "budget_consumed",
                  "met", "status", "events", "estimated")
POINT_FIELDS = HISTORY_FIELDS[2:]
# What is kept of an earlier month's judged row: its point, and what the trend table shows.
_KEPT = ("slo", "period", "window", "own_window", "target", "sli", "budget_consumed",
         "budget_remaining", "met", "status", "total", "estimated", "coverage")
_READ = ("slo", "target", *VERDICT_COLUMNS, *HEADLINE)

Rows = dict[str, dict[str, Any]]  # SLO -> its kept summary row


def labels(period: Period) -> list[str]:
    """The labels of the 12 months ending with ``period``, oldest first."""
    out = [period]
    while len(out) < MONTHS:
        out.insert(0, previous(out[0]))
    return [p.label for p in out]


def read(lake_dir: LakeDir, period: Period) -> dict[str, Rows]:
    """The 11 months before ``period``: month label -> SLO -> its judged row (the fields
    kept); a month never computed is empty. The caller holds ``lake.reading_sets``."""
    out: dict[str, Rows] = {}
    for label in labels(period)[:-1]:
        rows: Rows = {}
        if lake.exists(lake.monthly_partition(lake_dir, label)):
            for r in compute.read_table(lake_dir, label, "summary", columns=_READ):
                j = judged(r)
                rows[r["slo"]] = {k: j.get(k) for k in _KEPT}
        out[label] = rows
    return out


def points(row: Mapping[str, Any], earlier: Mapping[str, Rows], months: Sequence[str]
           ) -> list[dict[str, Any]]:
    """The SLO of ``row`` (the reported month's judged row) month by month over ``months``
    (oldest first, the reported one last): the figures of ``POINT_FIELDS``, all none for a
    month without its summary row."""
    out: list[dict[str, Any]] = []
    for label in months:
        r = row if label == row["period"] else earlier.get(label, {}).get(row["slo"])
        if r is None:
            out.append({"month": label, **{k: None for k in POINT_FIELDS[1:]}})
            continue
        out.append({"month": label, "window": r.get("window"), "target": r.get("target"),
                    "sli": r.get("sli"), "budget_consumed": r.get("budget_consumed"),
                    "met": r.get("met"), "status": r.get("status"),
                    "events": whole("total", r.get("total")),
                    "estimated": bool(r.get("estimated"))})
    return out


def is_gap(point: Mapping[str, Any]) -> bool:
    """A month without data: no summary row, or no events in it."""
    return not point.get("events") or point.get("sli") is None


def csv_part(row: Mapping[str, Any], pts: Sequence[Mapping[str, Any]]) -> str:
    """The SLO's lines of history.csv (no header)."""
    return csv_text([{"slo": row["slo"], "service": row["service"], **p} for p in pts],
                    HISTORY_FIELDS, header=False)


def caption(row: Mapping[str, Any]) -> str:
    """What each month's point is, for an SLO judged on a window of its own; "" otherwise."""
    if not row.get("own_window"):
        return ""
    window = str(row.get("window") or "")
    kind = "rolling window" if window.startswith("rolling-") else "own window"
    return (f"Judged on its {kind} ({window} this month): each month shows that window to "
            f"date at the month's end, as the month's summary holds it.")


def chart(row: Mapping[str, Any], pts: Sequence[Mapping[str, Any]]) -> Markup:
    """The SLO's 12-month chart: SLI against the target, budget spent against the whole."""
    return charts.month_chart(
        [p["month"] for p in pts],
        [None if is_gap(p) else p["sli"] for p in pts],
        [None if is_gap(p) else p["budget_consumed"] for p in pts],
        [bool(p["estimated"]) for p in pts], row["target"])
