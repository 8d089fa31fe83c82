"""SLO definitions: the shipped examples load; bad input gives one clear line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slo_jobs.core.errors import SpecError
from slo_jobs.spec import catalog
from tests.conftest import ROOT

GOOD = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: api-availability
spec:
  service: api
  indicator:
    ratio:
      good:  {selector: 'http_requests_total{code!~"5.."}'}
      total: {selector: 'http_requests_total'}
  objective: {target: 0.999}
"""


def test_shipped_examples_load() -> None:
    slos = catalog.load([ROOT / "slos"])
    assert len(slos) == 18
    # Four services from Prometheus, two pipelines (the project's own DAGs) from files.
    assert {s.service for s in slos if s.pipeline is None} == {"checkout", "search",
                                                               "frontend", "enricher"}
    assert {s.service for s in slos if s.pipeline is not None} == {"slo-extract",
                                                                   "slo-monthly-report"}
    assert all(0 < s.target < 1 for s in slos)


def test_selector_and_expr_build_promql() -> None:
    by_name = {s.name: s for s in catalog.load([ROOT / "slos"])}
    assert by_name["checkout-availability"].total.promql("60s") == \
        'sum(increase(http_requests_total{service="checkout"}[60s]))'
    assert by_name["search-latency"].total.promql("60s") == \
        'sum(increase(http_request_duration_seconds_count{service="search"}[60s]))'


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("target: 0.999", "target: 1.5"),
     ":11: spec.objective.target: 1.5; input should be less than 1"),
    (GOOD.replace("  objective: {target: 0.999}\n", ""),
     ":5: spec: fields service, indicator; expected 'objective: {target: ...}' or a non-empty "
     "'objectives' list (not both)"),
    (GOOD + "  minCoverage: 1.5\n",
     "spec.minCoverage: 1.5; input should be less than or equal to 1"),
    (GOOD + "  judgeFewEvents: \"yes\"\n",
     "spec.judgeFewEvents: 'yes'; input should be a valid boolean"),
    (GOOD + "  judgeFewEvents: 1\n",
     "spec.judgeFewEvents: 1; input should be a valid boolean"),
    (GOOD.replace("slo-jobs/v1", "v2"), ":1: apiVersion: 'v2'; input should be 'slo-jobs/v1'"),
    (GOOD.replace("{selector: 'http_requests_total'}", "{expr: 'sum(x)'}"),
     "spec.indicator.ratio.total: {\"expr\": \"sum(x)\"}; expr needs a window placeholder"),
    ("", ":1: (document): empty file; expected an SLO definition"),
    ("a: [1, 2\n", "malformed YAML"),
    ("- just\n- a list\n", ":1: (document): [\"just\", \"a list\"]; expected a mapping"),
])
def test_bad_documents_give_one_line(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "slo.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as err:
        catalog.load([f])
    message = str(err.value)
    assert message.startswith(str(f)), message
    assert expected in message, message
    assert len(message.splitlines()) == 1


def test_judge_few_events_is_off_by_default_and_opt_in(tmp_path: Path) -> None:
    f = tmp_path / "slo.yaml"
    f.write_text(GOOD)
    default = catalog.load([f])[0]
    f.write_text(GOOD + "  judgeFewEvents: true\n")
    opted = catalog.load([f])[0]
    assert (default.judge_few_events, opted.judge_few_events) == (False, True)
    # a changed judgement is a changed definition; off keeps the hash it had before
    assert default.spec_hash != opted.spec_hash
    f.write_text(GOOD + "  judgeFewEvents: false\n")
    assert catalog.load([f])[0].spec_hash == default.spec_hash


def test_min_coverage_defaults_to_90_percent(tmp_path: Path) -> None:
    f = tmp_path / "slo.yaml"
    f.write_text(GOOD)
    default = catalog.load([f])[0]
    f.write_text(GOOD + "  minCoverage: 0.5\n")
    custom = catalog.load([f])[0]
    assert (default.min_coverage, custom.min_coverage) == (0.9, 0.5)
    # what is judged changes, so the spec version does; the default keeps earlier versions
    assert custom.spec_hash != default.spec_hash


def test_misspelled_field_suggests_the_close_match(tmp_path: Path) -> None:
    f = tmp_path / "slo.yaml"
    f.write_text(GOOD.replace("  objective:", "  objectiv:"))
    with pytest.raises(SpecError) as err:
        catalog.load([f])
    lines = str(err.value).splitlines()
    assert f"{f}:11: spec.objectiv: unknown field 'objectiv'; did you mean 'objective'? " \
        "expected one of: service, description, indicator, objective, objectives, window, " \
        "budgetingMethod, noDataPolicy, alerting, minCoverage, judgeFewEvents, scrapeInterval, " \
        "maintenance, breakdown, errorCategories, links" in lines


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(SpecError, match="'api-availability' is already defined in"):
        catalog.load([tmp_path])


def test_validate_cli(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", str(ROOT / "slos")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == "ok: 18 SLOs and 2 journeys in 9 files valid\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("target: 0.999", "target: 99.9"))
    out = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"{bad}:11: spec.objective.target: 99.9; "
                                  "input should be less than 1")
