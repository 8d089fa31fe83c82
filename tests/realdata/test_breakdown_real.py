"""Budget attribution (``spec.breakdown``) through ``slo-jobs run`` against a real Prometheus
holding the generated scrapes: every label value's bad and total events of September 2026
equal an independent count of the generator's samples, match the generator's truth, and add
up to the month's figures."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo import scrapes
from slo_jobs.core import periods

pytestmark = pytest.mark.integration
SEP = periods.month("2026-09")
JOBS = ("api15", "api30", "api60")
REL = 1e-4  # the truth counts events by second; samples see a few across the month's ends

SPECS = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: errors-by-job}
spec:
  service: api
  indicator:
    ratio:
      bad:   {selector: 'http_requests_total{job=~"api.*",code=~"5.."}'}
      total: {selector: 'http_requests_total{job=~"api.*"}'}
  objective: {target: 0.99}
  breakdown: [job, code]
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: latency-by-job}
spec:
  service: api
  indicator:
    latency:
      histogram: 'http_request_duration_seconds{job=~"api.*"}'
      threshold: 1
  objective: {target: 0.99}
  breakdown: [job]
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: api30-availability}
spec:
  service: api30
  indicator:
    ratio:
      good:  {selector: 'http_requests_total{job="api30",code!~"5.."}'}
      total: {selector: 'http_requests_total{job="api30"}'}
  objective: {target: 0.995}
  breakdown: [code]
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: api15-plain}
spec:
  service: api15
  indicator:
    ratio:
      good:  {selector: 'http_requests_total{job="api15",code!~"5.."}'}
      total: {selector: 'http_requests_total{job="api15"}'}
  objective: {target: 0.99}
"""


