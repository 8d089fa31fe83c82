"""Selectors that match no series, named: ``slo-jobs check`` counts the series each SLO's
selectors match before any month is run, and ``run``, ``extract`` and ``backfill`` name the
selectors and breakdown labels that matched nothing in the days they read (from the notes the
extractor stored with each day). A selector matching nothing is a mistake in the definition
or a service not deployed yet; a gap is a stretch without samples. The report keeps them apart
the same way (its data-quality section).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import promql_parser

from ... import lake
from ...core.errors import ExtractError, SloJobsError
from ...lake import LakeDir
from ...spec import RatioSli, Slo
from ...spec import io as specio
from ...spec.promql import WINDOW_PLACEHOLDERS
from . import selectors
from .client import PrometheusClient

# Notes (extract/counters.py, extract/breakdown.py) that say a selector or label matched nothing.
UNMATCHED = ("no series matched ", "breakdown label ")


def unmatched(lake_dir: LakeDir, slos: Sequence[Slo], days: Sequence[date]) -> list[str]:
    """One line per SLO and selector (or breakdown label) that matched no series on any of
    ``days``, with how many of them."""
    out = []
    for slo in slos:
        found: dict[str, list[date]] = {}
        for day in days:
            for note in lake.notes(lake.sli_partition(lake_dir, slo.name, day)):
                if note.startswith(UNMATCHED):
                    found.setdefault(note, []).append(day)
        out += [f"{slo.name}: {note} ({len(d)} of {len(days)} days, {d[0]} to {d[-1]})"
                for note, d in found.items()]
    return out


@dataclass(frozen=True)
class Found:
    """The series one selector of an SLO matched."""

    slo: str
    role: str  # total, good, bad, query (in an expression) or "breakdown label <name>"
    selector: str
    series: int
    of: int = 0  # a breakdown label: the series of the total selector
    problem: str = ""  # why it could not be counted (a threshold that is no bucket bound)

    @property
    def failed(self) -> bool:
        # An error counter appears with the first error: a bad selector with no series
        # yet is "no bad events", not a mistake (the extractor counts it so).
        return bool(self.problem) or (self.series == 0 and self.role != "bad")

    def line(self, url: str) -> str:
        if self.problem:
            return f"{self.slo}: {self.role} {self.selector}: {self.problem}"
        if self.role.startswith("breakdown label "):
            if self.series == 0:
                return f"{self.slo}: {self.role} is on no series of {self.selector}"
            return f"{self.slo}: {self.role} on {self.series} of {self.of} series of " \
                   f"{self.selector}"
        if self.series == 0:
            why = " (read as no bad events until the first error)" if self.role == "bad" else ""
            return f"{self.slo}: {self.role}: no series matched {self.selector} in {url}{why}"
        return f"{self.slo}: {self.role} {self.selector}: {self.series} series"


def vectors(expr: str) -> list[str]:
    """The vector selectors an expression reads, in order."""
    for p in WINDOW_PLACEHOLDERS:
        expr = expr.replace(p, "5m")
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            text = str(node)
            out.append(text[:-2] if text.endswith("{}") else text)
            return
        for attr in ("expr", "lhs", "rhs", "args", "vector_selector", "param"):
            child = getattr(node, attr, None)
            for c in child if isinstance(child, list) else [child]:
                if c is not None:
                    walk(c)

    walk(promql_parser.parse(expr))
    return out


def roles(slo: Slo) -> list[tuple[str, str]]:
    """(role, selector) of every series selector the SLO reads, each once."""
    bad = slo.sli.bad if isinstance(slo.sli, RatioSli) else None
    pairs: list[tuple[str, str]] = []
    for role, query in (("total", slo.total), ("bad", bad) if bad else ("good", slo.good)):
        if query is None:
            continue
        if query.selector:
            pairs.append((role, query.selector.strip()))
        elif query.expr:
            pairs += [("query", v) for v in vectors(query.expr)]
    out: list[tuple[str, str]] = []
    for role, sel in pairs:
        if all(sel != s for _, s in out):
            out.append((role, sel))
    return out


def _count(client: PrometheusClient, slo: Slo, role: str, selector: str, start: int,
           end: int) -> Found:
    if selectors.is_bucket(selector):  # the le values the histogram really has
        parsed = selectors.parse(selector)
        assert parsed is not None
        les = [s["le"] for s in client.label_sets(parsed.without("le").text(), start, end)
               if "le" in s]
        try:
            asked = selectors.bucket_selector(selector, les, f"SLO {slo.name}")
        except ExtractError as exc:  # a threshold that is no bucket boundary
            return Found(slo.name, role, selector, 0, problem=str(exc))
    else:
        asked = selector
    return Found(slo.name, role, selector, len(client.label_sets(asked, start, end)))


def check(slos: Sequence[Slo], client_for: Callable[[Slo], PrometheusClient], at: datetime,
          window: timedelta) -> list[tuple[Found, str]]:
    """(what each selector and breakdown label of ``slos`` matched over
    ``[at - window, at]``, the URL it was asked) for every SLO read from Prometheus."""
    end = int(at.timestamp())
    start = end - int(window.total_seconds())
    out: list[tuple[Found, str]] = []
    for slo in slos:
        if slo.pipeline is not None:
            continue
        client = client_for(slo)
        found = [_count(client, slo, role, sel, start, end) for role, sel in roles(slo)]
        out += [(f, client.config.url) for f in found]
        total = found[0] if found and found[0].role == "total" else None
        if slo.breakdown and total is not None and total.series and slo.total.selector:
            sets = client.label_sets(total.selector, start, end)
            out += [(Found(slo.name, f"breakdown label {name}", total.selector,
                           sum(1 for s in sets if name in s), len(sets)), client.config.url)
                    for name in slo.breakdown]
    return out


def window(text: str) -> timedelta:
    """--window: a duration in minutes, hours or days."""
    try:
        return specio.duration(text, "mhd")
    except ValueError as exc:
        raise SloJobsError(f"--window: found {text!r}; {exc}") from None


def lines(found: Sequence[tuple[Found, str]], at: datetime, window: timedelta
          ) -> tuple[list[str], bool]:
    """``slo-jobs check``'s output, and whether any selector or label matched nothing."""
    failed = sum(1 for f, _ in found if f.failed)
    return ([f"series with samples from {at - window:%Y-%m-%d %H:%M} to {at:%Y-%m-%d %H:%M} UTC"]
            + [f.line(url) for f, url in found]
            + [f"{failed} of {len(found)} selectors and labels match no series" if failed
               else f"all {len(found)} selectors and labels match series"]), failed > 0
