"""The report's "Latency percentiles" part of a latency SLO that keeps its histogram buckets:
p50, p95 and p99 per day and for the month (``percentiles.parquet``), on a chart with the
threshold drawn, and the same figures in summary.json and summary.csv."""

from __future__ import annotations

from datetime import date
from typing import Any

from . import charts

FIGURES = ("observations", "p50", "p95", "p99", "at_or_under")
# summary.csv and summary.json: the month's percentiles, in seconds.
CSV_FIELDS = ("latency_p50", "latency_p95", "latency_p99")


def split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """An SLO's rows of ``percentiles.parquet`` as its days (in order) and its month."""
    days = sorted((r for r in rows if r["day"] is not None), key=lambda r: r["day"])
    month = next((r for r in rows if r["day"] is None), None)
    return days, month


def view(rows: list[dict[str, Any]], daily: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the template shows for one SLO; None when it keeps no buckets. ``daily``: the
    rows of its daily SLI chart, whose days this chart's x axis shares."""
    days, month = split(rows)
    if month is None:
        return None
    threshold = month["threshold"]
    axis: list[date] = [d["day"] for d in daily] or [d["day"] for d in days]
    n = len(axis) or 1
    at = {d: (i + 0.5) / n for i, d in enumerate(axis)}
    series = [charts.Series(name, [(at[d["day"]], d[name]) for d in days if d["day"] in at])
              for name in ("p50", "p95", "p99")]
    drawn = any(y is not None for s in series for _, y in s.points)
    chart = charts.line_chart(
        "Latency percentiles per day (seconds)", series,
        [charts.Ref(f"threshold {threshold:g} s", threshold)], y_label="seconds",
        x_labels=charts.day_axis(axis), y_min=0.0) if drawn else None
    target = month["percentile"]
    return {"month": month, "days": days, "chart": chart, "threshold": threshold,
            "percentile": target, "objective": None if target is None else
            f"p{target * 100:g} at or under {threshold:g} s in each time slice",
            "bounds": month["bounds"], "days_missing": month["days_missing"],
            "total_days": month["days"]}


def json_extra(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json's ``latency_p50/p95/p99`` (the month's, seconds; null without kept
    buckets) and ``percentiles``: the threshold, the bounds, the month and each day."""
    days, month = split(rows)
    if month is None:
        return {**dict.fromkeys(CSV_FIELDS), "percentiles": None}
    return {"latency_p50": month["p50"], "latency_p95": month["p95"],
            "latency_p99": month["p99"], "percentiles": {
                "threshold": month["threshold"], "percentile": month["percentile"],
                "bounds": month["bounds"], "days_missing": month["days_missing"],
                "month": {k: month[k] for k in FIGURES},
                "days": [{"day": d["day"].isoformat(), **{k: d[k] for k in FIGURES}}
                         for d in days]}}
