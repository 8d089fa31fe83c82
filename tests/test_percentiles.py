"""Latency percentiles against the generator's truth: the buckets kept in the lake minute by
minute, p50/p95/p99 per day and for the month through the CLI (report, summary.json, CSV)
and through the DAG's shard tasks, a percentile objective's slices, and the interpolation
rule itself against the real Prometheus' ``histogram_quantile``.

The expected percentiles come from this file's own reading of histogram_quantile's rule
(:func:`expected_quantile`), over bucket counts summed from the demo generator's per-minute
truth (the events each minute really had, before any scrape), never from the lake.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.core.quantile import histogram_quantile
from slo_jobs.spec import catalog
from tests.conftest import expected_quantile

AS_OF = "2026-09-04T00:00Z"  # three days of September: Sep 1 to 3
DAYS = ("2026-09-01", "2026-09-02", "2026-09-03")
HIST = 'http_request_duration_seconds{service="checkout"}'
SPECS = f"""\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: checkout-latency}}
spec:
  service: checkout
  indicator:
    latency: {{histogram: '{HIST}', threshold: 0.3, buckets: all}}
  objective: {{target: 0.99}}
---
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: checkout-p70}}
spec:
  service: checkout
  indicator:
    latency: {{histogram: '{HIST}', threshold: 0.1, percentile: 0.7, buckets: [0.1]}}
  budgetingMethod: Timeslices
  objective: {{target: 0.5, timeSliceWindow: 5m}}
