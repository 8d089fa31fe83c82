"""The daily path and the lake as the record, against real Prometheus servers.

A two-pod service scraped every 60 s through November 2026. In one Prometheus, one pod's
samples of the last ten minutes of every day are missing (they reach a second Prometheus,
which holds every sample, only later); another holds only the samples from 16 November
06:00 on (retention expired). Expected figures come from a one-shot read of the complete
Prometheus and from the generator's truth, never from the code under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo import backends, prom, scrapes
from slo_jobs import lake
from slo_jobs.core import periods
from slo_jobs.run import runner
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
START, END = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
MONTH = "2026-11"
SETTLED = datetime(2026, 12, 1, 12, 10, tzinfo=UTC)  # the monthly DAG's as-of
EXPIRED = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # the truncated Prometheus' first sample
LATE = timedelta(minutes=10)
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: shop
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{job="shop",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{job="shop"}}'}}
  objective: {{target: 0.99}}
  window: {{calendar: month, timeZone: {tz}}}
"""


@dataclass(frozen=True)
class Servers:
    lagging: str  # one pod's last 10 minutes of each day missing
    complete: str  # every sample
    truncated: str  # samples from EXPIRED on
    scrapes: scrapes.Scrapes
    slos: Path


def _late(s: scrapes.Series, lagging_pod: dict[int, str]) -> np.ndarray:
    """The samples of ``s`` that arrive late: its pod's, in the last 10 minutes of a day
    on which it is the lagging pod."""
    day_s = 86_400
    t = s.ts_ms // 1000
    in_tail = (t % day_s) >= day_s - LATE.total_seconds()
    days = t // day_s
    return in_tail & np.array([lagging_pod.get(int(d)) == s.labels["pod"] for d in days],
                              dtype=bool)


