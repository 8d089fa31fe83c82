"""slo-jobs discover against the real test Prometheus: the services of the demo history, their
weekly requests and SLIs (checked against the generator's truth), the targets and tier the
documented rule gives for those truths, and SLO files that `slo-jobs validate` accepts."""

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


def weeks(truth: pd.DataFrame, service: str) -> list[dict[str, float]]:
    t = truth[truth.service == service]
    out = []
    for i in range(WEEKS, 0, -1):
        start = UNTIL - pd.Timedelta(weeks=i)
        w = t[(t.ts >= start) & (t.ts < start + pd.Timedelta(weeks=1))]
        n = float(w.requests.sum())
        out.append({"start": start, "requests": n, "sli": 1 - w.errors.sum() / n,
                    **{col: w[col].sum() / n for col in BOUNDS.values()}})
    return out


@pytest.fixture(scope="module")
def found(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("discovered")
    proc = cli("discover", "--prometheus-url", prometheus, "--until", "2026-10-05",
               "--weeks", str(WEEKS), "--out", str(out), cwd=out)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    return out


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
    for (_, requests, sli), w in zip(rows, expected, strict=True):
        assert int(requests.replace(",", "")) == pytest.approx(w["requests"], rel=1e-3)
        assert float(sli) / 100 == pytest.approx(w["sli"], abs=1e-4)
    availability = ladder([w["sli"] for w in expected])
    assert availability is not None
    tier = next((name for name, d in TIERS.items() if availability >= d.availability),
                "best_effort")
    # The tier's latency threshold, or the next boundary up where a ladder target fits.
    candidates = [b for b in BOUNDS if b >= TIERS[tier].latency_s] or [max(BOUNDS)]
    threshold = next((b for b in candidates
                      if ladder([w[BOUNDS[b]] for w in expected]) is not None),
                     candidates[-1])
    latency = ladder([w[BOUNDS[threshold]] for w in expected])
    targets = re.findall(r"objective: \{target: ([\d.]+)\}", text)
    assert [float(t) for t in targets] == [availability, latency]
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
