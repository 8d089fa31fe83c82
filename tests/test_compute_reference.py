"""The DuckDB computation against an independent pandas implementation, on real demo data.

Both read the same lake (September 2026 plus its 3-day lookback, extracted from the test
Prometheus); burn rates, alert incidents, daily series and totals must agree.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.pandas_reference import reference
from slo_jobs.compute import SloParams, compute_window
from slo_jobs.core import periods
from slo_jobs.spec import catalog
from tests.conftest import DEMO_SLOS, ROOT

pytestmark = pytest.mark.integration
SEP = periods.month("2026-09")


@pytest.fixture(scope="module")
def both(september_lake: Path) -> tuple[object, dict]:
    params = [SloParams.of(s) for s in catalog.load([ROOT / "slos"])]
    return compute_window(september_lake, params, SEP), reference(september_lake, params, SEP)


def test_totals_agree(both: tuple) -> None:
    sql, ref = both
    got = pd.DataFrame(sql.summary).set_index("slo").sort_index()
    want = ref["summary"].set_index("slo").sort_index()
    assert (got.good == want.good).all() and (got.total == want.total).all()
    assert (got.buckets == want.buckets).all()
    pd.testing.assert_series_equal(got.budget_consumed, want.budget_consumed, rtol=1e-12)
    pd.testing.assert_series_equal(got.budget_remaining, want.budget_remaining, rtol=1e-12)
    # judged only with enough coverage (spec.minCoverage), by the same SLI
    assert got.met.tolist() == want.met.tolist()
    # the status from the spend (docs/slo-math.md), and the budget's life at the last day's burn
    assert got.status.tolist() == want.status.tolist()
    assert {"exhausted", "healthy"} <= set(want.status)
    pd.testing.assert_series_equal(got.exhaustion_days.astype(float), want.exhaustion_days,
                                   rtol=1e-9)


def test_release_decisions_agree(both: tuple) -> None:
    sql, ref = both
    got = [(d["slo"], d["risk"], d["decision"]) for d in sql.decisions]
    assert got == list(ref["decisions"].itertuples(index=False, name=None))
    assert len(got) == 3 * len(sql.summary)


def test_hourly_burn_rates_agree(both: tuple) -> None:
    sql, ref = both
    got = pd.DataFrame(sql.burn).set_index(["slo", "hour_end"]).sort_index()
    want = ref["burn"].set_index(["slo", "hour_end"]).sort_index()
    assert len(got) == DEMO_SLOS * 720 and got.index.equals(want.index)
    # every window of the alert table, 5 minutes to 3 days
    assert list(got.columns) == list(want.columns) and len(want.columns) == 7
    for col in want.columns:
        pd.testing.assert_series_equal(got[col], want[col], rtol=1e-9, atol=1e-9)


def test_incidents_agree(both: tuple) -> None:
    sql, ref = both
    got = pd.DataFrame(sql.incidents)
    want = ref["incidents"]
    assert len(got) >= 3  # the demo's September has real incidents
    cols = ["slo", "start", "end", "severity"]
    assert got[cols].values.tolist() == want[cols].values.tolist()
    pd.testing.assert_series_equal(got.bad, want.bad, rtol=1e-12)
    pd.testing.assert_series_equal(got.peak_burn_1h, want.peak_burn_1h, rtol=1e-9)
    pd.testing.assert_series_equal(got.budget_share, want.budget_share, rtol=1e-9)


def test_demo_incidents_are_the_generated_ones(both: tuple) -> None:
    # checkout's bad deploy on 2026-09-17 10:05-12:50 (20 % errors) must page within minutes.
    sql, _ = both
    checkout = [i for i in sql.incidents if i["slo"] == "checkout-availability"]
    first = checkout[0]
    assert first["severity"] == "page"
    assert pd.Timestamp("2026-09-17 10:05Z") < first["start"] <= pd.Timestamp("2026-09-17 10:10Z")
    assert first["budget_share"] > 0.5


def test_daily_series_agree(both: tuple) -> None:
    sql, ref = both
    got = pd.DataFrame(sql.daily).set_index(["slo", "day"]).sort_index()
    want = ref["daily"].set_index(["slo", "day"]).sort_index()
    assert len(got) == DEMO_SLOS * 30
    assert (got.good == want.good).all() and (got.total == want.total).all()
    pd.testing.assert_series_equal(got.budget_remaining, want.budget_remaining, rtol=1e-9)