def _build(series: list[scrapes.Series], real: scrapes.Scrapes, folder: Path) -> Path:
    return backends.build_prometheus_tsdb(scrapes.Scrapes(series, real.truth, real.lost),
                                          folder)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("lake-record")
    job = scrapes.Job("shop", 60.0, rate_per_s=3.0, error_ratio=0.01, pods=2)
    real = scrapes.generate(START, END, [job], seed=11)
    # Each day, the pod whose name sorts first among those scraped in its last 10 minutes.
    tails: dict[int, set[str]] = {}
    for s in real.series:
        t = s.ts_ms // 1000
        for d in np.unique(t[(t % 86_400) >= 86_400 - LATE.total_seconds()] // 86_400):
            tails.setdefault(int(d), set()).add(s.labels["pod"])
    lagging_pod = {d: min(p) for d, p in tails.items()}
    early = []
    for s in real.series:
        keep = ~_late(s, lagging_pod)
        early.append(scrapes.Series(s.labels, s.ts_ms[keep], s.values[keep]))
    cut = int(EXPIRED.timestamp() * 1000)
    recent = [scrapes.Series(s.labels, s.ts_ms[s.ts_ms >= cut], s.values[s.ts_ms >= cut])
              for s in real.series]
    dirs = {"lagging": _build([s for s in early if len(s.ts_ms)], real, base / "lagging"),
            "complete": _build(real.series, real, base / "complete"),
            "truncated": _build([s for s in recent if len(s.ts_ms)], real, base / "truncated")}
    procs, urls = [], {}
    try:
        for name, tsdb in dirs.items():
            port = prom.free_port()
            procs.append(prom.start(tsdb, port, base / f"{name}.log"))
            urls[name] = f"http://127.0.0.1:{port}"
        slos = base / "slos"
        slos.mkdir()
        (slos / "slos.yaml").write_text("---\n".join(
            DOC.format(name=n, tz=tz) for n, tz in (("shop-utc", "UTC"),
                                                    ("shop-berlin", "Europe/Berlin"))))
        yield Servers(urls["lagging"], urls["complete"], urls["truncated"], real, slos)
    finally:
        for proc in procs:
            prom.stop(proc)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def _cli_month(command: str, srv: Servers, url: str, base: Path, as_of: datetime,
               *extra: str) -> subprocess.CompletedProcess[str]:
    month = ["--month", MONTH] if command != "backfill" else ["--from", MONTH, "--to", MONTH]
    out = [] if command == "extract" else ["--out", str(base / "out")]
    # backfill reads as of its clock: after November.
    at = [] if command == "backfill" else ["--as-of", as_of.strftime("%Y-%m-%dT%H:%MZ")]
    done = run_cli(command, *month, "--slos", str(srv.slos), "--prometheus-url", url,
                   "--lake", str(base / "lake"), *out, *at, *extra)
    assert done.returncode == 0, done.stderr
    return done


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def _partitions(lake_dir: Path) -> dict[str, tuple[Any, ...]]:
    out = {}
    for path in sorted((lake_dir / "sli").glob("*/*/part-0.parquet")):
        t = pq.read_table(path)
        key = f"{path.parent.parent.name}/{path.parent.name}"
        out[key] = (t.select(["ts", "good", "total", "clipped", "has_data", "step_s"])
                    .to_pydict(), lake.complete_until(path))
    return out


def _summary(out: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads((out / MONTH / "summary.json").read_text())
    return {r["slo"]: r for r in rows}


FIGURES = ("good", "total", "buckets", "expected_buckets", "coverage", "status")


@pytest.fixture(scope="module")
def one_shot(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``slo-jobs run`` of November, once, from the complete Prometheus, at the monthly
    DAG's as-of."""
    base = tmp_path_factory.mktemp("one-shot")
    _cli_month("run", servers, servers.complete, base, SETTLED)
    return base


def test_the_daily_dag_then_the_monthly_dag_equal_a_one_shot_run(
        servers: Servers, one_shot: Path, airflow_db: Path, tmp_path: Path) -> None:
    env = {"SLO_JOBS_SLOS_DIR": str(servers.slos), "SLO_JOBS_LAKE_DIR": str(tmp_path / "lake"),
           "SLO_JOBS_OUT_DIR": str(tmp_path / "out")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        # Each day's run, as of the end of the DAG's wait: one pod's last minutes missing.
        # Every day of the month (and the day before, the lookback's last).
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", servers.lagging)
        daily = _dag("slo_extract")
        day = datetime(2026, 10, 31, tzinfo=UTC)
        while day < datetime(2026, 12, 1, tzinfo=UTC):
            run = daily.test(logical_date=day + timedelta(days=1))
            assert run.state == "success", day
            day += timedelta(days=1)
        # Every day the lagging pod's samples were missing from is still open, none empty.
        for name in ("shop-utc", "shop-berlin"):
            part = lake.sli_partition(tmp_path / "lake", name, datetime(2026, 11, 27).date())
            assert lake.complete_until(part) is not None
        # The late samples have arrived by the month's report.
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", servers.complete)
        run = _dag("slo_monthly_report").test(logical_date=datetime(2026, 12, 1, tzinfo=UTC))
        assert run.state == "success"
    assert _partitions(tmp_path / "lake") == _partitions(one_shot / "lake")
    assert _summary(tmp_path / "out") == _summary(one_shot / "out")


def test_extract_then_compute_equals_run(servers: Servers, tmp_path: Path) -> None:
    # Stages one by one pull the days run pulls: the local month, lookback, nothing later.
    as_of = datetime(2026, 11, 17, 9, 45, tzinfo=UTC)
    _cli_month("extract", servers, servers.complete, tmp_path / "staged", as_of)
    _cli_month("run", servers, servers.complete, tmp_path / "run", as_of)
    assert _partitions(tmp_path / "staged" / "lake") == _partitions(tmp_path / "run" / "lake")
    days = sorted(k for k in _partitions(tmp_path / "run" / "lake") if "shop-utc" in k)
    assert days[-1] == "slo=shop-utc/date=2026-11-17"
    # The day the as-of cuts is written as not final: the next run reads it again.
    part = lake.sli_partition(tmp_path / "staged" / "lake", "shop-utc", as_of.date())
    assert lake.complete_until(part) == as_of


def _truth(real: scrapes.Scrapes, start: datetime, end: datetime) -> tuple[int, int]:
    t = real.truth
    t = t[(t.ts >= pd.Timestamp(start)) & (t.ts < pd.Timestamp(end))]
    return int(t.requests.sum() - t.errors.sum()), int(t.requests.sum())


def _files(lake_dir: Path) -> dict[str, int]:
    """Each SLI partition's inode: a partition written again is a new file."""
    return {f"{p.parent.parent.name}/{p.parent.name}": p.stat().st_ino
            for p in (lake_dir / "sli").glob("*/*/part-0.parquet")}


@dataclass(frozen=True)
class FirstHalf:
    base: Path
    rewritten: list[str]  # partitions the second run wrote again
    empty: list[str]  # partitions the first run wrote without data (before the history)


@pytest.fixture(scope="module")
def first_half(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> FirstHalf:
    """The lake as runs of the month in progress left it by 16 November 12:15 (half read)."""
    base = tmp_path_factory.mktemp("first-half")

    def extract_as_run(as_of: datetime) -> None:  # what run extracts, without the render
        with Sources.from_env(servers.complete) as sources:
            runner.fill_month(sources, catalog.load([servers.slos]), periods.month(MONTH),
                              base / "lake", as_of)

    extract_as_run(datetime(2026, 11, 10, 3, 15, tzinfo=UTC))
    before = _files(base / "lake")
    empty = sorted(k for k in before if not any(pq.read_table(
        base / "lake" / "sli" / k / "part-0.parquet").column("has_data").to_pylist()))
    extract_as_run(datetime(2026, 11, 16, 12, 15, tzinfo=UTC))
    after = _files(base / "lake")
    return FirstHalf(base, sorted(k for k in before if before[k] != after[k]), empty)


def test_run_reads_again_only_the_days_not_final(first_half: FirstHalf) -> None:
    # The first run, at 03:15 on 10 November, read that day to 03:15 and every earlier day
    # final: the second run wrote only the 10th again (and the new days after it), and the
    # lookback days before the history, which have no data (the source may have them now).
    assert first_half.empty and set(first_half.empty) <= set(first_half.rewritten)
    assert [k for k in first_half.rewritten if k not in first_half.empty] == [
        "slo=shop-berlin/date=2026-11-10", "slo=shop-utc/date=2026-11-10"]


@pytest.mark.parametrize("path", ["run", "backfill --redo", "extract", "monthly dag"])
def test_a_source_that_lost_the_first_half_loses_nothing(
        path: str, servers: Servers, first_half: FirstHalf, one_shot: Path,
        airflow_db: Path, tmp_path: Path) -> None:
    shutil.copytree(first_half.base / "lake", tmp_path / "lake")
    if path == "monthly dag":
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", servers.truncated)
            mp.setenv("SLO_JOBS_SLOS_DIR", str(servers.slos))
            mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
            mp.setenv("SLO_JOBS_OUT_DIR", str(tmp_path / "out"))
            run = _dag("slo_monthly_report").test(logical_date=datetime(2026, 12, 1, tzinfo=UTC))
        assert run.state == "success"
    else:
        command, *extra = path.split()
        done = _cli_month(command, servers, servers.truncated, tmp_path, SETTLED, *extra)
        assert "the source no longer holds" in done.stderr and "2026-11-16" in done.stderr
        if command == "extract":
            _cli_month("run", servers, servers.truncated, tmp_path, SETTLED)
    rows, whole = _summary(tmp_path / "out"), _summary(one_shot / "out")
    # Every figure as a read of the complete source, to the event: where the truncated
    # source's samples begin, its first ones are only a baseline, and the lake's minute,
    # counted from the sample before, is kept.
    for name, row in rows.items():
        assert [row[k] for k in FIGURES] == [whole[name][k] for k in FIGURES], name
    # And the month's events as the generator made them (the counters' increase between
    # the samples around the month's edges, hence the relative bound).
    good, total = _truth(servers.scrapes, datetime(2026, 11, 1, tzinfo=UTC),
                         datetime(2026, 12, 1, tzinfo=UTC))
    assert rows["shop-utc"]["total"] == pytest.approx(total, rel=1e-4)
    assert rows["shop-utc"]["good"] == pytest.approx(good, rel=1e-4)
    # The report names the days whose source has expired.
    html = (tmp_path / "out" / MONTH / "report.html").read_text()
    assert "the source no longer holds some minutes the lake has" in html
    assert "2026-11-16" in html
