"""Every indicator kind, objective form and window; the examples of docs/spec.md and the init
templates are the fixtures, so the documentation cannot drift from what loads."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from slo_jobs import spec
from slo_jobs.core.errors import SpecError
from slo_jobs.spec import catalog
from slo_jobs.spec import templates as spec_templates
from tests.conftest import ROOT


def _spec_doc_examples(tmp_path: Path) -> dict[str, spec.Slo]:
    text = (ROOT / "docs" / "spec.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "apiVersion" in b]
    for i, block in enumerate(blocks):
        (tmp_path / f"example-{i}.yaml").write_text(block)
    return {s.name: s for s in catalog.load([tmp_path])}


def test_spec_doc_has_one_valid_example_per_kind(tmp_path: Path) -> None:
    by_name = _spec_doc_examples(tmp_path)
    assert {s.kind for s in by_name.values()} == {"ratio", "latency", "threshold", "freshness"}
    ratio = by_name["checkout-availability"]
    # bad/total: good = total - bad, and no series of errors at all means zero bad events.
    assert ratio.good.promql("60s") == (
        'clamp_min((sum(increase(http_requests_total{service="checkout"}[60s]))) - '
        '((sum(increase(http_requests_total{service="checkout",code=~"5.."}[60s]))) '
        'or vector(0)), 0)')
    assert isinstance(ratio.sli, spec.RatioSli) and ratio.sli.bad is not None
    assert ratio.sli.bad.promql("60s") == \
        'sum(increase(http_requests_total{service="checkout",code=~"5.."}[60s]))'
    latency = by_name["search-latency"]
    assert latency.good.promql("60s") == \
        'sum(increase(http_request_duration_seconds_bucket{service="search",le="0.5"}[60s]))'
    assert latency.total.promql("60s") == \
        'sum(increase(http_request_duration_seconds_count{service="search"}[60s]))'
    assert [o.target for o in latency.objectives] == [0.995, 0.99] and latency.target == 0.995
    assert (latency.window_kind, latency.rolling_window, latency.calendar_unit) == \
        ("rolling", timedelta(days=28), None)
    assert [(a.severity, a.long_window, a.short_window, a.factor, a.budget_consumed)
            for a in latency.burn_rate_alerts] == [
        ("page", timedelta(hours=1), timedelta(minutes=5), 13.44, None),
        ("ticket", timedelta(days=1), timedelta(hours=2), None, 0.1)]
    lag = by_name["annotator-lag"]
    assert lag.good.promql("60s") == \
        'min((sum(kafka_consumergroup_lag{consumergroup="annotator"})) < bool 1000)'
    assert (lag.sli, lag.no_data_policy) == (spec.ThresholdSli(op="lt", value=1000), "bad")
    assert (lag.budgeting_method, lag.time_slice_target, lag.time_slice_window_s) == \
        ("Timeslices", 1.0, 60)
    assert (lag.calendar_unit, lag.time_zone, lag.tier, lag.team) == \
        ("week", "Europe/Berlin", "standard", "data")
    fresh = by_name["orders-freshness"]
    assert fresh.good.promql("60s") == ("min((time() - (max(warehouse_newest_record_timestamp"
                                        "_seconds{table=\"orders\"}))) <= bool 1800)")
    assert isinstance(fresh.sli, spec.FreshnessSli)
    assert (fresh.sli.max_age, fresh.sli.measure, fresh.team) == \
        (timedelta(minutes=30), "newestData", "data-platform")
    assert (fresh.time_slice_window, fresh.time_zone) == \
        (timedelta(minutes=5), "America/New_York")


def test_shipped_examples_keep_their_queries() -> None:
    by_name = {s.name: s for s in catalog.load([ROOT / "slos"])}
    # The latency kind builds exactly the queries the demo's truth is checked against.
    assert by_name["checkout-latency"].kind == "latency"
    assert by_name["checkout-latency"].good.promql("60s") == \
        'sum(increase(http_request_duration_seconds_bucket{service="checkout",le="0.3"}[60s]))'
    assert by_name["frontend-latency"].good.promql("60s") == \
        'sum(increase(http_request_duration_seconds_bucket{service="frontend",le="1"}[60s]))'
    # Judged per time slice: freshness, the gauge thresholds and the percentile objective.
    sliced = {"checkout-latency-p95", "enricher-consumer-lag", "enricher-throughput"}
    for s in by_name.values():
        method = "Timeslices" if s.kind == "freshness" or s.name in sliced else "Occurrences"
        assert (s.budgeting_method, s.window_kind, s.calendar_unit, s.time_zone) == \
            (method, "calendar", "month", "UTC")
        assert s.tier in spec.TIERS and s.team


@pytest.mark.parametrize("template", spec_templates.TEMPLATES)
@pytest.mark.parametrize("tier", list(spec_templates.TIERS))
def test_every_template_validates(tmp_path: Path, template: str, tier: str) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(spec_templates.render(template, tier, "my-svc"))
    slos = catalog.load([f])
    assert len(slos) == {"web": 3, "streaming": 3}.get(template, 2)
    assert all(s.tier == tier and s.service == "my-svc" for s in slos)
    defaults = spec_templates.TIERS[tier]
    if template in ("api", "web"):
        avail, latency, *quality = sorted(slos, key=lambda s: s.name)
        assert avail.target == defaults.availability
        assert isinstance(avail.sli, spec.RatioSli) and avail.sli.bad is not None
        assert latency.sli == spec.LatencySli(threshold=defaults.latency_s)
        assert latency.target == 0.99
        # A web front end also judges what it served: pages degraded to fallback content.
        assert [(q.indicator, q.target, q.good.promql("1m")) for q in quality] == ([(
            "quality", defaults.availability,
            'clamp_min((sum(increase(http_requests_total{service="my-svc"}[1m]))) - ((sum('
            'increase(http_responses_degraded_total{service="my-svc"}[1m]))) or vector(0)), 0)'
        )] if template == "web" else [])
    elif template == "streaming":
        by_name = {s.name: s for s in slos}
        lag, throughput = by_name["my-svc-consumer-lag"], by_name["my-svc-throughput"]
        assert lag.good.promql("60s") == \
            'min((max(kafka_consumergroup_lag{consumergroup="my-svc"})) <= bool 1000)'
        assert throughput.good.promql("60s") == \
            'min((sum(rate(events_processed_total{service="my-svc"}[5m]))) >= bool 50)'
        assert [(s.budgeting_method, s.time_slice_window_s, s.no_data_policy)
                for s in (lag, throughput)] == [("Timeslices", 60, "bad"),
                                                ("Timeslices", 300, "bad")]
        assert by_name["my-svc-event-latency"].sli == \
            spec.LatencySli(threshold=defaults.event_latency_s)
    elif template == "batch":
        runs = next(s for s in slos if s.name.endswith("-runs"))
        assert runs.target == pytest.approx(1 - defaults.error_rate)
    else:
        assert {s.kind for s in slos} == {"freshness", "ratio"}
        assert all(s.target == defaults.availability for s in slos)


@pytest.mark.parametrize("typed", ["best-effort", "Best-Effort", "best_effort", " CRITICAL "])
def test_every_tier_spelling_init_takes_a_spec_takes(tmp_path: Path, typed: str) -> None:
    # init --tier best-effort (as its help spells it) and a hand-written `tier: best-effort`
    f = tmp_path / "svc.yaml"
    text = spec_templates.render("api", typed, "my-svc")
    canonical = typed.strip().lower().replace("-", "_")
    f.write_text(text)
    assert {s.tier for s in catalog.load([f])} == {canonical}
    f.write_text(text.replace(f"tier: {canonical}", f"tier: {typed.strip()}"))
    assert f"tier: {typed.strip()}" in f.read_text()
    assert {s.tier for s in catalog.load([f])} == {canonical}
    f.write_text(text.replace(f"tier: {canonical}", "tier: best effort"))
    with pytest.raises(SpecError, match="tier 'best effort': expected one of critical"):
        catalog.load([f])


def test_init_cli_writes_a_valid_file_and_never_overwrites(tmp_path: Path) -> None:
    def init(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "slo_jobs.cli", "init", "--template",
                               "data-pipeline", "--tier", "critical", "--service", "orders",
                               *extra], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    first = init()
    assert first.returncode == 0, first.stderr
    assert {s.name for s in catalog.load([tmp_path / "slos"])} == \
        {"orders-freshness", "orders-completeness"}
    again = init()
    assert again.returncode == 1
    assert again.stderr == f"error: {Path('slos/orders.yaml')}: already exists; expected a " \
        "new file (or --force)\n"
    bad = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "init", "--template", "cron",
                          "--tier", "critical", "--service", "x", "--out", "-"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr == (
        "error: --template: 'cron'; expected one of api, web, batch, data-pipeline, "
        "streaming\n")


def test_env_placeholders(tmp_path: Path) -> None:
    f = tmp_path / "slo.yaml"
    f.write_text((ROOT / "slos" / "search.yaml").read_text().replace(
        'service="search",code', 'service="${SEARCH_SERVICE}",cluster="$${literal}",code'))
    slos = catalog.load([f], env={"SEARCH_SERVICE": "search-eu"})
    avail = next(s for s in slos if s.name == "search-availability")
    assert avail.good.promql("1m") == ('sum(increase(http_requests_total{service="search-eu",'
                                       'cluster="${literal}",code!~"5.."}[1m]))')
    with pytest.raises(SpecError, match=r":12: spec\.indicator\.ratio\.good\.selector: "
                       r"\$\{SEARCH_SERVICE\} but the environment variable SEARCH_SERVICE is "
                       "not set"):
        catalog.load([f], env={})


def test_openslo_and_native_in_one_folder_share_names(tmp_path: Path) -> None:
    (tmp_path / "native.yaml").write_text((ROOT / "slos" / "search.yaml").read_text())
    (tmp_path / "openslo.yaml").write_text(
        (ROOT / "tests/fixtures/spec/openslo/demo.yaml").read_text())
    with pytest.raises(SpecError) as err:
        catalog.load([tmp_path])
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert all("is already defined in" in line and "native.yaml" in line for line in lines)
