"""The month in progress at any minute, through the CLI, against a real Prometheus.

The lake is extracted once (``slo-jobs run`` at an as-of after the hour swept); then
``slo-jobs compute`` runs at every minute of one hour: 07:00-08:00 in Asia/Kathmandu (UTC+05:45),
an hour on no UTC hour. Each figure is compared with the events counted here from the
generator's raw samples, as the lake's buckets define them (a sample's increase belongs to the
minute it was taken in, ``(ts, ts + 1 min]``), over the SLO's window to the as-of minute.
"""

from __future__ import annotations

import contextlib
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from slo_jobs import compute, periods
from slo_jobs.demo import scrapes

pytestmark = pytest.mark.integration

DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: {job}
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{job="{job}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{job="{job}"}}'}}
  objective: {{target: {target}}}
  window: {window}
"""
KATHMANDU = "Asia/Kathmandu"
# The hour swept: 07:00 to 07:59 in Kathmandu on 15 September, 01:15Z to 02:14Z.
HOUR = datetime(2026, 9, 15, 7, 0, tzinfo=ZoneInfo(KATHMANDU)).astimezone(UTC)
MINUTES = [HOUR + timedelta(minutes=k) for k in range(60)]
SLOS = {  # name: (job, target, window)
    "kathmandu": ("api15", 0.999, "{calendar: month, timeZone: Asia/Kathmandu}"),
    "rolling": ("api30", 0.995, "{rolling: 7d}"),
}


def cli(*args: str) -> tuple[int, str, str]:
    """``slo-jobs`` through its entry point, in this process."""
    from slo_jobs import cli as entry

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["slo-jobs", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            entry.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def sample_counts(real: scrapes.Scrapes, job: str, lo: datetime, hi: datetime
                  ) -> tuple[float, float]:
    """(good, total) events of ``job`` shown by samples taken in ``(lo, hi]``: each sample's
    increase over the one before (its whole value after a reset, or as the first sample of a
    series created after the data began: a fresh counter starts at zero)."""
    lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
    began = int(real.truth.ts.min().timestamp() * 1000) + 3_600_000
    good = total = 0.0
    for s in real.series:
        if s.labels["__name__"] != scrapes.REQUESTS or s.labels["job"] != job:
            continue
        prev = np.concatenate([[s.values[0] if s.ts_ms[0] < began else 0.0], s.values[:-1]])
        inc = np.where(s.values >= prev, s.values - prev, s.values)
        n = float(inc[(s.ts_ms > lo_ms) & (s.ts_ms <= hi_ms)].sum())
        total += n
        good += n if s.labels["code"] != "500" else 0.0
    return good, total


@pytest.fixture(scope="module")
def extracted(real_prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every day the swept month and windows read, extracted once (data after the hour)."""
    base = tmp_path_factory.mktemp("as-of")
    (base / "slos").mkdir()
    (base / "slos" / "slos.yaml").write_text("---\n".join(
        DOC.format(name=n, job=j, target=t, window=w) for n, (j, t, w) in SLOS.items()))
    code, _, err = cli("run", "--month", "2026-09", "--slos", str(base / "slos"),
                       "--prometheus-url", real_prometheus, "--lake", str(base / "lake"),
                       "--out", str(base / "out"), "--as-of", "2026-09-16T00:00Z")
    assert code == 0, err
    return base


def budget_remaining(good: float, total: float, target: float, elapsed: float) -> float:
    """docs/slo-math.md: 1 - C_to_date x e."""
    return 1 - (total - good) / ((1 - target) * total) * elapsed


@pytest.mark.parametrize("at", MINUTES, ids=lambda t: f"{t:%H:%MZ}")
def test_every_minute_of_an_hour_is_exact(at: datetime, extracted: Path,
                                          real_scrapes: scrapes.Scrapes) -> None:
    code, out, err = cli("compute", "--month", "2026-09", "--slos", str(extracted / "slos"),
                         "--lake", str(extracted / "lake"), "--as-of", f"{at:%Y-%m-%dT%H:%MZ}")
    assert code == 0 and not err, err
    rows: dict[str, dict[str, Any]] = {r["slo"]: r for r in compute.read_summary(
        extracted / "lake", periods.month("2026-09"))}
    for name, (job, target, _) in SLOS.items():
        r = rows[name]
        month = periods.calendar("month", "2026-09", KATHMANDU if name == "kathmandu" else "UTC")
        good, total = sample_counts(real_scrapes, job, month.start, at)
        elapsed = (at - month.start) / (month.end - month.start)
        assert r["as_of"] == at and r["estimated"] and r["met"] is None, name
        assert (r["good"], r["total"]) == (good, total), name
        assert r["sli"] == pytest.approx(good / total, rel=1e-12), name
        assert r["budget_remaining"] == pytest.approx(
            budget_remaining(good, total, target, elapsed), rel=1e-9), name
        assert r["expected_buckets"] == (at - month.start) / timedelta(minutes=1), name
        assert name in out
    # The rolling SLO's own window ends at the as-of minute: [at - 7 d, at), complete.
    r = rows["rolling"]
    good, total = sample_counts(real_scrapes, "api30", at - timedelta(days=7), at)
    assert (r["window_start"], r["window_end"]) == (at - timedelta(days=7), at)
    assert (r["window_good"], r["window_total"]) == (good, total)
    assert r["window_budget_remaining"] == pytest.approx(
        budget_remaining(good, total, 0.995, 1.0), rel=1e-9)
    assert r["window_met"] == (good / total >= 0.995) and not r["window_estimated"]
