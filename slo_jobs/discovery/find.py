"""Services found in Prometheus from common metric families, and their measured history
(whole weeks, and the last full month).

Request counters are series named ``*_requests_total`` with a ``service`` (else ``job``)
label and a status label (``code`` or ``status``: 5xx is an error); duration histograms are
``*_request_duration_seconds_bucket`` series with the same labels. Only the public methods
of :class:`~slo_jobs.sources.prometheus.PrometheusClient` are used: ``label_sets`` and
``query_range``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..core.names import SAFE_NAME, SAFE_NAME_HINT
from ..sources.prometheus import PrometheusClient

COUNTERS = '{__name__=~".+_requests_total"}'
HISTOGRAMS = '{__name__=~".+_request_duration_seconds_bucket"}'
SERVICE_LABELS = ("service", "job")
STATUS_LABELS = ("code", "status")
WEEK = timedelta(days=7)
log = logging.getLogger("slo_jobs")
# Metric names and bucket bounds are written into the SLO file's selectors: only the shapes
# Prometheus itself produces pass, so an answer cannot add YAML or PromQL of its own.
METRIC_NAME = re.compile(r"\A[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
BOUND = re.compile(r"\A(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|\+Inf)\Z")


@dataclass
class Found:
    service: str
    label: str  # service or job
    counter: str
    status: str | None  # code or status
    histogram: str | None = None  # the family name, without _bucket
    bounds: dict[float, str] = field(default_factory=dict)  # le as a number -> as written


@dataclass(frozen=True)
class Measured:
    """A week's (or a month's) requests and SLIs, from ``start`` for the period's length."""

    start: datetime
    total: float
    sli: float
    latency_sli: float | None = None
    # The service's series have a sample at the start and at the end: the counts cover
    # the whole period. A period the history begins or ends inside is not whole.
    whole: bool = True


def _service(labels: dict[str, str]) -> tuple[str, str] | None:
    for key in SERVICE_LABELS:
        if labels.get(key):
            return key, labels[key]
    return None


def _refused(key: tuple[str, str], metric: str, seen: set[tuple[str, str]]) -> bool:
    """True, saying so once per value, when a label value cannot be a service name.

    The value becomes a file name (``<out>/<service>.yaml``), an SLO name and text in the
    file written, and it comes from the monitored system, not from the user: it passes the
    spec's name rule or is skipped, never reaching a path (``service="../../x"``).
    """
    if SAFE_NAME.match(key[1]):
        return False
    if key not in seen:
        seen.add(key)
        # Without logging configured (the CLI), Python prints this line alone on stderr.
        log.warning("warning: Prometheus series %s{%s=%s}: not usable as a service name, "
                    "skipped; %s", metric, key[0], ascii(key[1][:80]), SAFE_NAME_HINT)
    return True


def services(client: PrometheusClient, start: datetime, end: datetime) -> list[Found]:
    """Every service with a request counter with samples in ``[start, end]``."""
    found: dict[str, Found] = {}
    refused: set[tuple[str, str]] = set()
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    for labels in client.label_sets(COUNTERS, t0, t1):
        key = _service(labels)
        if key is None or not METRIC_NAME.match(labels.get("__name__", "")) or \
                _refused(key, labels["__name__"], refused):
            continue
        status = next((s for s in STATUS_LABELS if s in labels), None)
        entry = found.setdefault(key[1], Found(key[1], key[0], labels["__name__"], status))
        entry.status = entry.status or status
    for labels in client.label_sets(HISTOGRAMS, t0, t1):
        key = _service(labels)
        if key is None or key[1] not in found or found[key[1]].label != key[0] or \
                not METRIC_NAME.match(labels.get("__name__", "")) or \
                not BOUND.match(labels.get("le", "")):
            continue
        entry = found[key[1]]
        entry.histogram = labels["__name__"].removesuffix("_bucket")
        entry.bounds.setdefault(float(labels["le"]), labels["le"])
    return [found[s] for s in sorted(found)]


def _present(client: PrometheusClient, f: Found, sel: str, starts: list[datetime],
             length: timedelta) -> dict[int, float]:
    """The boundaries (Unix seconds) of consecutive periods at which the service's request
    counter, and its histogram if it has one, have a sample within the lookback before."""
    expr = f"count({f.counter}{{{sel}}})"
    if f.histogram:
        expr += f" and count({f.histogram}_bucket{{{sel}}})"
    return client.query_range(expr, starts[0], starts[-1] + length, length)


def history(client: PrometheusClient, f: Found, starts: list[datetime], le: str | None,
            length: timedelta = WEEK) -> list[Measured]:
    """Requests and SLIs of each consecutive period (starting at ``starts``, ``length``
    long) with traffic, each marked whole or not."""
    sel = f'{f.label}="{f.service}"'

    def sums(expr: str) -> dict[int, float]:
        # At the end of each period, over its length: one point per period.
        return client.query_range(
            f"sum(increase({expr}[{int(length.total_seconds())}s]))",
            starts[0] + length, starts[-1] + length, length)

    total = sums(f"{f.counter}{{{sel}}}")
    bad = sums(f'{f.counter}{{{sel},{f.status}=~"5.."}}') if f.status else {}
    fast = count = {}
    if f.histogram and le is not None:
        fast = sums(f'{f.histogram}_bucket{{{sel},le="{le}"}}')
        count = sums(f"{f.histogram}_count{{{sel}}}")
    present = _present(client, f, sel, starts, length)
    out = []
    for s in starts:
        at = int((s + length).timestamp())
        if total.get(at, 0.0) > 0:
            latency = fast.get(at, 0.0) / count[at] if count.get(at) else None
            whole = int(s.timestamp()) in present and at in present
            out.append(Measured(s, total[at], 1.0 - bad.get(at, 0.0) / total[at], latency,
                                whole))
    return out
