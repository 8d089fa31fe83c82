"""Fault 5: counter resets, a scrape outage, label churn and a series starting mid-month.

A separate history (``shapes.py``) is loaded with promtool into a Prometheus of its own and
February 2026 is extracted and computed. Every bucket, day and the month's summary must equal
the generator's truth; the outage must show as "no data" (coverage below 100 %), and its
events, which the counters kept counting, must be counted once scraping resumes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo import prom
from slo_jobs import compute, lake, spec
from slo_jobs.core import periods
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.spec import catalog
from tests.faults import shapes

FEB = periods.month("2026-02")
SPEC = f"""\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: shapes-availability
spec:
  service: shapes
  indicator:
    ratio:
      good:  {{selector: '{shapes.GOOD}'}}
      total: {{selector: '{shapes.METRIC}'}}
  objective: {{target: 0.99}}
  window: {{calendar: month}}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, shapes.Generated]:
    return shapes.build_tsdb(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def shapes_url(generated: tuple[Path, shapes.Generated]) -> Iterator[str]:
    port = prom.free_port()
    proc = prom.start(generated[0], port, generated[0].parent / "prometheus.log")
    yield f"http://127.0.0.1:{port}"
    prom.stop(proc)


@pytest.fixture(scope="module")
def slo(tmp_path_factory: pytest.TempPathFactory) -> spec.Slo:
    path = tmp_path_factory.mktemp("shapes-spec") / "shapes.yaml"
    path.write_text(SPEC)
    return catalog.load([path])[0]


@pytest.fixture(scope="module")
def lake_dir(shapes_url: str, slo: spec.Slo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes-lake")
    with PrometheusClient(PrometheusConfig(shapes_url)) as client:
        extract_slo(client, slo, FEB.days, out)
    return out


@pytest.fixture(scope="module")
def truth(generated: tuple[Path, shapes.Generated]) -> shapes.Truth:
    return shapes.truth(generated[1])


@pytest.fixture(scope="module")
def month(lake_dir: Path, slo: spec.Slo) -> pa.Table:
    parts = [pq.read_table(lake.sli_partition(lake_dir, slo.name, d)) for d in FEB.days]
    return pa.concat_tables(parts)


def _bucket(t: datetime) -> int:
    return int((t - shapes.START).total_seconds()) // 60


def test_every_bucket_equals_the_truth(month: pa.Table, truth: shapes.Truth) -> None:
    assert month.num_rows == shapes.MINUTES
    has = np.array(month.column("has_data").to_pylist())
    assert (has == truth.has_data).all()
    assert (np.array(month.column("total").to_pylist()) == truth.total).all()
    assert (np.array(month.column("good").to_pylist()) == truth.good).all()
    assert not any(month.column("clipped").to_pylist())


def test_every_day_equals_the_truth(lake_dir: Path, slo: spec.Slo,
                                    truth: shapes.Truth) -> None:
    for i, day in enumerate(FEB.days):
        part = pq.read_table(lake.sli_partition(lake_dir, slo.name, day)).to_pydict()
        span = slice(i * 1440, (i + 1) * 1440)
        assert sum(part["good"]) == truth.good[span].sum(), day
        assert sum(part["total"]) == truth.total[span].sum(), day
        assert part["has_data"].count(False) == (~truth.has_data[span]).sum(), day


def test_the_shapes_are_really_there(month: pa.Table, truth: shapes.Truth,
                                     generated: tuple[Path, shapes.Generated]) -> None:
    gen = generated[1]
    total = month.column("total").to_pylist()
    # Resets: the counter drops, yet the minute after is counted in full.
    for reset in (shapes.RESET_A, shapes.RESET_B):
        at = _bucket(reset)
        assert (gen.values[:, at + 1] < gen.values[:, at]).any()
        assert total[at] == truth.total[at] == gen.events[:, at].sum() > 0
    # The outage: the buckets whose samples are missing are "no data" ...
    lo, hi = _bucket(shapes.OUTAGE[0]), _bucket(shapes.OUTAGE[1])
    gap = [i for i, h in enumerate(month.column("has_data").to_pylist()) if not h]
    assert gap == list(range(lo - 1, hi - 1))
    # ... while the app kept counting: the first sample after it shows every event since the
    # last sample before it, and the bucket of that sample counts them all.
    assert sum(total[lo - 1:hi - 1]) == 0
    assert total[hi - 1] == gen.events[:, lo - 1:hi].sum() > 0
    # Churn and the new series: the new pod's and the new code's minutes are all counted.
    for start in (shapes.CHURN, shapes.NEW_SERIES):
        at = _bucket(start)
        assert total[at] == gen.events[:, at].sum() and total[at - 1] == gen.events[:, at - 1].sum()


def test_summary_counts_and_coverage(lake_dir: Path, slo: spec.Slo,
                                     truth: shapes.Truth) -> None:
    row = compute.compute_calendar(lake_dir, [slo], "month", FEB.label).summary[0]
    assert row["good"] == truth.good.sum() and row["total"] == truth.total.sum()
    assert row["buckets"] == truth.has_data.sum()
    expected = truth.has_data.sum() / shapes.MINUTES
    assert expected < 1 and row["coverage"] == pytest.approx(expected, rel=1e-12)
    assert row["sli"] == pytest.approx(truth.good.sum() / truth.total.sum(), rel=1e-12)


def test_coverage_is_full_before_the_outage(lake_dir: Path, slo: spec.Slo,
                                              truth: shapes.Truth) -> None:
    # Evaluated before the outage, the month so far is complete: coverage exactly 100 %.
    params = compute.SloParams.of(slo)
    row = compute.compute_window(lake_dir, [params], FEB,
                                 as_of=shapes.OUTAGE[0] - timedelta(hours=2)).summary[0]
    upto = _bucket(shapes.OUTAGE[0] - timedelta(hours=2))
    assert row["coverage"] == 1.0 and row["total"] == truth.total[:upto].sum()
