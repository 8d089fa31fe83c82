"""The toil budget per team from its SLOs' performance (after the SRE book's 50 % cap).

A team's performance is the worst even-spend burn among its judged SLOs (budget consumed /
elapsed fraction; at a period's end, the consumption itself), C:

- C <= 0.5 (every SLO spent at most half its budget): 60 % of the time may go to toil;
- C <= 1 (every SLO within budget): 50 %;
- C > 1: 50 % minus 2 points per 10 % of budget overspent, never below 20 %;
- no judged SLO: 50 %, marked as without evidence.

Hours per week are the share of ``size x hoursPerWeek`` from the team file; a team missing
from it gets the percentage without hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.verdict import UNJUDGED
from .teams import Team

BASE, GENEROUS, FLOOR = 50.0, 60.0, 20.0
POINTS_PER_OVERSPENT = 20.0  # points of toil per 100 % of budget overspent


def percentage(worst_burn: float | None) -> float:
    if worst_burn is None:
        return BASE
    if worst_burn <= 0.5:
        return GENEROUS
    if worst_burn <= 1.0:
        return BASE
    return max(FLOOR, BASE - POINTS_PER_OVERSPENT * (worst_burn - 1.0))


def budgets(rows: Sequence[Mapping[str, Any]], owners: Mapping[str, str | None],
            teams: Mapping[str, Team]) -> list[dict[str, Any]]:
    """One row per team named by an SLO (``owners``: SLO -> team), sorted by team."""
    by_team: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        team = owners.get(r["slo"])
        if team:
            by_team.setdefault(team, []).append(r)
    out = []
    for name in sorted(by_team):
        judged = [r for r in by_team[name] if r["status"] not in UNJUDGED
                  and r.get("budget_consumed_to_date") is not None]
        worst = max(judged, key=lambda r: r["budget_consumed_to_date"], default=None)
        burn = None if worst is None else float(worst["budget_consumed_to_date"])
        pct = percentage(burn)
        found = teams.get(name)
        hours = None if found is None else found.size * found.hours_per_week
        out.append({
            "team": name, "slos": len(by_team[name]), "judged": len(judged),
            "worst_slo": None if worst is None else worst["slo"], "worst_burn": burn,
            "size": None if found is None else found.size,
            "hours_per_week": None if found is None else found.hours_per_week,
            "toil_percentage": pct,
            "toil_hours_per_week": None if hours is None else hours * pct / 100,
            "automation_hours_per_week": None if hours is None else hours * (100 - pct) / 100,
            "estimated": any(r.get("estimated") for r in judged),
            "basis": _basis(burn, worst) + ("; to date (estimate: a period is still running)"
                                            if any(r.get("estimated") for r in judged)
                                            else "")})
    return out


def _basis(burn: float | None, worst: Mapping[str, Any] | None) -> str:
    if burn is None or worst is None:
        return "no SLO judged (no or insufficient data): the 50 % default, without evidence"
    if burn <= 0.5:
        return (f"every SLO spent at most half its budget (worst {worst['slo']}, "
                f"{burn:.2f}x an even spend)")
    if burn <= 1.0:
        return f"every SLO within budget (worst {worst['slo']}, {burn:.2f}x an even spend)"
    return f"{worst['slo']} overspent: {burn:.2f}x an even spend"
