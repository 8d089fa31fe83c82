"""A streaming service (consumer lag, end-to-end event latency, a throughput floor judged per
5-minute slice) and a quality SLI, from the worked examples in docs/examples/, through a real
Prometheus on generated series, against truth derived from the generator alone; and the
examples' runbook and dashboard links in the report, summary.json and the alert rules.

Scrapes are exactly on the minute, so at each minute's end Prometheus 2's closed
``rate(...[5m])`` window holds the samples at both of its ends and needs no extrapolation:
the rate is the counter's increase over the 5 minutes divided by 300, as derived here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from demo import prom
from slo_jobs import rules
from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.report import monthly as report
from slo_jobs.run import runner
from slo_jobs.run.sources import Sources
from slo_jobs.spec import catalog, openslo
from slo_jobs.spec.model import _hash
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
EXAMPLES = ROOT / "docs" / "examples"
DAY = datetime(2026, 5, 1, tzinfo=UTC)
FIRST = DAY - timedelta(minutes=10)  # the rate window of the day's first minutes
N = 1440 + 20  # samples, one a minute from FIRST
AS_OF = DAY + timedelta(days=1)
MAY = periods.calendar("month", "2026-05")
LE = ("0.5", "1", "2.5", "5", "10", "+Inf")


@dataclass(frozen=True)
class Generated:
    ts: np.ndarray  # Unix seconds of the samples
    lag: np.ndarray  # (N, 3) lag of each partition
    processed: np.ndarray  # events processed in the minute before each sample
    latency: np.ndarray  # (N, len(LE)) events of each minute at or under each bound
    requests: np.ndarray  # search responses in the minute before each sample
    degraded: np.ndarray  # of them degraded


def _generate() -> Generated:
    rng = np.random.default_rng(28)
    ts = int(FIRST.timestamp()) + 60 * np.arange(N)
    lag = rng.integers(0, 800, size=(N, 3))
    burst = rng.choice(N, 60, replace=False)
    lag[burst, rng.integers(0, 3, 60)] = rng.integers(900, 4000, 60)
    lag[burst[:5], 0] = 1000  # exactly the limit: good (lte)
    processed = rng.integers(3300, 4200, N)  # 55 to 70 a second
    processed[13 * 60 + 10:13 * 60 + 50] = rng.integers(1500, 3600, 40)  # a slow spell
    processed[rng.choice(N, 12, replace=False)] = rng.integers(0, 1200, 12)
    events = rng.integers(200, 400, N)
    # Each minute's events spread over the buckets; slower in the slow spell.
    shares = rng.dirichlet([40, 30, 15, 10, 3, 2], N)
    shares[13 * 60 + 10:13 * 60 + 50] = rng.dirichlet([5, 5, 10, 20, 30, 30], 40)
    per_bucket = np.array([rng.multinomial(e, p) for e, p in zip(events, shares, strict=True)])
    requests = rng.integers(500, 900, N)
    degraded = rng.binomial(requests, 0.003)
    degraded[rng.choice(N, 20, replace=False)] += 40
    return Generated(ts, lag, processed, np.cumsum(per_bucket, axis=1), requests, degraded)


def _counter(name: str, labels: str, inc: np.ndarray, ts: np.ndarray,
             reset_at: int | None = None) -> str:
    values = np.cumsum(inc)
    if reset_at is not None:  # a restart: the counter starts again from that minute's events
        values[reset_at:] -= values[reset_at - 1]
    return "".join(f"{name}{{{labels}}} {v} {t}\n"
                   for v, t in zip(values.tolist(), ts.tolist(), strict=True))


def _openmetrics(g: Generated) -> str:
    out = ["# TYPE kafka_consumergroup_lag gauge\n"]
    for p in range(3):
        labels = f'consumergroup="enricher",partition="{p}",topic="events"'
        out += [f"kafka_consumergroup_lag{{{labels}}} {v} {t}\n"
                for v, t in zip(g.lag[:, p].tolist(), g.ts.tolist(), strict=True)]
    out.append("# TYPE events_processed counter\n")
    out.append(_counter("events_processed_total", 'service="enricher"', g.processed, g.ts))
    out.append("# TYPE event_end_to_end_latency_seconds histogram\n")
    for i, le in enumerate(LE):
        out.append(_counter("event_end_to_end_latency_seconds_bucket",
                            f'le="{le}",service="enricher"', g.latency[:, i], g.ts))
    out.append(_counter("event_end_to_end_latency_seconds_count", 'service="enricher"',
                        g.latency[:, -1], g.ts))
    out.append("# TYPE search_responses counter\n")
    out.append(_counter("search_responses_total", 'service="search"', g.requests, g.ts,
                        reset_at=700))
    out.append("# TYPE search_responses_degraded counter\n")
    out.append(_counter("search_responses_degraded_total", 'service="search"', g.degraded,
                        g.ts))
    return "".join(out) + "# EOF\n"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Generated]]:
    """The examples' 1 May extracted from a real Prometheus and computed to its end."""
    base = tmp_path_factory.mktemp("streaming")
    g = _generate()
    (base / "series.om").write_text(_openmetrics(g))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(base / "series.om"), str(base / "tsdb")],
                   check=True, stdout=subprocess.DEVNULL)
    proc = prom.start(base / "tsdb", port := prom.free_port(), base / "prometheus.log")
    try:
        slos = catalog.load([EXAMPLES])
        runner.extract_days(Sources.from_env(f"http://127.0.0.1:{port}"), slos,
                            [DAY.date()], base / "lake")
    finally:
        prom.stop(proc)
    runner.compute_month(base / "lake", slos, MAY, as_of=AS_OF)
    report.render(base / "lake", MAY, base / "out", source="test", formats=("html", "json"),
                  generated_at=AS_OF)
    yield base, g


