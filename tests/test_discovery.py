"""slo-jobs discover against the real test Prometheus: the services of the demo history, their
whole weeks' requests and SLIs (checked against the generator's truth), the targets and tier the
documented rule gives for those truths, never above what the last full month achieved, and SLO
files that `slo-jobs validate` accepts."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from demo import prom
from slo_jobs.spec.templates import TIERS

pytestmark = pytest.mark.integration
UNTIL = pd.Timestamp("2026-10-05", tz="UTC")  # a Monday; the history ends 1 October
WEEKS = 12
LADDER = (0.9999, 0.9995, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9)  # docs/spec.md, "discover"
BOUNDS = {0.1: "le_0_1", 0.3: "le_0_3", 1.0: "le_1"}  # the demo histogram's buckets


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def ladder(slis: list[float]) -> float | None:
    """Strictest ladder target whose budget is at least twice the median week's errors."""
    err = 1 - statistics.median(slis)
    return next((t for t in LADDER if round(1 - t, 10) >= 2 * err), None)


def met(suggested: float, achieved: float) -> float:
    """docs/spec.md: never above the last full month's SLI; else the strictest step it reached."""
    return suggested if achieved >= suggested else \
        next((t for t in LADDER if t <= achieved), int(achieved * 100) / 100)


def measured(t: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    w = t[(t.ts >= start) & (t.ts < end)]
    n = float(w.requests.sum())
    return {"start": start, "requests": n, "sli": 1 - w.errors.sum() / n,
            **{col: w[col].sum() / n for col in BOUNDS.values() if col in w}}


def weeks(truth: pd.DataFrame, service: str) -> list[dict[str, float]]:
    """The whole weeks: the demo's samples run from its first minute to its last one's end."""
    t = truth[truth.service == service]
    first, last = t.ts.min(), t.ts.max() + pd.Timedelta(minutes=1)
    starts = [UNTIL - pd.Timedelta(weeks=i) for i in range(WEEKS, 0, -1)]
    return [measured(t, s, s + pd.Timedelta(weeks=1)) for s in starts
            if first <= s and s + pd.Timedelta(weeks=1) <= last]


def september(truth: pd.DataFrame, service: str) -> dict[str, float]:
    return measured(truth[truth.service == service], pd.Timestamp("2026-09-01", tz="UTC"),
                    pd.Timestamp("2026-10-01", tz="UTC"))


@pytest.fixture(scope="module")
def discovered(prometheus: str, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("discovered")
    proc = cli("discover", "--prometheus-url", prometheus, "--until", "2026-10-05",
               "--weeks", str(WEEKS), "--out", str(out), cwd=out)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    return out, proc.stderr


@pytest.fixture(scope="module")
def found(discovered: tuple[Path, str]) -> Path:
    return discovered[0]


def test_the_files_are_valid_slos(found: Path) -> None:
    assert sorted(p.name for p in found.iterdir()) == ["checkout.yaml", "frontend.yaml",
                                                      "search.yaml"]
    proc = cli("validate", str(found), cwd=found)
    assert proc.returncode == 0 and "ok: 6 SLOs in 3 files valid" in proc.stdout, proc.stderr


@pytest.mark.parametrize("service", ["checkout", "frontend", "search"])
def test_evidence_and_targets_follow_from_the_truth(found: Path, truth: pd.DataFrame,
                                                    service: str) -> None:
    text = (found / f"{service}.yaml").read_text()
    rows = re.findall(r"^#   (\d{4}-\d\d-\d\d) +([\d,]+) +([\d.]+) %", text, re.M)
    expected = weeks(truth, service)
    assert [r[0] for r in rows] == [f"{w['start']:%Y-%m-%d}" for w in expected]
    # The history ends inside the last week asked for: left out, and said.
    assert len(expected) == WEEKS - 1
    assert "# Left out, not whole weeks (the history begins or ends inside them): " \
        f"{UNTIL - pd.Timedelta(weeks=1):%Y-%m-%d}.\n" in text
    for (_, requests, sli), w in zip(rows, expected, strict=True):
        assert int(requests.replace(",", "")) == pytest.approx(w["requests"], rel=1e-3)
        assert float(sli) / 100 == pytest.approx(w["sli"], abs=1e-4)
    by_weeks = ladder([w["sli"] for w in expected])
    assert by_weeks is not None
    month = september(truth, service)
    availability = met(by_weeks, month["sli"])
    tier = next((name for name, d in TIERS.items() if availability >= d.availability),
                "best_effort")
    # The tier's latency threshold, or the next boundary up where a ladder target fits.
    candidates = [b for b in BOUNDS if b >= TIERS[tier].latency_s] or [max(BOUNDS)]
    threshold = next((b for b in candidates
                      if ladder([w[BOUNDS[b]] for w in expected]) is not None),
                     candidates[-1])
    by_weeks_latency = ladder([w[BOUNDS[threshold]] for w in expected])
    assert by_weeks_latency is not None
    latency = met(by_weeks_latency, month[BOUNDS[threshold]])
    targets = re.findall(r"objective: \{target: ([\d.]+)\}", text)
    assert [float(t) for t in targets] == [availability, latency]
    assert f"# Last full month 2026-09 (UTC): {month['requests']:,.0f} requests, " \
        f"availability {month['sli'] * 100:.4f} %, latency <= {threshold:g} s " \
        f"{month[BOUNDS[threshold]] * 100:.4f} %.\n" in text
    assert re.findall(r"labels: \{tier: (\w+)\}", text) == [tier, tier]
    assert f"threshold: {threshold:g}\n" in text


def test_existing_files_are_kept_and_nothing_found_is_one_line(
        prometheus: str, found: Path) -> None:
    before = (found / "search.yaml").read_text()
    proc = cli("discover", "--prometheus-url", prometheus, "--until", "2026-10-05",
               "--out", str(found), cwd=found)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("error: ") and "already exists" in proc.stderr
    assert (found / "search.yaml").read_text() == before
    proc = cli("discover", "--prometheus-url", prometheus, "--until", "2020-01-06",
               "--out", str(found / "none"), cwd=found)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert "no request counter" in proc.stderr and not (found / "none").exists()


def test_a_target_the_last_month_missed_is_lowered_and_said(
        discovered: tuple[Path, str], truth: pd.DataFrame) -> None:
    """The demo's September incidents: every target the weekly rule gives above what
    September achieved is lowered to the step it met, one line each in the file and on
    stderr, and no target is left above September's SLI."""
    found, stderr = discovered
    said = []
    for service in ("checkout", "frontend", "search"):
        month, expected = september(truth, service), weeks(truth, service)
        text = (found / f"{service}.yaml").read_text()
        threshold = float(re.findall(r"threshold: ([\d.]+)", text)[0])
        targets = [float(t) for t in re.findall(r"objective: \{target: ([\d.]+)\}", text)]
        for kind, col, target in zip(("availability", "latency"), ("sli", BOUNDS[threshold]),
                                     targets, strict=True):
            by_weeks = ladder([w[col] for w in expected])
            assert by_weeks is not None
            if by_weeks > month[col]:
                said.append(f"{service}-{kind}: achieved {month[col] * 100:.4f} % in "
                            f"2026-09; a {by_weeks * 100:g} % target would have been "
                            f"missed: suggested {met(by_weeks, month[col]) * 100:g} %, the "
                            "strictest step it met")
            assert target <= month[col]
    assert said  # the demo's checkout: 99.95 % by its weeks, 99.87 % in September
    assert stderr.splitlines() == [f"warning: {line}" for line in said]
    for line in said:
        assert f"# Lowered: {line}.\n" in (found / f"{line.split('-')[0]}.yaml").read_text()


# A service whose history begins on a Wednesday and whose September had one outage; the
# last whole week ends the Monday before --until, an odd minute in another zone.
PAY_START = datetime(2026, 8, 19, tzinfo=UTC)  # a Wednesday
PAY_END = datetime(2026, 10, 6, tzinfo=UTC)
PAY_UNTIL, PAY_WEEKS = "2026-10-06T01:47+05:30", 8  # 2026-10-05 20:17 UTC
OUTAGE = (datetime(2026, 9, 16, 9, 7, tzinfo=UTC), 95)  # start, minutes


def pay_minutes() -> pd.DataFrame:
    """Events of each minute of [PAY_START, PAY_END): 5000 requests, 1 failing and 4990
    within 1 s; during the outage half fail and none is within 1 s."""
    ts = pd.date_range(PAY_START, PAY_END, freq="1min", inclusive="left")
    down = np.asarray((ts >= OUTAGE[0]) & (ts < OUTAGE[0] + timedelta(minutes=OUTAGE[1])))
    return pd.DataFrame({"ts": ts, "requests": 5000, "errors": np.where(down, 2500, 1),
                         "le_1": np.where(down, 0, 4990)})


@pytest.fixture(scope="module")
def pay_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("pay-prom")
    t = pay_minutes()
    # A counter's sample at minute i holds the events before it (the demo's convention).
    seconds = int(PAY_START.timestamp()) + 60 * np.arange(len(t) + 1)
    families = {
        "http_requests counter": {
            'http_requests_total{service="pay",code="200"}': t.requests - t.errors,
            'http_requests_total{service="pay",code="500"}': t.errors},
        "http_request_duration_seconds histogram": {
            'http_request_duration_seconds_bucket{service="pay",le="1"}': t.le_1,
            'http_request_duration_seconds_bucket{service="pay",le="+Inf"}': t.requests,
            'http_request_duration_seconds_count{service="pay"}': t.requests}}
    history = folder / "history.om"
    with history.open("w") as fh:
        for family, series in families.items():
            fh.write(f"# TYPE {family}\n")
            for name, per_minute in series.items():
                values = np.concatenate([[0], np.cumsum(per_minute.to_numpy())])
                fh.writelines(f"{name} {v} {s}\n" for v, s in zip(values, seconds,
                                                                  strict=True))
        fh.write("# EOF\n")
    tsdb = folder / "tsdb"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(history), str(tsdb)],
                   check=True, stdout=subprocess.DEVNULL)
    port = prom.free_port()
    proc = prom.start(tsdb, port, folder / "prometheus.log")
    yield f"http://127.0.0.1:{port}"
    prom.stop(proc)


