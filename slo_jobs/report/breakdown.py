"""The report's "Budget spent by" part of an SLO with ``spec.breakdown``: its label values
ranked by the bad events they account for (``breakdown.parquet`` of the month), as a table,
a bar chart of the budget each spent, and the same figures in summary.json."""

from __future__ import annotations

from typing import Any

from . import charts

SHOWN = 10  # groups in the report's table and chart; summary.json has them all
GROUP_KEYS = ("rank", "values", "group", "bad", "total", "sli", "bad_share", "budget_share")


def view(row: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the template shows for one SLO; None without breakdown rows."""
    if not groups:
        return None
    attributed = sum(g["bad"] for g in groups)
    shown = groups[:SHOWN]
    chart = charts.bar_chart(
        f"Error budget spent by {', '.join(groups[0]['labels'])}",
        [(g["group"], g["budget_share"] or 0.0) for g in shown if g["bad"] > 0],
        charts.Ref("whole budget", 1.0)) if attributed > 0 and row.get("allowed_bad") else None
    return {"labels": groups[0]["labels"], "groups": shown,
            "more": len(groups) - len(shown), "count": len(groups),
            "attributed_bad": attributed, "month_bad": row.get("bad"),
            "days": groups[0]["days"], "days_missing": groups[0]["days_missing"],
            "chart": chart}


def json_extra(groups: list[dict[str, Any]] | None) -> dict[str, Any]:
    """summary.json's ``breakdown`` of one SLO: null without one, else its labels, every
    group (largest spender first) and the days of the month it covers."""
    if not groups:
        return {"breakdown": None}
    return {"breakdown": {
        "labels": groups[0]["labels"], "days": groups[0]["days"],
        "days_missing": groups[0]["days_missing"],
        "groups": [{k: g[k] for k in GROUP_KEYS} for g in groups]}}