"""
# The truth's columns of each bound (+Inf: every request).
COLUMNS = {0.1: "le_0_1", 0.3: "le_0_3", 1.0: "le_1", math.inf: "requests"}


def _truth(truth: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return truth[(truth.service == "checkout") & (truth.ts >= start) & (truth.ts < end)]


def _hist(rows: pd.DataFrame, bounds: tuple[float, ...]) -> dict[float, float]:
    return {b: float(rows[COLUMNS[b]].sum()) for b in bounds}


@pytest.fixture(scope="module")
def run(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``slo-jobs run`` of September to its 4th, the two SLOs above."""
    work = tmp_path_factory.mktemp("percentiles")
    (work / "slos").mkdir()
    (work / "slos" / "checkout.yaml").write_text(SPECS)
    done = subprocess.run(
        [sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09", "--slos",
         str(work / "slos"), "--prometheus-url", prometheus, "--lake", str(work / "lake"),
         "--out", str(work / "out"), "--as-of", AS_OF],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return work


@pytest.mark.parametrize("slo, bounds", [("checkout-latency", (0.1, 0.3, 1.0, math.inf)),
                                         ("checkout-p70", (0.1, math.inf))])
def test_kept_buckets_equal_the_truth_minute_by_minute(run: Path, truth: pd.DataFrame,
                                                       slo: str, bounds: tuple[float, ...]
                                                       ) -> None:
    for day in DAYS:
        part = pq.read_table(run / "lake" / "buckets" / f"slo={slo}" / f"date={day}"
                             / "part-0.parquet").to_pandas()
        t = _truth(truth, day, str(pd.Timestamp(day) + pd.Timedelta(days=1))).set_index("ts")
        assert len(part) == 1440 * len(bounds)  # every minute had requests
        for b in bounds:
            kept = part[part["le"] == b].set_index("ts")["count"]
            assert (kept.index == t.index).all()
            assert (kept.to_numpy() == t[COLUMNS[b]].to_numpy()).all(), (day, b)


def test_percentiles_per_day_and_month_equal_the_rule_on_the_truth(
        run: Path, truth: pd.DataFrame) -> None:
    bounds = (0.1, 0.3, 1.0, math.inf)
    table = pq.read_table(run / "lake" / "monthly" / "month=2026-09" / "percentiles.parquet"
                          ).to_pandas()
    mine = table[table.slo == "checkout-latency"]
    month = _hist(_truth(truth, DAYS[0], "2026-09-04"), bounds)
    for day in DAYS:
        row = mine[mine.day.astype(str) == day].iloc[0]
        hist = _hist(_truth(truth, day, str(pd.Timestamp(day) + pd.Timedelta(days=1))), bounds)
        assert row.observations == hist[math.inf]
        for q in (0.5, 0.95, 0.99):
            assert row[f"p{round(q * 100)}"] == pytest.approx(expected_quantile(q, hist),
                                                             rel=1e-12)
    records = {r["slo"]: r for r in json.loads((run / "out" / "2026-09" / "summary.json")
                                               .read_text())}
    latency = records["checkout-latency"]
    assert latency["percentiles"]["month"]["observations"] == month[math.inf]
    assert [d["day"] for d in latency["percentiles"]["days"]] == list(DAYS)
    for q, key in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
        assert latency[key] == pytest.approx(expected_quantile(q, month), rel=1e-12)
    with (run / "out" / "2026-09" / "summary.csv").open() as fh:
        rows = {r["slo"]: r for r in csv.DictReader(fh)}
    assert float(rows["checkout-latency"]["latency_p95"]) == pytest.approx(
        expected_quantile(0.95, month), rel=1e-9)
    assert records["checkout-p70"]["latency_p95"] == pytest.approx(
        expected_quantile(0.95, _hist(_truth(truth, DAYS[0], "2026-09-04"), (0.1, math.inf))),
        rel=1e-12)
    html = (run / "out" / "2026-09" / "report.html").read_text()
    section = html.split('id="slo-checkout-latency"', 1)[-1].split("Latency percentiles", 1)
    assert len(section) == 2 and "threshold 300.0 ms" in section[1]
    assert f"{expected_quantile(0.95, month) * 1000:,.1f} ms" in section[1]


def test_a_percentile_objective_judges_each_slice_by_its_interpolated_percentile(
        run: Path, truth: pd.DataFrame) -> None:
    # The whole histogram of each slice (the lake keeps only 0.1 and +Inf for this SLO:
    # the judgement needs no more, docs/slo-math.md).
    t = _truth(truth, DAYS[0], "2026-09-04").copy()
    t["slice"] = t.ts.dt.floor("5min")
    good = sum(expected_quantile(0.7, _hist(s, (0.1, 0.3, 1.0, math.inf))) <= 0.1
               for _, s in t.groupby("slice"))
    slices = t.slice.nunique()
    assert 0 < good < slices  # both kinds of slice occur
    summary = pq.read_table(run / "lake" / "monthly" / "month=2026-09" / "summary.parquet"
                            ).to_pandas().set_index("slo").loc["checkout-p70"]
    assert (summary.good, summary.total) == (good, slices)
    html = (run / "out" / "2026-09" / "report.html").read_text()
    assert "objective: p70 at or under 0.1 s in each time slice" in html


def test_the_shard_tasks_publish_the_same_percentiles(run: Path) -> None:
    # The monthly DAG computes shards and merges them (compute.shards), not compute_month.
    from slo_jobs.compute import shards
    from slo_jobs.run import runner

    slos = catalog.load([run / "slos"])
    lake = run / "lake"
    before = pq.read_table(lake / "monthly" / "month=2026-09" / "percentiles.parquet")
    period = periods.month("2026-09")
    as_of = periods.instant(AS_OF)
    shards.compute_shard(lake, slos, period, 0, len(slos), as_of)
    runner.merge_shards(lake, slos, period, [0])
    after = pq.read_table(lake / "monthly" / "month=2026-09" / "percentiles.parquet")
    assert after.equals(before)


# Histograms whose quantiles take every branch of the rule: inside a bucket, the lowest
# bucket from 0, a lowest bound <= 0, the rank only +Inf reaches, a rank equal to a bucket's
# count, counts that fall (made monotonic), q of 0 and 1.
CASES: list[tuple[float, dict[float, float]]] = [
    (0.5, {0.1: 50.0, 0.3: 80.0, math.inf: 100.0}),
    (0.3, {0.1: 50.0, 0.3: 80.0, math.inf: 100.0}),
    (0.95, {0.1: 10.0, 0.3: 20.0, math.inf: 100.0}),
    (0.95, {0.1: 50.0, 0.3: 95.0, math.inf: 100.0}),
    (0.7, {0.1: 60.0, 0.3: 50.0, 1.0: 90.0, math.inf: 100.0}),
    (0.05, {-1.0: 10.0, 0.0: 20.0, 1.0: 50.0, math.inf: 100.0}),
    (0.15, {-1.0: 10.0, 0.0: 20.0, 1.0: 50.0, math.inf: 100.0}),
    (0.0, {0.1: 5.0, 0.3: 8.0, math.inf: 10.0}),
    (1.0, {0.1: 5.0, 0.3: 8.0, 1.0: 10.0, math.inf: 10.0}),
]


def _prometheus_quantile(url: str, q: float, hist: dict[float, float]) -> float:
    vector = " or ".join(f'label_replace(vector({c!r}), "le", "{"+Inf" if b == math.inf else b}",'
                         f' "", "")' for b, c in hist.items())
    answer = httpx.get(f"{url}/api/v1/query",
                       params={"query": f"histogram_quantile({q}, {vector})",
                               "time": "1790000000"}).json()
    assert answer["status"] == "success", answer
    return float(answer["data"]["result"][0]["value"][1])


def test_the_rule_is_prometheus_histogram_quantile(prometheus: str, truth: pd.DataFrame
                                                   ) -> None:
    day = _hist(_truth(truth, DAYS[0], DAYS[1]), (0.1, 0.3, 1.0, math.inf))
    for q, hist in [*CASES, (0.5, day), (0.95, day), (0.99, day)]:
        theirs = _prometheus_quantile(prometheus, q, hist)
        assert expected_quantile(q, hist) == pytest.approx(theirs, rel=1e-12), (q, hist)
        assert histogram_quantile(q, list(hist), list(hist.values())) == pytest.approx(
            theirs, rel=1e-12), (q, hist)


@pytest.mark.parametrize("field, expected", [
    ("buckets: [0.1, 0.1]", "spec.indicator.latency.buckets: [0.1, 0.1]; expected each "
                            "bucket bound once"),
    ("buckets: some", "spec.indicator.latency.buckets: 'some'; expected 'all' or a list"),
    ("buckets: [0.1, fast]", "expected 'all' or a list of 1 to 64 bucket bounds"),
    ("buckets: []", "expected 'all' or a list of 1 to 64 bucket bounds"),
    ("percentile: 95", "spec.indicator.latency.percentile: 95; 95: expected a percentile as "
                       "a share in (0, 1)"),
    ("percentile: 0.95", "indicator.latency.percentile 0.95 is judged per time slice; "
                         "expected budgetingMethod Timeslices (found Occurrences)"),
])
def test_a_bad_field_is_one_line(tmp_path: Path, field: str, expected: str) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(SPECS.split("---")[0].replace("buckets: all", field))
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(str(path)) and expected in line, line


def test_percentile_fills_the_slice_target_and_buckets_enter_the_hash(tmp_path: Path
                                                                      ) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(SPECS)
    latency, p70 = catalog.load([path])
    assert p70.time_slice_target == 0.7 and p70.budgeting_method == "Timeslices"
    path.write_text(SPECS.split("---")[0].replace(", buckets: all", ""))
    (plain,) = catalog.load([path])
    assert plain.sli.buckets == () and latency.sli.buckets == "all"  # type: ignore[union-attr]
    assert plain.spec_hash != latency.spec_hash


