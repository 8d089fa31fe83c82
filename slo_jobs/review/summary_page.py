"""The month on one page for stakeholders: how many SLOs were met, each service's colour
and what it means for releases, the top reliability priorities and each team's toil budget.

Reads only the compute stage's tables of the month (like the report).
"""

from __future__ import annotations

from typing import Any

from .. import compute
from ..core import verdict
from ..core.periods import Period
from ..decisions import release
from ..lake import LakeDir
from .weekly import RED, YELLOW

TOP = 3  # priorities on the page
ORDER = ("approve", "review", "defer", "block")



def _service(name: str, rows: list[dict[str, Any]],
             decisions: dict[str, dict[str, str]]) -> dict[str, Any]:
    color = "red" if any(r["status"] in RED for r in rows) else \
        "yellow" if any(r["status"] in YELLOW for r in rows) else "green"
    # The strictest decision over the service's SLOs: one SLO blocking blocks the service.
    stance = {risk: max((decisions.get(r["slo"], {}).get(risk, "review") for r in rows),
                        key=ORDER.index) for risk in release.RISKS}
    missed = [r["slo"] for r in rows if r["met"] is False]
    # A period still running (an outlook to date) is neither met nor missed, yet judged.
    unjudged = [r["slo"] for r in rows if r["met"] is None and not r.get("outlook")]
    tightest = min((r for r in rows if r["met"] is not None or r.get("outlook")),
                   key=lambda r: r["budget_remaining"], default=None)
    return {"service": name, "color": color, "slos": len(rows), "missed": missed,
            "unjudged": unjudged, "stance": stance, "tightest": tightest}


def build(lake_dir: LakeDir, period: Period) -> dict[str, Any]:
    # Each SLO judged on its own window (a quarter, a rolling 28 days), as in the report.
    rows = [verdict.judged(r) for r in compute.read_summary(lake_dir, period)]
    decisions: dict[str, dict[str, str]] = {}
    for d in compute.read_table(lake_dir, period.label, "decisions", missing_ok=True):
        decisions.setdefault(d["slo"], {})[d["risk"]] = d["decision"]
    services = sorted({r["service"] for r in rows})
    incidents = compute.read_table(lake_dir, period.label, "incidents", missing_ok=True)
    ranked = [p for p in compute.read_table(lake_dir, period.label, "priorities",
                                            missing_ok=True) if p.get("rank")]
    return {
        "period": period, "slos": len(rows),
        "met": sum(1 for r in rows if r["met"]), "missed": sum(1 for r in rows
                                                             if r["met"] is False),
        "unjudged": sum(1 for r in rows if r["met"] is None and not r.get("outlook")),
        "running": sum(1 for r in rows if r.get("outlook")),
        "on_track": sum(1 for r in rows if r.get("outlook") == "on track"),
        "pages": sum(1 for i in incidents if i["severity"] == "page"),
        "as_of": max((r["as_of"] for r in rows), default=period.end),
        "estimated": any(r.get("estimated") for r in rows),
        "services": [_service(s, [r for r in rows if r["service"] == s], decisions)
                     for s in services],
        "priorities": sorted(ranked, key=lambda p: p["rank"])[:TOP],
        "toil": compute.read_table(lake_dir, period.label, "toil", missing_ok=True),
    }
