"""SLO-driven decisions for a computed period: release decisions with their reasons, the
reliability work ranked from the SLO gaps and the toil budget per team.

``month_tables`` turns the compute stage's rows into three tables published with the month
(``decisions`` gains ``rationale``, ``conditions`` and ``alternatives``; ``priorities``;
``toil``), so the report and the weekly review read them from the lake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import verdict
from ..spec import Slo
from . import priorities, release, toil
from .teams import Team

__all__ = ["HISTORY_MONTHS", "Team", "burn_history", "month_tables"]

HISTORY_MONTHS = 2  # months before the period that make the trend


def burn_history(summaries: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, list[float]]:
    """Per SLO, the even-spend burns of the judged months in ``summaries`` (the computed
    summaries of the HISTORY_MONTHS months before the period, oldest first), each SLO's on
    its own window."""
    out: dict[str, list[float]] = {}
    for rows in summaries:
        for r in map(verdict.judged, rows):
            burn = r.get("budget_consumed_to_date")
            if r["status"] not in verdict.UNJUDGED and burn is not None:
                out.setdefault(r["slo"], []).append(float(burn))
    return out


def month_tables(slos: Sequence[Slo], summary: Sequence[Mapping[str, Any]],
                 decisions: Sequence[Mapping[str, Any]],
                 incidents: Sequence[Mapping[str, Any]],
                 history: Mapping[str, Sequence[float]],
                 teams: Mapping[str, Team]) -> dict[str, list[dict[str, Any]]]:
    # Each SLO is judged on its own window (a quarter, a rolling 28 days): its status,
    # spend and elapsed share decide, not the calendar month's.
    own = {r["slo"] for r in summary if verdict.own_window(r)}
    summary = [verdict.judged(r, window_period=True) for r in summary]
    by_slo = {r["slo"]: r for r in summary}
    owners = {s.name: s.team for s in slos}
    explained = []
    for d in decisions:
        r = by_slo.get(d["slo"])
        if r is None:
            continue
        decision = d["decision"]
        if r["slo"] in own:  # the month's status decided it; the window's does
            decision = release.MATRIX.get(r["status"], {}).get(d["risk"], "review")
        explained.append({**d, "decision": decision,
                          **release.explain(r, d["risk"], decision, owners.get(d["slo"]))})
    per_slo: dict[str, list[Mapping[str, Any]]] = {}
    for i in incidents:
        per_slo.setdefault(i["slo"], []).append(i)
    ranked = priorities.rank(summary, {s.name: s.tier for s in slos}, history, per_slo)
    for p in ranked:
        p["team"] = owners.get(p["slo"])
    return {"decisions": explained, "priorities": ranked,
            "toil": toil.budgets(summary, owners, teams)}
