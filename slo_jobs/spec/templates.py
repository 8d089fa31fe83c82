"""Starter SLO specs for ``slo-jobs init``: one template per kind of service, one tier each.

Tier defaults are those of docs/slo-math.md ("Tiers") (availability target, p99 latency threshold,
error rate); what the templates measure follows the requirements (an API: availability and
latency, and for a web front end the quality of what it served; a data pipeline: freshness and
completeness; a streaming service: consumer lag, end-to-end event latency and a throughput
floor).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import SpecError
from ..core.names import safe_name
from .promql import number
from .schema import tier_name


@dataclass(frozen=True)
class Tier:
    availability: float
    latency_s: float
    error_rate: float
    # A streaming service's end-to-end event latency threshold (produced to processed):
    # queues batch and retry, so ten times a request's.
    event_latency_s: float = 0.0


TIERS = {
    "critical": Tier(0.9995, 0.1, 0.001, 1.0),
    "essential": Tier(0.999, 0.5, 0.01, 5.0),
    "standard": Tier(0.995, 1.0, 0.05, 10.0),
    "best_effort": Tier(0.99, 2.0, 0.1, 20.0),
}

_HEAD = """\
# {service}: {template} SLOs, {tier} tier (targets from the tier defaults; edit freely).
# Check it with: slo-jobs validate {path}
# Tier defaults, budgets and burn-rate alerts: docs/slo-math.md in the slo-jobs repository.
"""

_DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{tier: {tier}, team: {service}-owners}}
spec:
  service: {service}
  description: {description}
  indicator:
{indicator}
{objective}
  window: {{calendar: month, timeZone: UTC}}    # or {{rolling: 28d}}
  # links: {{runbook: 'https://runbooks.example.com/{name}', dashboard: 'https://grafana.example.com/d/{service}'}}
"""

_OCCURRENCES = "  objective: {{target: {target}}}"
_TIMESLICES = """\
  budgetingMethod: Timeslices
  noDataPolicy: bad            # no data about freshness counts against the objective
  objective: {{target: {target}, timeSliceTarget: 1, timeSliceWindow: 1m}}"""


def _num(value: float) -> str:
    # 0.3 s * 1000 is 300.00000000000006: six decimals are all a template states.
    return number(round(value, 6))


def _availability(service: str, target: float) -> dict[str, str]:
    errors = f'http_requests_total{{service="{service}",code=~"5.."}}'
    return {
        "name": f"{service}-availability",
        "description": "Requests that do not fail with a server error (5xx).",
        "indicator": (
            "    ratio:\n"
            f"      bad:   {{selector: '{errors}'}}\n"
            f"      total: {{selector: 'http_requests_total{{service=\"{service}\"}}'}}"),
        "objective": _OCCURRENCES.format(target=_num(target)),
    }


def _latency(service: str, tier: Tier, what: str) -> dict[str, str]:
    return {
        "name": f"{service}-latency",
        "description": f"{what} served within {_num(tier.latency_s * 1000)} ms (p99).",
        "indicator": (
            "    latency:\n"
            f"      histogram: 'http_request_duration_seconds{{service=\"{service}\"}}'\n"
            f"      threshold: {_num(tier.latency_s)}    # seconds; must be a bucket boundary"),
        "objective": _OCCURRENCES.format(target="0.99"),
    }


def _freshness(service: str, target: float, measure: str, metric: str, max_age: str,
               description: str, label: str = "pipeline") -> dict[str, str]:
    return {
        "name": f"{service}-freshness",
        "description": description,
        "indicator": (
            "    freshness:\n"
            f"      measure: {measure}\n"
            f"      timestamp: 'max({metric}{{{label}=\"{service}\"}})'\n"
            f"      maxAge: {max_age}"),
        "objective": _TIMESLICES.format(target=_num(target)),
    }


def _ratio(service: str, suffix: str, description: str, good: str, total: str,
           target: float, bad: bool = False, label: str = "pipeline") -> dict[str, str]:
    first = "bad: " if bad else "good:"
    return {
        "name": f"{service}-{suffix}",
        "description": description,
        "indicator": (
            "    ratio:\n"
            f"      {first}  {{selector: '{good}{{{label}=\"{service}\"}}'}}\n"
            f"      total: {{selector: '{total}{{{label}=\"{service}\"}}'}}"),
        "objective": _OCCURRENCES.format(target=_num(target)),
    }


