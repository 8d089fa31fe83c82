"""Report stage: the month as HTML and PDF (same content), plus JSON and CSV exports.

Reads only the compute stage's outputs in the lake (the month's tables, and the summaries
of earlier months for trends), so a report can be rendered again at any time without
Prometheus. The summary rows are held whole; each SLO's detail rows are read, rendered and
spooled one SLO at a time (``report_stream``): the render's memory does not grow with them.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import jinja2
from markupsafe import Markup

from .. import __version__, compute, lake
from ..core import redaction, resources
from ..core.errors import SloJobsError
from ..core.names import SAFE_NAME, SAFE_NAME_HINT
from ..core.periods import Period
from ..core.verdict import UNJUDGED, judged
from ..decisions import view as decision_view
from ..lake import LakeDir, atomicio, gaps
from . import breakdown as attribution
from . import categories as errors
from . import history as long_view
from . import journeys as journey_view
from . import objectives, pdf
from . import percentiles as latency
from . import stream as report_stream
from .exports import INCIDENT_FIELDS, JSON_FIELDS, csv_text, write_csv, write_json
from .pages import template_env, write_index, write_published
from .stream import alert_conditions
from .text import recommendations, service_sentence, whole

FORMATS = ("html", "pdf", "json", "csv")
# Statuses that are not "at risk": healthy, or not judged (too little data, too few events).
JUDGED_OK = ("healthy", *UNJUDGED)
# Where report.html.j2 places an SLO's spooled section (no value can hold it: "<" is escaped).
_SECTION = "<!--slo-section-->"
__all__ = ["FORMATS", "JSON_FIELDS", "ReportFiles", "SloJobsError", "alert_conditions",
           "recommendations", "render", "template_env", "write_index",
           "write_published"]


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path
    json: Path
    csv: Path
    incidents_csv: Path
    index: Path
    history_csv: Path
    # render(team_pdfs=True): each team's PDF (team label -> file), and the team labels that
    # break the name rule (core.names), which get none.
    teams: dict[str, Path] = field(default_factory=dict)
    teams_skipped: tuple[str, ...] = ()


def _pipelines(lake_dir: LakeDir, label: str, rows: Sequence[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """Per pipeline (service): its SLOs with the summary row, late runs and worst hours."""
    keep = {r["slo"]: r for r in rows}
    late = compute.read_table(lake_dir, label, "pipeline_late_runs", missing_ok=True)
    hours = compute.read_table(lake_dir, label, "pipeline_hours", missing_ok=True)
    out: dict[str, dict[str, Any]] = {}
    for p in compute.read_table(lake_dir, label, "pipelines", missing_ok=True):
        if p["slo"] not in keep:
            continue
        view = out.setdefault(p["service"], {"service": p["service"], "slos": [],
                                             "late_runs": [], "worst_hours": []})
        view["slos"].append({**p, "row": keep[p["slo"]]})
        view["late_runs"] += [r for r in late if r["slo"] == p["slo"]]
        view["worst_hours"] += [h for h in hours if h["slo"] == p["slo"]]
    return list(out.values())


@dataclass
class _Month:
    """What each SLO's part needs of the whole month: one row (or a few) per SLO, held
    whole; the detail rows are read one SLO at a time (``report_stream``)."""
    period: Period
    rows: list[dict[str, Any]]
    decisions: dict[str, dict[str, str]]
    choices: dict[str, Any]
    history: list[str]  # the two months before, the previous one first
    # month -> SLO -> its summary row (the fields kept), for the 11 months before
    trend_rows: dict[str, dict[str, dict[str, Any]]]
    tables: dict[str, list[dict[str, Any]]]  # the month's decisions, priorities and toil

    def only(self, rows: list[dict[str, Any]]) -> _Month:
        """The month narrowed to ``rows`` (a team's SLOs), with their decisions."""
        return replace(self, rows=rows, choices=_choices(self.tables, rows))

    def teams(self) -> dict[str, list[dict[str, Any]]]:
        """Each team label (the SLOs' ``team``) with its SLOs' rows, by team name."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.rows:
            team = self.choices["team_of"].get(r["slo"])
            if team:
                out.setdefault(team, []).append(r)
        return dict(sorted(out.items()))

    @property
    def prev(self) -> dict[str, dict[str, Any]]:
        """The previous month's summary rows by SLO."""
        return self.trend_rows[self.history[0]]


def _choices(tables: dict[str, list[dict[str, Any]]], rows: Sequence[dict[str, Any]]
             ) -> dict[str, Any]:
    return decision_view.build(tables["decisions"], tables["priorities"], tables["toil"],
                               {r["slo"] for r in rows})


def _read_month(lake_dir: LakeDir, period: Period, service: str | None,
                team: str | None = None) -> _Month:
    def table(label: str, name: str) -> list[dict[str, Any]]:
        return compute.read_table(lake_dir, label, name, missing_ok=True)

    rows = [judged(r) for r in compute.read_summary(lake_dir, period)]
    tables = {n: table(period.label, n) for n in ("decisions", "priorities", "toil", "journeys")}
    if service is not None:
        rows = [r for r in rows if r["service"] == service]
        if not rows:
            raise SloJobsError(f"--service: found {service!r}; expected a service of "
                               f"{period.label}")
    if team is not None:
        owner = {p["slo"]: p.get("team") for p in tables["priorities"]}
        rows = [r for r in rows if owner.get(r["slo"]) == team]
        if not rows:
            raise SloJobsError(f"--team: found {team!r}; expected the team label of an SLO "
                               f"of {period.label}")
    decisions: dict[str, dict[str, str]] = {}
    for d in tables["decisions"]:
        decisions.setdefault(d["slo"], {})[d["risk"]] = d["decision"]
    # The months before, read once: the chart's, and the trend's and change's two.
    earlier = long_view.read(lake_dir, period)
    return _Month(period, rows, decisions, _choices(tables, rows),
                  long_view.labels(period)[-2::-1][:2], earlier, tables)


def _enrich(r: dict[str, Any], m: _Month, incidents: list[dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """Add the change, incident counts and release decisions to a summary row; its trend."""
    prev = m.prev
    r["delta_sli"] = (r["sli"] - prev[r["slo"]]["sli"]
                      if r["slo"] in prev and r["sli"] is not None
                      and prev[r["slo"]]["sli"] is not None else None)
    r["incidents"] = len(incidents)
    r["pages"] = sum(1 for i in incidents if i["severity"] == "page")
    r["tickets"] = r["incidents"] - r["pages"]
    for risk in ("low", "medium", "high"):
        r[f"release_{risk}"] = m.decisions.get(r["slo"], {}).get(risk)
    trend = [{"period": label, **m.trend_rows[label][r["slo"]]}
             for label in reversed(m.history) if r["slo"] in m.trend_rows[label]] + [{**r}]
    for t in trend:
        # Would each month shown have met the next phase's target (progressive SLOs)?
        judged = t.get("sli") is not None and t.get("met") is not None
        nxt = r.get("next_phase_target")
        t["meets_next"] = t["sli"] >= nxt if judged and nxt is not None else None
    return trend


def _slo_parts(m: _Month, r: dict[str, Any], tables: report_stream.SloRows,
               formats: Sequence[str], section: jinja2.Template,
               mask: Callable[[str], str]) -> dict[str, str]:
    """One SLO's part of each file asked for, each complete text with secrets masked."""
    incidents = errors.attach(r, tables.rows("incidents"), tables.rows("categories"))
    trend = _enrich(r, m, incidents)
    groups = sorted(tables.rows("breakdown"), key=lambda g: g["rank"])
    months = long_view.points(r, m.trend_rows, long_view.labels(m.period))
    parts = {}
    if "html" in formats or "pdf" in formats:
        burn = tables.columns("burn", ("hour_end", *report_stream.BURN_SHOWN))
        view = report_stream.slo_view(r, m.period, tables.rows("daily"), burn, incidents,
                                      m.decisions.get(r["slo"], {}), trend, groups)
        view["months_chart"] = long_view.chart(r, months)
        view["months_caption"] = long_view.caption(r)
        view["percentiles"] = latency.view(tables.rows("percentiles"), view["daily"])
        parts["html"] = section.render(v=view, choices=m.choices)
    record = {**{k: whole(k, r.get(k)) for k in JSON_FIELDS},
              **decision_view.json_extras(r["slo"], m.choices),
              **attribution.json_extra(groups), "months": months,
              **journey_view.json_extra(r["slo"], m.tables["journeys"]),
              **latency.json_extra(tables.rows("percentiles"))}
    if "json" in formats:
        # As an item of summary.json's list (json.dumps(records, indent=2) gives the same).
        parts["json"] = "  " + json.dumps(record, indent=2, allow_nan=False,
                                          default=str).replace("\n", "\n  ")
    if "csv" in formats:
        parts["csv"] = csv_text([record], JSON_FIELDS, header=False)
        parts["history"] = long_view.csv_part(r, months)
        parts["incidents"] = csv_text([{k: i.get(k) for k in INCIDENT_FIELDS} for i in (
            {"period": m.period.label, "service": r["service"], **i} for i in incidents)],
            INCIDENT_FIELDS, header=False)
    # Known secrets never reach a published file, whatever path they took into the text.
    return {part: mask(text) for part, text in parts.items()}


def _context(lake_dir: LakeDir, m: _Month, source: str, generated_at: datetime
             ) -> dict[str, Any]:
    """report.html.j2's context but for the SLOs' parts (``section`` places them)."""
    rows, period = m.rows, m.period
    services: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        services.setdefault(r["service"], []).append(
            {"row": r, "alert_conditions": report_stream.alert_conditions(r, period)})
    remaining = [r["budget_remaining"] for r in rows if r["budget_remaining"] is not None]
    at_risk = sorted((r for r in rows if r["status"] not in JUDGED_OK),
                     key=lambda r: r["budget_remaining"] if r["budget_remaining"] is not None
                     else 0.0)
    return {
        "period": period, "rows": rows, "services": objectives.grouped(services), "source": source,
        # Two different times, labelled apart: what the figures describe and when the file
        # was made (a report rendered months later must not look older or newer than it is).
        "as_of": max((r["as_of"] for r in rows if r.get("as_of") is not None), default=None),
        "rendered_at": generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__, "met": sum(1 for r in rows if r["met"]),
        "missed": sum(1 for r in rows if r["met"] is False),
        "on_track": sum(1 for r in rows if r.get("outlook") == "on track"),
        "behind": sum(1 for r in rows if r.get("outlook") in ("at risk", "exhausted")),
        "no_data": sum(1 for r in rows if r["status"] == "no data"),
        "insufficient": sum(1 for r in rows if r["status"] == "insufficient data"),
        "median_remaining": statistics.median(remaining) if remaining else None,
        "incident_count": sum(r["incidents"] for r in rows),
        "page_count": sum(r["pages"] for r in rows),
        "ticket_count": sum(r["tickets"] for r in rows), "at_risk": at_risk[:5],
        "sentences": {s: service_sentence(s, [v["row"] for v in views])
                      for s, views in services.items()},
        "low_coverage": [{**r, "gaps": gaps.shown(lake_dir, r)} for r in rows if r["coverage"] < 1],
        "clipped": [r for r in rows if r["clipped_rows"]],
        "extract_notes": gaps.extract_notes(lake_dir, period, [r["slo"] for r in rows]),
        "zones": sorted({r.get("time_zone") or "UTC" for r in rows}) or ["UTC"],
        "running": max((r["as_of"] for r in rows if r.get("estimated")), default=None),
        "previous_label": m.history[0] if m.prev else None,
        "pipelines": _pipelines(lake_dir, period.label, rows),
        "journeys": journey_view.shown(m.tables["journeys"], rows), "choices": m.choices,
        "service_release": decision_view.by_service(rows, m.choices["release"]),
        "release_policy": next((d.get("policy") for ds in m.choices["release"].values()
                                for d in ds.values()), None) or "default",
        "css": (resources.templates_dir() / "report.css").read_text(),
    }


def _html(context: dict[str, Any], spool: report_stream.Spool, mask: Callable[[str], str],
          out: BinaryIO) -> None:
    """report.html.j2 with each SLO's spooled section where the template places it."""
    order: list[str] = []

    def section(slo: str) -> Markup:
        order.append(slo)
        return Markup(_SECTION)

    pieces = template_env().get_template("report.html.j2").render(section=section, **context).split(
        _SECTION)
    if len(pieces) != len(order) + 1:  # autoescaping keeps "<!--" out of any value
        raise SloJobsError(f"report.html.j2: found {len(pieces) - 1} SLO sections; expected "
                           f"{len(order)}")
    for i, piece in enumerate(pieces):
        out.write(mask(piece).encode("utf-8"))
        if i < len(order):
            out.write(spool.read(order[i], "html"))


def _write_files(stage: Path, files: ReportFiles, formats: Sequence[str],
                 context: dict[str, Any], spool: report_stream.Spool,
                 mask: Callable[[str], str]) -> None:
    """Pass 2: each file asked for, in the report's order, the SLOs' parts from ``spool``."""
    if "pdf" in formats:  # WeasyPrint lays out the whole document from one string
        buf = io.BytesIO()
        _html(context, spool, mask, buf)
        if "html" in formats:
            atomicio.write_file(stage / files.html.name, buf.getvalue())
        atomicio.write_file(stage / files.pdf.name, pdf.write(buf.getvalue(), files.pdf.parent))
    elif "html" in formats:
        atomicio.write_file(stage / files.html.name, lambda fh: _html(context, spool, mask, fh))
    rows = [r["slo"] for r in context["rows"]]
    if "json" in formats:
        atomicio.write_file(stage / files.json.name, lambda fh: write_json(rows, spool, fh))
    if "csv" in formats:
        # incidents.csv lists the SLOs in the report's order (by service, as the sections)
        shown = [v["row"]["slo"] for views in context["services"].values() for v in views]
        atomicio.write_file(stage / files.csv.name,
                            lambda fh: write_csv(JSON_FIELDS, rows, "csv", spool, mask, fh))
        atomicio.write_file(stage / files.incidents_csv.name, lambda fh: write_csv(
            INCIDENT_FIELDS, shown, "incidents", spool, mask, fh))
        atomicio.write_file(stage / files.history_csv.name, lambda fh: write_csv(
            long_view.HISTORY_FIELDS, rows, "history", spool, mask, fh))
    journey_view.write(stage, files.csv, formats, context["journeys"], context["period"], mask)


def render(lake_dir: LakeDir, period: Period, out_dir: Path, source: str,
           generated_at: datetime, service: str | None = None,
           formats: Sequence[str] = FORMATS, as_of: datetime | None = None,
           without: Sequence[str] = (), team: str | None = None,
           team_pdfs: bool = False) -> ReportFiles:
    """Render the computed ``period`` into ``<out_dir>/<YYYY-MM>/`` and refresh the index.

    ``service`` or ``team`` (the SLOs' team label): only its SLOs, in files named with
    ``-<service>`` or ``-team-<team>``. ``team_pdfs``: also each team's PDF
    (``report-team-<team>.pdf``) from the same read of the month, published with its files.

    Files of formats not rendered are kept from an earlier render, except those of the
    formats in ``without`` (a PDF left from a month's earlier render would not match it).

    ``generated_at`` is passed in (from the run), so rendering reads no clock. ``as_of``
    (default: the render time) is the instant the index is drawn at: months that begin
    after it are left out, and the one it falls in is marked as running.
    """
    if as_of is not None and as_of <= period.start:
        raise SloJobsError(f"month {period.label}: has not begun at as-of "
                           f"{as_of:%Y-%m-%dT%H:%MZ}; expected a month that has started")
    if team is not None and service is not None:
        raise SloJobsError(f"--team: found {team!r} with --service {service!r}; expected "
                           "one of the two")
    if team is not None and not SAFE_NAME.match(team):
        raise SloJobsError(f"--team: found {team!r}; {SAFE_NAME_HINT}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SloJobsError(f"--format: found {','.join(unknown)}; expected some of "
                           f"{','.join(FORMATS)}")
    with lake.reading_sets():  # every table of the month from one version of it
        return _render(lake_dir, period, out_dir, source, generated_at, (service, team),
                       formats, as_of, without, team_pdfs)


def _render(lake_dir: LakeDir, period: Period, out_dir: Path, source: str,
            generated_at: datetime, only: tuple[str | None, str | None],
            formats: Sequence[str], as_of: datetime | None, without: Sequence[str],
            team_pdfs: bool) -> ReportFiles:
    folder = atomicio.confined(out_dir) / period.label  # no link below out_dir followed
    service, team = only
    m = _read_month(lake_dir, period, service, team)
    suffix = f"-{service}" if service else f"-team-{team}" if team else ""
    teams = m.teams() if team_pdfs else {}
    named = {t: folder / f"report-team-{t}.pdf" for t in teams if SAFE_NAME.match(t)}
    files = ReportFiles(folder / f"report{suffix}.html", folder / f"report{suffix}.pdf",
                        folder / f"summary{suffix}.json", folder / f"summary{suffix}.csv",
                        folder / f"incidents{suffix}.csv", out_dir / "index.html",
                        folder / f"history{suffix}.csv", named,
                        tuple(t for t in teams if t not in named))
    page = "html" in formats or "pdf" in formats or bool(files.teams)
    by_name = {r["slo"]: r for r in m.rows}
    section = template_env().get_template("report_slo.html.j2")
    mask = redaction.masker()
    # Everything of the month is rendered into a new version of its folder, published at
    # once: a failure (or a kill) part-way leaves the previous set whole.
    dropped = {getattr(files, f).name for f in without} | journey_view.names(files.csv, formats)
    if team_pdfs:  # a team gone since the last render keeps no PDF of it
        dropped |= {p.name for p in folder.glob("report-team-*.pdf")}
    with atomicio.publish_folder(folder, drop=dropped) as stage, \
            report_stream.Spool(stage) as spool:
        # Pass 1: each SLO's detail rows, in storage order, to its parts of the files.
        for slo, tables in report_stream.slo_tables(
                lake.monthly_partition(lake_dir, period.label).parent, period.label, by_name,
                report_stream.DETAIL_TABLES if page else report_stream.RECORD_TABLES):
            for part, text in _slo_parts(m, by_name[slo], tables, formats, section, mask).items():
                spool.add(slo, part, text)
        # Pass 2: the files in the report's order, each SLO's parts copied from the spool.
        _write_files(stage, files, formats, _context(lake_dir, m, source, generated_at),
                     spool, mask)
        # Each team's PDF from the same spooled sections: the month is read once for all.
        for t, path in files.teams.items():
            buf = io.BytesIO()
            _html(_context(lake_dir, m.only(teams[t]), source, generated_at), spool, mask, buf)
            atomicio.write_file(stage / path.name, pdf.write(buf.getvalue(), folder))
    write_index(lake_dir, out_dir, as_of or generated_at)
    return files


