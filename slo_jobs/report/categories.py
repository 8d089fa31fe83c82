"""The report's "Bad events by category" part of an SLO with ``spec.errorCategories``:
each category's share of the month's bad events and of each incident's
(``categories.parquet`` of the month), in the HTML, summary.json, summary.csv and
incidents.csv.

A share is the category's bad events over the span's bad events. Categories are selectors
and may overlap, so the named shares can add up to more than the categorised part; the
``overlap`` says by how many events (those counted by more than one category, once for
each extra one). ``uncategorised`` counts each bad event no category counts once.
"""

from __future__ import annotations

from typing import Any


def _whole(value: float) -> float | int:
    """A count as an integer when it is one, as summary.json's other counts."""
    return int(value) if float(value).is_integer() else value


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One span's rows (named categories in spec order, then uncategorised) as shown."""
    shares = [{"category": r["category"], "events": _whole(r["events"]), "share": r["share"]}
              for r in rows]
    bad = rows[0]["bad"]
    overlap = sum(r["events"] for r in rows[:-1]) - (bad - rows[-1]["events"])
    return {"bad": _whole(bad), "overlap": _whole(overlap), "shares": shares}


def attach(row: dict[str, Any], incidents: list[dict[str, Any]],
           rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``incidents`` (the SLO's, as read), each with its ``error_categories`` (None without
    rows for it); sets the summary ``row``'s ``error_categories`` (None without categories:
    the SLO has none, or the month was computed before they existed)."""
    spans: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for r in rows:
        spans.setdefault((r["start"], r["severity"]), []).append(r)
    month = next((v for v in spans.values() if v[0]["span"] == "month"), None)
    row["error_categories"] = None if month is None else {
        "categories": [r["category"] for r in month[:-1]], "days": month[0]["days"],
        "days_missing": month[0]["days_missing"], **_figures(month)}
    for i in incidents:
        found = spans.get((i["start"], i["severity"])) if month is not None else None
        i["error_categories"] = None if found is None else _figures(found)
    return incidents


def cell(value: dict[str, Any]) -> str:
    """An ``error_categories`` value in one CSV cell: ``server=0.625;uncategorised=0.375``
    (a share left empty when the span had no bad events)."""
    return ";".join(f"{s['category']}=" + ("" if s["share"] is None else f"{s['share']:.6g}")
                    for s in value["shares"])
