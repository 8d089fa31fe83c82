"""A selector or breakdown label that matches no series is named, apart from gaps in data:
``slo-jobs check`` counts each SLO's series before any month is run, and ``run`` names what
matched nothing in its output and its report. Counts are compared with the series Prometheus
lists for the same selectors (its HTTP API, asked directly)."""

from __future__ import annotations

import html
import json
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slo_jobs.spec import templates
from tests.clirun import slo_jobs
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

# 02:17 in Kolkata on 21 September: a day of the demo history, an odd minute, not UTC
AS_OF = datetime(2026, 9, 21, 2, 17, tzinfo=ZoneInfo("Asia/Kolkata"))
DAY = timedelta(days=1)
CHECKOUT = 'http_requests_total{service="checkout"}'
CHECKOUT_GOOD = 'http_requests_total{service="checkout",code!~"5.."}'
PAYMENTS = 'http_requests_total{service="payments"}'
PAYMENTS_BAD = 'http_requests_total{service="payments",code=~"5.."}'
PAYMENTS_LATENCY = 'http_request_duration_seconds_count{service="payments"}'

QUEUE = 'payments_queue_lag{group="pay"}'
QUEUE_SLO = f"""apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: payments-queue}}
spec:
  service: payments
  budgetingMethod: Timeslices
  indicator:
    threshold: {{query: 'sum({QUEUE})', op: lt, value: 1000}}
  objective: {{target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}}
"""


def _series(prometheus: str, selector: str, end: datetime, span: timedelta
            ) -> list[dict[str, str]]:
    query = urllib.parse.urlencode({"match[]": selector, "end": int(end.timestamp()),
                                    "start": int((end - span).timestamp())})
    with urllib.request.urlopen(f"{prometheus}/api/v1/series?{query}") as answer:
        data: list[dict[str, str]] = json.load(answer)["data"]
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new service's SLOs as ``init`` writes them (payments: nothing scrapes it) and a demo
    SLO broken down by a label its series have (code) and one they lack (route)."""
    slos = tmp_path_factory.mktemp("slos")
    target = slos / "payments.yaml"
    target.write_text(templates.render("api", "standard", "payments", str(target)))
    (slos / "queue.yaml").write_text(QUEUE_SLO)
    first = (ROOT / "slos" / "checkout.yaml").read_text().split("\n---\n")[0]
    (slos / "checkout.yaml").write_text(
        first.replace("name: checkout-availability", "name: checkout-by-code").replace(
            "  window: {calendar: month}", "  window: {calendar: month}\n"
            "  breakdown: [code, route]"))
    return slos


def test_check_counts_each_selectors_series_before_any_month_is_run(
        prometheus: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = slo_jobs(capsys, "check", "--slos", str(folder), "--prometheus-url",
                              prometheus, "--as-of", AS_OF.isoformat())
    assert code == 1, err  # the payments selectors match nothing
    lines = out.splitlines()
    checkout = _series(prometheus, CHECKOUT, AS_OF, DAY)
    good = _series(prometheus, CHECKOUT_GOOD, AS_OF, DAY)
    assert checkout and good
    with_code = sum(1 for s in checkout if "code" in s)
    assert f"checkout-by-code: total {CHECKOUT}: {len(checkout)} series" in lines
    assert f"checkout-by-code: good {CHECKOUT_GOOD}: {len(good)} series" in lines
    assert f"checkout-by-code: breakdown label code on {with_code} of {len(checkout)} series " \
           f"of {CHECKOUT}" in lines
    assert not any("route" in s for s in checkout)
    assert f"checkout-by-code: breakdown label route is on no series of {CHECKOUT}" in lines
    assert _series(prometheus, PAYMENTS, AS_OF, DAY) == []
    assert f"payments-availability: total: no series matched {PAYMENTS} in {prometheus}" \
        in lines
    assert f"payments-latency: total: no series matched {PAYMENTS_LATENCY} in {prometheus}" \
        in lines
    assert f"payments-queue: query: no series matched {QUEUE} in {prometheus}" in lines
    # A bad-events selector with no series is no error yet: said, not counted as a failure.
    assert f"payments-availability: bad: no series matched {PAYMENTS_BAD} in {prometheus} " \
           "(read as no bad events until the first error)" in lines
    failed = [x for x in lines[1:-1] if "no series" in x and "(read as no bad" not in x]
    assert lines[-1] == f"{len(failed)} of {len(lines) - 2} selectors and labels match no series"
    start = (AS_OF - DAY).astimezone(ZoneInfo("UTC"))
    assert lines[0] == f"series with samples from {start:%Y-%m-%d %H:%M} to " \
                       f"{AS_OF.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"

    # The demo's own SLOs all match: exit 0
    code, out, err = slo_jobs(capsys, "check", "--slos", str(ROOT / "slos" / "checkout.yaml"),
                              "--prometheus-url", prometheus, "--as-of", AS_OF.isoformat())
    assert code == 0, err
    assert out.splitlines()[-1] == "all 4 selectors and labels match series"
    # Before the history begins nothing matches.
    code, out, err = slo_jobs(capsys, "check", "--slos", str(ROOT / "slos" / "checkout.yaml"),
                              "--prometheus-url", prometheus, "--as-of", "2026-05-01T00:00Z",
                              "--window", "7d")
    assert code == 1 and out.splitlines()[-1] == "4 of 4 selectors and labels match no series"


def test_run_names_what_matched_nothing_in_its_output_and_report(
        prometheus: str, folder: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = slo_jobs(capsys, "run", "--month", "2026-09", "--slos", str(folder),
                              "--prometheus-url", prometheus, "--lake", str(tmp_path / "lake"),
                              "--out", str(tmp_path / "out"))
    assert code == 0, err
    days = 30  # September's UTC days: every one was read
    warnings = [x for x in out.splitlines() if x.startswith("warning: ")]
    span = f"({days} of {days} days, 2026-09-01 to 2026-09-30)"
    assert sorted(warnings) == sorted([
        f"warning: checkout-by-code: breakdown label route is on no series of {CHECKOUT} {span}",
        f"warning: payments-availability: no series matched {PAYMENTS} in {prometheus} {span}",
        f"warning: payments-latency: no series matched {PAYMENTS_LATENCY} in {prometheus} "
        f"{span}",
        f"warning: payments-queue: no series matched {QUEUE} in {prometheus} {span}"])
    summary = {r["slo"]: r for r in json.loads(
        (tmp_path / "out" / "2026-09" / "summary.json").read_text())}
    assert summary["payments-availability"]["status"] == "no data"
    assert summary["checkout-by-code"]["coverage"] == 1.0
    text = html.unescape(" ".join((tmp_path / "out" / "2026-09" / "report.html")
                                  .read_text().split()))
    for slo, selector in (("payments-availability", PAYMENTS),
                          ("payments-latency", PAYMENTS_LATENCY), ("payments-queue", QUEUE)):
        assert f"{slo}</span>: no series matched {selector} in {prometheus} (30 days, " \
               "2026-09-01 to 2026-09-30)" in text
    assert f"checkout-by-code</span>: breakdown label route is on no series of {CHECKOUT}" \
        in text
