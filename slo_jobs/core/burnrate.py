"""The burn-rate arithmetic every stage shares (docs/slo-math.md): the error budget, the
four default alert conditions and their factors, the windows burn rates are kept over, and
the lookback they need. Rules, compute and the report all read it from here.

At the bottom of the package: it imports nothing of slo-jobs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

# (share of the period's budget, long window in seconds) per default alert condition; the
# short window is a twelfth of the long one (the SRE workbook's 1h/5m ... 3d/6h).
CONDITIONS = {"thr_page1": (0.02, 3600), "thr_page2": (0.05, 21600),
              "thr_ticket1": (0.10, 86400), "thr_ticket2": (0.10, 259200)}
SHORT_WINDOW_DIVISOR = 12
# Burn rates kept per hour for the report (its chart and table), in seconds.
BURN_WINDOWS_S = {"burn_5m": 300, "burn_30m": 1800, "burn_1h": 3600, "burn_2h": 7200,
                  "burn_6h": 21600, "burn_1d": 86400, "burn_3d": 259200}
# The longest default window: data a period's first alerts need from before it.
LOOKBACK = timedelta(days=3)


def budget_fraction(target: float) -> float:
    """The share of events (or slices) allowed to be bad: 1 - target."""
    # 1 - 0.999 is 0.0010000000000000009 in binary floating point: round it back.
    return round(1.0 - target, 12)


def min_events(target: float) -> int:
    """The sparse-SLO rule (docs/slo-math.md): the fewest events (or slices) a window needs
    for one bad event to spend less than its whole budget. One bad event of ``n`` spends
    ``1 / (n * B)`` of it, below 1 iff ``n > 1 / B``: so ``floor(1 / B) + 1``."""
    b = budget_fraction(target)
    # 1 / 0.1 is 10.000000000000002 in binary floating point: round before the floor.
    return math.floor(round(1.0 / b, 9)) + 1 if b > 0 else 0


def alert_factor(share: float, period_s: float, long_s: float) -> float:
    """Burn-rate factor that spends ``share`` of the period's budget within ``long_s``."""
    return share * period_s / long_s


def lookback(long_windows: Iterable[timedelta] = ()) -> timedelta:
    """3 days, or whole days covering a longer override window."""
    longest = max(long_windows, default=LOOKBACK)
    return max(LOOKBACK, timedelta(days=-(-longest // timedelta(days=1))))
