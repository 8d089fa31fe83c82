"""SLOs with several objectives at different thresholds: split into one SLO per objective,
each judged and budgeted on its own (checked through the real test Prometheus against the
demo generator's truth), shown together in the report, and carried through OpenSLO."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from slo_jobs.core import periods
from slo_jobs.report.objectives import grouped
from slo_jobs.run import runner
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.spec import catalog
from slo_jobs.spec.openslo import export
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "objectives"
LATENCY = FIXTURES / "checkout-latency-tiers.yaml"
SEP = periods.month("2026-09")
# The demo truth's column of good events per threshold of the fixture's objectives.
BUCKET_COLUMN = {0.3: "le_0_3", 1.0: "le_1"}


def _load_text(tmp_path: Path, text: str, name: str = "x.yaml") -> tuple[list[str], Path]:
    path = tmp_path / name
    path.write_text(text)
    slos, problems, _ = catalog.load_all([path])
    return problems, path


def test_objectives_with_different_thresholds_are_an_slo_each() -> None:
    fast, within = catalog.load([LATENCY])
    assert (fast.name, fast.objective_of, fast.objective, fast.target) == (
        "checkout-latency-tiers-fast", "checkout-latency-tiers", "fast", 0.99)
    assert (within.name, within.objective, within.target) == (
        "checkout-latency-tiers-within-1-s", "within 1 s", 0.999)
    assert fast.good.promql("60s") == ('sum(increase(http_request_duration_seconds_bucket'
                                       '{service="checkout",le="0.3"}[60s]))')
    assert within.good.promql("60s") == ('sum(increase(http_request_duration_seconds_bucket'
                                         '{service="checkout",le="1"}[60s]))')
    assert fast.total == within.total and fast.team == within.team == "payments"
    assert len({fast.spec_hash, within.spec_hash}) == 2


def test_objectives_sharing_one_threshold_stay_one_slo(tmp_path: Path) -> None:
    """Equal thresholds in the objectives are the indicator's threshold: same SLO, same hash."""
    text = LATENCY.read_text()
    shared = text.replace("threshold: 1}", "threshold: 0.3}")
    histogram = "      histogram: 'http_request_duration_seconds{service=\"checkout\"}'"
    written = shared.replace(histogram, histogram + "\n      threshold: 0.3").replace(
        ", threshold: 0.3}", "}")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(shared)
    (tmp_path / "b" / "x.yaml").write_text(written)
    (one,) = catalog.load([tmp_path / "a"])
    (same,) = catalog.load([tmp_path / "b"])
    assert (one.name, one.objective_of, one.target, one.spec_hash) == (
        "checkout-latency-tiers", None, 0.99, same.spec_hash)
    assert [o.target for o in one.objectives] == [0.99, 0.999]


@pytest.mark.parametrize("old, new, line, expected", [
    ("{displayName: within 1 s, target: 0.999, threshold: 1}", "{displayName: x, target: 0.999}",
     17, "spec.objectives[1]: no threshold while another objective has one; expected a "
         "threshold"),
    ("      histogram: 'http_request_duration_seconds{service=\"checkout\"}'\n",
     "      histogram: 'http_request_duration_seconds{service=\"checkout\"}'\n      threshold: 1\n",
     15, "spec.indicator.latency.threshold: given, and in the objectives too"),
    ("displayName: within 1 s", "displayName: Fast", 17,
     "spec.objectives[1].displayName: 'Fast' names the same objective as spec.objectives[0] "
     "(checkout-latency-tiers-fast); expected a different displayName"),
    ("displayName: within 1 s, ", "", 17,
     "spec.objectives[1].displayName: missing; expected a displayName per objective"),
    ("threshold: 1}", "op: lt, value: 1}", 17,
     "spec.objectives[1]: op/value on a latency indicator; expected op and value only"),
    ("histogram: 'http_request_duration_seconds{service=\"checkout\"}'",
     "histogram: 'http_request_duration_seconds{service=\"checkout\"}'\n      le: '0.3'",
     15, "spec.indicator.latency.le: '0.3' names one bucket"),
    ("displayName: fast", "displayName: " + "f" * 41, 16,
     "makes the SLO name checkout-latency-tiers-ffff"),
    ("  objectives:\n    - {displayName: fast, target: 0.99, threshold: 0.3}\n"
     "    - {displayName: within 1 s, target: 0.999, threshold: 1}\n",
     "  objective: {target: 0.99}\n", 13,
     "spec.indicator.latency.threshold: missing; expected a threshold (seconds"),
])
def test_bad_objectives_are_one_line(tmp_path: Path, old: str, new: str, line: int,
                                     expected: str) -> None:
    text = LATENCY.read_text()
    assert old in text
    problems, path = _load_text(tmp_path, text.replace(old, new))
    (problem,) = problems
    assert problem.startswith(f"{path}:{line}: ") and expected in problem, problem


def test_threshold_objectives_need_op_and_value(tmp_path: Path) -> None:
    text = (FIXTURES / "annotator-lag.openslo.yaml").read_text()
    problems, path = _load_text(tmp_path, text.replace("op: lte, value: 10000, ", ""))
    assert problems == [f"{path}:24: spec.objectives[1]: no op/value; expected op (lt, lte, gt, "
                        "gte) and value in the objectives of a thresholdMetric"]