def _rows(base: Path) -> dict[str, dict[str, object]]:
    records = json.loads((base / "out" / "2026-05" / "summary.json").read_text())
    return {r["slo"]: r for r in records}


def test_streaming_and_quality_slis_are_the_generators_truth(
        month: tuple[Path, Generated]) -> None:
    base, g = month
    rows = _rows(base)
    day = (g.ts > DAY.timestamp()) & (g.ts <= AS_OF.timestamp())  # samples ending a minute
    # Consumer lag: a minute is good iff the worst partition's lag at its end is <= 1000.
    lag_good = int((g.lag[day].max(axis=1) <= 1000).sum())
    assert 0 < lag_good < 1440
    assert (rows["enricher-consumer-lag"]["good"], rows["enricher-consumer-lag"]["total"]) \
        == (lag_good, 1440)
    # Throughput: each minute's end holds the floor iff 300 s of events reach 50 a second;
    # a 5-minute slice is good iff all five of its minutes did.
    five = np.convolve(g.processed, np.ones(5, dtype=np.int64))[:N]
    minute_ok = (five >= 50 * 300)[day]
    slices_ok = int(minute_ok.reshape(288, 5).all(axis=1).sum())
    assert 0 < slices_ok < 288 - 5
    row = rows["enricher-throughput"]
    assert (row["good"], row["total"], row["unit"]) == (slices_ok, 288, "slices")
    # End-to-end latency: the events of the day's minutes at or under 5 s.
    row = rows["enricher-event-latency"]
    assert (row["good"], row["total"]) == (int(g.latency[day, LE.index("5")].sum()),
                                           int(g.latency[day, -1].sum()))
    # Quality: responses not degraded over all of them, across the restart at minute 700.
    row = rows["search-quality"]
    total, bad = int(g.requests[day].sum()), int(g.degraded[day].sum())
    assert (row["good"], row["total"], row["bad"]) == (total - bad, total, bad)
    assert row["sli"] == pytest.approx((total - bad) / total, rel=1e-12)
    assert {r: rows[r]["indicator"] for r in rows} == {
        "enricher-consumer-lag": "threshold", "enricher-event-latency": "latency",
        "enricher-throughput": "threshold", "search-quality": "quality"}