def test_a_history_begun_mid_week_and_a_missed_month(pay_prometheus: str,
                                                     tmp_path: Path) -> None:
    proc = cli("discover", "--prometheus-url", pay_prometheus, "--until", PAY_UNTIL,
               "--weeks", str(PAY_WEEKS), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out" / "pay.yaml").read_text()
    t = pay_minutes().assign(service="pay")
    until = pd.Timestamp("2026-10-05", tz="UTC")  # the Monday on or before --until
    starts = [until - pd.Timedelta(weeks=i) for i in range(PAY_WEEKS, 0, -1)]
    whole = [measured(t, s, s + pd.Timedelta(weeks=1)) for s in starts
             if PAY_START <= s and s + pd.Timedelta(weeks=1) <= PAY_END]
    # The week the history begins in has traffic, yet is left out and named.
    begun = [s for s in starts if s < PAY_START < s + pd.Timedelta(weeks=1)]
    assert len(begun) == 1 and len(whole) == PAY_WEEKS - 2  # and a week before any data
    assert "# Left out, not whole weeks (the history begins or ends inside them): " \
        f"{begun[0]:%Y-%m-%d}.\n" in text
    rows = re.findall(r"^#   (\d{4}-\d\d-\d\d) +([\d,]+) +([\d.]+) %", text, re.M)
    assert [(r[0], int(r[1].replace(",", ""))) for r in rows] == \
        [(f"{w['start']:%Y-%m-%d}", w["requests"]) for w in whole]
    assert proc.stdout.endswith(f"; {len(whole)} weeks observed)\n")
    # September: below what the weekly rule gives for availability, above it for latency.
    month = measured(t, pd.Timestamp("2026-09-01", tz="UTC"),
                     pd.Timestamp("2026-10-01", tz="UTC"))
    by_weeks = ladder([w["sli"] for w in whole])
    by_weeks_latency = ladder([w["le_1"] for w in whole])
    assert by_weeks is not None and by_weeks_latency is not None
    assert by_weeks > month["sli"] and by_weeks_latency <= month["le_1"]
    lowered = met(by_weeks, month["sli"])
    said = (f"pay-availability: achieved {month['sli'] * 100:.4f} % in 2026-09; a "
            f"{by_weeks * 100:g} % target would have been missed: suggested "
            f"{lowered * 100:g} %, the strictest step it met")
    assert proc.stderr.splitlines() == [f"warning: {said}"]
    assert f"# Lowered: {said}.\n" in text
    targets = re.findall(r"objective: \{target: ([\d.]+)\}", text)
    assert [float(x) for x in targets] == [lowered, by_weeks_latency]
    tier = next(name for name, d in TIERS.items() if lowered >= d.availability)
    assert re.findall(r"labels: \{tier: (\w+)\}", text) == [tier, tier]


def test_the_month_checked_is_the_last_full_one_before_the_as_of(pay_prometheus: str,
                                                                 tmp_path: Path) -> None:
    from slo_jobs import discovery
    from slo_jobs.sources.prometheus import PrometheusConfig

    config = PrometheusConfig.from_env(pay_prometheus)
    monday = datetime(2026, 9, 28, tzinfo=UTC)
    # By default the month before the last week's end: August, begun inside by the history.
    [(_, before)] = discovery.discover(config, monday, 4, tmp_path / "a")
    assert "# Last full month 2026-08 (UTC): not wholly observed (the history begins or " \
        "ends inside it); the targets are not checked against it.\n" in before.text
    # An as-of on 3 October, in another zone: September, whose outage lowers the target.
    as_of = datetime(2026, 10, 3, 9, 41, tzinfo=ZoneInfo("America/New_York"))
    [(_, after)] = discovery.discover(config, monday, 4, tmp_path / "b", as_of=as_of)
    month = measured(pay_minutes().assign(service="pay"),
                     pd.Timestamp("2026-09-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC"))
    assert f"# Last full month 2026-09 (UTC): {month['requests']:,.0f} requests, " \
        f"availability {month['sli'] * 100:.4f} %" in after.text
    assert after.availability == met(before.availability, month["sli"]) < before.availability
