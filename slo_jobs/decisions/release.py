"""Release decisions explained: for one SLO and one change risk, why the decision is what it
is, the conditions it comes with and what else a team can do.

The decision itself is ``sql/release_decision.sql`` (status x risk, docs/slo-math.md);
``MATRIX`` is the same table (the default policy, ``policy.py``), used here to say which
status would change the answer; a team's own policy is passed in instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..core.verdict import UNJUDGED as UNJUDGED  # also read here by the weekly review

RISKS = ("low", "medium", "high")
# From the best status to the worst.
STATUSES = ("healthy", "attention", "warning", "critical", "exhausted")
Matrix = Mapping[str, Mapping[str, str]]
MATRIX: dict[str, dict[str, str]] = {
    "healthy": {"low": "approve", "medium": "approve", "high": "review"},
    "attention": {"low": "approve", "medium": "review", "high": "defer"},
    "warning": {"low": "review", "medium": "defer", "high": "block"},
    "critical": {"low": "defer", "medium": "block", "high": "block"},
    "exhausted": {"low": "block", "medium": "block", "high": "block"},
}
# The highest even-spend burn (consumed / elapsed) of each status: docs/slo-math.md.
STATUS_BURN = {"healthy": 1.0, "attention": 1.5, "warning": 2.0}


def _when(row: Mapping[str, Any]) -> str:
    end = row.get("period_end")
    return f"{end:%Y-%m-%d %H:%M} UTC" if isinstance(end, datetime) else "the next period"


def _best_for(risk: str, decisions: tuple[str, ...], matrix: Matrix = MATRIX) -> str | None:
    """The worst status at which a change of ``risk`` still gets one of ``decisions``."""
    ok = [s for s in STATUSES if matrix[s][risk] in decisions]
    return ok[-1] if ok else None


def rationale(row: Mapping[str, Any], risk: str, decision: str) -> str:
    status = row["status"]
    if status == "too few events":
        n, so_far = row.get("total") or 0, " so far" if row.get("estimated") else ""
        return (f"too few events: {n:.0f} in the window{so_far}, where one "
                f"bad event spends the whole budget (the rule needs more than "
                f"{(row.get('min_events') or 1) - 1:.0f}); not judged, so a {risk}-risk change "
                f"gets a {decision}, never a block")
    if status in UNJUDGED:
        coverage = row.get("coverage") or 0.0
        return (f"{status}: {coverage * 100:.1f} % of the buckets had data, below the "
                f"{(row.get('min_coverage') or 0) * 100:.0f} % needed to judge the SLO; "
                f"nobody can vouch for the service, so a {risk}-risk change gets a "
                f"{decision}, never an approval")
    spent = (row.get("budget_consumed") or 0.0) * 100
    burn = row.get("budget_consumed_to_date")
    # A period still running: the spend so far, projected; an estimate until it closes.
    to_date = " to date (estimate: the period is still running)" if row.get("estimated") \
        else ""
    text = f"{status}: {spent:.0f} % of the error budget spent{to_date}"
    if burn is not None and status != "exhausted":
        text += f", {burn:.2f}x an even spend"
    return text + f"; policy for {status} and {risk} risk: {decision}"


def conditions(row: Mapping[str, Any], risk: str, decision: str, owner: str | None,
               matrix: Matrix = MATRIX) -> list[str]:
    who = f"team {owner}" if owner else "the SLO owner"
    burn = row.get("budget_consumed_to_date")
    if row["status"] == "too few events":
        return [f"Sign-off by {who}.", "A tested rollback."]
    if row["status"] in UNJUDGED:
        return [f"Sign-off by {who}, with the SLI data restored or checked by hand first.",
                "A tested rollback."]
    if decision == "approve":
        out = ["Ship with the usual canary and a tested rollback."]
        if burn is not None:
            out.append(f"Stop and review if the even-spend burn rises above 1 "
                       f"(now {burn:.2f}).")
        return out
    if decision == "review":
        return [f"Sign-off by {who} before shipping.",
                "A canary watched over the page windows (1 h and 6 h) and a tested rollback."]
    target = _best_for(risk, ("approve", "review"), matrix)
    limit = STATUS_BURN.get(target or "", None)
    back = "the budget recovers" if target is None else f"the status is back to {target}" \
        + (" or better" if target != "healthy" else "")
    if limit is not None:
        back += f" (even-spend burn at most {limit:g})"
    # The budget's reset is a date ahead only while the period runs: a closed period's
    # report names none.
    reset = f", or after the budget resets at {_when(row)}" if row.get("estimated") else ""
    if decision == "defer":
        return [f"Ship once {back}{reset}."]
    return ["Only rollbacks and reliability fixes ship until the budget recovers.",
            f"A {risk}-risk change waits until {back}{reset.replace('after', 'until')}."]


def alternatives(row: Mapping[str, Any], risk: str, decision: str,
                 matrix: Matrix = MATRIX) -> list[str]:
    if decision == "approve":
        return []
    out = []
    lower = [r for r in RISKS[:RISKS.index(risk)]
             if row["status"] in matrix and matrix[row["status"]][r] == "approve"]
    if lower:
        out.append(f"Split the change into {lower[-1]}-risk steps, which are approved now.")
    out.append("Ship the code dark behind a feature flag and enable it later.")
    if decision in ("defer", "block"):
        out.append("Spend the time on the reliability work behind the burn (see the "
                   "reliability priorities).")
        if row.get("estimated"):
            out.append(f"Wait for the new budget at {_when(row)}.")
    return out


def explain(row: Mapping[str, Any], risk: str, decision: str, owner: str | None = None,
            matrix: Matrix = MATRIX) -> dict[str, Any]:
    """``rationale``, ``conditions`` and ``alternatives`` of one SLO's decision at ``risk``
    under the release policy ``matrix`` (status -> risk -> decision)."""
    return {"estimated": bool(row.get("estimated")),
            "rationale": rationale(row, risk, decision),
            "conditions": conditions(row, risk, decision, owner, matrix),
            "alternatives": alternatives(row, risk, decision, matrix)}
