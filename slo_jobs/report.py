"""Report stage: the month as HTML and PDF (same content), plus JSON and CSV exports.

Reads only the compute stage's outputs in the lake (summary, decisions, daily, incidents,
burn of the month, and the summaries of earlier months for trends), so a report can be
rendered again at any time without Prometheus.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from . import __version__, atomicio, charts, compute, gaps, lake, redaction, resources
from . import report_breakdown as attribution
from .burnrate import CONDITIONS, SHORT_WINDOW_DIVISOR, alert_factor
from .decisions import view as decision_view
from .errors import SloJobsError
from .lake import LakeDir
from .periods import Period, month, previous
from .report_text import (
    duration,
    iso,
    num,
    pct,
    recommendations,
    signed_pp,
    ts,
)

JSON_FIELDS = ("period", "slo", "service", "method", "unit", "target", "good", "total", "bad",
               "sli", "allowed_bad", "budget_consumed", "budget_remaining",
               "budget_remaining_events", "budget_minutes", "budget_remaining_minutes",
               "status", "met", "coverage", "buckets", "expected_buckets", "clipped_rows",
               "no_data_slices", "estimated", "exhaustion", "exhaustion_days", "incidents",
               "pages", "tickets", "min_coverage",
               "release_low", "release_medium", "release_high", "spec_hash", "time_zone",
               "as_of", "window_label", "window_sli", "window_budget_consumed",
               "window_budget_remaining", "window_status", "window_met", "window_estimated",
               "phase", "next_phase", "next_phase_target", "next_phase_start", "next_phase_met",
               "excluded_minutes", "counted_good_minutes", "maintenance_changed", "first_sli",
               "first_budget_remaining", "first_status", "first_excluded_minutes")
INCIDENT_FIELDS = ("period", "slo", "service", "start", "end", "duration_minutes", "severity",
                   "peak_burn_1h", "bad", "budget_share")
FORMATS = ("html", "pdf", "json", "csv")
# Event counts are whole numbers; the compute stage hands them over as doubles.
COUNT_FIELDS = ("good", "total", "bad", "allowed_bad", "budget_remaining_events", "buckets",
                "expected_buckets", "clipped_rows", "no_data_slices", "incidents", "pages",
                "tickets", "duration_minutes")
GAPS_SHOWN = 8  # per SLO in the data-quality section; the rest are counted
# Statuses that are not "at risk": healthy, or not judged at all (too little data).
JUDGED_OK = ("healthy", "no data", "insufficient data")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path
    json: Path
    csv: Path
    incidents_csv: Path
    index: Path


class _NoFetch(URLFetcher):  # type: ignore[misc]
    """Only inline ``data:`` URLs: content must never make the renderer read files or the net."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:"):
            raise ValueError(f"external resource refused: {url[:80]}")
        return super().fetch(url, headers)