def test_openslo_threshold_objectives_import_and_round_trip(tmp_path: Path) -> None:
    usual, worst = catalog.load([FIXTURES / "annotator-lag.openslo.yaml"])
    assert (usual.name, usual.objective_of, usual.objective, usual.target) == (
        "annotator-lag-usual", "annotator-lag", "Usual", 0.99)
    assert (worst.name, worst.objective, worst.target) == (
        "annotator-lag-worst-case", "Worst case", 0.999)
    query = 'sum(kafka_consumergroup_lag{consumergroup="annotator"})'
    assert usual.good.promql("60s") == f"min(({query}) < bool 1000)"
    assert worst.good.promql("60s") == f"min(({query}) <= bool 10000)"
    text, warnings = export([usual, worst])
    assert warnings == []
    (doc,) = [d for d in text.split("\n---\n") if d.strip()]
    assert "name: annotator-lag\n" in doc and doc.count("op: ") == 2
    (tmp_path / "exported.yaml").write_text(text)
    again = catalog.load([tmp_path / "exported.yaml"])
    assert [(s.name, s.spec_hash) for s in again] == [(s.name, s.spec_hash)
                                                      for s in (usual, worst)]


def test_latency_objectives_export_as_annotated_slos_and_back(tmp_path: Path) -> None:
    native = catalog.load([LATENCY])
    text, warnings = export(native)
    (warning,) = warnings
    assert "exported as 2 SLOs" in warning and "slo-jobs/objective-of" in warning
    assert text.count("slo-jobs/objective-of: checkout-latency-tiers") == 2
    (tmp_path / "exported.yaml").write_text(text)
    again = catalog.load([tmp_path / "exported.yaml"])
    assert [(s.name, s.objective_of, s.objective, s.spec_hash) for s in again] == [
        (s.name, s.objective_of, s.objective, s.spec_hash) for s in native]
    # The annotation on an SLO of several objectives is refused, naming it.
    doubled = (text.split("\n---\n")[0] + "\n").replace(
        "  - displayName: fast\n    target: 0.99\n",
        "  - displayName: fast\n    target: 0.99\n  - displayName: b\n    target: 0.9\n")
    problems, path = _load_text(tmp_path, doubled, "doubled.yaml")
    (problem,) = problems
    assert ("metadata.annotations.slo-jobs/objective-of: 'checkout-latency-tiers' on an SLO "
            "of 2 objectives; expected one objective") in problem


def test_report_places_an_slos_objectives_together() -> None:
    def view(slo: str, of: str | None = None) -> dict[str, object]:
        return {"row": {"slo": slo, "objective_of": of}}

    views = [view("a-fast", "a"), view("a-middle"), view("a-slow", "a"), view("b")]
    placed = grouped({"svc": views})["svc"]
    assert [v["row"]["slo"] for v in placed] == ["a-fast", "a-slow", "a-middle", "b"]
    assert placed[0]["objectives"] == {"of": "a", "rows": [views[0]["row"], views[2]["row"]]}
    assert [("objectives" in v) for v in placed] == [True, False, False, False]


def test_each_objective_judged_on_its_own_through_prometheus(
        prometheus: str, truth: pd.DataFrame, tmp_path: Path) -> None:
    slos = catalog.load([LATENCY])
    lake, out = tmp_path / "lake", tmp_path / "out"
    days = periods.month("2026-08").days[-3:] + SEP.days
    with PrometheusClient(PrometheusConfig(prometheus)) as client:
        for s in slos:
            extract_slo(client, s, days, lake)
    runner.compute_month(lake, slos, SEP)
    runner.render_month(lake, SEP, out, source="test", formats=("html", "json"),
                        generated_at=datetime(2026, 10, 1, 1, tzinfo=UTC))
    rows = {r["slo"]: r for r in json.loads((out / "2026-09" / "summary.json").read_text())}
    month = truth[(truth.service == "checkout") & (truth.ts >= "2026-09-01")
                  & (truth.ts < "2026-10-01")]
    total = int(month.requests.sum())
    for s in slos:
        assert s.objective_of is not None
        threshold = float(s.sli.threshold)  # type: ignore[union-attr]
        good = int(month[BUCKET_COLUMN[threshold]].sum())
        bad, allowed = total - good, (1 - s.target) * total
        r = rows[s.name]
        assert (r["good"], r["total"], r["bad"]) == (good, total, bad)
        assert r["sli"] == pytest.approx(good / total, rel=1e-12)
        assert r["allowed_bad"] == pytest.approx(allowed, rel=1e-12)
        assert r["budget_consumed"] == pytest.approx(bad / allowed, rel=1e-12)
        assert r["budget_remaining"] == pytest.approx(1 - bad / allowed, rel=1e-12)
        assert r["met"] is (good / total >= s.target)
        assert (r["objective_of"], r["objective"], r["objective_threshold"]) == (
            "checkout-latency-tiers", s.objective, f"<= {threshold:g} s")
    html = (out / "2026-09" / "report.html").read_text()
    block = re.search(r'<div class="objectives" data-objectives="checkout-latency-tiers">'
                      r'(.*?)</div>', html, re.S)
    assert block is not None
    assert re.findall(r'data-objective="([^"]+)"', block.group(1)) == [s.name for s in slos]
    # Both objectives' sections follow the block, one after the other.
    sections = re.findall(r'<div class="slo" data-slo="([^"]+)"', html[block.end():])
    assert sections[:2] == [s.name for s in slos]
