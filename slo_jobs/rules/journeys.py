"""Recording rules for user journeys, appended to the SLOs' rule file: the journey's SLI as
the product of its critical steps' recorded success ratios (docs/alerts.md, docs/slo-math.md
"User journeys"). Only where Prometheus can compute it the report's way: an events journey
whose critical steps are all counter SLIs judged by events; any other journey gets a comment
saying why it has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from ..spec import Slo
from ..spec.journey import Journey
from ..spec.load import counted_by_selector

WINDOWS = ("5m", "1h", "1d")
RECORD = "slo:journey_sli:ratio_rate{window}"
PERIOD_RECORD = "slo:journey_sli:ratio_period"
STEP_RECORD = "slo:sli_error:ratio_rate{window}"
STEP_PERIOD = "slo:sli_error:ratio_period"


def why_not(journey: Journey, by_name: dict[str, Slo]) -> str | None:
    """Why the journey gets no recording rule; None when it gets one."""
    if journey.method != "Occurrences":
        return ("a time-slice journey judges every step in the same slices, which the "
                "steps' recorded ratios do not keep")
    for step in journey.critical:
        slo = by_name[step.slo]
        if slo.pipeline is not None or not counted_by_selector(slo):
            return f"step {step.name} ({slo.name}) is not a Prometheus counter SLI"
        if slo.budgeting_method != "Occurrences":
            return f"step {step.name} ({slo.name}) is judged in time slices, not events"
    return None


def product(journey: Journey, record: str) -> str:
    """The product of the critical steps' success ratios, each from its recorded error
    ratio (``sum`` drops the step's labels, so the factors match one to one)."""
    return " * ".join(f'(1 - sum({record}{{slo="{s.slo}"}}))' for s in journey.critical)


def groups(journeys: Sequence[Journey], slos: Sequence[Slo]
           ) -> tuple[list[dict[str, Any]], list[str]]:
    """(a rule group per journey that Prometheus can compute, a note for each other)."""
    by_name = {s.name: s for s in slos}
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for j in journeys:
        if any(s.slo not in by_name for s in j.steps):
            continue
        reason = why_not(j, by_name)
        if reason is not None:
            notes.append(f"No rule for journey {j.name}: {reason}.")
            continue
        lab = {"journey": j.name}  # copied into each rule: plain YAML, no anchors
        rules = [{"record": RECORD.format(window=w),
                  "expr": product(j, STEP_RECORD.format(window=w)), "labels": {**lab}}
                 for w in WINDOWS]
        out.append({"name": f"slo-jobs:journey:{j.name}", "rules": rules})
        out.append({"name": f"slo-jobs:journey:{j.name}:period", "interval": "5m", "rules": [
            {"record": PERIOD_RECORD, "expr": product(j, STEP_PERIOD), "labels": {**lab}},
            {"record": "slo:journey_objective:ratio", "expr": f"vector({j.target!r})",
             "labels": {**lab}}]})
    return out, notes


def render(journeys: Sequence[Journey], slos: Sequence[Slo]) -> str:
    """The journeys' groups as items to append to the rule file's ``groups:`` list, with
    the notes as comments before them; empty without journeys."""
    found, notes = groups(journeys, slos)
    head = "".join(f"# {n}\n" for n in notes)
    if not found:
        return head
    return head + yaml.safe_dump(found, sort_keys=False, width=10_000)
