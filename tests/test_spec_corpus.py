"""The invalid corpus: every bad document gives exactly its expected one-line messages.

Unsafe names and alias bombs: tests/faults/test_security_spec.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from slo_jobs.spec import catalog
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "fixtures" / "spec" / "invalid"
_HINT = "expected lower-case letters, digits and dashes (at most 63), starting and ending with " \
    "a letter or digit"

SELECTOR_HINT = ('http_requests_total{service="api",code=~"5.."} (slo-jobs adds increase() and '
                 "the range itself), ")
EXPR_HINT = "write a full query as expr: with the {{.window}} placeholder instead"

# file -> the expected lines, without the leading file name.
EXPECTED: dict[str, list[str]] = {
    "native-bad-duration": [":12: spec.window.rolling: '4 weeks'; expected a duration: a whole "
                            "number and one of d, w, e.g. 28d"],
    "native-bad-time-zone": [":12: spec.window.timeZone: 'Mars/Olympus'; expected an IANA time "
                             "zone such as UTC or Europe/Berlin"],
    "native-both-objective-forms": [":5: spec: fields service, indicator, objective, objectives; "
                                    "expected 'objective: {target: ...}' or a non-empty "
                                    "'objectives' list (not both)"],
    "native-burn-rate-windows": [":14: spec.alerting.burnRates[0]: fields severity, longWindow, "
                                 "shortWindow, factor; expected shortWindow shorter than "
                                 "longWindow"],
    "native-calendar-day": [":12: spec.window.calendar: 'day'; input should be 'week', 'month', "
                            "'quarter' or 'year'"],
    "native-expr-without-window": [":10: spec.indicator.ratio.total: {\"expr\": \"sum(http_requ"
                                   "ests_total)\"}; expr needs a window placeholder {{.window}}, "
                                   "e.g. sum(increase(x_total[{{.window}}]))"],
    "native-good-and-bad": [":8: spec.indicator.ratio: fields good, bad, total; expected 'total' "
                            "and exactly one of 'good' or 'bad'"],
    "native-latency-bucket-name": [":8: spec.indicator.latency.histogram: 'http_request_duration"
                                   "_seconds_bucket{job=\"api\"}'; expected the histogram's base "
                                   "name 'http_request_duration_seconds', without the "
                                   "_bucket/_count suffix"],
    "native-missing-indicator": [":5: spec.indicator: missing; expected a value (required "
                                 "field)"],
    "native-missing-total": [":8: spec.indicator.ratio: {\"good\": {\"selector\": \"http_requests"
                             "_total{code!~\\\"5..\\\"}\"}}; expected 'total' and exactly one of "
                             "'good' or 'bad'"],
    "native-misspelled-field": [":11: spec.objectiv: unknown field 'objectiv'; did you mean "
                                "'objective'? expected one of: service, description, indicator, "
                                "objective, objectives, window, budgetingMethod, noDataPolicy, "
                                "alerting, minCoverage, judgeFewEvents, scrapeInterval, "
                                "maintenance, breakdown, errorCategories, links"],
    "native-no-data-policy": [":11: spec.noDataPolicy: 'ignore'; input should be 'good', 'bad' "
                              "or 'skip'"],
    "native-rolling-in-minutes": [":12: spec.window.rolling: '30m'; expected a duration: a whole "
                                  "number and one of d, w, e.g. 28d"],
    # PromQL is parsed at validate: the file, line and field instead of a 400 at extract.
    "native-selector-is-a-rate": [":9: spec.indicator.ratio.bad.selector: 'rate(http_requests_"
                                  "total{code=~\"5..\"}[5m])'; expected a plain vector selector "
                                  "such as " + SELECTOR_HINT + "not a function call; " + EXPR_HINT],
    "native-selector-with-range": [":9: spec.indicator.ratio.good.selector: 'http_requests_total"
                                   "{code!~\"5..\"}[5m]'; expected a plain vector selector such as "
                                   + SELECTOR_HINT + "not a range vector (x[5m]); " + EXPR_HINT],
    "native-expr-unbalanced": [":11: spec.indicator.ratio.total.expr: 'sum(increase(http_"
                               "requests_total{job=\"api\"}[{{.window}}])'; expected valid "
                               "PromQL; it does not parse: unclosed left parenthesis"],
    "native-threshold-query-unbalanced": [":9: spec.indicator.threshold.query: 'sum(kafka_"
                                          "consumergroup_lag{group=\"api\"}'; expected valid "
                                          "PromQL; it does not parse: unclosed left parenthesis"],
    "native-freshness-timestamp-unbalanced": [
        ":10: spec.indicator.freshness.timestamp: 'max(last_load_timestamp_seconds{table="
        "\"orders\"}'; expected valid PromQL; it does not parse: unclosed left parenthesis"],
    "native-selector-and-expr": [":10: spec.indicator.ratio.total: fields selector, expr; "
                                 "expected exactly one of 'selector' or 'expr'"],
    "native-slices-with-occurrences": [":5: spec: fields service, indicator, objective; "
                                       "timeSliceTarget and timeSliceWindow need budgetingMethod "
                                       "Timeslices or RatioTimeslices"],
    "native-target-percent-style": [":11: spec.objective.target: 99.9; input should be less "
                                    "than 1"],
    "native-target-text": [":11: spec.objective.target: 'high'; input should be a valid number, "
                           "unable to parse string as a number"],
    "native-target-too-high": [":11: spec.objective.target: 1.5; input should be less than 1"],
    "native-threshold-bad-op": [":8: spec.indicator.threshold.op: '>='; input should be 'lt', "
                                "'lte', 'gt' or 'gte'"],
    "native-threshold-occurrences": [":5: spec: fields service, indicator, objective; a threshold "
                                     "indicator is judged per time slice; expected "
                                     "budgetingMethod Timeslices"],
    "native-timeslices-without-window": [":5: spec: fields service, indicator, budgetingMethod, "
                                         "objective; budgetingMethod Timeslices needs "
                                         "timeSliceWindow (and timeSliceTarget) in every "
                                         "objective, e.g. 1m and 0.99"],
    "native-two-kinds": [":7: spec.indicator: fields ratio, threshold; expected exactly one of "
                         "ratio, quality, latency, threshold, freshness, completion, "
                         "completeness"],
    "native-unknown-budgeting-method": [":11: spec.budgetingMethod: 'Occurences'; input should "
                                        "be 'Occurrences', 'Timeslices' or 'RatioTimeslices'"],
    "native-unknown-tier": [":5: metadata.labels: {\"tier\": \"gold\"}; tier 'gold': expected one "
                            "of critical, essential, standard, best_effort"],
    "native-unset-variable": [":10: spec.indicator.ratio.total.selector: ${SLO_TEST_UNSET_CLUSTER}"
                              " but the environment variable SLO_TEST_UNSET_CLUSTER is not set; "
                              "expected SLO_TEST_UNSET_CLUSTER to be set"],
    "native-upper-case-name": [f":4: metadata.name: 'API_Availability'; {_HINT}"],
    "native-wrong-api-version": [":1: apiVersion: 'slo-jobs/v2'; input should be 'slo-jobs/v1'"],
    "native-wrong-kind": [":2: kind: 'SLO'; input should be 'ServiceLevelObjective'"],
    "openslo-alert-policies": [":24: spec.alertPolicies: alert policies not supported yet; "
                               "expected no alertPolicies (burn-rate alerts come from the "
                               "budget, see the alerting field of the native format)"],
    "openslo-alert-policy-kind": [":2: kind: AlertPolicy not supported yet; expected one of SLO, "
                                  "SLI, DataSource, Service (slo-jobs derives burn-rate alerts "
                                  "from the SLO itself)"],
    "openslo-bad-time-zone": [":23: spec.timeWindow[0].calendar.timeZone: 'Europe/Atlantis'; "
                              "expected an IANA time zone such as UTC or Europe/Berlin"],
    "openslo-calendar-1m": [":21: spec.timeWindow[0].duration: '1m' is 1 minute; expected 1M "
                            "for a calendar month (M is months, m minutes)"],
    "openslo-composite": [":28: spec.objectives[0].indicatorRef: composite SLOs not supported "
                          "yet; expected one indicator per SLO, in spec.indicator"],
    "openslo-counter-not-selector": [":19: spec.indicator.spec.ratioMetric.total.metricSource."
                                     "spec.query: 'rate(http_requests_total[5m])'; counter: true "
                                     "expects a counter selector such as "
                                     "http_requests_total{code=\"200\"} (or counter: false with "
                                     "an expression counting events over {{.window}})"],
    "openslo-datadog": [":14: spec.indicator.spec.ratioMetric.good.metricSource.type: 'Datadog' "
                        "not supported yet; expected Prometheus"],
    "openslo-misspelled-field": [
        ":5: spec.timeWindow: missing; expected a value (required field)",
        ":20: spec.timeWindows: unknown field 'timeWindows'; did you mean 'timeWindow'? expected "
        "one of: description, service, indicator, indicatorRef, timeWindow, budgetingMethod, "
        "objectives, alertPolicies"],
    "openslo-rolling-month": [":21: spec.timeWindow[0].duration: a rolling '1M' not supported "
                              "yet; expected days or weeks, e.g. 30d or 4w"],
    "openslo-target-and-percent": [":26: spec.objectives[0]: {\"target\": 0.999, \"targetPercent"
                                   "\": 99.9}; expected exactly one of target (e.g. 0.999) or "
                                   "targetPercent (e.g. 99.9)"],
    "openslo-target-percent-100": [":26: spec.objectives[0].targetPercent: 100; input should be "
                                   "less than 100"],
    "openslo-timeslices-missing-fields": [":24: spec.budgetingMethod: Timeslices; budgetingMethod"
                                          " Timeslices needs timeSliceWindow (and "
                                          "timeSliceTarget) in every objective, e.g. 1m and "
                                          "0.99"],
    "openslo-two-windows": [":20: spec.timeWindow: 2 time windows not supported yet; expected "
                            "one"],
    "openslo-unknown-method": [":24: spec.budgetingMethod: 'Timeslice'; input should be "
                               "'Occurrences', 'Timeslices' or 'RatioTimeslices'"],
    "openslo-unresolved-ref": [":7: spec.indicatorRef: 'api-non-5xx'; expected the name of an "
                               "SLI document (none has it)"],
    "openslo-unsafe-name": [f":4: metadata.name: 'Api Availability'; {_HINT}"],
    "openslo-v2alpha": [":1: apiVersion: 'openslo/v2alpha'; expected openslo/v1 (or "
                        "slo-jobs/v1)"],
    "yaml-a-list": [":1: (document): [\"just\", \"a list\"]; expected a mapping with apiVersion: "
                    "slo-jobs/v1"],
    "yaml-duplicate-key": [":7: service: duplicate key (first on line 6); expected each field "
                           "once"],
    "yaml-empty": [":1: (document): empty file; expected an SLO definition"],
    "yaml-malformed": [":12: (document): malformed YAML (expected ',' or '}', but got '<stream "
                       "end>'); expected a YAML mapping"],
    "yaml-not-an-slo": [":1: (document): a mapping without apiVersion or kind; expected an SLO "
                        "definition (apiVersion: slo-jobs/v1 or openslo/v1)"],
}
LINE = re.compile(r"^[^:]+:\d+: [^:]+: .+; .+$")


def test_corpus_is_complete() -> None:
    files = {p.stem for p in CORPUS.glob("*.yaml")}
    assert files == set(EXPECTED)
    assert len([f for f in files if f.startswith("native-")]) >= 15
    assert len([f for f in files if f.startswith("openslo-")]) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_document(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLO_TEST_UNSET_CLUSTER", raising=False)
    path = CORPUS / f"{name}.yaml"
    slos, problems, _ = catalog.load_all([path])
    assert slos == []
    assert problems == [f"{path}{line}" for line in EXPECTED[name]]
    assert all(LINE.match(p) for p in problems), problems


def test_cli_reports_the_whole_corpus_without_a_traceback() -> None:
    out = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", str(CORPUS)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout and out.stdout == ""
    lines = out.stderr.splitlines()
    # Every file is reported (SLO names repeat across files: duplicates add lines, never hide).
    assert {Path(line.split(":", 1)[0]).stem for line in lines} == set(EXPECTED)
    assert all(line.startswith(str(CORPUS)) for line in lines)
