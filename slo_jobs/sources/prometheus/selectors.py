"""Counter selectors as the extractor needs them: histogram buckets matched by number.

Prometheus 2 client libraries write ``le="1"``, Prometheus 3 and OpenMetrics ``le="1.0"``, some
exporters ``le="1e+00"``.  A selector with ``le="1"`` that matches no series would read as
zero good events, so the extractor looks up the ``le`` values the histogram really has and
matches the threshold numerically.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ...core.errors import ExtractError

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)

    def text(self) -> str:
        inner = ",".join(f'{label}{op}"{value}"' for label, op, value in self.matchers)
        return f"{self.name}{{{inner}}}" if inner else self.name

    def without(self, label: str) -> Selector:
        return Selector(self.name, tuple(m for m in self.matchers if m[0] != label))

    def equal(self, label: str) -> str | None:
        return next((v for lbl, op, v in self.matchers if lbl == label and op == "="), None)


def parse(selector: str) -> Selector | None:
    """``name{a="b",...}`` as parts; None for anything else (left as it is)."""
    text = selector.strip()
    name, brace, rest = text.partition("{")
    name = name.strip()
    if brace and not rest.endswith("}"):
        return None
    inner = rest[:-1].strip().rstrip(",") if brace else ""
    matchers = []
    pos = 0
    while pos < len(inner):
        m = _MATCHER.match(inner, pos)
        if m is None:
            return None
        matchers.append((m.group(1), m.group(2), m.group(3)))
        pos = m.end()
        if pos < len(inner):
            if inner[pos] != ",":
                return None
            pos += 1
    if name and not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", name):
        return None
    return Selector(name, tuple(matchers))


def as_number(le: str) -> float | None:
    try:
        return float(le)
    except ValueError:
        return None


def bucket_selector(selector: str, found: list[str], where: str) -> str:
    """``selector`` with its ``le="x"`` matcher replaced by the spellings of x that the
    histogram really uses (``found``: its le values).  A threshold that is no bucket boundary
    is an error naming the nearest boundaries."""
    parsed = parse(selector)
    wanted = None if parsed is None else parsed.equal("le")
    number = None if wanted is None else as_number(wanted)
    if parsed is None or number is None or not found:
        return selector
    same = sorted({le for le in found if as_number(le) == number})
    if not same:
        bounds = sorted({n for le in found if (n := as_number(le)) is not None
                         and math.isfinite(n)})
        below = [b for b in bounds if b < number]
        above = [b for b in bounds if b > number]
        near = " and ".join(f"{b:g}" for b in ([below[-1]] if below else [])
                            + ([above[0]] if above else []))
        raise ExtractError(f"{where}: histogram {parsed.without('le').text()} has no bucket "
                           f"at le={wanted} (its boundaries: "
                           f"{', '.join(f'{b:g}' for b in bounds) or 'none'}); expected a "
                           f"threshold that is a bucket boundary, nearest: {near or 'none'}")
    # A regex inside a PromQL string: its backslashes are escaped once more.
    alternatives = "|".join(re.escape(le) for le in same).replace("\\", "\\\\")
    matchers = tuple(m for m in parsed.matchers if m[0] != "le") + (("le", "=~", alternatives),)
    return Selector(parsed.name, matchers).text()


def is_bucket(selector: str) -> bool:
    parsed = parse(selector)
    return parsed is not None and parsed.name.endswith("_bucket") and \
        as_number(parsed.equal("le") or "") is not None
