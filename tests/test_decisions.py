"""Release decisions explained, reliability priorities and the toil budget per team: the
rules as data, the team file's validation, and the month from a hand-built lake through the
CLI's compute and report into summary.json and the HTML."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.decisions import policy, priorities, release, teams, toil
from slo_jobs.run import runner
from tests.lakeutil import write_buckets
from tests.test_sql_files import DECISIONS, run

NOV, OCT = periods.month("2026-11"), periods.month("2026-10")
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{tier: {tier}, team: {team}}}
spec:
  service: {name}
  indicator:
    ratio:
      good:  {{selector: 'ok_total{{service="{name}"}}'}}
      total: {{selector: 'all_total{{service="{name}"}}'}}
  objective: {{target: 0.99}}
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


# --- the rules as data -------------------------------------------------------------------

def test_the_explained_matrix_is_the_sql_table() -> None:
    rows = run("release_decision", {"decisions_in": [{"slo": s, "status": s}
                                                     for s in release.STATUSES]})
    got = {(r["slo"], r["risk"]): r["decision"] for r in rows}
    assert got == {(s, risk): release.MATRIX[s][risk] for s in release.STATUSES
                   for risk in release.RISKS}
    assert {s: tuple(release.MATRIX[s][r] for r in release.RISKS) for s in DECISIONS} \
        == DECISIONS


def _row(status: str, consumed: float, burn: float, **extra: Any) -> dict[str, Any]:
    return {"slo": "s", "service": "svc", "status": status, "budget_consumed": consumed,
            "budget_consumed_to_date": burn, "coverage": 1.0, "min_coverage": 0.9,
            "estimated": False, "period_start": NOV.start, "period_end": NOV.end,
            "as_of": NOV.end, **extra}


def test_a_deferred_change_says_what_would_let_it_ship() -> None:
    # Half-way through November, 80 % spent: burn 0.8 / 0.5 = 1.6, "warning" (1.5 < 1.6 <= 2).
    row = _row("warning", 0.8, 1.6, estimated=True, as_of=NOV.start + timedelta(days=15))
    d = release.explain(row, "medium", "defer", "payments")
    assert d["rationale"] == ("warning: 80 % of the error budget spent to date (estimate: "
                              "the period is still running), 1.60x an even spend; policy for "
                              "warning and medium risk: defer")
    assert d["estimated"] is True
    # A medium-risk change gets a review at "attention" (burn up to 1.5), the worst such.
    assert d["conditions"] == ["Ship once the status is back to attention or better "
                               "(even-spend burn at most 1.5), or after the budget resets "
                               "at 2026-12-01 00:00 UTC."]
    # At "warning" a low-risk change is reviewed, not approved: no smaller step to offer.
    assert not any("Split" in a for a in d["alternatives"])
    assert "Wait for the new budget at 2026-12-01 00:00 UTC." in d["alternatives"]
    high = release.explain(_row("healthy", 0.3, 0.3), "high", "review", "payments")
    assert high["conditions"][0] == "Sign-off by team payments before shipping."
    assert high["alternatives"][0] == ("Split the change into medium-risk steps, which are "
                                       "approved now.")
    assert release.explain(_row("healthy", 0.3, 0.3), "low", "approve")["alternatives"] == []


def test_an_unjudged_slo_is_never_approved_and_says_why() -> None:
    row = _row("insufficient data", None, None, coverage=2 / 30)  # type: ignore[arg-type]
    d = release.explain(row, "low", "review")
    assert d["rationale"].startswith("insufficient data: 6.7 % of the buckets had data, "
                                     "below the 90 % needed")


def test_priority_score_is_overspend_times_weight_times_trend() -> None:
    half = NOV.start + timedelta(days=15)
    rows = [
        _row("exhausted", 1.3, 1.3, slo="a"),                       # over 0.3
        _row("warning", 0.8, 1.6, slo="b", as_of=half),             # over 0.8 - 0.5 = 0.3
        _row("healthy", 0.4, 0.4, slo="c"),                         # within budget
        _row("insufficient data", 3.0, 3.0, slo="d"),               # not judged
    ]
    tiers = {"a": "critical", "b": "best-effort", "c": "standard", "d": "critical"}
    history = {"a": [0.5, 0.8], "b": [3.2], "c": [0.1]}
    got = {p["slo"]: p for p in priorities.rank(rows, tiers, history, {})}
    # a: 0.3 x 4 x min(2, 1.3 / 0.65) = 2.4; b: 0.3 x 1 x max(0.5, 1.6 / 3.2) = 0.15
    assert got["a"]["score"] == pytest.approx(0.3 * 4 * 2.0)
    assert got["b"]["score"] == pytest.approx(0.3 * 1 * 0.5)
    assert (got["a"]["rank"], got["b"]["rank"], got["c"]["rank"], got["d"]["rank"]) == \
        (1, 2, None, None)
    assert got["c"]["trend"] == pytest.approx(2.0)  # 0.4 / 0.1 capped at 2; score still 0
    assert got["b"]["tier"] == "best_effort" and got["d"]["score"] == 0


@pytest.mark.parametrize(("burn", "expected"), [
    (None, 50.0), (0.5, 60.0), (0.51, 50.0), (1.0, 50.0), (1.3, 50 - 20 * 0.3),
    (2.5, 20.0)])
def test_toil_percentage(burn: float | None, expected: float) -> None:
    assert toil.percentage(burn) == pytest.approx(expected)


# --- the team file -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("teams:\n  payments: {size: 0}\n",
     "teams.yaml:2: teams.payments.size: found 0; expected a whole number of people from 1 "
     "to 1000"),
    ("teams:\n  payments: {size: 2.5}\n",
     "teams.yaml:2: teams.payments.size: found 2.5; expected a whole number of people"),
    ("teams:\n  payments: {size: 3, hours: 40}\n",
     "teams.yaml:2: teams.payments.hours: unknown field; expected one of size, hoursPerWeek"),
    ("teams:\n  payments: {size: 3, hoursPerWeek: 0}\n",
     "teams.yaml:2: teams.payments.hoursPerWeek: found 0; expected working hours"),
    ("teams:\n  Payments Team: {size: 3}\n",
     "teams.yaml:2: teams.Payments Team: team name 'Payments Team'; expected lower-case"),
    ("teams:\n  payments: 6\n",
     "teams.yaml:2: teams.payments: found 6; expected a mapping such as {size: 6}"),
    ("payments: {size: 6}\n",
     "teams.yaml:1: (document): found ['payments']; expected a mapping with only the key "
     "teams"),
    ("teams:\n  payments: {}\n",
     "teams.yaml:2: teams.payments: size missing; expected the number of people"),
])
def test_team_file_problems_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "teams.yaml").write_text(text)
    (tmp_path / "a.yaml").write_text(DOC.format(name="a", tier="critical", team="payments"))
    proc = cli("validate", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path / expected)), lines
    with pytest.raises(Exception, match=re.escape(expected)):
        teams.load(tmp_path / "teams.yaml")


def test_a_valid_team_file_is_read_and_not_taken_for_an_slo(tmp_path: Path) -> None:
    (tmp_path / "teams.yaml").write_text("teams:\n  payments: {size: 6, hoursPerWeek: 38}\n")
    (tmp_path / "a.yaml").write_text(DOC.format(name="a", tier="critical", team="payments"))
    proc = cli("validate", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0 and "ok: 1 SLOs in 1 file valid" in proc.stdout, proc.stderr
    assert teams.load_for([tmp_path]) == {"payments": teams.Team("payments", 6, 38.0)}


# --- a month through compute and report -----------------------------------------------------

@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """October and November 2026 of four SLOs (target 99 %), every minute 1,000 events:
    pay 990 good in October (consumed 1.0) and 980 in November (2.0); find 987 (1.3) then
    988.5 (1.15); web 995 (0.5) in November only; thin two good days of November only."""
    base = tmp_path_factory.mktemp("decisions")
    slos = base / "slos"
    slos.mkdir()
    for name, tier, team in (("pay", "critical", "payments"), ("find", "essential", "discovery"),
                             ("web", "standard", "web"), ("thin", "best_effort", "discovery")):
        (slos / f"{name}.yaml").write_text(DOC.format(name=name, tier=tier, team=team))
    (slos / "teams.yaml").write_text(
        "teams:\n  payments: {size: 6}\n  discovery: {size: 4, hoursPerWeek: 38}\n")
    lake = base / "lake"
    minutes = lambda p: int(p.seconds / 60)  # noqa: E731
    write_buckets(lake, "pay", OCT.start, [(990.0, 1000.0)] * minutes(OCT))
    write_buckets(lake, "pay", NOV.start, [(980.0, 1000.0)] * minutes(NOV))
    write_buckets(lake, "find", OCT.start, [(987.0, 1000.0)] * minutes(OCT))
    write_buckets(lake, "find", NOV.start, [(988.5, 1000.0)] * minutes(NOV))
    write_buckets(lake, "web", NOV.start, [(995.0, 1000.0)] * minutes(NOV))
    write_buckets(lake, "thin", NOV.start, [(1000.0, 1000.0)] * (2 * 1440))
    for label, at in (("2026-10", "2026-11-02T00:00Z"), ("2026-11", "2026-12-02T00:00Z")):
        proc = cli("compute", "--month", label, "--slos", str(slos), "--lake", str(lake),
                   "--as-of", at, cwd=base)
        assert proc.returncode == 0, proc.stderr
    proc = cli("report", "--month", "2026-11", "--lake", str(lake), "--out", str(base / "out"),
               "--format", "html,json", "--as-of", "2026-12-02T00:00Z", cwd=base)
    assert proc.returncode == 0, proc.stderr
    return base / "out" / "2026-11"


def test_summary_json_keeps_its_fields_and_gains_the_decisions(month: Path) -> None:
    from slo_jobs.report.monthly import JSON_FIELDS

    records = {r["slo"]: r for r in json.loads((month / "summary.json").read_text())}
    assert all(set(JSON_FIELDS) <= set(r) for r in records.values())
    pay, find, web, thin = (records[n] for n in ("pay", "find", "web", "thin"))
    # pay: overspend 2.0 - 1 = 1.0, critical 4, trend min(2, 2.0 / 1.0) = 2: score 8.
    assert pay["priority"]["score"] == pytest.approx(1.0 * 4 * 2)
    # find: overspend 1.15 - 1 = 0.15, essential 3, trend 1.15 / 1.3.
    assert find["priority"]["score"] == pytest.approx(0.15 * 3 * 1.15 / 1.3)
    assert (pay["priority"]["rank"], find["priority"]["rank"]) == (1, 2)
    assert web["priority"]["rank"] is None and thin["priority"]["rank"] is None
    # Toil: payments' worst burn 2.0 -> 50 - 20 x 1.0 = 30 % of 6 x 40 h.
    assert pay["toil"]["toil_percentage"] == pytest.approx(30.0)
    assert pay["toil"]["toil_hours_per_week"] == pytest.approx(0.30 * 6 * 40)
    assert pay["toil"]["automation_hours_per_week"] == pytest.approx(0.70 * 6 * 40)
    # discovery: thin is not judged, so find's 1.15 counts: 47 % of 4 x 38 h.
    assert find["toil"]["toil_percentage"] == pytest.approx(50 - 20 * 0.15)
    assert find["toil"]["toil_hours_per_week"] == pytest.approx(0.47 * 4 * 38)
    assert thin["toil"] == find["toil"]
    # web spent exactly half its budget: 60 %; the team file does not list it: no hours.
    assert web["toil"]["toil_percentage"] == pytest.approx(60.0)
    assert web["toil"]["toil_hours_per_week"] is None and web["toil"]["size"] is None
    assert [pay["release"][r]["decision"] for r in release.RISKS] == ["block"] * 3
    assert pay["release"]["low"]["rationale"] == (
        "exhausted: 200 % of the error budget spent; policy for exhausted and low risk: block")
    assert [thin["release"][r]["decision"] for r in release.RISKS] == ["review"] * 3
    assert [web["release"][r]["decision"] for r in release.RISKS] == \
        ["approve", "approve", "review"]
    assert (pay["team"], pay["tier"], thin["tier"]) == ("payments", "critical", "best_effort")


def test_the_report_shows_priorities_toil_and_reasons(month: Path) -> None:
    html = (month / "report.html").read_text()
    assert re.findall(r'<tr data-priority="([a-z-]+)">', html) == ["pay", "find"]
    assert re.findall(r'<tr data-team="([a-z-]+)">', html) == ["discovery", "payments", "web"]
    team = re.search(r'<tr data-team="web">(.*?)</tr>', html, re.S)
    assert team is not None and "not in the team file" in team.group(1)
    block = html.split('<table class="release" data-release="web">')[1].split('</table>')[0]
    high = re.search(r'<tr data-risk="high">(.*?)</tr>', block, re.S)
    assert high is not None and "<b>review</b>" in high.group(1)
    assert "Sign-off by team web before shipping." in high.group(1)


def test_release_decisions_once_per_service_the_strictest(month: Path) -> None:
    """A service ships as a whole: one table per service, each risk's decision the strictest
    of its SLOs', named with the SLOs that set it; none in an SLO's own section."""
    html = (month / "report.html").read_text()
    records = {r["slo"]: r for r in json.loads((month / "summary.json").read_text())}
    order = ("approve", "review", "defer", "block")
    services: dict[str, list[str]] = {}
    for name, r in records.items():
        services.setdefault(r["service"], []).append(name)
    assert re.findall(r'<table class="release" data-release="([a-z]+)">', html) == \
        sorted(services)
    assert html.count('<table class="release"') == len(services)
    for service, names in services.items():
        block = html.split(f'<table class="release" data-release="{service}">')[1] \
            .split("</table>")[0]
        for risk in release.RISKS:
            strictest = max((records[n]["release"][risk]["decision"] for n in names),
                            key=order.index)
            setters = [n for n in names if records[n]["release"][risk]["decision"] == strictest]
            row = re.search(rf'<tr data-risk="{risk}">(.*?)</tr>', block, re.S)
            assert row is not None
            assert f"<b>{strictest}</b>" in row.group(1)
            assert f'<span class="name">{", ".join(setters)}</span>' in row.group(1)


def test_the_stakeholder_page_fits_one_page(month: Path) -> None:
    from weasyprint import HTML

    base = month.parent.parent
    proc = cli("summary-page", "--month", "2026-11", "--lake", str(base / "lake"), "--out",
               str(base / "out"), cwd=base)
    assert proc.returncode == 0, proc.stderr
    folder = base / "out" / "stakeholders" / "2026-11"
    md, html = (folder / "summary-page.md").read_text(), (folder / "summary-page.html")
    # web met (SLI 99.5 % >= 99 %), pay and find missed, thin not judged.
    assert md.startswith("# SLOs in 2026-11: the month on one page\n\n1 of 4 SLOs met, "
                         "2 missed, 1 not judged (too little data)")
    assert "| pay | Red | pay | block | block | block |" in md
    assert "| web | Green | none | approve | approve | review |" in md
    assert "| thin | Yellow | none (thin not judged) | review | review | review |" in md
    text = html.read_text()
    assert re.findall(r'<li data-slo="([a-z]+)">', text) == ["pay", "find"]
    assert re.findall(r'<tr data-team="([a-z-]+)">', text) == ["discovery", "payments", "web"]
    assert len(HTML(string=text).render().pages) == 1


# --- the release policy file -------------------------------------------------------------------

def test_the_default_policy_file_is_the_documented_table() -> None:
    default = policy.load()
    assert default.name == "default"
    assert {s: default.matrix[s] for s in release.STATUSES} == release.MATRIX
    rows = run("release_decision", {"decisions_in": [{"slo": s, "status": s} for s in (
        *release.STATUSES, "no data", "insufficient data")]})
    assert {(r["slo"], r["risk"]): r["decision"] for r in rows} == {
        (s, risk): default.decide(s, risk) for s in (*release.STATUSES, "no data",
                                                     "insufficient data")
        for risk in release.RISKS}


POLICY = """\
releasePolicy:
  healthy:   {low: approve, medium: review, high: block}
  attention: {low: review,  medium: defer,  high: block}
  warning:   {low: defer,   medium: block,  high: block}
  critical:  {low: block,   medium: block,  high: block}
  exhausted: {low: block,   medium: block,  high: block}
  unjudged:  {low: defer,   medium: defer,  high: block}