def _pipelines(lake_dir: LakeDir, label: str, rows: Sequence[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """Per pipeline (service): its SLOs with the summary row, late runs and worst hours."""
    keep = {r["slo"]: r for r in rows}
    late = _read(lake_dir, label, "pipeline_late_runs")
    hours = _read(lake_dir, label, "pipeline_hours")
    out: dict[str, dict[str, Any]] = {}
    for p in _read(lake_dir, label, "pipelines"):
        if p["slo"] not in keep:
            continue
        view = out.setdefault(p["service"], {"service": p["service"], "slos": [],
                                             "late_runs": [], "worst_hours": []})
        view["slos"].append({**p, "row": keep[p["slo"]]})
        view["late_runs"] += [r for r in late if r["slo"] == p["slo"]]
        view["worst_hours"] += [h for h in hours if h["slo"] == p["slo"]]
    return list(out.values())


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        autoescape=True,  # every name, description and label is user input
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, num=num, pp=signed_pp, dur=duration, ts=ts)
    return env


def template_env() -> jinja2.Environment:
    """The templates of ``reports/`` with the report's filters (autoescaped, strict)."""
    return _env()


def write_published(path: Path, text: str) -> None:
    """Write a published text file with known secrets masked."""
    _write_text(path, text)


def _write_text(path: Path, text: str) -> None:
    # Known secrets never reach a published file, whatever path they took into the text.
    atomicio.write_text(path, redaction.redact(text))


def _read(lake_dir: LakeDir, label: str, name: str) -> list[dict[str, Any]]:
    path = lake.monthly_partition(lake_dir, label).parent / f"{name}.parquet"
    return compute.read_table(lake_dir, label, name) if lake.exists(path) else []


def _window(seconds: int) -> str:
    """``3600`` -> ``1 h``, ``300`` -> ``5 min``, ``259200`` -> ``3 d``."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def alert_conditions(row: dict[str, Any], period: Period) -> list[dict[str, Any]]:
    """The SLO's burn-rate alert conditions as the compute judged its incidents by (its own
    period and alerting.burnRates overrides); the four defaults over ``period`` for a
    summary computed before the conditions were stored."""
    conds = row.get("alert_conditions") or [
        {"severity": "page" if name.startswith("thr_page") else "ticket", "long_s": long_s,
         "short_s": long_s // SHORT_WINDOW_DIVISOR,
         "factor": alert_factor(share, period.seconds, long_s)}
        for name, (share, long_s) in CONDITIONS.items()]
    return [{**c, "label": f"{c['severity']} {_window(int(c['long_s']))} & "
                           f"{_window(int(c['short_s']))}"} for c in conds]


def _slo_view(row: dict[str, Any], period: Period, daily: list[dict[str, Any]],
              burn: list[dict[str, Any]], incidents: list[dict[str, Any]],
              decisions: dict[str, str], trend: list[dict[str, Any]],
              breakdown: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    days = [d["day"] for d in daily]
    n = len(days) or 1
    bands = [(charts.position(w["start"], row["period_start"], row["period_end"]),
              charts.position(w["end"], row["period_start"], row["period_end"]))
             for w in row.get("maintenance_windows") or []]
    sli_pts = [((i + 0.5) / n, d["sli"]) for i, d in enumerate(daily)]
    vals = [v for _, v in sli_pts if v is not None]
    lo = min(vals + [row["target"]]) if vals else row["target"]
    sli_chart = charts.line_chart(
        "Daily SLI", [charts.Series("SLI", sli_pts)], [charts.Ref("target", row["target"])],
        y_label="SLI", x_labels=charts.day_axis(days), pct=True,
        y_min=max(0.0, lo - (1 - lo) * 0.2), y_max=1.0, bands=bands)
    burndown = charts.line_chart(
        "Error budget remaining", [
            charts.Series("remaining", [(0.0, 1.0)] + [((i + 1) / n, d["budget_remaining"])
                                                       for i, d in enumerate(daily)]),
            charts.Series("even spend", [(0.0, 1.0), (1.0, 0.0)])],
        [charts.Ref("exhausted", 0.0)], y_label="budget", x_labels=charts.day_axis(days),
        pct=True, bands=bands)
    # Max-pool the hourly burn rates to at most 240 points: peaks are what matters.
    group = max(1, math.ceil(len(burn) / 240))
    pooled = []
    for i in range(0, len(burn), group):
        chunk = burn[i:i + group]
        pooled.append((charts.position(chunk[-1]["hour_end"], period.start, period.end),
                       {k: max((c[k] for c in chunk if c[k] is not None), default=None)
                        for k in ("burn_1h", "burn_6h", "burn_1d")}))
    conds = alert_conditions(row, period)
    burn_chart = charts.line_chart(
        "Burn rate (log scale)",
        [charts.Series(label, [(x, v[key]) for x, v in pooled])
         for label, key in (("1 h", "burn_1h"), ("6 h", "burn_6h"), ("1 d", "burn_1d"))],
        [charts.Ref(f"{c['label']} x{c['factor']:.4g}", c["factor"]) for c in conds],
        y_label="burn rate", x_labels=charts.day_axis(days), log=True, y_min=0.1, bands=bands)
    return {"row": row, "daily": daily, "incidents": incidents, "decisions": decisions,
            "trend": trend, "alert_conditions": conds,
            "recommendations": recommendations(row, incidents),
            "sli_chart": sli_chart, "burndown_chart": burndown, "burn_chart": burn_chart,
            "breakdown": attribution.view(row, breakdown or [])}


def build_context(lake_dir: LakeDir, period: Period, source: str, generated_at: datetime,
                  service: str | None = None) -> dict[str, Any]:
    rows = compute.read_summary(lake_dir, period)
    if service is not None:
        rows = [r for r in rows if r["service"] == service]
        if not rows:
            raise SloJobsError(f"--service: found {service!r}; expected a service of "
                               f"{period.label}")
    keep = {r["slo"] for r in rows}
    decisions: dict[str, dict[str, str]] = {}
    decision_rows = _read(lake_dir, period.label, "decisions")
    for d in decision_rows:
        decisions.setdefault(d["slo"], {})[d["risk"]] = d["decision"]
    chosen = decision_view.build(decision_rows, _read(lake_dir, period.label, "priorities"),
                                 _read(lake_dir, period.label, "toil"), keep)
    by: dict[str, dict[str, list[dict[str, Any]]]] = {"daily": {}, "burn": {}, "incidents": {}}
    for name in by:
        for r in _read(lake_dir, period.label, name):
            if r["slo"] in keep:
                by[name].setdefault(r["slo"], []).append(r)
    spent_by = attribution.read(lake_dir, period.label, keep)
    prev_label = previous(period).label
    prev = {r["slo"]: r for r in _read(lake_dir, prev_label, "summary")}
    history = [prev_label, previous(previous(period)).label]
    trend_rows = {label: {r["slo"]: r for r in _read(lake_dir, label, "summary")}
                  for label in history}
    services: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["delta_sli"] = (r["sli"] - prev[r["slo"]]["sli"]
                          if r["slo"] in prev and r["sli"] is not None
                          and prev[r["slo"]]["sli"] is not None else None)
        own = by["incidents"].get(r["slo"], [])
        r["incidents"] = len(own)
        r["pages"] = sum(1 for i in own if i["severity"] == "page")
        r["tickets"] = r["incidents"] - r["pages"]
        for risk in ("low", "medium", "high"):
            r[f"release_{risk}"] = decisions.get(r["slo"], {}).get(risk)
        trend = [{"period": label, **trend_rows[label][r["slo"]]} for label in reversed(history)
                 if r["slo"] in trend_rows[label]] + [{**r}]
        for t in trend:
            # Would each month shown have met the next phase's target (progressive SLOs)?
            judged = t.get("sli") is not None and t.get("met") is not None
            nxt = r.get("next_phase_target")
            t["meets_next"] = t["sli"] >= nxt if judged and nxt is not None else None
        services.setdefault(r["service"], []).append(_slo_view(
            r, period, by["daily"].get(r["slo"], []), by["burn"].get(r["slo"], []),
            by["incidents"].get(r["slo"], []), decisions.get(r["slo"], {}), trend,
            spent_by.get(r["slo"])))
    remaining = [r["budget_remaining"] for r in rows if r["budget_remaining"] is not None]
    at_risk = sorted((r for r in rows if r["status"] not in JUDGED_OK),
                     key=lambda r: r["budget_remaining"] if r["budget_remaining"] is not None
                     else 0.0)
    return {
        "period": period, "rows": rows, "services": services, "source": source,
        # Two different times, labelled apart: what the figures describe and when the file
        # was made (a report rendered months later must not look older or newer than it is).
        "as_of": max((r["as_of"] for r in rows if r.get("as_of") is not None), default=None),
        "rendered_at": generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "met": sum(1 for r in rows if r["met"]),
        "missed": sum(1 for r in rows if r["met"] is False),
        "no_data": sum(1 for r in rows if r["status"] == "no data"),
        "insufficient": sum(1 for r in rows if r["status"] == "insufficient data"),
        "median_remaining": statistics.median(remaining) if remaining else None,
        "incident_count": sum(r["incidents"] for r in rows),
        "page_count": sum(r["pages"] for r in rows),
        "ticket_count": sum(r["tickets"] for r in rows), "at_risk": at_risk[:5],
        "sentences": {s: _sentence(s, [v["row"] for v in views])
                      for s, views in services.items()},
        "low_coverage": [{**r, "gaps": _gaps(lake_dir, r)} for r in rows if r["coverage"] < 1],
        "clipped": [r for r in rows if r["clipped_rows"]],
        "extract_notes": extract_notes(lake_dir, period, [r["slo"] for r in rows]),
        "zones": sorted({r.get("time_zone") or "UTC" for r in rows}) or ["UTC"],
        "running": max((r["as_of"] for r in rows if r.get("estimated")), default=None),
        "previous_label": prev_label if prev else None,
        "pipelines": _pipelines(lake_dir, period.label, rows),
        "choices": chosen, "spent_by": spent_by,
        "css": (resources.templates_dir() / "report.css").read_text(),
    }


def _gaps(lake_dir: LakeDir, row: dict[str, Any]) -> dict[str, Any]:
    """The runs of buckets without data of one SLO's window, up to its as-of."""
    end = row.get("as_of") or row["period_end"]
    found = gaps.find(lake_dir, row["slo"], row["period_start"], end)
    return {"shown": found[:GAPS_SHOWN], "more": max(0, len(found) - GAPS_SHOWN),
            "count": len(found)}