def test_links_are_in_the_report_summary_json_and_alert_rules(
        month: tuple[Path, Generated]) -> None:
    base, _ = month
    rows = _rows(base)
    lag = rows["enricher-consumer-lag"]
    dashboard = "https://grafana.example.com/d/enricher?var-group=enricher&from=now-30d"
    assert (lag["runbook_url"], lag["dashboard_url"]) == (
        "https://runbooks.example.com/enricher/consumer-lag", dashboard)
    latency = rows["enricher-event-latency"]
    assert (latency["runbook_url"], latency["dashboard_url"]) == (
        "https://runbooks.example.com/enricher/latency", None)
    html = (base / "out" / "2026-05" / "report.html").read_text()

    def block(slo: str) -> str:  # the SLO's heading and what is above its facts table
        return html.split(f'<div class="slo" data-slo="{slo}">', 1)[1].split('class="facts"')[0]

    lag_block = block("enricher-consumer-lag")
    assert (f'<a class="link-dashboard" href="{dashboard.replace("&", "&amp;")}">Dashboard</a>'
            in lag_block)
    assert "threshold SLI" in lag_block and "&from" not in lag_block
    assert "quality SLI" in block("search-quality")
    assert 'class="link-' not in block("enricher-throughput")
    slos = {s.name: s for s in catalog.load([EXAMPLES])}
    doc = yaml.safe_load(rules.render(list(slos.values()), AS_OF))
    alerts = [r for g in doc["groups"] for r in g["rules"]
              if r.get("alert") in ("SLOErrorBudgetBurn", "SLOSLIDataAbsent")]
    linked = {(r["labels"]["slo"], r["alert"], r["labels"]["severity"]):
              (r["annotations"].get("runbook_url"), r["annotations"].get("dashboard_url"))
              for r in alerts}
    assert {k: v for k, v in linked.items() if k[0] == "enricher-consumer-lag"} == {
        ("enricher-consumer-lag", alert, severity): (lag["runbook_url"], dashboard)
        for alert, severity in (("SLOErrorBudgetBurn", "page"), ("SLOErrorBudgetBurn", "ticket"),
                                ("SLOSLIDataAbsent", "ticket"))}
    assert {v for k, v in linked.items() if k[0] == "enricher-throughput"} == {(None, None)}
    out = rules.write(list(slos.values()), base / "streaming.rules.yaml", AS_OF)
    checked = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_links_keep_the_spec_hash_and_survive_openslo(tmp_path: Path) -> None:
    slos = {s.name: s for s in catalog.load([EXAMPLES])}
    quality = slos["search-quality"]
    # Links change nothing computed; a quality SLI computes what the same ratio does.
    assert quality.spec_hash == _hash(replace(quality, links=None))
    ratio = (EXAMPLES / "quality.yaml").read_text().replace("    quality:", "    ratio:")
    (tmp_path / "ratio.yaml").write_text(ratio)
    (as_ratio,) = catalog.load([tmp_path / "ratio.yaml"])
    assert (as_ratio.indicator, quality.indicator) == ("ratio", "quality")
    assert as_ratio.spec_hash == quality.spec_hash
    text, warnings = openslo.export(list(slos.values()))
    assert not [w for w in warnings if "links" in w or "quality" in w]
    (tmp_path / "openslo.yaml").write_text(text)
    again = {s.name: s for s in catalog.load([tmp_path / "openslo.yaml"])}
    assert {n: s.links for n, s in again.items()} == {n: s.links for n, s in slos.items()}
    # (a latency SLI is an OpenSLO ratio, and noDataPolicy is not exported: other hashes change)
    assert (again["search-quality"].indicator, again["search-quality"].spec_hash) == \
        ("quality", quality.spec_hash)


@pytest.mark.parametrize("url", ["ftp://runbooks.example.com/x", "runbooks.example.com/x",
                                 "https://runbooks.example.com/a b",
                                 'https://x.example/"><script>'])
def test_a_link_that_is_no_http_url_is_one_line_naming_the_field(tmp_path: Path,
                                                                 url: str) -> None:
    native = (EXAMPLES / "quality.yaml").read_text().replace(
        "https://runbooks.example.com/search/degraded-results", json.dumps(url))
    (tmp_path / "native").mkdir()
    path = tmp_path / "native" / "q.yaml"
    path.write_text(native)
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:") and f"spec.links.runbook: {url!r}; expected an " \
        "http(s) URL, e.g. https://runbooks.example.com/checkout" in line, line
    # The same link in an OpenSLO annotation: one line naming metadata.annotations.runbook.
    (s,) = catalog.load([EXAMPLES / "quality.yaml"])
    text, _ = openslo.export([s])
    data = yaml.safe_load(text)
    data["metadata"]["annotations"]["runbook"] = url
    (tmp_path / "openslo").mkdir()
    path = tmp_path / "openslo" / "q.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:") and "metadata.annotations.runbook: " in line
    assert "expected an http(s) URL" in line
