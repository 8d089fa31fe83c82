"""The generated rules evaluated by the test Prometheus agree with the batch computation.

September 2026 of the demo history (30 days, so the trailing-30-day period ratio of a calendar
month covers exactly the month when evaluated at its end). The demo's counters are sampled on
the minute grid, so ``increase`` over any whole-minute window is exact (no extrapolation) and
the rules and the batch count the same events: the SLIs agree to floating-point rounding
(1e-12 relative), and the alert conditions, evaluated every minute with windows (t - L, t],
are the batch's buckets one for one.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from slo_jobs import rules, spec
from slo_jobs.compute import SloParams, compute_window
from slo_jobs.core import periods
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig
from slo_jobs.spec import catalog
from tests.conftest import ROOT

# The instant the rules and dashboards are written for (the CLI's --at).
AT = datetime(2026, 10, 1, tzinfo=UTC)

pytestmark = pytest.mark.integration
SEP = periods.month("2026-09")
# The SLOs whose September has incidents (checkout: two pages; frontend: one outage that the
# batch splits in two) and one without (search-latency, a raw-expression SLI).
COMPARED = ("checkout-availability", "frontend-availability")


def _instant(url: str, promql: str, at: datetime) -> float:
    body = httpx.get(f"{url}/api/v1/query", params={"query": promql, "time": at.timestamp()},
                     timeout=120).json()
    assert body["status"] == "success", body
    (sample,) = body["data"]["result"]
    return float(sample["value"][1])


def _event_slos() -> list[spec.Slo]:
    """The demo's Prometheus SLOs that count events (a time-slice SLO counts slices)."""
    return [s for s in catalog.load([ROOT / "slos"])
            if s.pipeline is None and s.budgeting_method == "Occurrences"]


@pytest.fixture(scope="module")
def batch(september_lake: Path) -> object:
    return compute_window(september_lake, [SloParams.of(s) for s in _event_slos()], SEP)


def test_period_rule_gives_the_batch_sli(prometheus: str, batch: object) -> None:
    summary = {r["slo"]: r for r in batch.summary}  # type: ignore[attr-defined]
    slos = _event_slos()
    assert len(summary) == len(slos) >= 6
    for s in slos:
        err = _instant(prometheus, rules.period_error_ratio(s), SEP.end)
        want = summary[s.name]
        assert 1 - err == pytest.approx(want["sli"], rel=1e-12, abs=1e-12), s.name
        # and the trailing 30 days are this month's events, not an average of ratios
        assert err == pytest.approx(want["bad"] / want["total"], rel=1e-12)


def _runs(page: set[int], ticket: set[int]) -> list[tuple[datetime, datetime, str]]:
    """Islands of minutes where each alert fires, as the batch builds incidents (one per
    severity: a page lasts while the page alert fires, a ticket is its own incident): a
    firing evaluation at t is the bucket (t - 1m, t]. An alert firing again less than the
    severity's longest short window (defaults: 30 min, 6 h) after it resolved is the same
    burn (docs/slo-math.md)."""
    out = []
    for severity, minutes in (("page", page), ("ticket", ticket)):
        runs: list[list[int]] = []
        gap = 30 * 60 if severity == "page" else 6 * 3600
        for t in sorted(minutes):
            # t - 60 - runs[-1][1]: the minutes without firing between the two runs
            if runs and t - 60 - runs[-1][1] < gap:
                runs[-1][1] = t
            else:
                runs.append([t, t])
        out += [(datetime.fromtimestamp(a - 60, UTC), datetime.fromtimestamp(b, UTC), severity)
                for a, b in runs]
    return sorted(out, key=lambda r: (r[0], r[2] != "page"))


