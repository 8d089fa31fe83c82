"""The decision tables of a month as the report and summary.json show them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

# estimated: judged on a period still running (the figures to date), never final.
# policy: the release policy file the decision follows ("default" for the built-in one).
RELEASE_KEYS = ("decision", "rationale", "conditions", "alternatives", "estimated", "policy")
PRIORITY_KEYS = ("rank", "score", "overspend", "tier", "tier_weight", "trend", "issue",
                 "actions", "estimated")
TOIL_KEYS = ("team", "size", "hours_per_week", "toil_percentage", "toil_hours_per_week",
             "automation_hours_per_week", "worst_slo", "worst_burn", "basis", "estimated")


def build(decisions: Sequence[Mapping[str, Any]], priorities: Sequence[Mapping[str, Any]],
          toil: Sequence[Mapping[str, Any]], keep: Collection[str]) -> dict[str, Any]:
    """``release`` (SLO -> risk -> decision with its reasons), ``priorities`` (the ranked
    SLOs of ``keep``), ``priority`` (SLO -> its priority row), ``team_of`` (SLO -> team) and
    ``toil`` (the teams of the SLOs of ``keep``)."""
    release: dict[str, dict[str, dict[str, Any]]] = {}
    for d in decisions:
        if d["slo"] in keep and "rationale" in d:  # months computed before carry no reasons
            release.setdefault(d["slo"], {})[d["risk"]] = {k: d.get(k) for k in RELEASE_KEYS}
    priority = {p["slo"]: dict(p) for p in priorities if p["slo"] in keep}
    team_of = {slo: p.get("team") for slo, p in priority.items()}
    teams = {t for t in team_of.values() if t}
    return {"release": release, "priority": priority, "team_of": team_of,
            "priorities": [p for p in priority.values() if p.get("rank") is not None],
            "toil": [dict(t) for t in toil if t["team"] in teams]}


ORDER = ("approve", "review", "defer", "block")  # from the most lenient to the strictest


def by_service(rows: Sequence[Mapping[str, Any]], release: Mapping[str, Mapping[str, Any]]
               ) -> dict[str, list[dict[str, Any]]]:
    """Per service, one release decision per risk: a service ships as a whole, so the
    strictest decision of its SLOs holds, named with the SLOs that set it and the reason and
    conditions of the first of them. A service none of whose SLOs has reasons (a month
    computed before them) has no entry."""
    out: dict[str, list[dict[str, Any]]] = {}
    for service in dict.fromkeys(r["service"] for r in rows):
        mine = [(r["slo"], release[r["slo"]]) for r in rows
                if r["service"] == service and r["slo"] in release]
        if not mine:
            continue
        for risk in ("low", "medium", "high"):
            ds = [(slo, d[risk]) for slo, d in mine if risk in d]
            worst = max((d["decision"] for _, d in ds), key=ORDER.index)
            by = [(slo, d) for slo, d in ds if d["decision"] == worst]
            first = by[0][1]
            out.setdefault(service, []).append({
                "risk": risk, "decision": worst, "slos": [slo for slo, _ in by],
                # the status and the spend behind it; the policy cell is the decision itself
                "reason": str(first["rationale"]).split("; policy for")[0],
                "conditions": list(first["conditions"]),
                "alternatives": list(first["alternatives"]), "estimated": first["estimated"]})
        # Said once under the table, not in every row: conditions every risk shares.
        risks = out[service]
        common = [c for c in risks[0]["conditions"] if all(c in r["conditions"] for r in risks)]
        for r in risks:
            r["common"] = common
            r["conditions"] = [c for c in r["conditions"] if c not in common]
    return out


def json_extras(slo: str, view: Mapping[str, Any]) -> dict[str, Any]:
    """The fields summary.json gains per SLO (null for a month computed without them)."""
    p = view["priority"].get(slo)
    team = view["team_of"].get(slo)
    toil = next((t for t in view["toil"] if t["team"] == team), None)
    return {"team": team, "tier": None if p is None else p["tier"],
            "release": view["release"].get(slo),
            "priority": None if p is None else {k: p.get(k) for k in PRIORITY_KEYS},
            "toil": None if toil is None else {k: toil.get(k) for k in TOIL_KEYS}}
