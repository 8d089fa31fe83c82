"""When a day is final, which days are read again, and a re-read that keeps what the source
no longer holds (docs/extraction.md, "When a day is complete"; docs/architecture.md, lake)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from slo_jobs import lake
from slo_jobs.core import periods
from slo_jobs.core.periods import INGEST_GRACE
from slo_jobs.lake import daytable
from slo_jobs.lake.daytable import DayTable
from slo_jobs.run import runner
from slo_jobs.sources.prometheus import counters, samples
from slo_jobs.spec import catalog

DAY = date(2026, 11, 9)
START = datetime(2026, 11, 9, tzinfo=UTC)
END = START + timedelta(days=1)


def _series(pod: str, last: datetime, first: datetime = START - timedelta(hours=1)
            ) -> samples.Series:
    """A pod's counter scraped every 60 s (at :17 past each minute) from ``first`` to
    ``last``."""
    ts = np.arange(int(first.timestamp()) + 17, int(last.timestamp()) + 1, 60) * 1000
    return samples.Series((("pod", pod),), ts.astype(np.int64),
                          np.arange(len(ts), dtype=np.float64))


def _judged(series: list[samples.Series], as_of: datetime) -> datetime | None:
    until = int(as_of.timestamp())
    return counters.complete_until(DAY, until, None,
                                   counters.lagging(series, DAY, until, 180.0))


def test_a_lagging_pod_keeps_the_day_open_after_the_grace() -> None:
    current = _series("a", END + timedelta(minutes=14))
    behind = _series("b", END - timedelta(minutes=10))  # its last samples not ingested yet
    as_of = END + INGEST_GRACE + timedelta(minutes=3)
    newest = max(behind.ts_ms[behind.ts_ms <= END.timestamp() * 1000]) / 1000
    assert _judged([current, behind], as_of) == datetime.fromtimestamp(newest // 60 * 60, UTC)
    # Every series current: the day is final once the grace is over.
    assert _judged([current, _series("b", END + timedelta(minutes=14))], as_of) is None


def test_a_series_that_stopped_does_not_keep_a_day_open_forever() -> None:
    current = _series("a", END + timedelta(minutes=14))
    stopped_early = _series("b", START + timedelta(hours=14, minutes=3))
    late = END + timedelta(seconds=counters.LATE_SERIES_S)
    # Stopped hours before the day's end: a replaced pod, not a lagging one.
    assert _judged([current, stopped_early], END + INGEST_GRACE) is None
    # Stopped near the end: open until LATE_SERIES_S after the day, final from then on.
    stopped_late = _series("b", END - timedelta(minutes=20))
    assert _judged([current, stopped_late], late - timedelta(minutes=1)) is not None
    assert _judged([current, stopped_late], late) is None


def test_within_the_grace_a_day_is_never_final() -> None:
    every = [_series("a", END + timedelta(minutes=5)), _series("b", END + timedelta(minutes=5))]
    assert _judged(every, END + timedelta(minutes=7)) == END


def test_days_that_have_not_begun_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(
        "apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\nmetadata: {name: shop}\n"
        "spec:\n  service: shop\n  indicator:\n    ratio:\n"
        "      good: {selector: 'http_requests_total{code!~\"5..\"}'}\n"
        "      total: {selector: 'http_requests_total'}\n"
        "  objective: {target: 0.99}\n"
        "  window: {calendar: month, timeZone: Europe/Berlin}\n")
    slo = catalog.load([tmp_path])[0]
    as_of = datetime(2026, 11, 9, 17, 43, tzinfo=UTC)
    month, before = runner.month_days(slo, periods.month("2026-11"), as_of)
    # Berlin's November begins at 23:00 UTC on 31 October; nothing from 10 November on.
    assert month == [date(2026, 10, 31) + timedelta(days=i) for i in range(10)]
    assert all(d < date(2026, 10, 31) for d in before)


def _table(has: np.ndarray, total: float) -> pa.Table:
    starts = np.arange(int(START.timestamp()), int(END.timestamp()), 60, dtype=np.int64)
    return pa.table({
        "ts": pa.array(starts * 1_000_000, pa.timestamp("us", tz="UTC")),
        "good": np.where(has, total - 1, 0.0), "total": np.where(has, total, 0.0),
        "clipped": np.zeros(1440, dtype=bool), "has_data": has,
        "step_s": pa.array(np.full(1440, 60, dtype=np.int32)),
    }, schema=lake.SLI_SCHEMA)


def test_a_day_not_final_is_read_again_and_an_empty_one_too(tmp_path: Path) -> None:
    whole = np.ones(1440, dtype=bool)
    days = [DAY + timedelta(days=i) for i in range(4)]
    daytable.write(tmp_path, "shop", DayTable(days[0], _table(whole, 5.0), 0))
    # Read within the grace, every series current: complete up to the day's end, not final.
    daytable.write(tmp_path, "shop", DayTable(days[1], _table(whole, 5.0), 0,
                                              complete_until=END + timedelta(days=1)))
    daytable.write(tmp_path, "shop", DayTable(days[2], _table(~whole, 5.0), 0))
    later = END + timedelta(days=5)
    assert lake.missing_days(tmp_path, "shop", days, later) == days[1:]
    # Not again at the instant it was read up to: nothing newer can be seen.
    assert lake.missing_days(tmp_path, "shop", days[1:2], END + timedelta(days=1)) == []


def test_a_reread_keeps_the_buckets_the_source_no_longer_holds(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = np.ones(1440, dtype=bool)
    daytable.write(tmp_path, "shop", DayTable(DAY, _table(whole, 5.0), 0))
    # Retention ended at 06:00: the source now holds the day from then on, with new counts.
    recent = np.arange(1440) >= 360
    with caplog.at_level(logging.WARNING, logger="slo_jobs"):
        result = daytable.write(tmp_path, "shop", DayTable(DAY, _table(recent, 7.0), 0))
    t = lake.read_verified(lake.sli_partition(tmp_path, "shop", DAY))
    assert t.column("has_data").to_pylist() == [True] * 1440 and result.rows == 1440
    # The source's first minute again (06:00) counts only from a sample it no longer has
    # (or none): the lake's minute, counted from the one before, is kept too.
    assert t.column("total").to_pylist() == [5.0] * 361 + [7.0] * 1079
    assert lake.notes(result.path) == [daytable.KEPT_NOTE]
    assert [r.getMessage() for r in caplog.records] == [
        "SLO shop, 2026-11-09: the source no longer holds 360 minutes the lake has; kept "
        "the lake's"]
    # A series whose samples begin again inside a minute (``unsure``) and a gap's events,
    # which a read puts in the minute after the gap, are not counted twice with the lake's.
    gap = np.ones(1440, dtype=bool)
    gap[600:620] = False
    unsure = np.zeros(1440, dtype=bool)
    unsure[900] = True
    daytable.write(tmp_path, "shop", DayTable(DAY, _table(gap, 11.0), 0, unsure=unsure))
    t = lake.read_verified(result.path).column("total").to_pylist()
    assert t[599] == 11.0 and t[600:621] == [7.0] * 21 and t[621] == 11.0
    assert t[900] == 7.0 and t[899] == t[901] == 11.0
    # A read that sees everything again replaces the day, and drops the note.
    daytable.write(tmp_path, "shop", DayTable(DAY, _table(whole, 9.0), 0))
    assert lake.read_verified(result.path).column("total").to_pylist() == [9.0] * 1440
    assert lake.notes(result.path) == []