def _quality(service: str, target: float) -> dict[str, str]:
    degraded = f'http_responses_degraded_total{{service="{service}"}}'
    return {
        "name": f"{service}-quality",
        "description": "Pages served in full, none degraded to fallback or partial content.",
        "indicator": (
            "    quality:    # a ratio named for what it measures; bad = degraded responses\n"
            f"      bad:   {{selector: '{degraded}'}}\n"
            f"      total: {{selector: 'http_requests_total{{service=\"{service}\"}}'}}"),
        "objective": _OCCURRENCES.format(target=_num(target)),
    }


_PER_SLICE = """\
  budgetingMethod: Timeslices
  noDataPolicy: bad            # no data (an exporter or the consumers down) counts against it
  objective: {{target: {target}, timeSliceTarget: 1, timeSliceWindow: {slice}}}"""


def _streaming(service: str, tier: Tier) -> list[dict[str, str]]:
    group = f'consumergroup="{service}"'
    return [{
        "name": f"{service}-consumer-lag",
        "description": "Minutes in which no partition's consumer lag exceeds 1000 messages.",
        "indicator": (
            "    threshold:    # kafka_exporter's lag; sum(...) for the group's total\n"
            f"      query: 'max(kafka_consumergroup_lag{{{group}}})'\n"
            "      op: lte\n      value: 1000"),
        "objective": _PER_SLICE.format(target=_num(tier.availability), slice="1m"),
    }, {
        "name": f"{service}-event-latency",
        "description": (f"Events processed within {_num(tier.event_latency_s)} s of being "
                        "produced (end to end)."),
        "indicator": (
            "    latency:\n"
            f"      histogram: 'event_end_to_end_latency_seconds{{service=\"{service}\"}}'\n"
            f"      threshold: {_num(tier.event_latency_s)}    # seconds; a bucket boundary"),
        "objective": _OCCURRENCES.format(target="0.99"),
    }, {
        "name": f"{service}-throughput",
        "description": "5-minute slices in which at least 50 events a second were processed.",
        "indicator": (
            "    threshold:    # the floor: set it from the rate the service must sustain\n"
            f"      query: 'sum(rate(events_processed_total{{service=\"{service}\"}}[5m]))'\n"
            "      op: gte\n      value: 50"),
        "objective": _PER_SLICE.format(target=_num(tier.availability), slice="5m"),
    }]


def _slos(template: str, service: str, tier: Tier) -> list[dict[str, str]]:
    if template == "api":
        return [_availability(service, tier.availability), _latency(service, tier, "Requests")]
    if template == "web":
        return [_availability(service, tier.availability),
                _latency(service, tier, "Page requests"), _quality(service, tier.availability)]
    if template == "streaming":
        return _streaming(service, tier)
    if template == "batch":
        return [
            _ratio(service, "runs", "Job runs that finish without failing.",
                   "batch_job_runs_failed_total", "batch_job_runs_total",
                   1 - tier.error_rate, bad=True, label="batch_job"),
            _freshness(service, tier.availability, "runCompletion",
                       "batch_job_last_success_timestamp_seconds", "25h",
                       "The last successful run finished within 25 hours (a daily job).",
                       label="batch_job"),
        ]
    return [
        _freshness(service, tier.availability, "newestData",
                   "pipeline_newest_record_timestamp_seconds", "30m",
                   "The newest loaded data is at most 30 minutes old."),
        _ratio(service, "completeness", "Records received that were processed.",
               "pipeline_records_processed_total", "pipeline_records_received_total",
               tier.availability),
    ]


TEMPLATES = ("api", "web", "batch", "data-pipeline", "streaming")


def render(template: str, tier: str, service: str, path: str = "slos/<file>.yaml") -> str:
    """A ready-to-edit native spec (several documents) for ``service``."""
    if template not in TEMPLATES:
        raise SpecError(f"--template: {template!r}; expected one of {', '.join(TEMPLATES)}")
    tier = tier_name(tier)  # best-effort as typed on a command line
    if tier not in TIERS:
        raise SpecError(f"--tier: {tier!r}; expected one of "
                        f"{', '.join(t.replace('_', '-') for t in TIERS)}")
    try:
        safe_name(service)
    except ValueError as exc:
        raise SpecError(f"--service: {service!r}; {exc}") from None
    docs = [_DOC.format(tier=tier, service=service, **slo)
            for slo in _slos(template, service, TIERS[tier])]
    return _HEAD.format(service=service, template=template, tier=tier, path=path) + \
        "---\n".join(docs)
