"""Targets and tiers suggested from observed weekly history (pure arithmetic).

A target is the strictest of ``LADDER`` whose error budget is at least ``headroom`` times
the error ratio of the median observed week: an ordinary week then spends at most 1 /
headroom of an even share of the budget, and the weeks with incidents use the rest. The
target is then never above what the service achieved in its last full month (``met``): an
SLO it already failed there tells its team nothing new. The tier is the strictest whose
default availability target (docs/slo-math.md, "Tiers") the suggested availability target
reaches.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from ..spec.templates import TIERS

LADDER = (0.9999, 0.9995, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9)
DEFAULT_HEADROOM = 2.0


def on_ladder(weekly_sli: Sequence[float], headroom: float = DEFAULT_HEADROOM
              ) -> float | None:
    """The strictest target of LADDER with the headroom, None if even the loosest lacks it."""
    typical = 1.0 - statistics.median(weekly_sli)
    for t in LADDER:
        # Rounded: 1 - 0.999 is 0.0010000000000000009 in binary floating point.
        if round(1.0 - t, 10) >= headroom * typical:
            return t
    return None


def target(weekly_sli: Sequence[float], headroom: float = DEFAULT_HEADROOM) -> float:
    """The suggested target for weeks with these SLIs (at least one): on the ladder, else
    the whole percent below ``1 - headroom x the median week's error ratio``."""
    found = on_ladder(weekly_sli, headroom)
    if found is not None:
        return found
    typical = 1.0 - statistics.median(weekly_sli)
    return max(0.0, math.floor((1.0 - headroom * typical) * 100) / 100)


def met(suggested: float, achieved: float) -> float:
    """``suggested`` if ``achieved`` reaches it; else the strictest of LADDER at or below
    ``achieved``, below the ladder the whole percent under it: a target it met."""
    if achieved >= suggested:
        return suggested
    for t in LADDER:
        if t <= achieved:
            return t
    # Rounded first: 0.29 * 100 is 28.999999999999996 in binary floating point.
    return max(0.0, math.floor(round(achieved * 100, 9)) / 100)


def tier(availability_target: float) -> str:
    """The strictest tier whose default availability target is reached."""
    for name, defaults in TIERS.items():  # from the strictest
        if availability_target >= defaults.availability:
            return name
    return "best_effort"


def thresholds(bounds: Sequence[float], tier_name: str) -> list[float]:
    """Histogram bucket boundaries to try as the latency threshold (it must be one), from
    the smallest at or above the tier's threshold upwards; the largest if none is."""
    wanted = TIERS[tier_name].latency_s
    finite = sorted(b for b in bounds if b != float("inf"))
    return [b for b in finite if b >= wanted] or finite[-1:]
