"""What the report says in words and numbers: the formats of its figures and the
recommendations of each SLO. No I/O; ``report.py`` assembles the pages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core import verdict
from ..core.periods import DAY_S, HOUR_S

POSTMORTEM_SHARE = 0.20  # an incident above 20 % of the budget gets a postmortem

def pct(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:.{digits}f} %"


def num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if digits == 0 and 0 < abs(value) < 10 and value != round(value):
        digits = 1  # 0.1 allowed bad events is not "0"
    return f"{value:,.{digits}f}"


# Event counts are whole numbers; the compute stage hands them over as doubles.
COUNT_FIELDS = ("good", "total", "bad", "allowed_bad", "budget_remaining_events", "buckets",
                "expected_buckets", "clipped_rows", "no_data_slices", "incidents", "pages",
                "tickets", "duration_minutes")


def whole(field: str, value: Any) -> Any:
    """A count as an integer when it is one (43039000, not 43039000.0), in JSON and CSV
    alike; a fractional count (an allowance, a clipped or ratio count) stays as it is."""
    if field in COUNT_FIELDS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def allowed(row: Mapping[str, Any]) -> str:
    """``of 38,880 events``; under one event allowed, ``allowed: less than one event
    (0.1)``: "of 0.1 events" reads as a typo."""
    value, unit = row.get("allowed_bad"), str(row.get("unit") or "events")
    if value is not None and value < 1:
        return f"allowed: less than one {unit.removesuffix('s')} ({num(value)})"
    return f"of {num(value)} {unit}"


def signed_pp(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:+.3f} pp"


def duration(seconds: float | None) -> str:
    """``8 h 41 min``, ``20 min``, ``45 s``: how late, how old."""
    if seconds is None:
        return "n/a"
    s = int(round(seconds))
    d, rest = divmod(s, DAY_S)
    h, rest = divmod(rest, HOUR_S)
    m, sec = divmod(rest, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else "",
             f"{sec} s" if sec and not (d or h) else ""]
    return " ".join(p for p in parts if p) or "0 s"


def ts(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if t else "n/a"


def iso(t: datetime) -> str:
    """ISO 8601 in UTC with a Z, as spreadsheets and ``date -d`` read it."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_date(row: Mapping[str, Any], window: bool = False) -> str:
    """How a period still running stands, e.g. ``to date: at risk, budget projected to run
    out 2026-09-20 04:00 UTC; ends 2026-09-30 18:15 UTC``; "" for a closed period (met or
    missed). ``window``: the SLO's own window (the ``window_*`` fields) instead of its month."""
    p = "window_" if window else ""
    if not row.get(p + "estimated"):
        return ""
    # judged_end: the window the row is judged on (verdict.judged), else its month
    end = row.get("window_end") if window else row.get("judged_end") or row.get("period_end")
    outlook = row.get(p + "outlook")
    text = f"to date: {outlook}" if outlook else "to date: not judged"
    out_at = None if window else row.get("exhaustion_at")
    if outlook == "at risk" and out_at is not None and end is not None and out_at < end:
        text += f", budget projected to run out {ts(out_at)} UTC"
    return text + (f"; ends {ts(end)} UTC" if end is not None else "")


