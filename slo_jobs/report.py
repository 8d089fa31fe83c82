"""Report stage: the month's summary as HTML, PDF (WeasyPrint) and summary.json."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from . import __version__, resources
from .errors import SloJobsError
from .periods import Period

JSON_FIELDS = ("period", "slo", "service", "target", "good", "total", "bad", "sli",
               "allowed_bad", "budget_consumed", "budget_remaining", "status", "met",
               "coverage", "buckets", "expected_buckets", "clipped_rows", "spec_hash")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path
    json: Path
    csv: Path


class _NoFetch(URLFetcher):  # type: ignore[misc]
    """Only inline ``data:`` URLs: content must never make the renderer read files or the net."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:"):
            raise ValueError(f"external resource refused: {url[:80]}")
        return super().fetch(url, headers)


def _pct(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:.{digits}f} %"


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        autoescape=True,  # every name, description and label is user input
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _records(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r.get(k) for k in JSON_FIELDS} for r in rows]


def render(rows: Sequence[dict[str, Any]], period: Period, out_dir: Path,
           source: str, generated_at: datetime) -> ReportFiles:
    """Write ``report.html``, ``report.pdf``, ``summary.json`` and ``summary.csv``.

    ``generated_at`` is passed in (from the run), so rendering reads no clock.
    """
    folder = out_dir / period.label
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SloJobsError(f"{folder}: cannot create report folder ({exc.strerror})") from None
    services: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        services.setdefault(r["service"], []).append(r)
    met = sum(1 for r in rows if r["met"])
    context = {
        "period": period, "rows": rows, "services": services, "source": source,
        "generated_at": generated_at.strftime("%Y-%m-%d %H:%M UTC"), "version": __version__,
        "met": met, "missed": sum(1 for r in rows if r["met"] is False),
        "no_data": sum(1 for r in rows if r["met"] is None),
        "low_coverage": [r for r in rows if r["coverage"] < 1],
        "css": (resources.templates_dir() / "report.css").read_text(),
    }
    html = _env().get_template("report.html.j2").render(**context)
    files = ReportFiles(folder / "report.html", folder / "report.pdf",
                        folder / "summary.json", folder / "summary.csv")
    _write_text(files.html, html)
    pdf = HTML(string=html, base_url=str(folder), url_fetcher=_NoFetch()).write_pdf()
    tmp_pdf = folder / ".tmp-report.pdf"
    tmp_pdf.write_bytes(pdf if pdf is not None else b"")
    os.replace(tmp_pdf, files.pdf)
    records = _records(rows)
    _write_text(files.json, json.dumps(records, indent=2, allow_nan=False) + "\n")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=JSON_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    _write_text(files.csv, buf.getvalue())
    return files