@pytest.fixture(scope="module")
def month(real_prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("breakdown")
    (base / "slos").mkdir()
    (base / "slos" / "api.yaml").write_text(SPECS)
    done = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09",
                           "--slos", str(base / "slos"), "--prometheus-url", real_prometheus,
                           "--lake", str(base / "lake"), "--out", str(base / "out")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return base


def _groups(base: Path, slo: str) -> dict[tuple[str, ...], dict[str, Any]]:
    table = pq.read_table(base / "lake" / "monthly" / "month=2026-09" / "breakdown.parquet")
    return {tuple(r["values"]): r for r in table.to_pylist() if r["slo"] == slo}


def _summary(base: Path) -> dict[str, dict[str, Any]]:
    return {r["slo"]: r for r in json.loads(
        (base / "out" / "2026-09" / "summary.json").read_text())}


def _month_events(s: scrapes.Series) -> int:
    """A counter's events in the samples taken in (1 Sep, 1 Oct], counted independently:
    differences of consecutive samples, a drop being a restart from zero, and the first value
    whole for a series first scraped in the month (the generator's old pods are all scraped
    from before it, so such a series is a counter that started at zero)."""
    lo, hi = (int(t.timestamp() * 1000) for t in (SEP.start, SEP.end))
    ts, v = s.ts_ms, s.values.astype(np.int64)
    deltas = np.diff(v)
    deltas = np.where(deltas < 0, v[1:], deltas)
    inside = (ts[1:] > lo) & (ts[1:] <= hi)
    first = int(v[0]) if lo < ts[0] <= hi else 0
    return int(deltas[inside].sum()) + first


def _by(real: scrapes.Scrapes, name: str, **labels: str) -> dict[str, int]:
    """Month events per job of the series named ``name`` with ``labels``."""
    out = {job: 0 for job in JOBS}
    for s in real.series:
        if s.labels["__name__"] == name and all(s.labels.get(k) == v for k, v in labels.items()):
            out[s.labels["job"]] += _month_events(s)
    return out


def _truth(real: scrapes.Scrapes) -> pd.DataFrame:
    t = real.truth
    t = t[(t.ts >= pd.Timestamp(SEP.start)) & (t.ts < pd.Timestamp(SEP.end))]
    return t.groupby("job")[["requests", "errors", scrapes.le_column("1.0")]].sum()


def test_each_label_value_equals_an_independent_count_of_the_samples(
        month: Path, real_scrapes: scrapes.Scrapes) -> None:
    ok = _by(real_scrapes, scrapes.REQUESTS, code="200")
    errors = _by(real_scrapes, scrapes.REQUESTS, code="500")
    count = _by(real_scrapes, scrapes.COUNT)
    fast = _by(real_scrapes, scrapes.BUCKET, le="1.0")
    got = _groups(month, "errors-by-job")
    assert set(got) == {(job, code) for job in JOBS for code in ("200", "500")}
    for job in JOBS:
        assert (got[job, "500"]["bad"], got[job, "500"]["total"]) == (errors[job], errors[job])
        assert (got[job, "200"]["bad"], got[job, "200"]["total"]) == (0, ok[job])
    latency = _groups(month, "latency-by-job")
    assert set(latency) == {(job,) for job in JOBS}
    for job in JOBS:
        assert latency[job,]["total"] == count[job]
        assert latency[job,]["bad"] == count[job] - fast[job]
    availability = _groups(month, "api30-availability")
    assert availability["500",]["bad"] == availability["500",]["total"] == errors["api30"]
    assert (availability["200",]["bad"], availability["200",]["total"]) == (0, ok["api30"])


def test_the_label_values_match_the_generators_truth(month: Path,
                                                     real_scrapes: scrapes.Scrapes) -> None:
    truth = _truth(real_scrapes)
    errors, latency = _groups(month, "errors-by-job"), _groups(month, "latency-by-job")
    for job in JOBS:
        t = truth.loc[job]
        assert t.errors > 1_000
        assert errors[job, "500"]["bad"] == pytest.approx(t.errors, rel=REL)
        assert errors[job, "200"]["total"] == pytest.approx(t.requests - t.errors, rel=REL)
        slow = t.requests - t[scrapes.le_column("1.0")]
        assert latency[job,]["bad"] == pytest.approx(slow, rel=REL)


def test_the_groups_add_up_to_the_month_and_share_its_budget(month: Path) -> None:
    summary = _summary(month)
    for slo, target in (("errors-by-job", 0.99), ("latency-by-job", 0.99),
                        ("api30-availability", 0.995)):
        groups = _groups(month, slo).values()
        row = summary[slo]
        # Every bucket with data is attributed: the sums are the month's own, exactly.
        assert sum(g["bad"] for g in groups) == row["bad"]
        assert sum(g["total"] for g in groups) == row["total"]
        assert sum(g["bad_share"] for g in groups) == pytest.approx(1.0, rel=1e-12)
        allowed = (1 - target) * row["total"]  # a whole month: nothing projected
        for g in groups:
            assert g["budget_share"] == pytest.approx(g["bad"] / allowed, rel=1e-9)
            assert g["sli"] == pytest.approx(1 - g["bad"] / g["total"], rel=1e-12)
        ranked = sorted(groups, key=lambda g: g["rank"])
        assert [g["bad"] for g in ranked] == sorted((g["bad"] for g in groups), reverse=True)
        assert summary[slo]["budget_consumed"] == pytest.approx(
            sum(g["budget_share"] for g in groups), rel=1e-9)


def test_summary_json_and_the_report_show_the_spenders(month: Path,
                                                       real_scrapes: scrapes.Scrapes) -> None:
    summary = _summary(month)
    assert summary["api15-plain"]["breakdown"] is None
    errors = summary["errors-by-job"]["breakdown"]
    assert errors["labels"] == ["job", "code"] and errors["days_missing"] == 0
    assert errors["days"] == 30
    groups = errors["groups"]
    assert [g["rank"] for g in groups] == list(range(1, 7))
    # The job with the most errors spends most: api15 serves 30/s at 0.2 % errors (0.06/s),
    # api30 12/s at 0.5 % (0.06/s), api60 4/s at 1 % (0.04/s); by the counts, not the rates.
    by_errors = sorted(JOBS, key=lambda j: -_by(real_scrapes, scrapes.REQUESTS, code="500")[j])
    assert [g["values"] for g in groups[:3]] == [[j, "500"] for j in by_errors]
    assert groups[0]["group"] == f'job="{by_errors[0]}", code="500"'
    html = " ".join((month / "out" / "2026-09" / "report.html").read_text().split())
    assert "Budget spent by job, code" in html
    top = f"job=&#34;{by_errors[0]}&#34;, code=&#34;500&#34;"
    assert f'<tr data-group="{top}"><td class="num">1</td>' in html
    assert 'aria-label="Error budget spent by job"' in html
    attributed = sum(g["bad"] for g in groups)
    assert f"{attributed:,.0f} of the month's {summary['errors-by-job']['bad']:,.0f} bad events" \
        in html


def test_the_breakdown_partitions_hold_only_minutes_with_events(month: Path) -> None:
    day = datetime(2026, 9, 14, tzinfo=UTC).date()
    part = pq.read_table(month / "lake" / "breakdown" / "slo=api30-availability"
                         / f"date={day}" / "part-0.parquet")
    sli = pq.read_table(month / "lake" / "sli" / "slo=api30-availability"
                        / f"date={day}" / "part-0.parquet")
    rows = part.to_pylist()
    assert all(r["labels"] == ["code"] and (r["bad"] > 0 or r["total"] > 0) for r in rows)
    # Per minute the label values add up to the SLI partition's bucket.
    per_minute: dict[datetime, list[float]] = {}
    for r in rows:
        acc = per_minute.setdefault(r["ts"], [0.0, 0.0])
        acc[0] += r["bad"]
        acc[1] += r["total"]
    for b in sli.to_pylist():
        bad, total = per_minute.get(b["ts"], [0.0, 0.0])
        assert (bad, total) == (b["total"] - b["good"], b["total"]), b["ts"]
