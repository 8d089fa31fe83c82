"""``slo-jobs backfill`` attempts every month of its range: a month the source cannot give is
reported with its reason while the rest goes on, and a month whose comparison and trend read a
recomputed month is rendered again."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slo_jobs.core import periods
from slo_jobs.decisions import priorities
from tests.clirun import slo_jobs
from tests.conftest import ROOT, true_counts

pytestmark = pytest.mark.integration

RANGE = ("2026-06", "2026-09")


def _months() -> list[periods.Period]:
    a, b = periods.month(RANGE[0]), periods.month(RANGE[1])
    out = [a]
    while out[-1].start < b.start:
        out.append(periods.month_of(out[-1].end))
    return out


def test_a_range_starting_before_the_history_goes_on_and_says_what_failed(
        prometheus: str, truth: pd.DataFrame, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # search-latency is a PromQL expression: a month with no samples cannot be measured;
    # search-availability counts raw samples: such a month is "no data".
    code, out, err = slo_jobs(capsys, "backfill", "--from", RANGE[0], "--to", RANGE[1],
                              "--slos", str(ROOT / "slos" / "search.yaml"), "--prometheus-url",
                              prometheus, "--lake", str(tmp_path / "lake"), "--out",
                              str(tmp_path / "out"), "--no-progress")
    begins = pd.Timestamp(truth.ts.min())
    empty = [p for p in _months() if pd.Timestamp(p.end) <= begins]
    full = [p for p in _months() if pd.Timestamp(p.start) >= begins]
    assert empty and full and len(empty) + len(full) == len(_months())
    assert code == 1, err
    lines = out.splitlines()
    assert f"failed: {len(empty)} SLO-month{'s' * (len(empty) != 1)}" in lines
    failed = [line for line in lines if line.startswith("  ")]
    assert [line.split(":")[0].split() for line in failed] == [
        [p.label, "search-latency"] for p in empty]
    for line in failed:
        assert "cannot measure the scrape interval" in line and "no series has two samples" \
            in line
    for p in empty:
        assert f"{p.label}: " in out and "1 SLO failed" in next(
            line for line in lines if line.startswith(f"{p.label}: "))
        records = json.loads((tmp_path / "out" / p.label / "summary.json").read_text())
        # (a sample at the first instant of the history counts in the month's last minute)
        assert [(r["slo"], r["status"], r["good"], r["total"]) for r in records] == [
            ("search-availability", "no data", 0, 0)]
    for p in full:
        line = next(line for line in lines if line.startswith(f"{p.label}: "))
        assert "failed" not in line and "lowest coverage 100.0%" in line
        records = json.loads((tmp_path / "out" / p.label / "summary.json").read_text())
        assert sorted(r["slo"] for r in records) == ["search-availability", "search-latency"]
        for r in records:
            assert (r["good"], r["total"]) == true_counts(
                truth, r["slo"], f"{p.start:%Y-%m-%d}", f"{p.end:%Y-%m-%d}")


def test_a_month_after_a_recomputed_month_is_rendered_again(
        prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "one.yaml"  # one SLO keeps it short
    spec.write_text((ROOT / "slos" / "checkout.yaml").read_text().split("\n---\n")[0])
    args = ["--slos", str(spec), "--prometheus-url", prometheus, "--lake",
            str(tmp_path / "lake"), "--out", str(tmp_path / "out"), "--no-progress"]
    september = tmp_path / "out" / "2026-09"
    code, out, err = slo_jobs(capsys, "backfill", "--from", "2026-09", "--to", "2026-09", *args)
    assert code == 0, err
    before = json.loads((september / "summary.json").read_text())[0]
    assert before["priority"]["trend"] == 1.0  # no month before it yet
    assert "vs previous" in (september / "report.html").read_text()

    code, out, err = slo_jobs(capsys, "backfill", "--from", "2026-08", "--to", "2026-08", *args)
    assert code == 0, err
    assert any(line.startswith("2026-09: rendered again: 2026-08 was recomputed")
               for line in out.splitlines())
    august = json.loads((tmp_path / "out" / "2026-08" / "summary.json").read_text())[0]
    after = json.loads((september / "summary.json").read_text())[0]
    assert after["priority"]["trend"] == pytest.approx(priorities.trend(
        after["budget_consumed"], [august["budget_consumed"]]))
    assert (after["good"], after["total"], after["as_of"]) == (
        before["good"], before["total"], before["as_of"])
    html = (september / "report.html").read_text()
    assert "vs 2026-08" in html and "vs previous" not in html