"""


def test_a_teams_policy_file_decides_and_the_report_names_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from slo_jobs.report import monthly as report
    from slo_jobs.spec import catalog

    slos = tmp_path / "slos"
    slos.mkdir()
    (slos / "web.yaml").write_text(DOC.format(name="web", tier="standard", team="web"))
    (slos / "release-policy.yaml").write_text(POLICY)
    lake = tmp_path / "lake"
    # 99.5 % good of a 99 % target: half the budget spent, healthy.
    write_buckets(lake, "web", NOV.start, [(995.0, 1000.0)] * int(NOV.seconds // 60))
    loaded = catalog.load([slos])
    assert [s.name for s in loaded] == ["web"]  # the policy file is no SLO
    runner.compute_month(lake, loaded, NOV, None, teams.load_for([slos]))
    files = report.render(lake, NOV, tmp_path / "out", source="t",
                          generated_at=datetime(2026, 12, 3, 7, 41, tzinfo=UTC),
                          formats=("html", "json"))
    web = json.loads(files.json.read_text())[0]
    assert web["status"] == "healthy"
    expected = yaml_matrix(POLICY)["healthy"]
    assert {r: web["release"][r]["decision"] for r in release.RISKS} == expected
    assert web["release"]["high"]["policy"] == str(slos / "release-policy.yaml")
    assert (web["release_low"], web["release_medium"], web["release_high"]) == \
        tuple(expected[r] for r in release.RISKS)
    html = files.html.read_text()
    assert html.count(f'<span class="policy">{slos / "release-policy.yaml"}</span>') == 2
    # no approval to ship a medium-risk change: the alternative names the approved step
    assert "Split the change into low-risk steps" in " ".join(
        web["release"]["medium"]["alternatives"])


def yaml_matrix(text: str) -> dict[str, dict[str, str]]:
    import yaml

    return yaml.safe_load(text)["releasePolicy"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("edit", "expected"), [
    (("healthy:   {low: approve,", "healthy:   {low: ship,"),
     "release-policy.yaml:2: releasePolicy.healthy.low: found 'ship'; expected one of "
     "approve, review, defer, block"),
    (("  unjudged:  {low: defer,", "  unjudged:  {low: approve,"),
     "release-policy.yaml:7: releasePolicy.unjudged.low: found 'approve'; expected one of "
     "review, defer, block"),
    (("  critical:  {low: block,   medium: block,  high: block}\n", ""),
     "release-policy.yaml:1: releasePolicy: critical missing; expected every status of "
     "healthy, attention, warning, critical, exhausted, unjudged"),
    (("warning:   {low: defer,   medium: block,  high: block}",
      "warning:   {low: defer,   medium: block}"),
     "release-policy.yaml:4: releasePolicy.warning: found {\"low\": \"defer\", \"medium\": "
     "\"block\"}; expected {low: ..., medium: ..., high: ...}"),
    (("releasePolicy:", "policy:"),
     "release-policy.yaml:1: (document): found ['policy']; expected one mapping with only the "
     "key releasePolicy"),
])
def test_policy_file_problems_are_one_line(tmp_path: Path, edit: tuple[str, str],
                                           expected: str) -> None:
    (tmp_path / "release-policy.yaml").write_text(POLICY.replace(*edit))
    with pytest.raises(SpecError) as exc:
        teams.load_for([tmp_path])
    lines = str(exc.value).splitlines()
    assert lines == [f"{tmp_path}/{expected}"]


def test_validate_checks_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DOC.format(name="a", tier="critical", team="payments"))
    (tmp_path / "release-policy.yaml").write_text(POLICY.replace("high: block}\n  attention",
                                                                 "high: ok}\n  attention"))
    proc = cli("validate", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"{tmp_path}/release-policy.yaml:2: releasePolicy.healthy.high: found 'ok'; expected "
        "one of approve, review, defer, block"]
    (tmp_path / "release-policy.yaml").write_text(POLICY)
    proc = cli("validate", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0 and "ok: 1 SLOs in 1 file valid" in proc.stdout, proc.stderr
