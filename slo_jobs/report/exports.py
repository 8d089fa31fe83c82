"""The month as JSON and CSV: the fields in their order, cells a spreadsheet or pandas reads
back without guessing, and the files assembled from the SLOs' spooled parts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, BinaryIO

from ..core.verdict import REPORTED
from . import categories
from .stream import Spool
from .text import iso, whole

JSON_FIELDS = ("period", "slo", "service", "method", "unit", "target", "good", "total", "bad",
               "sli", "allowed_bad", "budget_consumed", "budget_remaining",
               "budget_remaining_events", "budget_minutes", "budget_remaining_minutes",
               "status", "outlook", "met", "coverage", "buckets", "expected_buckets",
               "clipped_rows", "no_data_slices", "estimated", "exhaustion", "exhaustion_days",
               "incidents", "pages", "tickets", "min_coverage", "approximate", "sli_error_bound",
               "release_low", "release_medium", "release_high", "spec_hash", "time_zone",
               "as_of", "window_label", "window_sli", "window_budget_consumed",
               "window_budget_remaining", "window_status", "window_outlook", "window_met",
               "window_estimated", "period_start", "period_end", "count_error_bound",
               "phase", "next_phase", "next_phase_target", "next_phase_start", "next_phase_met",
               "excluded_minutes", "counted_good_minutes", "maintenance_changed", "first_sli",
               "first_budget_remaining", "first_status", "first_excluded_minutes", *REPORTED,
               "objective_of", "objective", "objective_threshold", "error_categories",
               "latency_p50", "latency_p95", "latency_p99",
               "indicator", "runbook_url", "dashboard_url")
INCIDENT_FIELDS = ("period", "slo", "service", "start", "end", "duration_minutes", "severity",
                   "peak_burn_1h", "bad", "budget_share", "error_categories")


def cell(field: str, value: Any) -> Any:
    """A CSV cell as a spreadsheet or pandas reads it back without guessing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in summary.json
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):  # error categories: their shares, in one cell
        return categories.cell(value)
    return whole(field, value)


def csv_text(records: Sequence[dict[str, Any]], fields: Sequence[str], header: bool = True) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({k: cell(k, r.get(k)) for k in fields} for r in records)
    return buf.getvalue()


def write_json(slos: Sequence[str], spool: Spool, out: BinaryIO) -> None:
    """summary.json: ``json.dumps(records, indent=2)`` of the spooled records."""
    if not slos:
        out.write(b"[]\n")
        return
    out.write(b"[\n")
    spool.copy(slos, "json", out, sep=b",\n")
    out.write(b"\n]\n")


def write_csv(fields: Sequence[str], slos: Sequence[str], part: str,
              spool: Spool, mask: Callable[[str], str], out: BinaryIO) -> None:
    out.write(mask(csv_text([], fields)).encode("utf-8"))
    spool.copy(slos, part, out)
