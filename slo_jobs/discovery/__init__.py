"""Discovery: services found in Prometheus, their observed weeks, a template and tier, and
SLO files with suggested targets and the evidence as comments (``slo-jobs discover``).

The files are native SLO specs (template ``api`` of ``slo-jobs init``: availability, and
latency where a duration histogram exists), written to ``<out>/<service>.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .. import atomicio, names
from ..errors import SloJobsError
from ..extract import PrometheusClient, PrometheusConfig
from . import find, suggest
from .find import Found, Week

TEMPLATE = "api"


@dataclass(frozen=True)
class Suggestion:
    service: str
    tier: str
    availability: float
    latency: float | None
    threshold: float | None
    weeks: int
    text: str


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.4f} %"


def _num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".")


def _evidence(f: Found, weeks: Sequence[Week], source: str, until: datetime,
              headroom: float, tier: str, threshold: float | None) -> list[str]:
    lines = [f"# {f.service}: discovered by slo-jobs discover from {source}, {len(weeks)} "
             f"weeks with traffic up to {until:%Y-%m-%d}.",
             f"# Template {TEMPLATE}, tier {tier} (the strictest tier whose default "
             "availability target the suggestion reaches; adjust it to the service's "
             "business impact).",
             f"# Targets: the strictest of {', '.join(map(_num, suggest.LADDER))} whose "
             f"error budget is at least {headroom:g}x the median week's error ratio.",
             "# Observed per week (week starting, requests, availability"
             + (f", latency <= {_num(threshold)} s):" if threshold is not None else "):")]
    lines += [f"#   {w.start:%Y-%m-%d}  {w.total:>14,.0f}  {_pct(w.sli):>11}"
              + (f"  {_pct(w.latency_sli):>11}" if threshold is not None else "")
              for w in weeks]
    return lines


def _doc(f: Found, kind: str, tier: str, target: float, body: str) -> str:
    return (f"apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\nmetadata:\n"
            f"  name: {f.service}-{kind}\n  labels: {{tier: {tier}}}\nspec:\n"
            f"  service: {f.service}\n{body}"
            f"  objective: {{target: {_num(target)}}}\n"
            "  window: {calendar: month, timeZone: UTC}\n")


def suggest_one(client: PrometheusClient, f: Found, weeks: list[datetime], source: str,
                headroom: float) -> Suggestion | None:
    observed = find.history(client, f, weeks, None)
    if not observed:
        return None
    availability = suggest.target([w.sli for w in observed], headroom)
    tier = suggest.tier(availability)
    threshold = latency = None
    # The tier's threshold, or the next bucket boundary up where an ordinary week keeps
    # the headroom of a target on the ladder (a 70 % "within 100 ms" suits no SLO).
    for candidate in suggest.thresholds(list(f.bounds), tier) if f.histogram else []:
        measured = find.history(client, f, weeks, f.bounds[candidate])
        slis = [w.latency_sli for w in measured if w.latency_sli is not None]
        if not slis:
            continue
        threshold, latency, observed = candidate, suggest.target(slis, headroom), measured
        if suggest.on_ladder(slis, headroom) is not None:
            break
    sel = f'{f.label}="{f.service}"'
    bad = f'{f.counter}{{{sel},{f.status}=~"5.."}}' if f.status else None
    docs = [_doc(f, "availability", tier, availability,
                 "  description: Requests that do not fail with a server error (5xx).\n"
                 "  indicator:\n    ratio:\n"
                 + (f"      bad:   {{selector: '{bad}'}}\n" if bad else
                    f"      good:  {{selector: '{f.counter}{{{sel}}}'}}\n")
                 + f"      total: {{selector: '{f.counter}{{{sel}}}'}}\n")]
    if latency is not None and threshold is not None:
        docs.append(_doc(f, "latency", tier, latency,
                         f"  description: Requests served within {_num(threshold * 1000)} "
                         "ms.\n  indicator:\n    latency:\n"
                         f"      histogram: '{f.histogram}{{{sel}}}'\n"
                         f"      threshold: {_num(threshold)}\n"))
    until = weeks[-1] + find.WEEK
    text = "\n".join(_evidence(f, observed, source, until, headroom, tier, threshold)) + \
        "\n" + "---\n".join(docs)
    return Suggestion(f.service, tier, availability, latency, threshold, len(observed), text)


def discover(config: PrometheusConfig, until: datetime, weeks: int, out: Path,
             headroom: float = suggest.DEFAULT_HEADROOM, force: bool = False
             ) -> list[tuple[Path, Suggestion]]:
    """Find the services of the ``weeks`` weeks before ``until`` and write their SLO files."""
    if weeks < 1 or headroom < 1:
        raise SloJobsError(f"--weeks {weeks}, --headroom {headroom:g}: expected at least 1 "
                           "week and a headroom of at least 1")
    starts = [until - (weeks - i) * find.WEEK for i in range(weeks)]
    written = []
    with PrometheusClient(config) as client:
        found = find.services(client, starts[0], until)
        if not found:
            raise SloJobsError(f"Prometheus at {config.url}: no request counter "
                               f"({find.COUNTERS}) with a service or job label from "
                               f"{starts[0]:%Y-%m-%d} to {until:%Y-%m-%d}; expected "
                               "services to discover")
        # find.services kept only path-safe values; checked again where the path is built.
        targets = [atomicio.confined(out) / f"{names.safe_name(f.service)}.yaml"
                   for f in found]
        taken = [str(t) for t in targets if t.exists()]
        if taken and not force:
            raise SloJobsError(f"{', '.join(taken)}: already exists; expected new files "
                               "(or --force)")
        for f, target in zip(found, targets, strict=True):
            s = suggest_one(client, f, starts, config.url, headroom)
            if s is not None:
                atomicio.write_text(target, s.text)
                written.append((target, s))
    return written


def last_monday(at: datetime) -> datetime:
    """00:00 UTC of the Monday on or before ``at``: the end of the last whole week."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())
