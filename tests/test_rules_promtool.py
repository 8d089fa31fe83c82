"""The generated rules, checked and unit-tested by promtool on synthetic series.

The series count 1,000 or 2,000 requests a minute; the SLO (tests/fixtures/rules/api.yaml) is
99.9 % over 28 days, so the factors are 13.44 (1h & 5m), 5.6 (6h & 30m), 2.8 (1d & 2h) and
0.9333 (3d & 6h). Each expected firing minute below is derived in its comment: a factor off by
a little, a window of the wrong length or a wrong severity moves it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_jobs import catalog, rules
from slo_jobs.spec import templates as spec_templates
from tests.conftest import ROOT, api_with_overrides

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
FIXTURE = ROOT / "tests" / "fixtures" / "rules" / "api.yaml"
LABELS = {"slo": "api-availability", "service": "api", "team": "platform"}
DAY = 1440  # minutes


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def _series(code: str, segments: str) -> dict[str, str]:
    return {"series": f'http_requests_total{{service="api",code="{code}"}}', "values": segments}


def _firing(minute: int, *severities: str, alert: str = "SLOErrorBudgetBurn") -> dict[str, Any]:
    return {"expr": f'ALERTS{{alertname="{alert}",alertstate="firing"}}',
            "eval_time": f"{minute}m",
            "exp_samples": [{"labels": "ALERTS" + _labels(alert, s), "value": 1}
                            for s in severities]}


def _labels(alert: str, severity: str) -> str:
    pairs = {"alertname": alert, "alertstate": "firing", "severity": severity, **LABELS}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items())) + "}"


def _run_unit_tests(tmp_path: Path, tests: list[dict[str, Any]], every: str = "1m") -> None:
    rule_file = rules.write(catalog.load([FIXTURE]), tmp_path / "rules.yaml")
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [rule_file.name], "evaluation_interval": every, "tests": tests}))
    done = _promtool("test", "rules", str(test_file))
    assert done.returncode == 0, done.stdout + done.stderr


def test_page_fires_within_a_minute_of_a_total_outage(tmp_path: Path) -> None:
    # Healthy for 2 h, then 100 % errors (burn 1,000). At t0 + 1m: err(5m) = 1/5 and
    # err(1h) = 1/60 = 0.0167, both above 13.44 * 0.001: the page fires at the first
    # evaluation after the outage starts (the workbook's 0.8 minutes at burn 1,000).
    t0 = 120
    _run_unit_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            _series("200", f"0+1000x{t0} {t0 * 1000}+0x60"),
            _series("500", f"0+0x{t0} 1000+1000x59"),
        ],
        "promql_expr_test": [
            _firing(t0),                   # healthy: nothing
            _firing(t0 + 1, "page", "ticket"),
            _firing(t0 + 30, "page", "ticket"),
        ],
    }])


def test_ticket_fires_for_a_slow_burn_and_never_pages(tmp_path: Path) -> None:
    # 3 days at burn 0.5 (1 error in 2,000 a minute), then burn 4 (8 in 2,000). After x
    # minutes of burn 4 the 3-day window holds 8x + (4320 - x) errors of 8,640,000
    # requests: above 0.9333 * 0.001 once 7x + 4320 > 8064, i.e. x >= 535 (the 6h window
    # is at 0.004 by then). The 1d & 2h pair needs x >= 947; burn 4 stays under the page
    # factors 13.44 and 5.6 throughout. Rules run every 5 minutes here, as 3 days of
    # 1-minute evaluations take promtool minutes; the crossing is between t0+530 and t0+535.
    t0, x = 3 * DAY, 600
    _run_unit_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            _series("200", f"0+1999x{t0} {t0 * 1999 + 1992}+1992x{x}"),
            _series("500", f"0+1x{t0} {t0 + 8}+8x{x}"),
        ],
        "promql_expr_test": [
            _firing(60), _firing(DAY), _firing(2 * DAY), _firing(t0),  # healthy burn 0.5
            _firing(t0 + 530),
            _firing(t0 + 535, "ticket"),
            _firing(t0 + x, "ticket"),
        ],
    }], every="5m")


def test_absent_data_alert(tmp_path: Path) -> None:
    # The series stop after 60 minutes: increase over 10m has no two samples from t = 70 m,
    # and the alert waits 10 m more before firing.
    _run_unit_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [_series("200", "0+1000x60"), _series("500", "0x60")],
        "promql_expr_test": [
            _firing(65, alert="SLOSLIDataAbsent"),
            _firing(81, "ticket", alert="SLOSLIDataAbsent"),
        ],
    }])


def _example_specs(tmp_path: Path) -> list[Path]:
    paths = [ROOT / "slos", FIXTURE]
    for template in spec_templates.TEMPLATES:
        for tier in spec_templates.TIERS:
            out = tmp_path / f"{template}-{tier}.yaml"
            out.write_text(spec_templates.render(template, tier, f"svc-{template}"))
            paths.append(out)
    return paths


def test_promtool_checks_rules_of_every_example_spec(tmp_path: Path) -> None:
    for path in _example_specs(tmp_path):
        slos = catalog.load([path])
        out = rules.write(slos, tmp_path / f"{path.stem}.rules.yaml")
        done = _promtool("check", "rules", str(out))
        assert done.returncode == 0, f"{path}: {done.stdout}{done.stderr}"
        # Per SLO: 7 windows, 2 alerts, absent data; the period group: ratio and metadata.
        # Pipeline SLOs read from tables or the Airflow API get none.
        ruled = [s for s in slos if s.pipeline is None]
        assert f"SUCCESS: {len(ruled) * 14} rules found" in done.stdout, done.stdout


def test_factors_follow_the_period() -> None:
    api = catalog.load([FIXTURE])[0]
    assert [(c.severity, c.long_window, c.short_window, round(c.factor or 0, 4))
            for c in rules.conditions(api)] == [
        ("page", "1h", "5m", 13.44), ("page", "6h", "30m", 5.6),
        ("ticket", "1d", "2h", 2.8), ("ticket", "3d", "6h", 0.9333)]
    # A calendar month takes its length at evaluation time, as the batch does per month.
    checkout = catalog.load([ROOT / "slos" / "checkout.yaml"])[0]
    assert rules.threshold_expr(checkout, rules.conditions(checkout)[0]) == \
        "(0.02 * (86400 * scalar(days_in_month())) / 3600 * 0.001)"


def test_overrides_replace_the_default_alerts(tmp_path: Path) -> None:
    slo = api_with_overrides(tmp_path)
    assert [(c.severity, c.long_window, c.short_window, round(c.factor or 0, 4))
            for c in rules.conditions(slo)] == [
        ("page", "4h", "20m", 10.0), ("ticket", "1d", "2h", 1.4)]
    doc = yaml.safe_load(rules.render([slo]))
    records = [r["record"] for r in doc["groups"][0]["rules"] if "record" in r]
    assert "slo:sli_error:ratio_rate4h" in records and "slo:sli_error:ratio_rate20m" in records
    page = next(r for r in doc["groups"][0]["rules"] if r.get("labels", {}).get("severity")
                == "page" and r.get("alert") == "SLOErrorBudgetBurn")
    assert "ratio_rate4h" in page["expr"] and "ratio_rate1h" not in page["expr"]
    assert page["annotations"]["runbook_url"] == "https://runbooks.example/api-availability"
    out = rules.write([slo], tmp_path / "o.rules.yaml")
    assert _promtool("check", "rules", str(out)).returncode == 0
