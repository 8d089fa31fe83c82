"""The numpy stage of the compute (slo_jobs/compute/stream.py): worker processes give the
same figures as one process, a corrupt partition read by a worker is named with its fix, and
an SLO's alerting.burnRates overrides replace the default alert conditions as in rules.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from slo_jobs import rules
from slo_jobs.compute import SloParams, compute_window, engine, stream
from slo_jobs.core import burnrate, periods
from slo_jobs.core.errors import LakeError
from slo_jobs.lake import sli_partition
from slo_jobs.spec import BurnRateAlert
from tests.conftest import api_with_overrides
from tests.lakeutil import utc, write_buckets

NOV = periods.month("2026-11")


def _outage_lake(lake_dir: Path, name: str = "a") -> None:
    # 6 days at 0.05 % errors (burn 0.5 against 99.9 %), then one hour of 100 % errors.
    write_buckets(lake_dir, name, utc(2026, 10, 29), [(999.5, 1000.0)] * (6 * 1440))
    write_buckets(lake_dir, name, utc(2026, 11, 2, 12), [(0.0, 1000.0)] * 60)


def test_worker_processes_give_the_figures_of_one_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, name in enumerate("abcd"):
        _outage_lake(tmp_path, name)
        write_buckets(tmp_path, name, utc(2026, 11, 5 + i), [(90.0, 100.0)] * 30)
    slos = [SloParams(n, "svc", "", "h", 0.999, method="Timeslices" if n == "d" else
                      "Occurrences", slice_target=0.99) for n in "abcd"]
    alone = compute_window(tmp_path, slos, NOV)
    monkeypatch.setattr(stream, "MIN_SLOS_PER_PROCESS", 1)
    monkeypatch.setattr(stream, "CHUNK", 1)
    assert stream._workers(len(slos)) > 1 or pytest.skip("one core: no worker process")
    spread = compute_window(tmp_path, slos, NOV)
    for name in ("summary", "daily", "incidents", "burn"):
        assert getattr(spread, name) == getattr(alone, name), name
    assert len(alone.incidents) >= 4


def test_corrupt_partition_in_a_worker_is_named(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in "abcd":
        _outage_lake(tmp_path, name)
    part = sli_partition(tmp_path, "c", utc(2026, 11, 2).date())
    data = part.read_bytes()
    part.write_bytes(data[:200] + bytes([data[200] ^ 0x10]) + data[201:])
    monkeypatch.setattr(stream, "MIN_SLOS_PER_PROCESS", 1)
    monkeypatch.setattr(stream, "CHUNK", 1)
    with pytest.raises(LakeError, match="slo-jobs extract --month 2026-11") as err:
        compute_window(tmp_path, [SloParams(n, "svc", "", "h", 0.999) for n in "abcd"], NOV)
    assert str(err.value).startswith(f"{part}: ")


def test_burn_rate_overrides_replace_the_default_conditions(tmp_path: Path) -> None:
    _outage_lake(tmp_path)
    default = compute_window(tmp_path, [SloParams("a", "svc", "", "h", 0.999)], NOV)
    assert [(i["severity"], i["start"], i["end"]) for i in default.incidents] == [
        ("page", utc(2026, 11, 2, 12), utc(2026, 11, 2, 13, 29)),
        ("ticket", utc(2026, 11, 2, 12, 2), utc(2026, 11, 2, 18, 59))]
    # A page no burn of this history reaches (1000 < 2000), and a ticket over 2 h / 10 min
    # spending 5 % of November's budget: f = 0.05 * 720 h / 2 h = 18. The 2 h window burns
    # (999.5 m + 60) / 120 with m outage minutes in it: over 18 from m = 3, so from the
    # outage's third minute (12:02); the 10 min window keeps an outage minute up to 13:08.
    overrides = (
        BurnRateAlert("page", timedelta(hours=1), timedelta(minutes=5), factor=2000.0),
        BurnRateAlert("ticket", timedelta(hours=2), timedelta(minutes=10),
                      budget_consumed=0.05))
    slo = SloParams("a", "svc", "", "h", 0.999, burn_rates=overrides)
    got = compute_window(tmp_path, [slo], NOV)
    assert [(i["severity"], i["start"], i["end"]) for i in got.incidents] == [
        ("ticket", utc(2026, 11, 2, 12, 2), utc(2026, 11, 2, 13, 9))]
    # only the alert conditions change, and the summary carries them for the report
    def without(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "alert_conditions"} for r in rows]
    assert without(got.summary) == without(default.summary)
    assert got.summary[0]["alert_conditions"] == [
        {"severity": "page", "long_s": 3600, "short_s": 300, "factor": 2000.0},
        {"severity": "ticket", "long_s": 7200, "short_s": 600, "factor": pytest.approx(18.0)}]


def test_override_longer_than_three_days_reads_a_longer_lookback(tmp_path: Path) -> None:
    # a 5-day window at factor 0.4: the burn 0.5 before the month fires from its first minute
    _outage_lake(tmp_path)
    slo = SloParams("a", "svc", "", "h", 0.999, burn_rates=(
        BurnRateAlert("ticket", timedelta(days=5), timedelta(hours=6), factor=0.4),))
    got = compute_window(tmp_path, [slo], NOV)
    assert got.incidents[0]["start"] == utc(2026, 11, 1)


def test_batch_thresholds_are_the_rules_thresholds(tmp_path: Path) -> None:
    slo = api_with_overrides(tmp_path)
    params = SloParams.of(slo)
    assert len(params.burn_rates) == 2
    batch = engine.conditions(params, NOV.seconds)
    assert [(c.page, c.long_b, c.short_b) for c in batch] == [(True, 240, 20), (False, 1440, 120)]
    want = [(c.factor or 0.0) * burnrate.budget_fraction(slo.target) for c in rules.conditions(slo)]
    assert [c.threshold for c in batch] == want


# Time slices as data (SLO_MATH 1): buckets (good, total, has_data) of [b0, basof) in,
# the per-SLO counts out. Slices of 3 buckets; the last slice is partial (2 buckets).
SLICE_BUCKETS = [(3, 3, True), (2, 2, True), (1, 1, True),      # 6/6: good
                 (9, 10, True), (10, 10, True), (10, 10, True),  # 29/30 = 0.967: bad at 0.99
                 (0, 0, False), (0, 0, False), (0, 0, False),    # no data
                 (0, 0, True), (0, 0, True), (0, 0, True),       # data but no events
                 (5, 5, True), (4, 5, True)]                     # partial: 9/10: bad


@pytest.mark.parametrize(("policy", "good", "counted", "days"), [
    # per day: day 1 holds the slices starting at buckets 0 and 3 (good, bad), day 2 those at
    # 6 (no data), 9 (no events) and 12 (partial, bad)
    ("skip", 1, 3, [(1, 2), (0, 1)]), ("good", 3, 5, [(1, 2), (2, 3)]),
    ("bad", 1, 5, [(1, 2), (0, 3)])])
def test_slices_as_data(policy: str, good: int, counted: int,
                        days: list[tuple[int, int]]) -> None:
    g, t, h, grid = _slice_input()
    slo = stream.SloInput(7, (), 0.01, (), True, slice_b=3, slice_target=0.99, no_data=policy)
    window, per_day, spread = stream._slices(grid, slo, g, t, h)
    out = {k: v.tolist() for k, v in window.items()}
    assert out["k"] == [7] and out["all_slices"] == [5] and out["no_data_slices"] == [2]
    assert (out["good_slices"], out["counted_slices"]) == ([good], [counted])
    assert out["ratio_mean"] == pytest.approx([(1.0 + 29 / 30 + 0.9) / 3])
    assert list(zip(per_day["good"].tolist(), per_day["total"].tolist(), strict=True)) == days
    assert per_day["b_start"].tolist() == [5, 11]
    # each counted bad slice spread over its buckets: the 29/30 slice over 3, the partial
    # one over 2; no-data slices only when counted as bad
    empty = [1 / 3] * 6 if policy == "bad" else [0.0] * 6
    assert spread.tolist() == pytest.approx([0.0] * 3 + [1 / 3] * 3 + empty + [0.5] * 2)


def test_ratio_slices_as_data() -> None:
    # RatioTimeslices: no slice target, no no-data policy: the slices with events count with
    # their ratios 1, 29/30 and 0.9 (sum 2.8667 of 3); per day 1 + 29/30 of 2, and 0.9 of 1.
    g, t, h, grid = _slice_input()
    slo = stream.SloInput(7, (), 0.01, (), True, slice_b=3, ratio=True, no_data="bad")
    window, per_day, spread = stream._slices(grid, slo, g, t, h)
    assert spread.tolist() == pytest.approx([0.0] * 3 + [(1 - 29 / 30) / 3] * 3 + [0.0] * 6
                                            + [0.1 / 2] * 2)
    assert window["good_slices"].tolist() == pytest.approx([1 + 29 / 30 + 0.9])
    assert window["counted_slices"].tolist() == [3]
    assert per_day["good"].tolist() == pytest.approx([1 + 29 / 30, 0.9])
    assert per_day["total"].tolist() == [2, 1]


def _slice_input() -> tuple[np.ndarray, np.ndarray, np.ndarray, stream.Grid]:
    g, t, h = (np.array([b[i] for b in SLICE_BUCKETS], dtype=float if i < 2 else bool)
               for i in range(3))
    pad = 5  # buckets before the window start (lookback)
    g, t = np.concatenate([np.zeros(pad), g]), np.concatenate([np.zeros(pad), t])
    h = np.concatenate([np.ones(pad, bool), h])
    grid = stream.Grid(per_day=1440, b0=pad, b1=pad + 15, basof=pad + len(SLICE_BUCKETS),
                       snap=60, burn_b=(), days=((pad, pad + 6), (pad + 6, pad + 15)))
    return g, t, h, grid


def test_pandas_reference_agrees_on_every_method(tmp_path: Path) -> None:
    # bench/pandas_reference.py derives its own windows and factors; on one history (an
    # hour's outage, ten minutes at 99 %) every method's totals, daily series and burn-down,
    # and the page and ticket incidents (defaults and an override) must agree.
    import pandas as pd

    from bench.pandas_reference import reference

    _outage_lake(tmp_path)
    write_buckets(tmp_path, "a", utc(2026, 11, 1, 6), [(990.0, 1000.0)] * 10)
    period = periods.Period("3d", utc(2026, 11, 1), utc(2026, 11, 4))
    override = (BurnRateAlert("page", timedelta(hours=2), timedelta(minutes=10),
                              budget_consumed=0.05),)
    slos = [SloParams("a", "svc", "", "h", 0.999),
            SloParams("a", "svc", "", "h", 0.995, method="Timeslices", slice_seconds=300,
                      slice_target=0.995),
            SloParams("a", "svc", "", "h", 0.999, method="RatioTimeslices", slice_seconds=120),
            SloParams("a", "svc", "", "h", 0.999, burn_rates=override,
                      alert_period_s=7 * 86400.0)]
    for s in slos:
        got = compute_window(tmp_path, [s], period)
        want = reference(tmp_path, [s], period)
        row, ref = got.summary[0], want["summary"].iloc[0]
        assert (row["good"], row["total"]) == pytest.approx((ref.good, ref.total), rel=1e-12)
        assert row["budget_consumed"] == pytest.approx(ref.budget_consumed, rel=1e-9)
        assert row["met"] == ref.met
        for col in ("good", "total", "budget_remaining"):
            assert [r[col] for r in got.daily] == pytest.approx(want["daily"][col].tolist(),
                                                                rel=1e-9), col
        cols = ["start", "end", "severity", "bad"]
        assert [tuple(i[c] for c in cols) for i in got.incidents] == \
            [tuple(r) for r in want["incidents"][cols].itertuples(index=False, name=None)]
        assert len(got.incidents) >= 1
        assert pd.Series([i["budget_share"] for i in got.incidents]).tolist() == \
            pytest.approx(want["incidents"].budget_share.tolist(), rel=1e-9)
