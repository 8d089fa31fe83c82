"""Roll-ups: a calendar quarter or year for every SLO (each in its own time zone), its
months side by side, and per team and for the organisation the share of SLOs met and the
budget spent (docs/slo-math.md, "Roll-ups: quarters and years").

The period's figures come from its own events (``compute_calendar`` over the lake's days),
never from an average of its months; the months beside them are the monthly summaries the
lake holds. Everything is published as one set, ``<lake>/rollup/period=<label>/``
(``slos``, ``months``, ``groups``), so the render reads only the lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from .. import lake
from ..core import periods
from ..core.errors import SloJobsError
from ..core.verdict import UNJUDGED
from ..lake import LakeDir
from ..lake.computed import read_table
from ..spec import Slo
from . import compute_calendar

KINDS = ("quarter", "year")
NO_TEAM = "(no team)"
ORGANISATION = "organisation"
# The period's figures kept per SLO (those of budget_status.sql, docs/slo-math.md).
FIGURES = ("target", "unit", "good", "total", "bad", "sli", "allowed_bad", "budget_consumed",
           "budget_remaining", "budget_consumed_to_date", "status", "met", "outlook",
           "estimated", "coverage")
# A month's figures shown beside the period's, from its monthly summary (its own month, not
# its own window: the calendar month in the SLO's zone).
MONTH_FIGURES = ("sli", "budget_consumed", "status", "met", "estimated")


def month_labels(kind: str, label: str) -> list[str]:
    """The calendar months of the quarter or year ``label`` (``2026-07`` ... for 2026-Q3)."""
    period = periods.calendar(kind, label)
    out = [periods.month_of(period.start)]
    while out[-1].end < period.end:
        out.append(periods.month_of(out[-1].end))
    return [m.label for m in out]


def _months(lake_dir: LakeDir, slos: Sequence[Slo], kind: str, label: str, as_of: datetime
            ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(one row per SLO and month of the period, each SLO's incidents of those months)."""
    rows: list[dict[str, Any]] = []
    incidents: dict[str, list[dict[str, Any]]] = {s.name: [] for s in slos}
    for m in month_labels(kind, label):
        computed = lake.exists(lake.monthly_partition(lake_dir, m))
        summary = {r["slo"]: r for r in read_table(lake_dir, m, "summary")} if computed else {}
        for i in read_table(lake_dir, m, "incidents", missing_ok=True) if computed else []:
            if i["slo"] in incidents:
                incidents[i["slo"]].append({**i, "month": m})
        for s in slos:
            begun = as_of > periods.calendar("month", m, s.time_zone).start
            found = summary.get(s.name)
            state = "not begun" if not begun else "missing" if found is None else "computed"
            rows.append({"slo": s.name, "month": m, "state": state,
                         **{f: None if found is None else found[f] for f in MONTH_FIGURES}})
    return rows, incidents


def _incident_fields(found: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many alert-level burns the months held, and the worst: the one that spent the
    largest share of its month's budget."""
    worst = max(found, key=lambda i: i["budget_share"] or 0.0, default=None)
    return {"incidents": len(found), "pages": sum(i["severity"] == "page" for i in found),
            "worst_month": None if worst is None else worst["month"],
            "worst_severity": None if worst is None else worst["severity"],
            "worst_start": None if worst is None else worst["start"],
            "worst_minutes": None if worst is None else worst["duration_minutes"],
            "worst_budget_share": None if worst is None else worst["budget_share"]}


def aggregate(scope: str, name: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A team's (or the organisation's) figures from its SLOs' period rows.

    Share met: SLOs met / SLOs met or missed (running, no-data, insufficient-data and
    too-few-events SLOs are neither, so they are not counted). Budget spent: the mean of the
    judged SLOs' budget consumed, each SLO weighing the same (a running period's
    projection for a running SLO). docs/slo-math.md gives the reasons."""
    judged = [r for r in rows if r["status"] not in UNJUDGED]
    closed = [r for r in judged if r["met"] is not None]
    met = sum(1 for r in closed if r["met"])
    spent = [r["budget_consumed"] for r in judged if r["budget_consumed"] is not None]
    return {"scope": scope, "name": name, "slos": len(rows), "judged": len(judged),
            "met": met, "missed": len(closed) - met,
            "share_met": met / len(closed) if closed else None,
            "budget_consumed": sum(spent) / len(spent) if spent else None,
            "on_track": sum(1 for r in judged if r["met"] is None
                            and r["outlook"] == "on track"),
            "behind": sum(1 for r in judged if r["met"] is None
                          and r["outlook"] in ("at risk", "exhausted")),
            "estimated": any(r["estimated"] for r in rows),
            "unjudged": ", ".join(f"{r['slo']} ({r['status']})" for r in rows
                                  if r["status"] in UNJUDGED)}


def groups(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The organisation's figures, then each team's (by name)."""
    teams: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        teams.setdefault(r["team"], []).append(r)
    return [aggregate(ORGANISATION, ORGANISATION, rows),
            *(aggregate("team", t, teams[t]) for t in sorted(teams))]


def compute_rollup(lake_dir: LakeDir, slos: Sequence[Slo], kind: str, label: str,
                   as_of: datetime, processes: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The roll-up of the quarter or year ``label`` at ``as_of`` (a period still running is
    to date, projected and neither met nor missed), published into the lake; its tables."""
    if kind not in KINDS:
        raise SloJobsError(f"roll-up: found {kind!r}; expected quarter or year")
    if not slos:
        raise SloJobsError(f"{kind} {label}: no SLO has begun it; expected at least one SLO")
    slos = sorted(slos, key=lambda s: s.name)
    result = compute_calendar(lake_dir, slos, kind, label, as_of, processes)
    month_rows, incidents = _months(lake_dir, slos, kind, label, as_of)
    by_name = {s.name: s for s in slos}
    rows = []
    for r in result.summary:
        s = by_name[r["slo"]]
        rows.append({"slo": s.name, "service": s.service, "team": s.team or NO_TEAM,
                     "time_zone": s.time_zone, "kind": kind, "period": label,
                     "period_start": r["period_start"], "period_end": r["period_end"],
                     "as_of": r["as_of"], **{f: r[f] for f in FIGURES},
                     **_incident_fields(incidents[s.name])})
    tables = {"slos": rows, "months": month_rows, "groups": groups(rows)}
    with lake.publish_set(lake.rollup_partition(lake_dir, label).parent) as stage:
        for name, table in tables.items():
            lake.write_atomic(pa.Table.from_pylist(table), stage / f"{name}.parquet")
    return tables
