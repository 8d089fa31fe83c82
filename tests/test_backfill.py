"""``slo-jobs backfill`` without Airflow: month ranges, overlapping and repeated runs leave each
month exactly once, and a period Prometheus no longer holds shows as missing data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from slo_jobs import lake
from slo_jobs.core import periods
from slo_jobs.core.errors import SloJobsError
from slo_jobs.run import backfill
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog
from tests.conftest import ROOT, true_counts
from tests.test_crash_safety import content

SLOS = ROOT / "slos" / "checkout.yaml"
RENDERED = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # the render time the CLI would pass


def test_months_cover_the_range_across_a_year_end() -> None:
    labels = [p.label for p in periods.month_range("2026-11", "2027-02")]
    assert labels == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert [p.label for p in periods.month_range("2026-09", "2026-09")] == ["2026-09"]


def test_a_reversed_range_is_one_line() -> None:
    with pytest.raises(SloJobsError, match=r"^--to 2026-07: before --from 2026-09; expected"):
        periods.month_range("2026-09", "2026-07")


@pytest.mark.integration
def test_overlapping_and_repeated_backfills_leave_each_month_once(
        prometheus: str, truth: pd.DataFrame, tmp_path: Path) -> None:
    config, slos = Sources.from_env(prometheus), catalog.load([SLOS])
    lake_dir, out = tmp_path / "lake", tmp_path / "out"
    first = backfill.backfill(config, slos, "2026-07", "2026-08", lake_dir, out,
                              progress=False, rendered_at=RENDERED)
    # July brings the 3 days of burn-rate lookback before it (28-30 June); August's are July's.
    assert [(m.period, m.extracted_days, m.reported) for m in first] == [
        ("2026-07", 2 * (31 + 3), True), ("2026-08", 62, True)]
    second = backfill.backfill(config, slos, "2026-08", "2026-09", lake_dir, out,
                               progress=False, rendered_at=RENDERED)
    # August was done: neither extracted nor rendered again
    assert [(m.period, m.extracted_days, m.reported) for m in second] == [
        ("2026-08", 0, False), ("2026-09", 60, True)]

    assert sorted(p.parent.name for p in lake_dir.glob("monthly/*/summary.parquet")) == [
        "month=2026-07", "month=2026-08", "month=2026-09"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["2026-07", "2026-08", "2026-09"]
    assert len(list(lake_dir.glob("sli/*/date=*/part-0.parquet"))) == 2 * (3 + 31 + 31 + 30)
    for month, start, end in [("2026-07", "2026-07-01", "2026-08-01"),
                              ("2026-08", "2026-08-01", "2026-09-01"),
                              ("2026-09", "2026-09-01", "2026-10-01")]:
        records = json.loads((out / month / "summary.json").read_text())
        assert sorted(r["slo"] for r in records) == ["checkout-availability", "checkout-latency"]
        for r in records:
            assert (r["good"], r["total"]) == true_counts(truth, r["slo"], start, end)
            assert r["coverage"] == 1.0

    before = content(lake_dir)
    reports = {p: p.read_bytes() for p in out.glob("*/summary.*")}
    again = backfill.backfill(config, slos, "2026-07", "2026-09", lake_dir, out, redo=True,
                              progress=False, rendered_at=RENDERED)
    # And July's lookback days without data (28 and 29 June, before the history): a day
    # without data is read again whenever it is needed, in case the source has it now.
    assert [m.extracted_days for m in again] == [62 + 2 * 2, 62, 60]
    assert content(lake_dir) == before  # redone byte for byte, nothing added
    assert {p: p.read_bytes() for p in out.glob("*/summary.*")} == reports


@pytest.mark.integration
def test_a_changed_slo_set_makes_a_done_month_current_again(prometheus: str,
                                                             tmp_path: Path) -> None:
    config, slos = Sources.from_env(prometheus), catalog.load([SLOS])
    lake_dir, out = tmp_path / "lake", tmp_path / "out"
    backfill.backfill(config, slos[:1], "2026-09", "2026-09", lake_dir, out,
                      progress=False, rendered_at=RENDERED)
    assert backfill.report_is_current(lake_dir, out, slos[:1], periods.month_range(
        "2026-09", "2026-09")[0])
    [month] = backfill.backfill(config, slos, "2026-09", "2026-09", lake_dir, out,
                                progress=False, rendered_at=RENDERED)
    # The new SLO's September and the 3 lookback days before it.
    assert (month.extracted_days, month.reported) == (33, True)
    assert len(json.loads((out / "2026-09" / "summary.json").read_text())) == 2


@pytest.mark.integration
def test_a_period_prometheus_no_longer_holds_reports_missing_data(prometheus: str,
                                                                  tmp_path: Path) -> None:
    # The test Prometheus holds July to September 2026: June is past its retention.
    config, slos = Sources.from_env(prometheus), catalog.load([SLOS])
    lake_dir, out = tmp_path / "lake", tmp_path / "out"
    [june] = backfill.backfill(config, slos, "2026-06", "2026-06", lake_dir, out,
                               progress=False, rendered_at=RENDERED)
    assert june.extracted_days == 2 * (30 + 3)  # June and its 3 lookback days
    # every day was written, and those without any data are read again by the next run that
    # needs them (the source may hold them by then; what the lake holds is kept) ...
    june_days = periods.month_range("2026-06", "2026-06")[0].days
    for slo in slos:
        assert lake.missing_days(lake_dir, slo.name, june_days) == june_days[:-1]
    # ... and the report says the data is missing instead of claiming 100 %
    for r in json.loads((out / "2026-06" / "summary.json").read_text()):
        # The history's first sample, at 00:00 on 1 July, ends June's last bucket: that one
        # bucket is measured (no events), the other 43,199 are not.
        assert r["coverage"] == 1 / 43_200
        assert r["total"] == 0 and r["sli"] is None and r["met"] is None
        assert r["status"] not in {"healthy", "attention", "warning", "critical", "exhausted"}
    assert "no data at all" in (out / "2026-06" / "report.html").read_text()
