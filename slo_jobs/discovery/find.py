"""Services found in Prometheus from common metric families, and their weekly history.

Request counters are series named ``*_requests_total`` with a ``service`` (else ``job``)
label and a status label (``code`` or ``status``: 5xx is an error); duration histograms are
``*_request_duration_seconds_bucket`` series with the same labels. Only the public methods
of :class:`~slo_jobs.extract.PrometheusClient` are used: ``label_sets`` and ``query_range``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..extract import PrometheusClient

COUNTERS = '{__name__=~".+_requests_total"}'
HISTOGRAMS = '{__name__=~".+_request_duration_seconds_bucket"}'
SERVICE_LABELS = ("service", "job")
STATUS_LABELS = ("code", "status")
WEEK = timedelta(days=7)


@dataclass
class Found:
    service: str
    label: str  # service or job
    counter: str
    status: str | None  # code or status
    histogram: str | None = None  # the family name, without _bucket
    bounds: dict[float, str] = field(default_factory=dict)  # le as a number -> as written


@dataclass(frozen=True)
class Week:
    start: datetime
    total: float
    sli: float
    latency_sli: float | None = None


def _service(labels: dict[str, str]) -> tuple[str, str] | None:
    for key in SERVICE_LABELS:
        if labels.get(key):
            return key, labels[key]
    return None


def services(client: PrometheusClient, start: datetime, end: datetime) -> list[Found]:
    """Every service with a request counter with samples in ``[start, end]``."""
    found: dict[str, Found] = {}
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    for labels in client.label_sets(COUNTERS, t0, t1):
        key = _service(labels)
        if key is None:
            continue
        status = next((s for s in STATUS_LABELS if s in labels), None)
        entry = found.setdefault(key[1], Found(key[1], key[0], labels["__name__"], status))
        entry.status = entry.status or status
    for labels in client.label_sets(HISTOGRAMS, t0, t1):
        key = _service(labels)
        if key is None or key[1] not in found or found[key[1]].label != key[0]:
            continue
        entry = found[key[1]]
        entry.histogram = labels["__name__"].removesuffix("_bucket")
        try:
            entry.bounds.setdefault(float(labels.get("le", "")), labels["le"])
        except ValueError:
            continue
    return [found[s] for s in sorted(found)]


def _weekly(client: PrometheusClient, expr: str, weeks: list[datetime]) -> dict[int, float]:
    """``expr`` over ``[7d]`` at the end of each week, by the week's end (Unix seconds)."""
    return client.query_range(f"sum(increase({expr}[7d]))", weeks[0] + WEEK,
                              weeks[-1] + WEEK, WEEK)


def history(client: PrometheusClient, f: Found, weeks: list[datetime],
            le: str | None) -> list[Week]:
    """Requests and SLIs of each week (starting at ``weeks``) with traffic."""
    sel = f'{f.label}="{f.service}"'
    total = _weekly(client, f"{f.counter}{{{sel}}}", weeks)
    bad = _weekly(client, f'{f.counter}{{{sel},{f.status}=~"5.."}}', weeks) if f.status \
        else {}
    fast = count = {}
    if f.histogram and le is not None:
        fast = _weekly(client, f'{f.histogram}_bucket{{{sel},le="{le}"}}', weeks)
        count = _weekly(client, f"{f.histogram}_count{{{sel}}}", weeks)
    out = []
    for w in weeks:
        at = int((w + WEEK).timestamp())
        if total.get(at, 0.0) > 0:
            latency = fast.get(at, 0.0) / count[at] if count.get(at) else None
            out.append(Week(w, total[at], 1.0 - bad.get(at, 0.0) / total[at], latency))
    return out
