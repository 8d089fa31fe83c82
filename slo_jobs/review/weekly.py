"""The weekly SLO review from the lake: the figures that fill the review template.

Per SLO and ISO week (in the SLO's own time zone):

- the week itself: SLI and the budget consumption rate (bad / allowed bad of the week's
  traffic: 1 spends the budget exactly at an even pace), against the week before (trend);
- the SLO's own window to date at the week's end (its month, quarter or rolling window):
  status, budget remaining and the release decisions that follow (as in the monthly report);
- the incidents of the week: the month's burn-rate alerts (the factors the SLO's alert
  rules use) that overlap the week.

A service is red when one of its SLOs is critical or exhausted, yellow when one is at
attention or warning or has too little data to be judged, else green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import compute
from ..core import periods
from ..decisions import policy, release
from ..decisions.policy import Policy
from ..lake import LakeDir
from ..spec import Slo

RED = ("critical", "exhausted")
YELLOW = ("attention", "warning", "no data", "insufficient data")
STEADY = 0.10  # a change of the consumption rate within 10 % is "steady"


@dataclass
class Review:
    week: str
    start: datetime  # of the UTC week, for the heading
    end: datetime
    as_of: datetime
    services: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    checklist: list[dict[str, Any]] = field(default_factory=list)


def previous_week(label: str) -> str:
    start = periods.calendar("week", label).start
    return periods.label_of("week", start - periods.DAY)


def trend(rate: float | None, before: float | None) -> str:
    if rate is None or before is None:
        return "n/a"
    if before == 0:
        return "steady" if rate == 0 else "worsening"
    change = rate / before - 1
    return "steady" if abs(change) <= STEADY else "worsening" if change > 0 else "improving"


def _zone_figures(lake_dir: LakeDir, slos: Sequence[Slo], label: str, tz: str,
                  as_of: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any],
                                            list[dict[str, Any]]]:
    """Week rows, rows of the week before, month-to-date rows at the week's end and the
    month incidents overlapping the week, for the SLOs of one zone."""
    week = periods.calendar("week", label, tz)
    at = min(as_of, week.end)
    this = compute.compute_calendar(lake_dir, slos, "week", label, at).summary
    before = compute.compute_calendar(lake_dir, slos, "week", previous_week(label),
                                      week.start).summary
    months = sorted({periods.label_of("month", week.start, tz),
                     periods.label_of("month", at - timedelta(microseconds=1), tz)})
    month_rows: dict[str, Any] = {}
    incidents = []
    for m in months:
        result = compute.compute_calendar(lake_dir, slos, "month", m,
                                          min(at, periods.calendar("month", m, tz).end))
        month_rows.update({r["slo"]: r for r in result.summary})  # the later month wins
        incidents += [i for i in result.incidents
                      if i["start"] < week.end and i["end"] > week.start]
    return ({r["slo"]: r for r in this}, {r["slo"]: r for r in before},
            _own_windows(lake_dir, slos, month_rows), incidents)


def _own_windows(lake_dir: LakeDir, slos: Sequence[Slo], month_rows: dict[str, Any]
                 ) -> dict[str, Any]:
    """Each SLO's row judged on its own window to date at the week's end (a rolling 28 days
    to then, its quarter to date...), as the monthly report judges it: the month row with the
    window's figures and label in place of the month's."""
    windows = compute.own_windows(lake_dir, slos, list(month_rows.values()), processes=False)
    out = {}
    for name, row in month_rows.items():
        w = windows.get(name)
        out[name] = row if w is None else {
            **row, **{f: w[f"window_{f}"] for f in compute.WINDOW_FIELDS},
            "period": w["window_label"], "period_start": w["window_start"],
            "period_end": w["window_end"]}
    return out


def _rate(row: dict[str, Any] | None) -> float | None:
    if row is None or row["status"] in release.UNJUDGED:
        return None
    value = row.get("budget_consumed_to_date")
    return None if value is None else float(value)


def _slo(s: Slo, week: dict[str, Any], before: dict[str, Any] | None,
         month: dict[str, Any], incidents: list[dict[str, Any]], rules: Policy
         ) -> dict[str, Any]:
    status = month["status"]
    decisions = {risk: rules.decide(status, risk) if status in rules.matrix
                 or status in release.UNJUDGED else "review" for risk in release.RISKS}
    rate, rate_before = _rate(week), _rate(before)
    return {
        "slo": s.name, "service": s.service, "team": s.team, "target": s.target,
        "status": status, "month": month["period"],
        "budget_remaining": month["budget_remaining"], "coverage": month["coverage"],
        "week_sli": week["sli"], "week_status": week["status"], "rate": rate,
        "approximate": s.approximate,
        "rate_before": rate_before, "trend": trend(rate, rate_before),
        "sli_before": None if before is None else before["sli"],
        "incidents": len(incidents),
        "pages": sum(1 for i in incidents if i["severity"] == "page"),
        "decisions": decisions,
        "policy": rules.name,
        "reasons": {risk: release.explain(month, risk, d, s.team, rules.matrix)
                    for risk, d in decisions.items()}}


def _color(rows: Sequence[dict[str, Any]]) -> str:
    if any(r["status"] in RED for r in rows):
        return "red"
    return "yellow" if any(r["status"] in YELLOW for r in rows) else "green"


def _issues_and_actions(rows: Sequence[dict[str, Any]], incidents: Sequence[dict[str, Any]]
                        ) -> tuple[list[str], list[dict[str, str]]]:
    issues: list[str] = []
    actions: list[dict[str, str]] = []
    for r in rows:
        owner = r["team"] or "the SLO owner"
        left = r["budget_remaining"]
        if r["status"] in release.UNJUDGED:
            issues.append(f"{r['slo']}: {r['status']} ({r['coverage'] * 100:.1f} % coverage)")
            actions.append({"owner": owner, "text": f"Restore the SLI data of {r['slo']}."})
        elif r["status"] != "healthy":
            issues.append(f"{r['slo']}: {r['status']}, {left * 100:.1f} % of the "
                          f"{r['month']} budget left")
            what = "Freeze high-risk releases and fix" if r["status"] in RED else "Watch"
            week = "no events this week" if r["rate"] is None else \
                f"this week {r['rate']:.2f}x an even spend"
            actions.append({"owner": owner,
                            "text": f"{what} the burn of {r['slo']} ({week})."})
        if r["trend"] == "worsening" and r["status"] == "healthy":
            issues.append(f"{r['slo']}: consumption rate worsening ({r['rate_before']:.2f}x "
                          f"to {r['rate']:.2f}x)")
    for i in incidents:
        if i["severity"] == "page":
            row = next(r for r in rows if r["slo"] == i["slo"])
            issues.append(f"{i['slo']}: page incident from {i['start']:%Y-%m-%d %H:%M} UTC, "
                          f"{i['duration_minutes']:.0f} min, "
                          f"{(i['budget_share'] or 0) * 100:.1f} % of the month's budget")
            actions.append({"owner": row["team"] or "the SLO owner",
                            "text": f"Root cause and postmortem for the {i['slo']} page "
                                    f"incident of {i['start']:%Y-%m-%d %H:%M} UTC."})
    return issues, actions


def _checklist(review: Review, slos: Sequence[Slo]) -> list[dict[str, Any]]:
    rows = [r for s in review.services for r in s["slos"]]
    actions = [a for s in review.services for a in s["actions"]]
    judged = [r for r in rows if r["rate"] is not None]
    return [
        {"item": "All SLOs reviewed", "done": len(rows) == len(slos),
         "note": f"{len(rows)} of {len(slos)} SLOs with a status"},
        # An SLO without events in the week (a monthly job's runs) has no rate to analyse.
        {"item": "Burn rates analyzed", "done": bool(judged),
         "note": f"consumption rate and trend for {len(judged)} SLOs"
                 + (f"; {len(rows) - len(judged)} without events or data this week"
                    if len(judged) < len(rows) else "")},
        {"item": "Incidents discussed", "done": not review.incidents,
         "note": "no incident this week" if not review.incidents else
         f"{len(review.incidents)} incidents to discuss in the meeting"},
        {"item": "Action items assigned",
         "done": all(a["owner"] != "the SLO owner" for a in actions),
         "note": f"{len(actions)} actions, each with its owning team" if actions else
         "no action needed"},
        {"item": "Decisions documented", "done": bool(rows),
         "note": "release decisions per SLO and risk below"},
    ]


def build(lake_dir: LakeDir, slos: Sequence[Slo], label: str, as_of: datetime,
          rules: Policy | None = None) -> Review:
    """The review of ISO week ``label`` (``YYYY-Www``) as the lake holds it at ``as_of``,
    its release decisions by ``rules`` (default: the default release policy). Each SLO's
    week has begun at ``as_of`` in its zone (the runner's ``started`` chooses them)."""
    rules = rules or policy.load()
    utc_week = periods.calendar("week", label)
    zones = sorted({s.time_zone for s in slos})
    review = Review(label, utc_week.start, utc_week.end, min(as_of, utc_week.end))
    rows: list[dict[str, Any]] = []
    for tz in zones:
        group = [s for s in slos if s.time_zone == tz]
        week, before, month, incidents = _zone_figures(lake_dir, group, label, tz, as_of)
        review.incidents += incidents
        for s in group:
            rows.append(_slo(s, week[s.name], before.get(s.name), month[s.name],
                             [i for i in incidents if i["slo"] == s.name], rules))
    review.incidents.sort(key=lambda i: (i["start"], i["slo"]))
    for service in sorted({r["service"] for r in rows}):
        mine = sorted((r for r in rows if r["service"] == service), key=lambda r: r["slo"])
        issues, actions = _issues_and_actions(
            mine, [i for i in review.incidents if any(i["slo"] == r["slo"] for r in mine)])
        review.services.append({"service": service, "color": _color(mine), "slos": mine,
                                "issues": issues, "actions": actions})
    review.checklist = _checklist(review, slos)
    return review
