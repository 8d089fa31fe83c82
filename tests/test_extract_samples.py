"""Counting raw counter samples into buckets, as data: scrape intervals, jitter, resets, gaps,
new series, both range-selector semantics.  Each case states its expected buckets by hand."""

from __future__ import annotations

import numpy as np
import pytest

from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import samples, selectors
from slo_jobs.sources.prometheus.samples import Series

MIN = 60_000  # one bucket, in ms


def series(points: list[tuple[float, float]], **labels: str) -> Series:
    """``points``: (seconds after the origin, value)."""
    return Series(tuple(sorted(labels.items())),
                  np.array([round(t * 1000) for t, _ in points], dtype=np.int64),
                  np.array([v for _, v in points], dtype=np.float64))


def count(ss: list[Series], buckets: int = 5, gap_s: float = 180,
          lookback_s: float = 3600) -> samples.Counted:
    return samples.count(ss, 0, buckets, MIN, int(-lookback_s * 1000), int(gap_s * 1000))


def test_each_difference_lands_in_the_bucket_of_the_later_sample() -> None:
    # 30 s scrapes with jitter; the sample before the origin is only a baseline.
    s = series([(-20, 100), (13, 104), (44, 110), (60, 111), (95, 120), (150, 121),
                (170, 130), (240, 131), (299.5, 140)])
    got = count([s])
    # (0, 60] holds 13, 44, 60: 4 + 6 + 1; (60, 120]: 95; (120, 180]: 150, 170; (180, 240]:
    # 240 (on the boundary: the earlier bucket); (240, 300]: 299.5.
    assert got.events.tolist() == [11, 9, 10, 1, 9]
    assert got.covered.all() and not got.unusable.any() and got.series == 1


def test_any_interval_sums_to_the_counters_increase() -> None:
    rng = np.random.default_rng(1)
    for interval in (10, 15, 30, 60, 120, 300):
        slots = np.arange(-3600, 86_400 + interval, interval, dtype=float)
        t = slots + rng.uniform(-0.45, 0.45, len(slots)) * interval
        v = np.cumsum(rng.poisson(5, len(t))).astype(float)
        got = count([series(list(zip(t.tolist(), v.tolist(), strict=True)))], buckets=1440,
                    gap_s=3 * interval)
        inside = (t > 0) & (t <= 86_400)
        first, last = np.flatnonzero(inside)[[0, -1]]
        assert got.events.sum() == v[last] - v[first - 1], interval
        assert got.covered.all(), interval  # no empty bucket where samples exist


def test_a_reset_counts_the_new_value_whole() -> None:
    s = series([(-30, 50), (30, 70), (90, 5), (150, 9)])
    assert count([s]).events.tolist()[:3] == [20, 5, 4]


def test_a_gap_is_no_data_but_its_events_count_after_it() -> None:
    # 60 s scrapes, nothing between 60 and 300: buckets (60,120] .. (180,240] are uncovered;
    # the sample at 300 holds the events of the gap.
    s = series([(0, 0), (60, 10), (300, 50), (360, 55)])
    got = count([s], buckets=6)
    assert got.events.tolist() == [10, 0, 0, 0, 40, 5]
    assert got.covered.tolist() == [True, False, False, False, True, True]


def test_a_new_series_counts_from_zero_but_a_lost_one_is_a_baseline() -> None:
    fresh = series([(30, 3), (90, 7)], pod="new")  # created inside the range
    lost = series([(30, 1_000_000), (90, 1_000_004)], pod="old")  # seen before, long ago
    assert count([fresh]).events.tolist()[:2] == [3, 4]
    assert count([lost]).events.tolist()[:2] == [0, 4]
    # A series whose first sample lies in the lookback is a baseline whatever its value.
    assert count([series([(-10, 3), (30, 4)])]).events.tolist()[0] == 1


def test_unusable_values_are_no_data_and_skipped() -> None:
    s = series([(0, 0), (30, 3), (60, float("nan")), (90, 9), (150, -1), (210, 12)])
    got = count([s], buckets=4)
    assert got.unusable.tolist() == [True, False, True, False]
    assert got.events.tolist() == [3, 6, 0, 3]


def test_overlapping_answers_of_both_range_semantics_merge_to_one_sample_each() -> None:
    a = series([(0, 1), (60, 2), (120, 3)], pod="a")  # Prometheus 2: [start, end]
    b = series([(120, 3), (180, 4)], pod="a")  # the next range, closed at its start too
    c = series([(180, 4), (240, 5)], pod="a")  # Prometheus 3: (start, end]
    merged = samples.merge([[a], [b], [c]])
    assert len(merged) == 1 and merged[0].ts_ms.tolist() == [0, 60_000, 120_000, 180_000,
                                                              240_000]


def test_scrape_interval_is_the_median_gap() -> None:
    s = series([(0, 0), (15, 1), (31, 2), (44, 3), (60, 4), (200, 5)])
    assert samples.scrape_interval([s]) == 16.0  # gaps 15, 16, 13, 16, 140
    assert samples.scrape_interval([series([(0, 1)])]) is None


@pytest.mark.parametrize("found, want", [
    (["0.5", "1", "+Inf"], 'le=~"1"'),
    (["0.5", "1.0", "+Inf"], 'le=~"1\\\\.0"'),
    (["1e+00", "2.5"], 'le=~"1e\\\\+00"'),
    (["1", "1.0"], 'le=~"1|1\\\\.0"'),  # a histogram written both ways (an upgrade)
])
def test_bucket_thresholds_match_numerically(found: list[str], want: str) -> None:
    got = selectors.bucket_selector('lat_bucket{job="api",le="1"}', found, "x.yaml")
    assert got == 'lat_bucket{job="api",' + want + "}"


def test_a_threshold_that_is_no_boundary_names_the_nearest() -> None:
    with pytest.raises(ExtractError, match=r"x\.yaml: histogram lat_bucket\{job=\"api\"\} has "
                       r"no bucket at le=0\.3 .*nearest: 0\.25 and 0\.5"):
        selectors.bucket_selector('lat_bucket{job="api",le="0.3"}', ["0.25", "0.5", "+Inf"],
                                  "x.yaml")


def test_selectors_parse_and_print_back() -> None:
    sel = selectors.parse('x_bucket{ a="b", c!~"d\\"e" ,le="0.3",}')
    assert sel is not None and sel.equal("le") == "0.3"
    assert sel.without("le").text() == 'x_bucket{a="b",c!~"d\\"e"}'
    assert selectors.parse("rate(x[5m])") is None
    assert selectors.is_bucket('x_bucket{le="0.3"}') and not selectors.is_bucket("x_total")
