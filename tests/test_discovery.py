"""slo-jobs discover against the real test Prometheus: the services of the demo history, their
whole weeks' requests and SLIs (checked against the generator's truth), the targets and tier the
documented rule gives for those truths, never above what the last full month achieved, and SLO
files that `slo-jobs validate` accepts."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from slo_jobs.spec.templates import TIERS

pytestmark = pytest.mark.integration
UNTIL = pd.Timestamp("2026-10-05", tz="UTC")  # a Monday; the history ends 1 October
WEEKS = 12
LADDER = (0.9999, 0.9995, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9)  # README, "discover"
BOUNDS = {0.1: "le_0_1", 0.3: "le_0_3", 1.0: "le_1"}  # the demo histogram's buckets


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def ladder(slis: list[float]) -> float | None:
    """Strictest ladder target whose budget is at least twice the median week's errors."""
    err = 1 - statistics.median(slis)
    return next((t for t in LADDER if round(1 - t, 10) >= 2 * err), None)


def met(suggested: float, achieved: float) -> float:
    """README: never above the last full month's SLI; else the strictest step it reached."""
    return suggested if achieved >= suggested else \
        next((t for t in LADDER if t <= achieved), int(achieved * 100) / 100)


def measured(t: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    w = t[(t.ts >= start) & (t.ts < end)]
    n = float(w.requests.sum())
    return {"start": start, "requests": n, "sli": 1 - w.errors.sum() / n,
            **{col: w[col].sum() / n for col in BOUNDS.values()}}


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
