"""The extraction shards of slo_extract (and the monthly gap fill), against the test
Prometheus: the plan holds the Prometheus SLOs only; a shard with one SLO that cannot be read
writes the others, then fails naming it; a re-run replaces exactly the shard's partitions;
a catalog changed after the plan is refused in one line, before anything is written."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo import prom
from slo_jobs import lake
from slo_jobs.core.errors import SloJobsError
from slo_jobs.run import extract_shards
from slo_jobs.sources.endpoint import PrometheusConfig
from slo_jobs.spec import catalog
from tests.conftest import ROOT, TRUTH, true_minutes

pytestmark = pytest.mark.integration
DAY = date(2026, 9, 15)
INTERVAL = (datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 9, 16, tzinfo=UTC))
# An SLO reading checkout's counters through a Prometheus connection that is down.
DOWN = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: checkout-mirror
  labels: {team: payments, prometheus_conn_id: mirror}
spec:
  service: checkout
  indicator:
    ratio:
      good:  {selector: 'http_requests_total{service="checkout",code!~"5.."}'}
      total: {selector: 'http_requests_total{service="checkout"}'}
  objective: {target: 0.999}
  window: {calendar: month}
"""
CHECKOUT = ("checkout-availability", "checkout-latency")


def _catalog(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(ROOT / "slos" / "checkout.yaml", folder)
    (folder / "mirror.yaml").write_text(DOWN)
    return folder


def _connections(prometheus: str, mirror: str):  # type: ignore[no-untyped-def]
    def config_for(conn: str | None) -> PrometheusConfig:
        # one attempt: a refused connection fails at once instead of backing off
        return PrometheusConfig(prometheus) if conn is None else PrometheusConfig(mirror,
                                                                                 attempts=1)
    return config_for


def _day_files(lake_dir: Path) -> list[str]:
    return sorted(p.relative_to(lake_dir).as_posix() for p in lake_dir.glob("sli/**/*.parquet"))


def test_the_plan_holds_the_prometheus_slos_by_name() -> None:
    plan = extract_shards.plan_extract(ROOT / "slos", 4)
    prometheus = sorted(s.name for s in catalog.load([ROOT / "slos"]) if s.pipeline is None)
    assert prometheus == sorted(TRUTH)  # the demo's Prometheus SLOs, pipelines left out
    assert [p["index"] for p in plan] == list(range(math.ceil(len(prometheus) / 4)))
    assert [list(p["slos"]) for p in plan] == [prometheus[i:i + 4]
                                               for i in range(0, len(prometheus), 4)]
    assert len(extract_shards.plan_fill(ROOT / "slos", 4)) == math.ceil(
        len(catalog.load([ROOT / "slos"])) / 4)  # the fill: every SLO


def test_a_shard_writes_every_slo_it_can_then_fails_naming_the_others(
        prometheus: str, truth: pd.DataFrame, tmp_path: Path) -> None:
    slos_dir, lake_dir = _catalog(tmp_path / "slos"), tmp_path / "lake"
    [shard] = extract_shards.plan_extract(slos_dir, 10)
    down = f"http://127.0.0.1:{prom.free_port()}"  # nothing listens there
    with pytest.raises(SloJobsError) as err:
        extract_shards.extract_shard(_connections(prometheus, down), slos_dir, lake_dir,
                                     *INTERVAL, shard)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("shard 0: day 2026-09-15: 1 of 3 SLOs not read: "
                              f"SLO checkout-mirror, 2026-09-15: Prometheus at {down} "), message
    assert message.endswith("expected every SLO read (the other 2 are written; a retry "
                            "reads the shard again)")
    # The others' day is written, exact.
    assert _day_files(lake_dir) == [f"sli/slo={n}/date=2026-09-15/part-0.parquet"
                                    for n in CHECKOUT]
    for name in CHECKOUT:
        table = pq.read_table(lake.sli_partition(lake_dir, name, DAY))
        assert (round(sum(table["good"].to_pylist())), round(sum(table["total"].to_pylist()))
                ) == true_minutes(truth, name, "2026-09-15", "2026-09-16"), name
    before = {n: pq.read_table(lake.sli_partition(lake_dir, n, DAY)) for n in CHECKOUT}

    # The retry, the mirror back (the same Prometheus): the shard's three partitions, the
    # two already written replaced by the same rows.
    got = extract_shards.extract_shard(_connections(prometheus, prometheus), slos_dir,
                                       lake_dir, *INTERVAL, shard)
    assert _day_files(lake_dir) == sorted(f"sli/slo={n}/date=2026-09-15/part-0.parquet"
                                          for n in (*CHECKOUT, "checkout-mirror"))
    for name in CHECKOUT:
        assert pq.read_table(lake.sli_partition(lake_dir, name, DAY)).equals(before[name])
    mirror = pq.read_table(lake.sli_partition(lake_dir, "checkout-mirror", DAY))
    assert mirror.select(["good", "total"]).equals(
        before["checkout-availability"].select(["good", "total"]))
    assert (got["index"], got["day"], got["slos"], got["partitions"]) == (0, "2026-09-15", 3, 3)
    assert got["names"] == sorted((*CHECKOUT, "checkout-mirror"))
    assert got["rows"] == 3 * 1440  # every minute of the day has data
    assert got["cpu_s"] > 0 and got["max_rss_mib"] > 0 and got["seconds"] > 0
    assert extract_shards.day_summary([got]) == {
        "day": "2026-09-15", "slos": got["names"], "rows": 3 * 1440, "clipped": got["clipped"]}


def test_a_shard_refuses_a_catalog_changed_since_the_plan(prometheus: str,
                                                          tmp_path: Path) -> None:
    slos_dir, lake_dir = _catalog(tmp_path / "slos"), tmp_path / "lake"
    [shard] = extract_shards.plan_extract(slos_dir, 10)
    spec = slos_dir / "checkout.yaml"
    spec.write_text(spec.read_text().replace("target: 0.999", "target: 0.995"))
    config_for = _connections(prometheus, prometheus)
    with pytest.raises(SloJobsError) as err:
        extract_shards.extract_shard(config_for, slos_dir, lake_dir, *INTERVAL, shard)
    assert str(err.value) == (
        f"shard 0: SLO checkout-availability: removed or changed in {slos_dir} since the "
        "shards were planned; expected the planned definitions (clear the DAG run from "
        "plan_extract to plan again)")
    (slos_dir / "mirror.yaml").unlink()
    with pytest.raises(SloJobsError, match=r"^shard 0: files: mirror.yaml: no longer in .*; "
                                           r"expected the files the shards were planned from "
                                           r"\(clear the DAG run from plan_extract"):
        extract_shards.extract_shard(config_for, slos_dir, lake_dir, *INTERVAL, shard)
    assert _day_files(lake_dir) == []  # refused before reading anything
