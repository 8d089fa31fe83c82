"""slo_extract and the monthly report's gap handling, run with dag.test() against the test
Prometheus: exactly the day's partitions, an asset event per day, gaps filled or named."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from slo_jobs import lake
from slo_jobs.core.errors import SloJobsError
from slo_jobs.run import tasks
from tests.conftest import DEMO_SLOS, ROOT, TRUTH, true_counts, true_minutes

pytestmark = pytest.mark.integration
DAY = date(2026, 9, 15)
SEPTEMBER = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
SHARD_SIZE = 4


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def _env(mp: pytest.MonkeyPatch, prometheus: str, base: Path) -> None:
    mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
    mp.setenv("SLO_JOBS_SLOS_DIR", str(ROOT / "slos"))
    mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
    mp.setenv("SLO_JOBS_OUT_DIR", str(base / "out"))


def _ti_states(run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: ti.state for ti in run.get_task_instances(session=session)
                if ti.map_index in (-1, 0)}


@pytest.fixture(scope="module")
def day_run(prometheus: str, airflow_db: Path,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    base = tmp_path_factory.mktemp("extract-day")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, prometheus, base)
        # A daily data interval: the run after Sep 16 00:00 covers Sep 15; shards of 4 SLOs.
        run = _dag("slo_extract").test(logical_date=datetime(2026, 9, 16, tzinfo=UTC),
                                       run_conf={"shard_size": SHARD_SIZE})
    return run, base


def test_extract_day_succeeds(day_run: tuple[Any, Path]) -> None:
    run, _ = day_run
    assert run.state == "success"
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 9, 16, tzinfo=UTC))


def test_extract_day_runs_one_task_per_shard(day_run: tuple[Any, Path]) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run, _ = day_run
    shards = math.ceil(len(TRUTH) / SHARD_SIZE)
    with create_session() as session:
        tis = [ti for ti in run.get_task_instances(session=session)
               if ti.task_id == "extract_shard"]
        results = {x.map_index: XComModel.deserialize_value(x) for x in session.scalars(
            select(XComModel).where(XComModel.run_id == run.run_id,
                                    XComModel.task_id == "extract_shard"))}
    assert sorted(ti.map_index for ti in tis) == list(range(shards))
    assert all(ti.state == "success" for ti in tis)
    names = sorted(TRUTH)
    assert [results[i]["names"] for i in range(shards)] == [
        names[i:i + SHARD_SIZE] for i in range(0, len(names), SHARD_SIZE)]
    for i in range(shards):
        assert results[i]["slos"] == results[i]["partitions"] == len(results[i]["names"])
        assert {"seconds", "cpu_s", "max_rss_mib"} <= set(results[i]), results[i]


def test_extract_day_writes_exactly_that_days_partitions(day_run: tuple[Any, Path],
                                                         truth: pd.DataFrame) -> None:
    _, base = day_run
    parts = sorted(p.relative_to(base / "lake").as_posix()
                   for p in (base / "lake").glob("sli/**/*.parquet"))
    assert parts == sorted(f"sli/slo={name}/date=2026-09-15/part-0.parquet" for name in TRUTH)
    for name in TRUTH:
        table = pq.read_table(lake.sli_partition(base / "lake", name, DAY))
        assert table.num_rows == 1440, name
        good, total = true_minutes(truth, name, "2026-09-15", "2026-09-16")
        assert (round(sum(table["good"].to_pylist())), round(sum(table["total"].to_pylist()))) \
            == (good, total), name


def test_extract_day_publishes_an_asset_event_for_the_day(day_run: tuple[Any, Path]) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run, _ = day_run
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "slo_sli_days", AssetEvent.source_run_id == run.run_id)
        ).all()
        extras = [e.extra for e in events]
    assert len(extras) == 1
    assert extras[0]["day"] == "2026-09-15"
    assert extras[0]["slos"] == sorted(TRUTH)
    assert extras[0]["rows"] == len(TRUTH) * 1440  # slo_extract: the Prometheus SLOs


@pytest.fixture(scope="module")
def gappy_lake(day_run: tuple[Any, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding only Sep 15 of September, as the daily DAG left it."""
    base = tmp_path_factory.mktemp("gappy")
    shutil.copytree(day_run[1] / "lake", base / "lake")
    return base