def test_alerts_fire_exactly_at_the_batch_incidents(prometheus: str, batch: object) -> None:
    slos = {s.name: s for s in catalog.load([ROOT / "slos"]) if s.pipeline is None}
    config = PrometheusConfig(prometheus, timeout_s=120)

    def firing(name: str, severity: str) -> set[int]:
        s = slos[name]
        expr = rules.alert_expr(s, severity, lambda w: rules.error_ratio(s, w))
        assert expr is not None
        with PrometheusClient(config) as client:
            return set(client.query_range(expr, SEP.start + timedelta(minutes=1), SEP.end,
                                          timedelta(minutes=1)))

    jobs = [(n, sev) for n in COMPARED for sev in ("page", "ticket")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        fired = dict(zip(jobs, pool.map(lambda j: firing(*j), jobs), strict=True))
    incidents = batch.incidents  # type: ignore[attr-defined]
    for name in COMPARED:
        want = [(i["start"], i["end"], i["severity"]) for i in incidents if i["slo"] == name]
        got = _runs(fired[(name, "page")], fired[(name, "ticket")])
        assert want, name  # the demo's September pages both services
        assert got == want, name
    # Of the demo's availability and latency SLOs, only the compared ones had incidents.
    first = {s.name for s in catalog.load(
        [ROOT / "slos" / f"{f}.yaml" for f in ("checkout", "search", "frontend")])}
    assert {i["slo"] for i in incidents} & first <= set(COMPARED)


def test_backfill_writes_blocks_of_the_recording_rules(prometheus: str, tmp_path: Path) -> None:
    slo = catalog.load([ROOT / "slos" / "checkout.yaml"])[0]
    rule_file = rules.write([slo], tmp_path / "rules.yaml", AT)
    start = datetime(2026, 9, 17, 10, tzinfo=UTC)
    blocks = rules.backfill(rule_file, prometheus, start, start + timedelta(hours=3),
                            tmp_path / "blocks")
    assert blocks and all((b / "chunks").is_dir() for b in blocks)
    samples = sum(json.loads((b / "meta.json").read_text())["stats"]["numSamples"]
                  for b in blocks)
    # 7 window ratios every minute for 3 h; the period ratio and 3 metadata series every 5 m.
    # promtool may include or drop the evaluation on the range's last edge, so each series
    # holds its count give or take one sample.
    assert 7 * 179 + 4 * 35 <= samples <= 7 * 181 + 4 * 37


def test_time_slice_windows_are_the_batch_burn_rates(prometheus: str,
                                                      september_lake: Path) -> None:
    # checkout-availability budgeted in 1-minute slices good iff >= 99 %: at each hour's end
    # (quiet hours and the bad deploy of 17 September), every window's recorded ratio read
    # from Prometheus is the batch's burn rate times B: bad / counted slices in both.
    from dataclasses import replace

    base = next(s for s in catalog.load([ROOT / "slos"]) if s.name == "checkout-availability")
    slo = replace(base, budgeting_method="Timeslices", time_slice_target=0.99,
                  time_slice_window=timedelta(minutes=1))
    burn = {r["hour_end"]: r for r in compute_window(september_lake, [SloParams.of(slo)],
                                                     SEP).burn}
    ends = [datetime(2026, 9, 10, 6, tzinfo=UTC), datetime(2026, 9, 17, 11, tzinfo=UTC),
            datetime(2026, 9, 17, 13, tzinfo=UTC), datetime(2026, 9, 20, 0, tzinfo=UTC)]
    budget = 1 - slo.target
    seen = []
    for end in ends:
        for w in rules.WINDOWS:
            got = _instant(prometheus, rules.error_ratio(slo, w), end)
            assert got == pytest.approx(burn[end][f"burn_{w}"] * budget, rel=1e-9, abs=1e-12), \
                (end, w)
            seen.append(got)
    assert max(seen) == 1.0 and min(seen) == 0.0  # windows wholly bad and wholly good


@pytest.mark.parametrize(("method", "count_as"), [("Occurrences", "excluded"),
                                                  ("Occurrences", "good"),
                                                  ("Timeslices", "excluded")])
def test_period_rule_counts_maintenance_as_the_report(prometheus: str, september_lake: Path,
                                                      tmp_path: Path, method: str,
                                                      count_as: str) -> None:
    # checkout-availability with two maintenance windows at odd seconds, one over the start
    # of its first September incident: the period ratio of the rule file written at AT, read
    # at the month's end, is the batch's SLI with the same windows (left out or counted good),
    # and differs from the SLI that counts every minute.
    plain = next(s for s in catalog.load([ROOT / "slos"]) if s.name == "checkout-availability")
    first = min(i["start"] for i in compute_window(
        september_lake, [SloParams.of(plain)], SEP).incidents if i["slo"] == plain.name)
    windows = [(first - timedelta(minutes=7, seconds=13), first + timedelta(minutes=34,
                                                                              seconds=14)),
               (datetime(2026, 9, 3, 1, 7, 30, tzinfo=UTC),
                datetime(2026, 9, 3, 5, 41, 10, tzinfo=UTC))]
    doc = (ROOT / "slos" / "checkout.yaml").read_text().split("\n---\n")[0]
    if method == "Timeslices":
        doc = doc.replace("objective: {target: 0.999}", "budgetingMethod: Timeslices\n  "
                          "objective: {target: 0.999, timeSliceTarget: 0.99, "
                          "timeSliceWindow: 5m}")
    spec = tmp_path / "checkout.yaml"
    spec.write_text(doc + f"\n  maintenance:\n    countAs: {count_as}\n    windows:\n" + "".join(
        f"      - {{start: '{a:%Y-%m-%dT%H:%M:%SZ}', end: '{b:%Y-%m-%dT%H:%M:%SZ}'}}\n"
        for a, b in windows))
    slo = catalog.load([spec])[0]
    assert slo.maintenance is not None
    want = compute_window(september_lake, [SloParams.of(slo)], SEP).summary[0]
    got = _instant(prometheus, rules.period_error_ratio(slo, AT), SEP.end)
    assert 1 - got == pytest.approx(want["sli"], rel=1e-12, abs=1e-12)
    every_minute = _instant(prometheus, rules.period_error_ratio(slo), SEP.end)
    assert got < every_minute
    # the rule file records the same expression
    (period,) = [r for g in rules.groups(slo, AT) for r in g["rules"]
                 if r.get("record") == rules.PERIOD_RECORD]
    assert period["expr"] == rules.period_error_ratio(slo, AT)
