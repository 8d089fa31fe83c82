"""A time-slice SLO's burn rates and alert conditions count slices, as its budget does
(docs/slo-math.md, "Burn rate and alerts").

Hand-built minute data where the answer is plain by construction: 1,000 requests a minute;
a bad 5-minute slice has one minute at 90 % (slice ratio 0.98, under the slice target 0.99,
so 2 % of its events bad), one slice in 199 is bad all month and its lookback, an hour is
an outage of bad slices, and an hour has no data (skipped, as the budget skips it). In
events the outage burns 2; in slices it burns 100 and pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slo_jobs.compute import SloParams, compute_window
from slo_jobs.core import periods
from tests.lakeutil import write_buckets

TZ = "Asia/Kolkata"
PERIOD = periods.calendar("month", "2026-11", TZ)
ORIGIN = datetime(2026, 10, 28, tzinfo=UTC)  # the 3-day lookback's first whole day
AS_OF = datetime(2026, 11, 20, 13, 47, tzinfo=UTC)
SLICE_MIN, TARGET = 5, 0.99
BUDGET = round(1 - TARGET, 12)
OUTAGE = (datetime(2026, 11, 3, 10, tzinfo=UTC), datetime(2026, 11, 3, 11, tzinfo=UTC))
GAP = (datetime(2026, 11, 10, 4, tzinfo=UTC), datetime(2026, 11, 10, 5, tzinfo=UTC))
SLO = SloParams("checkout-slices", "svc", "", "h", TARGET, method="Timeslices",
                slice_seconds=SLICE_MIN * 60.0, slice_target=0.99, no_data="skip")


def _slice(t: datetime) -> int:
    return int((t - ORIGIN).total_seconds()) // (60 * SLICE_MIN)


N_SLICES = _slice(PERIOD.end)
BAD = {s for s in range(N_SLICES) if s % 199 == 0} | set(range(*map(_slice, OUTAGE)))
NO_DATA = set(range(*map(_slice, GAP)))


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slices")
    minutes: list[tuple[float, float] | None] = []
    for s in range(N_SLICES):
        for m in range(SLICE_MIN):
            minutes.append(None if s in NO_DATA else
                           (900.0 if s in BAD and m == 0 else 1000.0, 1000.0))
    write_buckets(root, SLO.name, ORIGIN, minutes)
    return root


def _burn(end: datetime, minutes: int) -> float | None:
    """Bad slices / counted slices / B over the whole slices of [end - minutes, end)."""
    last = _slice(end)
    window = [s for s in range(last - minutes // SLICE_MIN, last) if s not in NO_DATA]
    return sum(s in BAD for s in window) / len(window) / BUDGET if window else None


WINDOWS = {"burn_5m": 5, "burn_30m": 30, "burn_1h": 60, "burn_2h": 120, "burn_6h": 360,
           "burn_1d": 1440, "burn_3d": 4320}


def test_hourly_burn_rates_count_slices(lake_dir: Path) -> None:
    got = compute_window(lake_dir, [SLO], PERIOD, as_of=AS_OF, tz=TZ)
    # the period starts at 18:30 UTC: rows fall on the whole UTC hours after it, to as-of
    first = PERIOD.start.replace(minute=0) + timedelta(hours=1)
    want_ends = [first + timedelta(hours=i) for i in range(24 * 31)
                 if first + timedelta(hours=i) <= AS_OF]
    assert [r["hour_end"] for r in got.burn] == want_ends
    for row in got.burn:
        for col, minutes in WINDOWS.items():
            want = _burn(row["hour_end"], minutes)
            assert row[col] == (None if want is None else pytest.approx(want, rel=1e-12)), \
                (row["hour_end"], col)
    at = {r["hour_end"]: r for r in got.burn}
    # the outage's hour: every slice bad, burn 1 / B; in events it would be 0.02 / B
    assert at[OUTAGE[1]]["burn_1h"] == pytest.approx(1 / BUDGET)
    assert at[GAP[1]]["burn_1h"] is None  # no counted slice: no rate


def test_outage_of_bad_slices_pages(lake_dir: Path) -> None:
    got = compute_window(lake_dir, [SLO], PERIOD, as_of=AS_OF, tz=TZ)
    pages = [i for i in got.incidents if i["severity"] == "page"]
    # Each minute carries its slice's verdict; the 1 h / 5 min page condition holds from the
    # first minute whose hour has more than 2 % x 720 h / 1 h = 14.4 % of its minutes in bad
    # slices (the 5-minute window is then wholly in the outage).
    threshold = 0.02 * 720 * BUDGET

    def share(last: datetime, minutes: int) -> float:
        return sum(_slice(last - timedelta(minutes=m)) in BAD for m in range(minutes)) / minutes

    start = OUTAGE[0]
    while not (share(start, 60) > threshold and share(start, 5) > threshold):
        start += timedelta(minutes=1)
    assert start > OUTAGE[0]
    assert [p["start"] for p in pages] == [start]
    assert pages[0]["peak_burn_1h"] == pytest.approx(1 / BUDGET)


def test_pandas_reference_counts_the_same_slices(lake_dir: Path) -> None:
    from bench.pandas_reference import reference

    got = compute_window(lake_dir, [SLO], PERIOD, tz=TZ)
    want = reference(lake_dir, [SLO], PERIOD)
    burn = pd.DataFrame(got.burn).set_index("hour_end")
    ref = want["burn"].set_index("hour_end")
    assert burn.index.equals(ref.index) and len(ref) == 720
    for col in WINDOWS:
        np.testing.assert_allclose(burn[col].astype(float), ref[col], rtol=1e-12)
    cols = ["start", "end", "severity", "bad"]
    assert [tuple(i[c] for c in cols) for i in got.incidents] == \
        [tuple(r) for r in want["incidents"][cols].itertuples(index=False, name=None)]
    assert {"page", "ticket"} <= {i["severity"] for i in got.incidents}
