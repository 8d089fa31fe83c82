"""Discovery: services found in Prometheus, their observed weeks, a template and tier, and
SLO files with suggested targets and the evidence as comments (``slo-jobs discover``).

The files are native SLO specs (template ``api`` of ``slo-jobs init``: availability, and
latency where a duration histogram exists), written to ``<out>/<service>.yaml``.

May import: ``sources``, ``lake``, ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..core import names, periods
from ..core.errors import SloJobsError
from ..lake import atomicio
from ..sources.prometheus import PrometheusClient, PrometheusConfig
from . import find, suggest
from .find import Found, Measured, log

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


def _evidence(f: Found, weeks: Sequence[Measured], source: str, until: datetime,
              headroom: float, tier: str, threshold: float | None) -> list[str]:
    lines = [f"# {f.service}: discovered by slo-jobs discover from {source}, {len(weeks)} "
             f"whole weeks with traffic up to {until:%Y-%m-%d}.",
             f"# Template {TEMPLATE}, tier {tier} (the strictest tier whose default "
             "availability target the suggestion reaches; adjust it to the service's "
             "business impact).",
             f"# Targets: the strictest of {', '.join(map(_num, suggest.LADDER))} whose "
             f"error budget is at least {headroom:g}x the median week's error ratio, never "
             "above what the service achieved in its last full month.",
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


class _Month:
    """The last full calendar month (UTC, the SLO files' window): what the service achieved
    there caps each suggested target, and every cap is said in the file and on stderr."""

    def __init__(self, client: PrometheusClient, f: Found, month: periods.Period) -> None:
        self.client, self.f, self.month = client, f, month
        self.measured = self._measure(None)
        self.latency = ""
        self.lowered: list[str] = []

    def _measure(self, le: str | None) -> Measured | None:
        got = find.history(self.client, self.f, [self.month.start], le,
                           self.month.end - self.month.start)
        return got[0] if got else None

    def cap(self, kind: str, suggested: float, le: str | None = None) -> float:
        """``suggested``, or the target the month met when it missed ``suggested``."""
        if self.measured is None or not self.measured.whole:
            return suggested
        achieved = self.measured.sli
        if le is not None:
            m = self._measure(le)
            if m is None or not m.whole or m.latency_sli is None:
                return suggested
            achieved = m.latency_sli
            self.latency = f", latency <= {_num(float(le))} s {_pct(achieved)}"
        lowered = suggest.met(suggested, achieved)
        if lowered != suggested:
            said = (f"{self.f.service}-{kind}: achieved {_pct(achieved)} in "
                    f"{self.month.label}; a {_num(suggested * 100)} % target would have "
                    f"been missed: suggested {_num(lowered * 100)} %, the strictest step "
                    "it met")
            # Without logging configured (the CLI), Python prints this line on stderr.
            log.warning("warning: %s", said)
            self.lowered.append(f"# Lowered: {said}.")
        return lowered

    def lines(self) -> list[str]:
        m, head = self.measured, f"# Last full month {self.month.label} (UTC): "
        if m is None:
            return [head + "no requests recorded; the targets are not checked against it."]
        if not m.whole:
            return [head + "not wholly observed (the history begins or ends inside it); "
                    "the targets are not checked against it."]
        return [head + f"{m.total:,.0f} requests, availability {_pct(m.sli)}{self.latency}."
                ] + self.lowered


def suggest_one(client: PrometheusClient, f: Found, weeks: list[datetime], source: str,
                headroom: float, month: periods.Period | None = None
                ) -> Suggestion | None:
    """The SLO file of one service, from its whole weeks in ``weeks`` and capped by
    ``month`` (by default the calendar month before the last week's end)."""
    until = weeks[-1] + find.WEEK
    measured = find.history(client, f, weeks, None)
    partial = [w.start for w in measured if not w.whole]
    observed = [w for w in measured if w.whole]
    if not observed:
        if measured:
            log.warning("warning: %s: no whole week of data in the %d weeks to %s (the "
                        "history begins or ends inside each week with traffic); no SLO "
                        "file written", f.service, len(weeks), f"{until:%Y-%m-%d}")
        return None
    checked = _Month(client, f, month or periods.previous(periods.month_of(until)))
    availability = checked.cap("availability",
                               suggest.target([w.sli for w in observed], headroom))
    tier = suggest.tier(availability)
    threshold = latency = None
    # The tier's threshold, or the next bucket boundary up where an ordinary week keeps
    # the headroom of a target on the ladder (a 70 % "within 100 ms" suits no SLO).
    for candidate in suggest.thresholds(list(f.bounds), tier) if f.histogram else []:
        whole = [w for w in find.history(client, f, weeks, f.bounds[candidate]) if w.whole]
        slis = [w.latency_sli for w in whole if w.latency_sli is not None]
        if not slis:
            continue
        threshold, latency, observed = candidate, suggest.target(slis, headroom), whole
        if suggest.on_ladder(slis, headroom) is not None:
            break
    if latency is not None and threshold is not None:
        latency = checked.cap("latency", latency, f.bounds[threshold])
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
    lines = _evidence(f, observed, source, until, headroom, tier, threshold)
    if partial:
        lines.append("# Left out, not whole weeks (the history begins or ends inside "
                     f"them): {', '.join(f'{w:%Y-%m-%d}' for w in partial)}.")
    text = "\n".join(lines + checked.lines()) + "\n" + "---\n".join(docs)
    return Suggestion(f.service, tier, availability, latency, threshold, len(observed), text)


def discover(config: PrometheusConfig, until: datetime, weeks: int, out: Path,
             headroom: float = suggest.DEFAULT_HEADROOM, force: bool = False,
             as_of: datetime | None = None) -> list[tuple[Path, Suggestion]]:
    """Find the services of the ``weeks`` weeks before ``until`` and write their SLO files;
    the targets are checked against the last full month before ``as_of`` (default
    ``until``)."""
    if weeks < 1 or headroom < 1:
        raise SloJobsError(f"--weeks {weeks}, --headroom {headroom:g}: expected at least 1 "
                           "week and a headroom of at least 1")
    starts = [until - (weeks - i) * find.WEEK for i in range(weeks)]
    month = periods.previous(periods.month_of(as_of or until))
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
            s = suggest_one(client, f, starts, config.url, headroom, month)
            if s is not None:
                atomicio.write_text(target, s.text)
                written.append((target, s))
    return written


def last_monday(at: datetime) -> datetime:
    """00:00 UTC of the Monday on or before ``at``: the end of the last whole week."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())