def extract_notes(lake_dir: LakeDir, period: Period, slos: Sequence[str]) -> list[dict[str, Any]]:
    """What the extractor noted about each SLO's days (e.g. a selector matching no series),
    one entry per SLO and note with the days it applies to."""
    out = []
    for slo in slos:
        days: dict[str, list[str]] = {}
        for day in period.days:
            for note in lake.notes(lake.sli_partition(lake_dir, slo, day)):
                days.setdefault(note, []).append(day.isoformat())
        out += [{"slo": slo, "note": note, "days": len(d), "first": d[0], "last": d[-1]}
                for note, d in days.items()]
    return out


def _sentence(service: str, rows: Sequence[dict[str, Any]]) -> str:
    missed = [r for r in rows if r["met"] is False]
    nodata = [r for r in rows if r["status"] == "no data"]
    thin = [r for r in rows if r["status"] == "insufficient data"]
    judged = len(rows) - len(nodata) - len(thin)
    pages = sum(r["pages"] for r in rows)
    tickets = sum(r["tickets"] for r in rows)
    if missed:
        worst = min(missed, key=lambda r: r["budget_remaining"])
        text = (f"{service} missed {len(missed)} of {judged} SLOs; {worst['slo']} spent "
                f"{worst['budget_consumed'] * 100:.0f} % of its error budget")
    else:
        low = min((r for r in rows if r["budget_remaining"] is not None
                   and r["met"] is not None), key=lambda r: r["budget_remaining"], default=None)
        text = f"{service} met all {judged} SLOs with enough data"
        if low is not None:
            text += f"; the tightest, {low['slo']}, has {low['budget_remaining'] * 100:.0f} % " \
                    "of its budget left"
    if nodata:
        text += f"; {len(nodata)} without data"
    if thin:
        text += f"; {len(thin)} with insufficient data (not judged)"
    return text + f"; {pages} page{'s' if pages != 1 else ''} and {tickets} " \
        f"ticket{'s' if tickets != 1 else ''}."


