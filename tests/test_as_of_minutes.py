"""Windows evaluated at any minute, through ``slo-jobs compute``: a month across a DST change
(America/New_York), time slices in a month across another (Europe/London), an own quarter in
a zone whose DST shift is 30 minutes (Australia/Lord_Howe) and a rolling window, at as-ofs on
no hour, some a minute either side of a DST change. Each figure is compared with sums taken
here from the buckets written into the lake.
"""

from __future__ import annotations

import contextlib
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from slo_jobs import compute, lake
from slo_jobs.core import periods

START = datetime(2026, 2, 20, tzinfo=UTC)
DAYS = 46
TARGET = 0.998
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: shop
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{code!~"5.."}}'}}
      total: {{selector: 'http_requests_total'}}
  objective: {{target: {target}{slices}}}
  window: {window}
{budgeting}"""
SLOS = {
    "newyork": ("{calendar: month, timeZone: America/New_York}", ""),
    "london": ("{calendar: month, timeZone: Europe/London}", "Timeslices"),
    "lordhowe": ("{calendar: quarter, timeZone: Australia/Lord_Howe}", ""),
    "rolling": ("{rolling: 7d}", ""),
}
ZONES = {"newyork": "America/New_York", "london": "Europe/London",
         "lordhowe": "Australia/Lord_Howe", "rolling": "UTC"}
SLICE = 5  # minutes
AS_OF = [datetime(2026, 3, 8, 6, 59, tzinfo=UTC), datetime(2026, 3, 8, 7, 3, tzinfo=UTC),
         datetime(2026, 3, 17, 13, 47, tzinfo=UTC), datetime(2026, 3, 29, 1, 1, tzinfo=UTC),
         datetime(2026, 3, 31, 23, 59, tzinfo=UTC), datetime(2026, 4, 1, 4, 29, tzinfo=UTC)]


def cli(*args: str) -> tuple[int, str, str]:
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


@pytest.fixture(scope="module")
def buckets() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(good, total, has_data) per minute from START: diurnal traffic, errors in bursts, a
    40-minute gap."""
    rng = np.random.default_rng(11)
    n = DAYS * 1440
    minute = np.arange(n)
    total = rng.poisson(80 + 60 * np.sin(minute / 1440 * 2 * np.pi)).astype(float)
    rate = np.where(rng.random(n) < 0.01, 0.2, 0.001)
    bad = rng.binomial(total.astype(int), rate).astype(float)
    has = np.ones(n, bool)
    has[18 * 1440 + 300:18 * 1440 + 340] = False
    total[~has] = bad[~has] = 0.0
    return total - bad, total, has


@pytest.fixture(scope="module")
def world(buckets: tuple[np.ndarray, np.ndarray, np.ndarray],
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("minutes")
    (base / "slos").mkdir()
    (base / "slos" / "slos.yaml").write_text("---\n".join(
        DOC.format(name=name, window=window, target=TARGET,
                   slices=f", timeSliceTarget: 0.99, timeSliceWindow: {SLICE}m"
                   if method else "",
                   budgeting=f"  budgetingMethod: {method}\n" if method else "")
        for name, (window, method) in SLOS.items()))
    good, total, has = buckets
    for d in range(DAYS):
        day = (START + timedelta(days=d)).date()
        at = slice(d * 1440, (d + 1) * 1440)
        table = pa.table({
            "ts": [START + timedelta(days=d, minutes=i) for i in range(1440)],
            "good": good[at], "total": total[at], "clipped": np.zeros(1440, bool),
            "has_data": has[at], "step_s": np.full(1440, 60, np.int32)},
            schema=lake.SLI_SCHEMA)
        for name in SLOS:
            lake.write_atomic(table, lake.sli_partition(base / "lake", name, day))
    return base


def index(t: datetime) -> int:
    return int((t - START) / timedelta(minutes=1))


def events(buckets: tuple[np.ndarray, ...], start: datetime, end: datetime
           ) -> tuple[float, float]:
    good, total, _ = buckets
    a, b = max(0, index(start)), index(end)
    return float(good[a:b].sum()), float(total[a:b].sum())


def slices(buckets: tuple[np.ndarray, ...], start: datetime, end: datetime
           ) -> tuple[float, float]:
    """(good slices, counted slices) of [start, end) in SLICE-minute slices from start (the
    last one partial); a slice without data or events is skipped (noDataPolicy skip)."""
    good, total, has = buckets
    n_good = n_counted = 0
    for a in range(index(start), index(end), SLICE):
        b = min(a + SLICE, index(end))
        g, t = good[a:b].sum(), total[a:b].sum()
        if not has[a:b].any() or t == 0:
            continue
        n_counted += 1
        n_good += int(g / t >= 0.99)
    return float(n_good), float(n_counted)


@pytest.mark.parametrize("at", AS_OF, ids=lambda t: f"{t:%m-%dT%H:%MZ}")
def test_every_window_is_exact_at_the_minute(at: datetime, world: Path,
                                             buckets: tuple[np.ndarray, ...]) -> None:
    code, out, err = cli("compute", "--month", "2026-03", "--slos", str(world / "slos"),
                         "--lake", str(world / "lake"), "--as-of", f"{at:%Y-%m-%dT%H:%MZ}")
    assert code == 0 and not err, err
    rows: dict[str, dict[str, Any]] = {r["slo"]: r for r in compute.read_summary(
        world / "lake", periods.month("2026-03"))}
    for name, tz in ZONES.items():
        month = periods.calendar("month", "2026-03", tz)
        upto = min(at, month.end)
        r = rows[name]
        count = slices if name == "london" else events
        good, total = count(buckets, month.start, upto)
        assert (r["good"], r["total"]) == (good, total), name
        assert r["as_of"] == upto and r["estimated"] is (at < month.end), name
        elapsed = (upto - month.start) / (month.end - month.start)
        assert r["budget_remaining"] == pytest.approx(
            1 - (total - good) / ((1 - TARGET) * total) * elapsed, rel=1e-9), name
        closed = at >= month.end and r["status"] != "insufficient data"
        assert r["met"] == (good / total >= TARGET if closed else None), name
        assert (r["outlook"] is None) is (at >= month.end), name
    # Each own window is to date at the as-of of the SLO's month row (its end, once closed):
    # the quarter holding the minute before it (Q2 begins at 13:00Z on 31 March).
    upto = min(at, periods.calendar("month", "2026-03", "Australia/Lord_Howe").end)
    quarter = periods.containing("quarter", upto - timedelta(microseconds=1),
                                 "Australia/Lord_Howe")
    q = rows["lordhowe"]
    assert (q["window_start"], q["window_end"]) == (quarter.start, quarter.end)
    assert (q["window_good"], q["window_total"]) == events(buckets, quarter.start, upto)
    assert q["window_estimated"] is (upto < quarter.end)
    # The lake begins on 20 February: too little of the quarter to judge, running or not.
    assert (q["window_status"], q["window_met"]) == ("insufficient data", None)
    upto = min(at, periods.month("2026-03").end)
    w = rows["rolling"]
    assert (w["window_good"], w["window_total"]) == events(buckets, upto - timedelta(days=7),
                                                           upto)
    assert w["window_met"] is not None and not w["window_estimated"]