def test_check_month_names_every_missing_day(gappy_lake: Path) -> None:
    with pytest.raises(SloJobsError) as err:
        tasks.check_month(ROOT / "slos", gappy_lake / "lake", *SEPTEMBER)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("month 2026-09: extraction incomplete: ")
    for name in TRUTH:
        assert f"{name} misses 2026-09-01..2026-09-14, 2026-09-16..2026-09-30" in message


def test_monthly_report_with_missing_days_fail_stops_before_computing(
        prometheus: str, gappy_lake: Path, tmp_path: Path) -> None:
    base = tmp_path / "fail"
    shutil.copytree(gappy_lake / "lake", base / "lake")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, prometheus, base)
        run = _dag("slo_monthly_report").test(logical_date=datetime(2026, 10, 1, tzinfo=UTC),
                                              run_conf={"missing_days": "fail"})
    assert run.state == "failed"
    states = _ti_states(run)
    assert states["fill_shard"] == "success" and states["check_complete"] == "failed"
    assert all(states.get(t) != "success"
               for t in ("plan_shards", "compute_shard", "merge", "render")), states
    # nothing was extracted and nothing computed
    assert len(list((base / "lake").glob("sli/*/date=*/part-0.parquet"))) == len(TRUTH)
    assert not (base / "lake" / "monthly").exists() and not (base / "out").exists()


def test_monthly_report_fills_gaps_and_replaces_only_its_month(
        prometheus: str, gappy_lake: Path, truth: pd.DataFrame) -> None:
    base = gappy_lake
    kept = {p: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (base / "lake").glob("sli/*/date=2026-09-*/part-0.parquet")}
    # Another month's outputs, which a September run must leave alone.
    other = lake.sli_partition(base / "lake", "checkout-latency", date(2026, 8, 31))
    other.parent.mkdir(parents=True)
    other.write_bytes(lake.sli_partition(base / "lake", "checkout-latency", DAY).read_bytes())
    other_bytes = other.read_bytes()
    (base / "out" / "2026-08").mkdir(parents=True)
    (base / "out" / "2026-08" / "summary.json").write_text("[]")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, prometheus, base)
        run = _dag("slo_monthly_report").test(logical_date=datetime(2026, 10, 1, tzinfo=UTC),
                                              run_conf={"fill_shard_size": SHARD_SIZE})
    assert run.state == "success"
    fills = [ti for ti in run.get_task_instances() if ti.task_id == "fill_shard"]
    assert len(fills) == math.ceil(DEMO_SLOS / SHARD_SIZE)
    assert len(list((base / "lake").glob("sli/*/date=2026-09-*/part-0.parquet"))) == \
        DEMO_SLOS * 30
    # the day the daily DAG wrote was kept, not extracted again
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in kept} == kept
    assert other.read_bytes() == other_bytes
    assert (base / "out" / "2026-08" / "summary.json").read_text() == "[]"
    rows = {r["slo"]: r for r in pq.read_table(
        lake.monthly_partition(base / "lake", "2026-09")).to_pylist()}
    for name in TRUTH:
        assert (rows[name]["good"], rows[name]["total"]) == true_counts(
            truth, name, "2026-09-01", "2026-10-01"), name
        assert rows[name]["coverage"] == 1.0


@pytest.mark.parametrize(("start", "end"), [
    (datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 9, 17, tzinfo=UTC)),  # two days
    (datetime(2026, 9, 15, 1, tzinfo=UTC), datetime(2026, 9, 16, 1, tzinfo=UTC)),  # not midnight
    (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),  # a month
])
def test_extract_day_refuses_anything_but_one_utc_day(start: datetime, end: datetime) -> None:
    with pytest.raises(SloJobsError, match=r"^data interval: found .*; expected one whole day"):
        tasks.day_of(start, end)


def test_a_day_interval_is_its_utc_day() -> None:
    assert tasks.day_of(datetime(2026, 9, 15, tzinfo=UTC),
                        datetime(2026, 9, 16, tzinfo=UTC)) == DAY