def _records(rows: Sequence[dict[str, Any]], choices: dict[str, Any],
             spent_by: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{**{k: r.get(k) for k in JSON_FIELDS},
             **decision_view.json_extras(r["slo"], choices),
             **attribution.json_extra(spent_by.get(r["slo"]))} for r in rows]


def _cell(field: str, value: Any) -> Any:
    """A CSV cell as a spreadsheet or pandas reads it back without guessing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in summary.json
    if isinstance(value, datetime):
        return iso(value)
    if field in COUNT_FIELDS and isinstance(value, float) and value.is_integer():
        return int(value)  # 43039000, not 43039000.0
    return value


def _csv(records: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(k, r.get(k)) for k in fields} for r in records)
    return buf.getvalue()


def render(lake_dir: LakeDir, period: Period, out_dir: Path, source: str,
           generated_at: datetime, service: str | None = None,
           formats: Sequence[str] = FORMATS, as_of: datetime | None = None) -> ReportFiles:
    """Render the computed ``period`` into ``<out_dir>/<YYYY-MM>/`` and refresh the index.

    ``generated_at`` is passed in (from the run), so rendering reads no clock. ``as_of``
    (default: the render time) is the instant the index is drawn at: months that begin
    after it are left out, and the one it falls in is marked as running.
    """
    if as_of is not None and as_of <= period.start:
        raise SloJobsError(f"month {period.label}: has not begun at as-of "
                           f"{as_of:%Y-%m-%dT%H:%MZ}; expected a month that has started")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SloJobsError(f"--format: found {','.join(unknown)}; expected some of "
                           f"{','.join(FORMATS)}")
    folder = out_dir / period.label
    with lake.reading_sets():  # every table of the month from one version of it
        context = build_context(lake_dir, period, source, generated_at, service)
    suffix = f"-{service}" if service else ""
    files = ReportFiles(folder / f"report{suffix}.html", folder / f"report{suffix}.pdf",
                        folder / f"summary{suffix}.json", folder / f"summary{suffix}.csv",
                        folder / f"incidents{suffix}.csv", out_dir / "index.html")
    # Everything of the month is rendered into a new version of its folder, published at
    # once: a failure (or a kill) part-way leaves the previous set whole.
    with atomicio.publish_folder(folder) as stage:
        if "html" in formats or "pdf" in formats:
            html = redaction.redact(_env().get_template("report.html.j2").render(**context))
            if "html" in formats:
                _write_text(stage / files.html.name, html)
            if "pdf" in formats:
                pdf = HTML(string=html, base_url=str(folder), url_fetcher=_NoFetch()).write_pdf()
                atomicio.write_bytes(stage / files.pdf.name, pdf if pdf is not None else b"")
        records = _records(context["rows"], context["choices"], context["spent_by"])
        if "json" in formats:
            _write_text(stage / files.json.name, json.dumps(records, indent=2, allow_nan=False,
                                                            default=str) + "\n")
        if "csv" in formats:
            _write_text(stage / files.csv.name, _csv(records, JSON_FIELDS))
            incidents = [{"period": period.label, "service": v["row"]["service"], **i}
                         for views in context["services"].values() for v in views
                         for i in v["incidents"]]
            _write_text(stage / files.incidents_csv.name,
                        _csv([{k: i.get(k) for k in INCIDENT_FIELDS} for i in incidents],
                             INCIDENT_FIELDS))
    write_index(lake_dir, out_dir, as_of or generated_at)
    return files


def write_index(lake_dir: LakeDir, out_dir: Path, rendered_at: datetime) -> Path:
    """``<out>/index.html``: every month in the lake up to ``rendered_at``, with its figures.

    A month that starts after the render time is left out (it can only hold a summary of
    nothing); the month the render time falls in is marked as still running.
    """
    months = []
    found = (lake_dir / "monthly").glob("month=*/summary.parquet")
    for label in sorted((p.parent.name.removeprefix("month=") for p in found), reverse=True):
        try:
            period = month(label)
        except SloJobsError:
            continue
        if period.start > rendered_at:
            continue
        with lake.reading_sets():  # a month's two tables from one version of it
            rows = compute.read_table(lake_dir, label, "summary")
            incidents = _read(lake_dir, label, "incidents")
        months.append({"label": label, "slos": len(rows),
                       "met": sum(1 for r in rows if r["met"]),
                       "missed": sum(1 for r in rows if r["met"] is False),
                       "no_data": sum(1 for r in rows if r["status"] == "no data"),
                       "insufficient": sum(1 for r in rows
                                           if r["status"] == "insufficient data"),
                       "pages": sum(1 for i in incidents if i["severity"] == "page"),
                       "tickets": sum(1 for i in incidents if i["severity"] != "page"),
                       # figures to date (an --as-of inside the month), or rendered in it
                       "running": any(r.get("estimated") for r in rows)
                       or period.end > rendered_at,
                       "has_report": (out_dir / label / "report.html").exists()})
    html = _env().get_template("index.html.j2").render(
        months=months, css=(resources.templates_dir() / "report.css").read_text(),
        rendered_at=rendered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    _write_text(out_dir / "index.html", html)
    return out_dir / "index.html"
