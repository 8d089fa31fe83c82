"""SLO-driven decisions for a computed period: release decisions with their reasons, the
reliability work ranked from the SLO gaps and the toil budget per team.

``month_tables`` turns the compute stage's rows into three tables published with the month
(``decisions`` gains ``rationale``, ``conditions`` and ``alternatives``; ``priorities``;
``toil``), so the report and the weekly review read them from the lake.

May import: ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import verdict
from ..spec import Slo
from . import policy, priorities, release, toil
from .teams import Team, TeamFile

__all__ = ["HISTORY_MONTHS", "Team", "TeamPolicy", "burn_history", "month_tables"]

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
    summary = [verdict.judged(r, window_period=True) for r in summary]
    by_slo = {r["slo"]: r for r in summary}
    owners = {s.name: s.team for s in slos}
    # The team's release policy decides (the default: the table of sql/release_decision.sql).
    rules = teams.release_policy if isinstance(teams, TeamFile) else policy.load()
    explained = []
    for d in decisions:
        if d["slo"] in by_slo:
            row = by_slo[d["slo"]]
            decision = rules.decide(row["status"], d["risk"])
            explained.append({**d, "decision": decision, "policy": rules.name,
                              **release.explain(row, d["risk"], decision, owners.get(d["slo"]),
                                                rules.matrix)})
    per_slo: dict[str, list[Mapping[str, Any]]] = {}
    for i in incidents:
        per_slo.setdefault(i["slo"], []).append(i)
    ranked = priorities.rank(summary, {s.name: s.tier for s in slos}, history, per_slo)
    for p in ranked:
        p["team"] = owners.get(p["slo"])
    return {"decisions": explained, "priorities": ranked,
            "toil": toil.budgets(summary, owners, teams)}


@dataclass(frozen=True)
class TeamPolicy:
    """The decisions published with a computed month, as the compute stage asks for them:
    ``month_tables`` with the trend of the ``history_months`` months before it and the team
    sizes of ``teams`` (empty: the release policy and toil defaults still apply)."""

    teams: Mapping[str, Team]
    history_months: int = HISTORY_MONTHS

    def __call__(self, slos: Sequence[Slo], summary: Sequence[Mapping[str, Any]],
                 decisions: Sequence[Mapping[str, Any]],
                 incidents: Sequence[Mapping[str, Any]],
                 earlier: Sequence[Sequence[Mapping[str, Any]]]
                 ) -> dict[str, list[dict[str, Any]]]:
        return month_tables(slos, summary, decisions, incidents, burn_history(earlier),
                            self.teams)
