"""Reliability work ranked from the SLO gaps: budget overspend x tier weight x trend.

- overspend: budget consumed beyond an even spend at the as-of, ``max(0, C - elapsed)``
  (at a period's end, the consumption above 100 %);
- tier weight: ``TIER_WEIGHTS`` (an SLO without a tier label counts as standard);
- trend: this month's even-spend burn over the mean of the two months before, kept within
  [0.5, 2]; 1 without history, 2 when the months before spent nothing and this one did.

Only SLOs with a positive score get a rank; SLOs not judged (no or insufficient data) none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.verdict import UNJUDGED

TIER_WEIGHTS = {"critical": 4.0, "essential": 3.0, "standard": 2.0, "best_effort": 1.0}
DEFAULT_TIER = "standard"
TREND_RANGE = (0.5, 2.0)
# A period still running is scored on its spend so far: an estimate until it closes.
TO_DATE = " to date (estimate: the period is still running)"


def tier_of(label: str | None) -> str:
    """The tier label as a key of TIER_WEIGHTS (``best-effort`` as typed, case-blind)."""
    key = (label or "").strip().lower().replace("-", "_")
    return key if key in TIER_WEIGHTS else DEFAULT_TIER


def elapsed(row: Mapping[str, Any]) -> float:
    """The elapsed fraction of the row's period at its as-of (1 at the period's end)."""
    start, end, at = row.get("period_start"), row.get("period_end"), row.get("as_of")
    if start is None or end is None or at is None or end <= start:
        return 1.0
    fraction: float = (at - start) / (end - start)
    return min(1.0, max(0.0, fraction))


def trend(burn: float, history: Sequence[float]) -> float:
    if not history:
        return 1.0
    before = sum(history) / len(history)
    if before <= 0:
        return TREND_RANGE[1] if burn > 0 else 1.0
    return min(TREND_RANGE[1], max(TREND_RANGE[0], burn / before))


def _actions(row: Mapping[str, Any], incidents: Sequence[Mapping[str, Any]]) -> list[str]:
    consumed = row.get("budget_consumed") or 0.0
    pages = sorted((i for i in incidents if i.get("severity") == "page"),
                   key=lambda i: -(i.get("budget_share") or 0.0))
    if pages and (pages[0].get("budget_share") or 0.0) >= 0.5 * consumed:
        top = pages[0]
        return [f"Fix the cause of the incident starting {top['start']:%Y-%m-%d %H:%M} UTC: "
                f"it spent {(top['budget_share'] or 0) * 100:.0f} % of the budget."]
    paged = sum(i.get("budget_share") or 0.0 for i in pages)
    out = [f"Lower the steady error rate: incidents explain {paged * 100:.0f} % of the "
           f"{consumed * 100:.0f} % spent."]
    if pages:
        out.append(f"Review the {len(pages)} page incident{'s' * (len(pages) != 1)} of "
                   "the month.")
    return out


def rank(rows: Sequence[Mapping[str, Any]], tiers: Mapping[str, str | None],
         history: Mapping[str, Sequence[float]],
         incidents: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per SLO, highest score first; ``history`` maps an SLO to the even-spend
    burns of the months before, ``tiers`` to its tier label."""
    out = []
    for r in rows:
        tier = tier_of(tiers.get(r["slo"]))
        judged = r["status"] not in UNJUDGED and r.get("budget_consumed") is not None
        consumed = r.get("budget_consumed") or 0.0
        burn = r.get("budget_consumed_to_date") or 0.0
        over = max(0.0, consumed - elapsed(r)) if judged else 0.0
        factor = trend(burn, history.get(r["slo"], ())) if judged else 1.0
        score = over * TIER_WEIGHTS[tier] * factor
        out.append({
            "slo": r["slo"], "service": r["service"], "tier": tier,
            "tier_weight": TIER_WEIGHTS[tier], "overspend": over, "trend": factor,
            "score": score, "rank": None, "estimated": bool(r.get("estimated")),
            "issue": f"{r['slo']} spent {consumed * 100:.0f} % of its error budget"
                     f"{TO_DATE if r.get('estimated') else ''}, {burn:.2f}x an even spend"
                     if judged else
                     f"{r['slo']}: {r['status']}, not judged",
            "actions": _actions(r, incidents.get(r["slo"], ())) if score > 0 else []})
    out.sort(key=lambda p: (-p["score"], p["slo"]))
    for i, p in enumerate(q for q in out if q["score"] > 0):
        p["rank"] = i + 1
    return out
