"""Cross-field rules a spec must pass, in either format (the native schema and the OpenSLO
import) and for a what-if scenario: kept apart from ``schema`` so it stays one page of
field declarations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from ..core.names import SAFE_NAME, SAFE_NAME_HINT
from . import promql


class Sliced(Protocol):
    """What the rules read of an objective (``schema.Objective``, which imports this)."""

    timeSliceWindow: Any
    timeSliceTarget: Any

MAX_BREAKDOWN_LABELS = 3
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def check_breakdown(value: list[str] | None) -> list[str] | None:
    """Prometheus label names, at most MAX_BREAKDOWN_LABELS, each once."""
    if value is None:
        return None
    if not value or len(value) > MAX_BREAKDOWN_LABELS:
        raise ValueError(f"expected 1 to {MAX_BREAKDOWN_LABELS} label names, e.g. [code, route]")
    for name in value:
        if not LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{name!r} is not a Prometheus label name; expected letters, "
                             "digits and underscores, not starting with a digit or __")
        if name == "le":
            raise ValueError("'le' is a histogram bucket's bound, not on its _count; expected "
                             "a label every series of the SLI has, e.g. code or route")
    if len(set(value)) != len(value):
        raise ValueError("expected each label once")
    return value


MAX_CATEGORIES = 8  # each category is one more selector read from raw samples
UNCATEGORISED = "uncategorised"  # the report's name for bad events no category counts


def check_categories(value: dict[str, str] | None) -> dict[str, str] | None:
    """spec.errorCategories: 1 to MAX_CATEGORIES names (the SLO name rule, not the reserved
    ``uncategorised``), each with a counter selector."""
    if value is None:
        return None
    if not value or len(value) > MAX_CATEGORIES:
        raise ValueError(f"expected 1 to {MAX_CATEGORIES} categories, e.g. "
                         "{server: 'http_requests_total{code=~\"5..\"}'}")
    for name, selector in value.items():
        if not SAFE_NAME.match(name) or name == UNCATEGORISED:
            raise ValueError(f"category {name!r}: {SAFE_NAME_HINT}, other than "
                             f"{UNCATEGORISED!r}")
        try:
            promql.check_selector(selector)
        except ValueError as exc:
            raise ValueError(f"category {name}: {selector!r}: {exc}") from None
    return value


def objective_rules(method: str, kind: str, raw: bool, objectives: Sequence[Sliced]
                    ) -> str | None:
    """What is wrong with this budgeting method for these objectives, if anything."""
    for o in objectives:
        if method == "Timeslices" and o.timeSliceWindow is None:
            return ("budgetingMethod Timeslices needs timeSliceWindow (and timeSliceTarget) "
                    "in every objective, e.g. 1m and 0.99")
        if method == "Timeslices" and o.timeSliceTarget is None and kind in ("ratio", "quality",
                                                                        "latency"):
            return ("budgetingMethod Timeslices needs timeSliceTarget in every objective: "
                    "the share of good events that makes a slice good")
        if method == "RatioTimeslices" and (o.timeSliceWindow is None
                                            or o.timeSliceTarget is not None):
            return ("budgetingMethod RatioTimeslices needs timeSliceWindow and no "
                    "timeSliceTarget in every objective")
        if method == "Occurrences" and (o.timeSliceWindow or o.timeSliceTarget):
            return ("timeSliceTarget and timeSliceWindow need budgetingMethod Timeslices "
                    "or RatioTimeslices")
    if len({o.timeSliceWindow for o in objectives}) > 1:
        return "expected one timeSliceWindow shared by all objectives"
    if kind in ("threshold", "freshness") and method != "Timeslices":
        return (f"a {kind} indicator is judged per time slice; expected budgetingMethod "
                "Timeslices")
    if kind in ("completion", "completeness") and method != "Occurrences":
        return (f"a {kind} indicator counts runs or records; expected budgetingMethod "
                "Occurrences")
    if raw and method == "Occurrences":
        return ("a raw ratio cannot be summed as events; expected budgetingMethod "
                "RatioTimeslices or Timeslices")
    return None
