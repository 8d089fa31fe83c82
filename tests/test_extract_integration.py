"""Extraction against the real Prometheus, compared with the generator's exact truth."""

from __future__ import annotations

import fcntl
import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from demo import prom as demo_prom
from slo_jobs import compute, spec
from slo_jobs.core import periods
from slo_jobs.core.errors import ExtractError
from slo_jobs.run import runner
from slo_jobs.run.sources import Sources
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.sources.prometheus import client as prom_api
from tests.conftest import TRUTH, service_slos, true_counts

pytestmark = pytest.mark.integration
SEP = periods.month("2026-09")
# Why exact: the extractor counts the differences of raw samples, and the demo's counters hold
# integer event counts, so every bucket is an exact integer; counter resets are at sample
# instants, so every event is seen. Float64 holds these counts exactly (< 2**53); the only
# slack allowed is for summation order. (tests/realdata checks jittered, churning scrapes.)
REL_TOL = 1e-12


def lake_digest(lake: Path) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def slos() -> list[spec.Slo]:
    return service_slos()


@pytest.fixture(scope="module")
def extracted(prometheus: str, slos: list[spec.Slo],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("lake")
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        for s in slos:
            extract_slo(client, s, SEP.days, lake)
    return lake


def test_every_demo_slo_is_covered_by_truth(slos: list[spec.Slo]) -> None:
    assert {s.name for s in slos} == set(TRUTH)


def test_extracted_month_equals_generator_truth(extracted: Path, slos: list[spec.Slo],
                                                truth: pd.DataFrame) -> None:
    rows = {r["slo"]: r for r in compute.compute_calendar(extracted, slos, "month",
                                                          SEP.label).summary}
    for name in TRUTH:
        good, total = true_counts(truth, name, "2026-09-01", "2026-10-01")
        assert rows[name]["total"] == pytest.approx(total, rel=REL_TOL), name
        assert rows[name]["good"] == pytest.approx(good, rel=REL_TOL), name
        assert rows[name]["coverage"] == 1.0
        assert rows[name]["clipped_rows"] == 0


def test_counter_reset_day_is_exact(extracted: Path, slos: list[spec.Slo],
                                    truth: pd.DataFrame) -> None:
    # frontend's counters reset on 2026-09-14 06:00 and 2026-09-29 23:59.
    for day in ("2026-09-14", "2026-09-29"):
        part = pd.read_parquet(extracted / "sli" / "slo=frontend-availability" / f"date={day}")
        nxt = (pd.Timestamp(day) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        good, total = true_counts(truth, "frontend-availability", day, nxt)
        assert part.total.sum() == total and part.good.sum() == good


def test_per_minute_buckets_match_truth(extracted: Path, truth: pd.DataFrame) -> None:
    part = pd.read_parquet(extracted / "sli" / "slo=checkout-availability" / "date=2026-09-17")
    t = truth[(truth.service == "checkout") & (truth.ts >= "2026-09-17")
              & (truth.ts < "2026-09-18")].reset_index(drop=True)
    assert len(part) == 1440
    assert (part.ts.to_numpy() == t.ts.to_numpy()).all()
    assert (part.total.to_numpy() == t.requests.to_numpy()).all()
    assert (part.good.to_numpy() == (t.requests - t.errors).to_numpy()).all()


def test_month_agrees_with_prometheus_own_increase(prometheus: str, extracted: Path,
                                                   slos: list[spec.Slo]) -> None:
    # Prometheus evaluates the whole month in one increase() at the month's end (events
    # SLOs: a time-slice SLO counts slices, judged one by one).
    rows = {r["slo"]: r for r in compute.compute_calendar(extracted, slos, "month",
                                                          SEP.label).summary}
    window = f"{SEP.seconds}s"
    for s in slos:
        if s.budgeting_method != "Occurrences":
            continue
        for query, key in ((s.good, "good"), (s.total, "total")):
            answer = httpx.get(f"{prometheus}/api/v1/query",
                               params={"query": query.promql(window),
                                       "time": str(int(SEP.end.timestamp()))}).json()
            value = float(answer["data"]["result"][0]["value"][1])
            assert rows[s.name][key] == pytest.approx(value, rel=REL_TOL), (s.name, key)


def test_re_extraction_leaves_identical_files(prometheus: str, extracted: Path,
                                              slos: list[spec.Slo]) -> None:
    before = lake_digest(extracted)
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        extract_slo(client, slos[0], SEP.days[:3], extracted)
    assert lake_digest(extracted) == before
    assert not list(extracted.rglob(".tmp-*"))


def test_chunking_under_the_points_limit(prometheus: str, slos: list[spec.Slo],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A day is 1,440 points; with a 100-point limit the client must split it into 15 requests
    # and still return exactly the same series.
    requests: list[str] = []
    start, end, step = SEP.start + timedelta(minutes=1), SEP.start + timedelta(days=1), \
        timedelta(minutes=1)
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        whole = client.query_range(slos[0].total.promql("60s"), start, end, step)
        monkeypatch.setattr(prom_api, "MAX_POINTS", 100)
        original = client._get

        def counting(path: str, params: dict[str, str]) -> dict:
            requests.append(params["start"])
            return original(path, params)

        monkeypatch.setattr(client, "_get", counting)
        split = client.query_range(slos[0].total.promql("60s"), start, end, step)
    assert len(requests) == 15
    assert split == whole and len(whole) == 1440


def _lock_is_free(lake: Path, slo: str) -> bool:
    path = lake / ".locks" / f"{slo}.lock"
    if not path.exists():
        return True  # never taken
    with path.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return True


def test_concurrent_extraction_writes_what_one_slo_at_a_time_writes(
        prometheus: str, extracted: Path, slos: list[spec.Slo], tmp_path: Path) -> None:
    # SLOs are written while others are read (three threads at a time): the lake must
    # still be the one the plain one-SLO-after-another extraction wrote, byte for byte,
    # the results in the SLOs' and days' order, and every SLO's lock released.
    days = SEP.days[:4]
    plain = tmp_path / "plain"
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        for s in slos:
            extract_slo(client, s, days, plain)
    lake = tmp_path / "concurrent"
    with Sources(lambda _conn: PrometheusConfig(prometheus)) as sources:
        results = runner.extract_days(sources, slos, days, lake, concurrency=3)
    assert [(r.slo, r.day) for r in results] == [(s.name, d) for s in slos for d in days]
    assert all(r.path.is_file() for r in results)
    sli = {k: v for k, v in lake_digest(lake).items() if k.startswith("sli/")}
    assert sli == {k: v for k, v in lake_digest(plain).items() if k.startswith("sli/")}
    assert len(sli) == len(slos) * len(days)
    assert all(_lock_is_free(lake, s.name) for s in slos)


def test_failing_extraction_releases_every_lock_and_writes_nothing(
        slos: list[spec.Slo], tmp_path: Path) -> None:
    # Nothing listens on the port: every SLO's first query fails. The first SLO's error is
    # raised, no partition is written and no lock stays held (two threads for six SLOs: the
    # SLOs queued behind a failure are still tried, and fail alike).
    port = demo_prom.free_port()
    config = PrometheusConfig(f"http://127.0.0.1:{port}", attempts=1)
    with pytest.raises(ExtractError, match=rf"SLO {slos[0].name}, 2026-09-01: .*failed "
                                           r"after 1 attempts: connection failed"):
        with Sources(lambda _conn: config) as sources:
            runner.extract_days(sources, slos, SEP.days[:2], tmp_path, concurrency=2)
    assert not list(tmp_path.rglob("*.parquet"))
    assert all(_lock_is_free(tmp_path, s.name) for s in slos)
