"""What every published page shares: the Jinja environment with the report's filters, writing
a page with known secrets masked, and the index of every month (``<out>/index.html``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2

from .. import lake
from ..core import redaction, resources
from ..core.errors import SloJobsError
from ..core.periods import calendar, month
from ..core.verdict import COLUMNS, judged
from ..lake import LakeDir, atomicio
from . import stream as report_stream
from .text import allowed, duration, num, pct, signed_pp, to_date, ts


def template_env() -> jinja2.Environment:
    """The templates of ``reports/`` with the report's filters (autoescaped, strict)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        autoescape=True,  # every name, description and label is user input
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, num=num, pp=signed_pp, dur=duration, ts=ts, to_date=to_date,
                       allowed=allowed)
    return env



def write_published(path: Path, text: str) -> None:
    """Write a published text file with known secrets masked."""
    # Known secrets never reach a published file, whatever path they took into the text.
    atomicio.write_text(path, redaction.redact(text))


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
            # Only the columns counted: every month's rows, not just this one's, pass here.
            folder = lake.monthly_partition(lake_dir, label).parent
            rows = [judged(r) for r in report_stream.read_columns(
                folder, label, "summary", ("met", "status", "estimated", *COLUMNS))]
            incidents = report_stream.read_columns(folder, label, "incidents", ("severity",))
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
                       "has_report": (out_dir / label / "report.html").exists(),
                       "has_pdf": (out_dir / label / "report.pdf").exists()})
    html = template_env().get_template("index.html.j2").render(
        months=months, rollups=_rollups(lake_dir, out_dir, rendered_at),
        css=(resources.templates_dir() / "report.css").read_text(),
        rendered_at=rendered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    write_published(out_dir / "index.html", html)
    return out_dir / "index.html"


def _rollups(lake_dir: LakeDir, out_dir: Path, rendered_at: datetime) -> list[dict[str, object]]:
    """Every quarter and year rolled up in the lake (``<lake>/rollup/``), latest first."""
    out = []
    found = (lake_dir / "rollup").glob("period=*/slos.parquet")
    for label in sorted((p.parent.name.removeprefix("period=") for p in found), reverse=True):
        kind = "year" if label.isdigit() else "quarter"
        try:
            period = calendar(kind, label)
        except SloJobsError:
            continue
        if period.start > rendered_at:
            continue
        folder = lake.rollup_partition(lake_dir, label).parent
        with lake.reading_sets():
            rows = report_stream.read_columns(folder, label, "slos", ("met", "estimated"))
        out.append({"label": label, "kind": kind, "slos": len(rows),
                    "met": sum(1 for r in rows if r["met"]),
                    "missed": sum(1 for r in rows if r["met"] is False),
                    "running": any(r["estimated"] for r in rows) or period.end > rendered_at,
                    "has_report": (out_dir / label / "report.html").exists(),
                    "has_pdf": (out_dir / label / "report.pdf").exists()})
    return out
