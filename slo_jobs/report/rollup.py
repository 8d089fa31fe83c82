"""A quarter's or year's roll-up as HTML, PDF, JSON and CSV, read only from its tables in the
lake (``<lake>/rollup/period=<label>/``, written by ``compute.rollup``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__, lake
from ..core import redaction, resources
from ..core.errors import SloJobsError
from ..lake import LakeDir, atomicio
from ..lake.computed import read_rollup
from . import pdf
from .exports import csv_text
from .monthly import FORMATS
from .pages import template_env, write_index
from .text import iso, whole

# summary.csv: one row per SLO, the period's figures then each month's SLI and budget spent.
CSV_FIELDS = ("period", "slo", "service", "team", "time_zone", "target", "unit", "good",
              "total", "bad", "sli", "allowed_bad", "budget_consumed", "budget_remaining",
              "status", "met", "outlook", "estimated", "coverage", "incidents", "pages",
              "worst_month", "worst_severity", "worst_budget_share", "period_start",
              "period_end", "as_of")
GROUP_FIELDS = ("period", "scope", "name", "slos", "judged", "met", "missed", "share_met",
                "budget_consumed", "on_track", "behind", "estimated", "unjudged")


@dataclass(frozen=True)
class RollupFiles:
    html: Path
    pdf: Path
    json: Path
    csv: Path
    teams_csv: Path
    index: Path


def read(lake_dir: LakeDir, label: str) -> dict[str, list[dict[str, Any]]]:
    """The roll-up's three tables, from one version of its set."""
    with lake.reading_sets():
        return {name: read_rollup(lake_dir, label, name) for name in ("slos", "months", "groups")}


def _json_value(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def _views(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each SLO with its months, by the months' order; the organisation and the teams."""
    months: dict[str, list[dict[str, Any]]] = {}
    for m in tables["months"]:
        months.setdefault(m["slo"], []).append(m)
    slos = [{**r, "months": months.get(r["slo"], [])} for r in tables["slos"]]
    labels = [m["month"] for m in months[slos[0]["slo"]]] if slos else []
    org = next(g for g in tables["groups"] if g["scope"] == "organisation")
    teams = [g for g in tables["groups"] if g["scope"] == "team"]
    return {"slos": slos, "month_labels": labels, "organisation": org, "teams": teams}


def render(lake_dir: LakeDir, label: str, out_dir: Path, generated_at: datetime,
           formats: Sequence[str] = FORMATS, as_of: datetime | None = None) -> RollupFiles:
    """Render the roll-up ``label`` into ``<out_dir>/<label>/`` and refresh the index (drawn
    at ``as_of``, default the render time)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SloJobsError(f"--format: found {','.join(unknown)}; expected some of "
                           f"{','.join(FORMATS)}")
    views = _views(read(lake_dir, label))
    if not views["slos"]:
        raise SloJobsError(f"roll-up {label}: no SLO in it; expected at least one")
    first = views["slos"][0]
    folder = atomicio.confined(out_dir) / label
    files = RollupFiles(folder / "report.html", folder / "report.pdf", folder / "summary.json",
                        folder / "summary.csv", folder / "teams.csv", out_dir / "index.html")
    running = any(r["estimated"] for r in views["slos"])
    context = {**views, "label": label, "kind": first["kind"], "running": running,
               "as_of": max(r["as_of"] for r in views["slos"]),
               "zones": sorted({r["time_zone"] for r in views["slos"]}),
               "rendered_at": generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "version": __version__,
               "css": (resources.templates_dir() / "report.css").read_text()}
    mask = redaction.masker()
    with atomicio.publish_folder(folder, drop=set()) as stage:
        html = mask(template_env().get_template("rollup.html.j2").render(**context))
        if "html" in formats:
            atomicio.write_file(stage / files.html.name, html.encode("utf-8"))
        if "pdf" in formats:
            atomicio.write_file(stage / files.pdf.name, pdf.write(html.encode("utf-8"), folder))
        if "json" in formats:
            doc = {"period": label, "kind": first["kind"], "running": running,
                   "as_of": iso(context["as_of"]),
                   "organisation": views["organisation"], "teams": views["teams"],
                   "slos": [{k: whole(k, v) for k, v in r.items()} for r in views["slos"]]}
            text = json.dumps(doc, indent=2, allow_nan=False, default=_json_value) + "\n"
            atomicio.write_file(stage / files.json.name, mask(text).encode("utf-8"))
        if "csv" in formats:
            fields = (*CSV_FIELDS, *(f"{f}_{m}" for m in views["month_labels"]
                                     for f in ("month_sli", "month_budget_consumed")))
            rows = [{**r, **{f"{f}_{m['month']}": m[f.removeprefix("month_")]
                             for m in r["months"] for f in ("month_sli",
                                                            "month_budget_consumed")}}
                    for r in views["slos"]]
            atomicio.write_file(stage / files.csv.name,
                                mask(csv_text(rows, fields)).encode("utf-8"))
            groups = [{"period": label, **g} for g in (views["organisation"], *views["teams"])]
            atomicio.write_file(stage / files.teams_csv.name,
                                mask(csv_text(groups, GROUP_FIELDS)).encode("utf-8"))
    write_index(lake_dir, out_dir, as_of or generated_at)
    return files