def service_sentence(service: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The executive summary's line for one service. A period still running counts neither
    as met nor as missed: its SLOs are counted apart, as they stand to date."""
    missed = [r for r in rows if r["met"] is False]
    nodata = [r for r in rows if r["status"] == "no data"]
    thin = [r for r in rows if r["status"] == "insufficient data"]
    few = [r for r in rows if r["status"] == "too few events"]
    running = [r for r in rows if r.get("outlook")]
    judged = len(rows) - len(nodata) - len(thin) - len(few) - len(running)
    pages = sum(r["pages"] for r in rows)
    tickets = sum(r["tickets"] for r in rows)
    if missed:
        worst = min(missed, key=lambda r: r["budget_remaining"])
        text = (f"{service} missed {len(missed)} of {judged} SLOs; {worst['slo']} spent "
                f"{worst['budget_consumed'] * 100:.0f} % of its error budget")
    elif judged:
        low = min((r for r in rows if r["budget_remaining"] is not None
                   and r["met"] is not None), key=lambda r: r["budget_remaining"], default=None)
        text = f"{service} met all {judged} SLOs with enough data"
        if low is not None:
            text += f"; the tightest, {low['slo']}, has {low['budget_remaining'] * 100:.0f} % " \
                    "of its budget left"
    else:
        text = service
    if running:
        behind = [r for r in running if r["outlook"] != "on track"]
        ends = max(r.get("judged_end") or r["period_end"] for r in running)
        text += (f"{';' if judged or missed else ':'} {len(running)} SLO"
                 f"{'s' * (len(running) != 1)} still running, to date (ends {ts(ends)} UTC): "
                 f"{len(running) - len(behind)} on track, {len(behind)} at risk or exhausted")
    if not (judged or missed or running):
        text += ":"  # nothing judged: what follows says why
    if nodata:
        text += f"; {len(nodata)} without data"
    if thin:
        text += f"; {len(thin)} with insufficient data (not judged)"
    if few:
        text += f"; {len(few)} with too few events to judge"
    # Burn-rate conditions found in the history: what would have paged, not pages sent.
    if not pages and not tickets:
        return text.replace(":;", ":", 1) + "; no burn-rate alert would have fired."
    return text.replace(":;", ":", 1) + \
        f"; its burn-rate alerts would have paged {pages} time{'s' * (pages != 1)} " \
        f"and opened {tickets} ticket{'s' * (tickets != 1)}."


def recommendations(row: dict[str, Any], incidents: Sequence[dict[str, Any]]) -> list[str]:
    """What to do, following from the numbers (docs/slo-math.md)."""
    out = []
    status = row["status"]
    if status == "no data":
        out.append("No data for this period: check the SLI queries and that the source still "
                   "holds the period (retention).")
        return out
    if status == "insufficient data":
        out.append(f"Insufficient data: {row['coverage'] * 100:.1f} % of the buckets had data, "
                   f"below the {row['min_coverage'] * 100:.0f} % this SLO needs to be judged; "
                   "neither met nor missed, and no release is approved on it. Check scraping "
                   "and retention, then extract the missing days again.")
    if status == "too few events":
        # One bad event would spend the whole budget: no freeze, no postmortem on it.
        unit = (row.get("unit") or "events")[:-1 if row["total"] == 1 else None]
        out.append(f"Too few events to judge: {row['total']:.0f} {unit}"
                   f"{' so far' if row.get('estimated') else ''}, where one bad one spends "
                   "the whole budget. Add synthetic traffic, combine it with a sibling SLO, "
                   "lengthen its window or lower its target; or accept that one failure "
                   "exhausts the budget with spec.judgeFewEvents.")
        return out
    if status == "exhausted":
        out.append("Error budget exhausted: freeze high-risk releases; ship reliability fixes "
                   "first until the budget recovers.")
    elif status in ("critical", "warning"):
        out.append("Budget is burning faster than an even spend: review every release and "
                   "prioritise the reliability work behind the burn.")
    elif status == "attention":
        out.append("Budget spending slightly above even: watch the burn rate before risky "
                   "changes.")
    pages = [i for i in incidents if i.get("severity", "page") == "page"]
    for i in incidents:
        # A ticket overlapping a page is the same event seen over longer windows: one
        # postmortem, named by the page.
        overlaps = i.get("severity") == "ticket" and any(
            p["start"] < i["end"] and i["start"] < p["end"] for p in pages)
        if (i["budget_share"] or 0) > POSTMORTEM_SHARE and not overlaps:
            out.append(f"Postmortem for the incident starting {i['start']:%Y-%m-%d %H:%M} UTC: "
                       f"it consumed {i['budget_share'] * 100:.0f} % of the budget.")
    if row["coverage"] < 1 and status != "insufficient data":
        out.append(f"Data gaps: only {row['coverage'] * 100:.1f} % of the buckets had data; "
                   "the figures cover those buckets only. Check scraping and retention.")
    if row["clipped_rows"]:
        out.append(f"{row['clipped_rows']} buckets reported more good than total events and were "
                   "clipped: check that the good and total queries select the same traffic.")
    if status == "healthy" and (row["budget_remaining"] or 0) > 0.5 and not out:
        out.append("Budget healthy: there is room for planned risk (experiments, migrations).")
    elif not out:
        # Never an empty list under "What to do": say that nothing is needed, and why.
        out.append("No action needed: the budget is spent no faster than evenly; keep the "
                   "current release pace.")
    return out


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A short plain-text table of the month's SLOs for terminals and logs, each judged on its
    own window (named in the window column; the calendar month's status beside it when it
    differs). A window still running says so on its row ("to date", how it stands, when it
    ends) and above the table (the as-of): it is neither met nor missed until it ends."""
    # The names column fits the longest name (an objective's SLO name is its SLO's and more).
    w = max([28, *(len(r["slo"]) for r in rows)])
    head = (f"{'SLO':<{w}} {'window':<24} {'target':>8} {'SLI':>10} {'budget left':>12} "
            f"{'coverage':>9}  status")
    lines = [head, "-" * len(head)]
    rows = [verdict.judged(r) for r in rows]
    running = [r["as_of"] for r in rows if r.get("estimated") and r.get("as_of")]
    if running:
        lines.insert(0, f"figures to date at {ts(max(running))} UTC: a period "
                     "still running is neither met nor missed until it ends")
    for r in rows:
        sli = "n/a" if r["sli"] is None else f"{r['sli'] * 100:.4f}%"
        rem = "n/a" if r["budget_remaining"] is None else f"{r['budget_remaining'] * 100:.1f}%"
        now = to_date(r)
        month = f"; month {r['period']}: {r['month_status']}" if r["own_window"] else ""
        lines.append(f"{r['slo']:<{w}} {r['window'] or 'n/a':<24} {r['target'] * 100:>7.2f}% "
                     f"{sli:>10} {rem:>12} {r['coverage'] * 100:>8.1f}%  {r['status']}"
                     + (f", {now}" if now else "") + month)
    approximate = [f"{r['slo']}" + ("" if r.get("sli_error_bound") is None else
                                     f" ±{r['sli_error_bound'] * 100:.2g} pp")
                   for r in rows if r.get("approximate")]
    if approximate:
        lines.append("approximate SLI (read from a PromQL expression; counts up to "
                     f"{max(r['count_error_bound'] for r in rows if r.get('approximate')) * 100:g}"
                     " % low): " + ", ".join(approximate))
    return "\n".join(lines)


def rollup_table(groups: Sequence[dict[str, Any]]) -> str:
    """The roll-up's organisation and teams as plain text: SLOs, met of those judged, the
    share met and the mean budget spent (docs/slo-math.md, "Roll-ups")."""
    head = (f"{'team':<24} {'SLOs':>5} {'met':>4} {'missed':>7} {'share met':>10} "
            f"{'budget spent':>13}")
    lines = [head, "-" * len(head)]
    if any(g["estimated"] for g in groups):
        lines.insert(0, "figures to date: a period still running is neither met nor missed "
                     "until it ends")
    for g in groups:
        name = "organisation" if g["scope"] == "organisation" else g["name"]
        lines.append(f"{name:<24} {g['slos']:>5} {g['met']:>4} {g['missed']:>7} "
                     f"{pct(g['share_met'], 1):>10} {pct(g['budget_consumed'], 1):>13}"
                     + (f"  not judged: {g['unjudged']}" if g["unjudged"] else ""))
    return "\n".join(lines)
