"""The generated rules, checked and unit-tested by promtool on synthetic series.

The series count 1,000 or 2,000 requests a minute; the SLO (tests/fixtures/rules/api.yaml) is
99.9 % over 28 days, so the factors are 13.44 (1h & 5m), 5.6 (6h & 30m), 2.8 (1d & 2h) and
0.9333 (3d & 6h). Each expected firing minute below is derived in its comment: a factor off by
a little, a window of the wrong length or a wrong severity moves it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_jobs import rules
from slo_jobs.spec import catalog
from slo_jobs.spec import templates as spec_templates
from tests.conftest import ROOT, api_with_overrides

# The instant the rules and dashboards are written for (the CLI's --at).
AT = datetime(2026, 10, 1, tzinfo=UTC)

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
    rule_file = rules.write(catalog.load([FIXTURE]), tmp_path / "rules.yaml", AT)
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
        at = datetime(2026, 9, 14, 9, 37, tzinfo=UTC)
        out = rules.write(slos, tmp_path / f"{path.stem}.rules.yaml", at)
        done = _promtool("check", "rules", str(out))
        assert done.returncode == 0, f"{path}: {done.stdout}{done.stderr}"
        # Per SLO: 7 windows, 2 alerts, absent data, out of date; the period group: ratio and
        # metadata; with maintenance windows ahead, the record muting the alerts.
        # Pipeline SLOs read from tables or the Airflow API get none.
        ruled = [s for s in slos if s.pipeline is None]
        muted = [s for s in ruled if s.maintenance is not None
                 and s.maintenance.intervals(at, at + rules.HORIZON)]
        assert f"SUCCESS: {len(ruled) * 15 + len(muted)} rules found" in done.stdout, \
            done.stdout


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
    doc = yaml.safe_load(rules.render([slo], AT))
    records = [r["record"] for r in doc["groups"][0]["rules"] if "record" in r]
    assert "slo:sli_error:ratio_rate4h" in records and "slo:sli_error:ratio_rate20m" in records
    page = next(r for r in doc["groups"][0]["rules"] if r.get("labels", {}).get("severity")
                == "page" and r.get("alert") == "SLOErrorBudgetBurn")
    assert "ratio_rate4h" in page["expr"] and "ratio_rate1h" not in page["expr"]
    assert page["annotations"]["runbook_url"] == "https://runbooks.example/api-availability"
    out = rules.write([slo], tmp_path / "o.rules.yaml", AT)
    assert _promtool("check", "rules", str(out)).returncode == 0


def _spec(tmp_path: Path, extra: str = "", phases: str = "") -> Path:
    """The fixture SLO with more spec lines (maintenance) appended, and phases."""
    path = tmp_path / "api.yaml"
    objective = "objective: {target: 0.999}"
    path.write_text(FIXTURE.read_text().replace(
        objective, "objective:\n    target: 0.999\n" + phases if phases else objective) + extra)
    return path


def _rules_test(tmp_path: Path, groups: Sequence[dict[str, Any]],
                series: list[dict[str, str]], checks: Sequence[dict[str, Any]]) -> None:
    """``promtool test rules``: ``checks`` hold, minute by minute, on ``series``.

    promtool's test engine stops a query at 10,000 samples (Prometheus: 50 million): the
    3-day window and the period, minute by minute, exceed it, so they are left out here
    (tests/test_rules_prometheus.py evaluates both in Prometheus)."""
    slow = (rules.RECORD.format(window="3d"), rules.PERIOD_RECORD)
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [
        {**g, "rules": [r for r in g["rules"] if r.get("record") not in slow]}
        for g in groups]}))
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [rule_file.name], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series,
                   "promql_expr_test": list(checks)}]}))
    done = _promtool("test", "rules", str(test_file))
    assert done.returncode == 0, done.stdout + done.stderr


def _page_test(tmp_path: Path, spec: Path, at: datetime, series: list[dict[str, str]],
               firing: dict[int, bool], extra: Sequence[dict[str, Any]] = ()) -> None:
    """promtool: the page alert fires (or not) at each minute of ``firing``."""
    page = 'ALERTS{alertname="SLOErrorBudgetBurn",alertstate="firing",severity="page"}'
    checks = [{"expr": page, "eval_time": f"{m}m",
               "exp_samples": [{"labels": "ALERTS" + _labels("SLOErrorBudgetBurn", "page"),
                                "value": 1}] if on else []} for m, on in firing.items()]
    groups = [g for s in catalog.load([spec]) for g in rules.groups(s, at)]
    _rules_test(tmp_path, groups, series, checks + list(extra))


def test_no_page_while_a_maintenance_window_is_open(tmp_path: Path) -> None:
    # A total outage from 02:00 (minute 120) to 05:00 inside a window 02:00-04:00 (promtool's
    # time starts at 1970-01-01T00:00Z). Without the window the page fires at minute 121
    # (test above); with it, not until the first minute after the window is complete: at
    # minute 240 the windows hold only the window's minutes (left out: no ratio), at 241 the
    # bucket 240 alone, err(5m) = err(1h) = 1, far above 13.44 * 0.001.
    spec = _spec(tmp_path, "  maintenance:\n    countAs: excluded\n    windows:\n"
                 "      - {start: '1970-01-01T02:00:00Z', end: '1970-01-01T04:00:00Z', "
                 "reason: failover drill}\n")
    t0 = 120
    active = f'{rules.MAINTENANCE_RECORD}{{slo="api-availability"}}'
    _page_test(tmp_path, spec, datetime(1970, 1, 1, tzinfo=UTC), [
        _series("200", f"0+1000x{t0} {t0 * 1000}+0x180"),
        _series("500", f"0+0x{t0} 1000+1000x179"),
    ], {t0 - 1: False, t0 + 1: False, t0 + 60: False, 239: False, 240: False,
        241: True}, [
        {"expr": active, "eval_time": "150m",
         "exp_samples": [{"labels": rules.MAINTENANCE_RECORD + "{" + ",".join(
             f'{k}="{v}"' for k, v in sorted(LABELS.items())) + "}", "value": 1}]},
        {"expr": active, "eval_time": "240m", "exp_samples": []},
    ])


PHASES = ("    phases:\n"
          "      - {name: baseline, target: 0.99, start: '1970-01-01'}\n"
          "      - {name: strict, target: 0.999, start: '1970-03-01'}")


def test_the_page_follows_the_phase_in_force(tmp_path: Path) -> None:
    # 10 % of 1,000 requests a minute fail from minute t0 = 400 (6 h of clean history first).
    # At 1970-01-31 the rolling 28 days began 1970-01-03, inside phase "baseline" (99 %):
    # f*B = 13.44 * 0.01 = 0.1344 > err(5m) = 0.1, so the 1h & 5m pair never pages; the
    # 6h & 30m pair (5.6 * 0.01 = 0.056) needs err(6h) = 100x / 360,000 > 0.056, x > 201.6:
    # the page fires at t0 + 202. Under the objective's own 99.9 % (phase "strict", in force
    # for the rolling window from 1970-03-29) err(1h) = 100x / 60,000 > 0.01344 at x = 9.
    spec = _spec(tmp_path, phases=PHASES)
    (objective,) = [r for g in yaml.safe_load(rules.render(catalog.load([spec]), AT)
                                               )["groups"] for r in g["rules"]
                    if r.get("record") == "slo:objective:ratio"]
    t0, n = 400, 220
    series = [_series("200", f"0+1000x{t0} {t0 * 1000 + 900}+900x{n}"),
              _series("500", f"0+0x{t0} 100+100x{n}")]
    _page_test(tmp_path, spec, datetime(1970, 1, 31, 12, tzinfo=UTC), series,
               {t0 + 9: False, t0 + 60: False, t0 + 201: False, t0 + 202: True})
    _page_test(tmp_path, spec, datetime(1970, 3, 29, tzinfo=UTC), series,
               {t0 + 8: False, t0 + 9: True})
    # Rendered now (after both phases began) the file holds the last phase's target.
    assert objective["expr"] == "vector(0.999)"


def test_rules_say_when_they_go_out_of_date(tmp_path: Path) -> None:
    spec = catalog.load([_spec(tmp_path, phases=PHASES)])
    at = datetime(1970, 1, 31, 12, 7, tzinfo=UTC)

    def outdated(at: datetime) -> str:
        (rule,) = [r for g in rules.groups(spec[0], at) for r in g["rules"]
                   if r.get("alert") == "SLORulesOutdated"]
        return str(rule["expr"])

    # phase "strict" starts 1970-03-01; the first rolling 28 days judged by it end 03-29
    strict = datetime(1970, 3, 1, tzinfo=UTC) + timedelta(days=28)
    assert outdated(at) == f"vector(time()) >= {int(strict.timestamp())}"
    # after the last phase: the end of the 90 days of maintenance windows spelled out
    late = datetime(1970, 6, 1, 0, 13, tzinfo=UTC)
    assert outdated(late) == f"vector(time()) >= {int((late + timedelta(days=90)).timestamp())}"


def test_time_slice_rules_count_slices(tmp_path: Path) -> None:
    # The fixture SLO as Timeslices: 5-minute slices good iff >= 99 %. 1,000 requests a
    # minute; a minute of ERRORS has 100 errors, so its slice (p - 5m, p] holds 100 of 5,000
    # (98 %) and is bad, while in events the hour burns 100 / 60,000 / 0.001 = 1.7. The
    # recorded ratios are bad / counted slices of the window (docs/slo-math.md), derived
    # here from ERRORS; a window between slice ends reads the slices completed by then.
    spec = _spec(tmp_path).read_text().replace(
        "objective: {target: 0.999}",
        "budgetingMethod: Timeslices\n  "
        "objective: {target: 0.999, timeSliceTarget: 0.99, timeSliceWindow: 5m}")
    (tmp_path / "api.yaml").write_text(spec)
    errors, minutes = {62, 63, 90, 121}, 180
    bad = [100 * (m in errors) for m in range(minutes + 1)]
    ok = " ".join(str(sum(1000 - b for b in bad[1:m + 1])) for m in range(minutes + 1))
    err = " ".join(str(sum(bad[1:m + 1])) for m in range(minutes + 1))

    def share(at: int, window: int) -> float:
        ends = range(at - at % 5 - window + 5, at - at % 5 + 5, 5)  # completed slices
        good = sum(not any(p - 5 < m <= p for m in errors) for p in ends)
        return 1 - good / len(ends)  # as PromQL computes it, to the last bit

    checks = [{"expr": f'slo:sli_error:ratio_rate{w}{{slo="api-availability"}}',
               "eval_time": f"{at}m",
               "exp_samples": [{"labels": f"slo:sli_error:ratio_rate{w}"
                                + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(LABELS.items()))
                                + "}", "value": share(at, minutes_)}]}
              for at in (125, 127, 150, 180) for w, minutes_ in (("5m", 5), ("30m", 30),
                                                                 ("1h", 60))]
    # windows with no bad slice, only bad ones, and some (2 of 12, 1 of 6)
    assert {round(c["exp_samples"][0]["value"], 9) for c in checks} >= {0.0, 1.0, 0.166666667}
    # one bad slice in an hour is 1/12 of its slices, above 13.44 * 0.001: it pages as soon
    # as it is complete (minute 65), and the 1d/2h ticket (its windows hold only the data's
    # 13 slices so far, 1/13 > 2.8 * 0.001) fires with it
    slo = catalog.load([tmp_path / "api.yaml"])[0]
    assert _promtool("check", "rules", str(rules.write([slo], tmp_path / "all.yaml", AT))) \
        .returncode == 0
    _rules_test(tmp_path, rules.groups(slo, AT)[:1], [_series("200", ok), _series("500", err)],
                [_firing(64), _firing(65, "page", "ticket")] + checks)
