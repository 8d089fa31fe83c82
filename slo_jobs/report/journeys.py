"""The month's user journeys in the report: the section's rows, each SLO's ``journeys`` in
summary.json, and ``journeys.csv`` / ``journeys.json`` beside summary.csv (written only for
a month with journeys). Read from ``journeys.parquet`` (``compute/journey.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.periods import Period
from ..lake import atomicio
from .exports import csv_text
from .text import whole

JOURNEY_FIELDS = ("period", "journey", "method", "unit", "target", "sli", "good", "total",
                  "bad", "allowed_bad", "budget_consumed", "budget_remaining", "status",
                  "outlook", "met", "estimated", "coverage", "no_data_slices", "top_step",
                  "top_step_share", "steps", "critical_steps", "time_zone", "period_start",
                  "period_end", "as_of", "window", "own_window")
STEP_KEYS = ("step", "slo", "critical", "sli", "good", "total", "bad_slices", "bad_share",
             "budget_share")


def shown(journeys: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
          ) -> list[dict[str, Any]]:
    """The journeys with a step among the SLOs shown (all of them in the whole month's
    report; a service's or team's report keeps those its SLOs take part in)."""
    names = {r["slo"] for r in rows}
    return [j for j in journeys if any(s["slo"] in names for s in j["steps"])]


def json_extra(slo: str, journeys: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """summary.json's ``journeys`` of one SLO: each journey it is a step of, with the
    journey's verdict and this step's share of the journey's bad."""
    out = []
    for j in journeys:
        for s in j["steps"]:
            if s["slo"] == slo:
                out.append({"journey": j["journey"], "step": s["step"],
                            "critical": s["critical"], "journey_sli": j["sli"],
                            "journey_status": j["status"], "journey_met": j["met"],
                            "bad_share": s["bad_share"], "budget_share": s["budget_share"]})
    return {"journeys": out}


def record(j: dict[str, Any], period: str) -> dict[str, Any]:
    """A journey as summary.json and the CSV give it."""
    return {**{k: whole(k, j.get(k)) for k in JOURNEY_FIELDS}, "period": period,
            "steps": [{k: s.get(k) for k in STEP_KEYS} for s in j["steps"]],
            "critical_steps": [s["step"] for s in j["steps"] if s["critical"]]}


def names(summary_csv: Path, formats: Sequence[str]) -> set[str]:
    """The journey files of ``formats`` beside ``summary_csv``: a render of those formats
    replaces them, so a month whose journeys are gone keeps none from an earlier render."""
    name = summary_csv.name.replace("summary", "journeys", 1)
    return {n for n, f in ((name, "csv"), (name.replace(".csv", ".json"), "json"))
            if f in formats}


def write(stage: Path, summary_csv: Path, formats: Sequence[str],
          journeys: Sequence[dict[str, Any]], period: Period, mask: Callable[[str], str]
          ) -> None:
    """``journeys<suffix>.csv`` and ``.json`` beside ``summary<suffix>.csv``; nothing for a
    month without journeys."""
    if not journeys:
        return
    records = [record(j, period.label) for j in journeys]
    name = summary_csv.name.replace("summary", "journeys", 1)
    if "csv" in formats:
        flat = [{**r, "steps": " > ".join(s["step"] for s in r["steps"]),
                 "critical_steps": " > ".join(r["critical_steps"])} for r in records]
        atomicio.write_file(stage / name, mask(csv_text(flat, JOURNEY_FIELDS)).encode())
    if "json" in formats:
        text = json.dumps(records, indent=2, allow_nan=False, default=str) + "\n"
        atomicio.write_file(stage / name.replace(".csv", ".json"), mask(text).encode())
