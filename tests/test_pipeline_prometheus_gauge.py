"""Freshness two ways: a table of load times, and a Prometheus gauge of the last load's Unix
time (``time() - last_load_timestamp_seconds`` through the freshness indicator's
``timestamp`` form).  Fed the same loads, a real Prometheus and DuckDB give identical lake
buckets, minute by minute."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo import prom
from slo_jobs import lake, spec
from slo_jobs.run import runner
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog

pytestmark = pytest.mark.integration
DAY = date(2026, 5, 12)
START = datetime(2026, 5, 11, 18, tzinfo=UTC)
END = datetime(2026, 5, 13, 1, tzinfo=UTC)


def _loads() -> list[datetime]:
    """Whole-second loads every 10-70 minutes, none from 09:00 to 13:20 on the day."""
    rng = np.random.default_rng(11)
    t, out = START, []
    while t < END:
        t += timedelta(seconds=int(rng.integers(600, 4200)))
        if not datetime(2026, 5, 12, 9, tzinfo=UTC) <= t < datetime(2026, 5, 12, 13, 20,
                                                                    tzinfo=UTC):
            out.append(t)
    return out


@pytest.fixture(scope="module")
def gauge_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus whose only series is the gauge, sampled every minute from START."""
    base = tmp_path_factory.mktemp("gauge")
    loads = _loads()
    lines = ["# TYPE orders_last_load_timestamp_seconds gauge\n"]
    t = START + timedelta(minutes=1)
    while t <= END:
        last = max(x for x in loads if x <= t) if loads[0] <= t else None
        if last is not None:
            lines.append(f'orders_last_load_timestamp_seconds{{pipeline="orders"}} '
                         f"{int(last.timestamp())} {int(t.timestamp())}\n")
        t += timedelta(minutes=1)
    lines.append("# EOF\n")
    (base / "gauge.om").write_text("".join(lines))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(base / "gauge.om"), str(base / "tsdb")],
                   check=True, stdout=subprocess.DEVNULL)
    proc = prom.start(base / "tsdb", port := prom.free_port(), base / "prometheus.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        prom.stop(proc)


def _slo(folder: Path, indicator: str) -> spec.Slo:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slo.yaml").write_text(f"""
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: orders-freshness}}
spec:
  service: orders
  indicator:
    freshness:
{indicator}
      maxAge: 45m
  budgetingMethod: Timeslices
  noDataPolicy: bad
  objective: {{target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}}
""")
    [slo] = catalog.load([folder])
    return slo


def test_gauge_and_table_give_the_same_buckets(gauge_prometheus: str, tmp_path: Path) -> None:
    loads = _loads()
    # Beside the SLO file: a table source must live in its folder (or SLO_JOBS_DATA_DIRS).
    (tmp_path / "t").mkdir()
    pq.write_table(pa.table({"loaded_at": loads}), tmp_path / "t" / "loads.parquet")
    by_table = _slo(tmp_path / "t", f"      table: {{files: {tmp_path / 't' / 'loads.parquet'}}}")
    by_gauge = _slo(tmp_path / "g", "      timestamp: 'max(orders_last_load_timestamp_seconds"
                    "{pipeline=\"orders\"})'")
    sources = Sources.from_env(gauge_prometheus)
    runner.extract_days(sources, [by_table], [DAY], tmp_path / "lake-table")
    runner.extract_days(sources, [by_gauge], [DAY], tmp_path / "lake-gauge")
    a = pq.read_table(lake.sli_partition(tmp_path / "lake-table", by_table.name, DAY))
    b = pq.read_table(lake.sli_partition(tmp_path / "lake-gauge", by_gauge.name, DAY))
    for column in ("good", "total", "has_data"):
        assert a.column(column).to_pylist() == b.column(column).to_pylist(), column
    # Both forms keep the age at each minute's end, for the status and the worst hours.
    ages = [pq.read_table(lake.detail_partition(d, "pipeline_age", "orders-freshness", DAY)
                          ).column("age_s").to_pylist()
            for d in (tmp_path / "lake-table", tmp_path / "lake-gauge")]
    assert ages[0] == ages[1] and all(a is not None for a in ages[0])
    good = a.column("good").to_pylist()
    assert 0 < sum(good) < 1440  # the test means something: fresh and stale minutes both
    assert sum(good[10 * 60:13 * 60]) == 0  # the pipeline did not run: stale, not missing
