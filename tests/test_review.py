"""The weekly review and the stakeholder page from a hand-built lake: through the CLI and
through the slo_weekly_review DAG with dag.test(), the figures derived here from the buckets.

Week 2026-W46 is Monday 9 to Monday 16 November 2026 (UTC). Every minute has 1,000 events:

- pay (target 99 %, team payments): 995 good from 1 to 8 November, 990 from 9 November:
  the week spends 10 / 10 = 1.00x its budget's even pace, the week before 5 / 10 = 0.50x
  (worsening); the month to 16 November 00:00 spent 8 x 5 + 7 x 10 = 110 bad of 150
  allowed per minute-day (burn 0.733, healthy): approve, approve, review; green.
- find (target 99.9 %, team discovery): all good but a total outage 10:00 to 11:00 on
  Wednesday 11 November: 60,000 bad; the week 60,000 / (0.001 x 10,080,000) = 5.95x, the
  week before 0 (worsening); the month to date 60,000 / 21,600 = 2.78x an even spend, half
  elapsed, 1.39 consumed: exhausted, so block x 3, red, and a page incident.
- thin (target 99 %, team web): one day of data: insufficient data, review x 3, yellow.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.lakeutil import write_buckets

NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{tier: standard, team: {team}}}
spec:
  service: {name}
  indicator:
    ratio:
      good:  {{selector: 'ok_total{{service="{name}"}}'}}
      total: {{selector: 'all_total{{service="{name}"}}'}}
  objective: {{target: {target}}}
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("review")
    slos = base / "slos"
    slos.mkdir()
    for name, team, target in (("pay", "payments", 0.99), ("find", "discovery", 0.999),
                               ("thin", "web", 0.99)):
        (slos / f"{name}.yaml").write_text(DOC.format(name=name, team=team, target=target))
    lake = base / "lake"
    day = 1440
    write_buckets(lake, "pay", NOV1, [(995.0, 1000.0)] * (8 * day) + [(990.0, 1000.0)] * (7 * day))
    outage = 10 * day + 10 * 60  # 11 November 10:00
    find = [(1000.0, 1000.0)] * (15 * day)
    find[outage:outage + 60] = [(0.0, 1000.0)] * 60
    write_buckets(lake, "find", NOV1, find)
    write_buckets(lake, "thin", NOV1 + timedelta(days=8), [(1000.0, 1000.0)] * day)
    return base


def _cells(html: str, slo: str, table: str) -> list[str]:
    part = html.split(f'<table id="{table}">')[1].split("</table>")[0]
    row = re.search(rf'<tr data-slo="{slo}">(.*?)</tr>', part, re.S)
    assert row is not None, slo
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                   row.group(1), re.S)]


def _check(folder: Path) -> None:
    html = (folder / "review.html").read_text()
    md = (folder / "review.md").read_text()
    pay = _cells(html, "pay", "performance")
    assert pay[2:] == ["healthy", f"{(1 - 110 / 300) * 100:.1f} % (2026-11)", "99.0000 %", "1.00x",
                       "0.50x", "worsening"]
    find = _cells(html, "find", "performance")
    assert find[2] == "exhausted"
    assert find[5:] == [f"{60_000 / (0.001 * 7 * 1440 * 1000):.2f}x", "0.00x", "worsening"]
    assert _cells(html, "thin", "performance")[2] == "insufficient data"
    assert _cells(html, "pay", "decisions")[1:] == ["approve", "approve", "review"]
    assert _cells(html, "find", "decisions")[1:] == ["block"] * 3
    assert _cells(html, "thin", "decisions")[1:] == ["review"] * 3
    colors = dict(re.findall(r'data-service="([a-z]+)">.*?class="color color-(\w+)"', html,
                             re.S))
    assert colors == {"pay": "green", "find": "red", "thin": "yellow"}
    pages = re.findall(r'<tr data-incident="find"><td[^>]*>find</td><td>page</td>'
                       r"<td>([^<]+)</td>", html)
    assert pages == ["2026-11-11 10:00"]
    assert re.findall(r'data-incident="(\w+)"', html) and \
        set(re.findall(r'data-incident="(\w+)"', html)) == {"find"}
    done = {item: flag for flag, item in
            re.findall(r'<li data-done="(yes|no)">\S+ ([A-Za-z ]+?) <', html)}
    assert done == {
        "All SLOs reviewed": "yes", "Burn rates analyzed": "yes",
        "Incidents discussed": "no", "Action items assigned": "yes",
        "Decisions documented": "yes"}
    # The Markdown carries the same template, filled the same way.
    assert "### Service: find\n\n- **SLO Status**: Red" in md
    assert "| pay | approve | approve | review |" in md
    assert "- [ ] Incidents discussed" in md and "- [x] All SLOs reviewed" in md
    assert "(owner: discovery)" in md


def test_review_through_the_cli(world: Path) -> None:
    proc = cli("review", "--week", "2026-W46", "--slos", str(world / "slos"), "--lake",
               str(world / "lake"), "--out", str(world / "cli"), "--as-of",
               "2026-11-17T00:00Z", cwd=world)
    assert proc.returncode == 0, proc.stderr
    _check(world / "cli" / "weekly" / "2026-W46")


@pytest.mark.parametrize(("week", "expected"), [
    ("2026-46", "error: week: found '2026-46'; expected YYYY-Www, e.g. 2026-W38"),
    ("2026-W47", "error: week 2026-W47: has not begun at as-of 2026-11-16T00:00Z; expected "
                 "a week that has started (or a later --as-of)"),
])
def test_bad_weeks_are_one_line(world: Path, week: str, expected: str) -> None:
    proc = cli("review", "--week", week, "--slos", str(world / "slos"), "--lake",
               str(world / "lake"), "--out", str(world / "bad"), "--as-of",
               "2026-11-16T00:00Z", cwd=world)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [expected]
    assert not (world / "bad").exists()


def test_review_dag_writes_the_same_review(world: Path, airflow_db: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_SLOS_DIR", str(world / "slos"))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(world / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(world / "dag"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_weekly_review.py")).get_dag(
            "slo_weekly_review")
        run = dag.test(logical_date=datetime(2026, 11, 16, tzinfo=UTC))
    assert run.state == "success"
    _check(world / "dag" / "weekly" / "2026-W46")
    # Same figures as the CLI's review (made as of a day later: the week had ended).
    strip = lambda p: re.sub(r"generated [^.]*UTC", "", p.read_text())  # noqa: E731
    assert strip(world / "dag/weekly/2026-W46/review.md") == \
        strip(world / "cli/weekly/2026-W46/review.md")


def test_a_rolling_slo_is_reviewed_on_its_own_window(tmp_path: Path) -> None:
    # roll: 99 % over a rolling 28 days; 5 of 1,000 events a minute bad from 19 to 31
    # October, all good in November. At the week's end (16 November 00:00) its window is
    # 19 October to 16 November: 13 days x 1,440 x 5 = 93,600 bad of 0.01 x 28 x 1,440,000
    # allowed, 76.8 % left. The calendar month to date would say 100 %.
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "roll.yaml").write_text(
        DOC.format(name="roll", team="web", target=0.99) + "  window: {rolling: 28d}\n")
    start = datetime(2026, 10, 19, tzinfo=UTC)
    write_buckets(tmp_path / "lake", "roll", start, [(995.0, 1000.0)] * (13 * 1440)
                  + [(1000.0, 1000.0)] * (15 * 1440))
    done = cli("review", "--week", "2026-W46", "--slos", "slos", "--as-of",
               "2026-11-20T09:13+01:00", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "reports" / "out" / "weekly" / "2026-W46" / "review.html").read_text()
    left = 1 - 13 * 1440 * 5 / (0.01 * 28 * 1440 * 1000)
    assert _cells(html, "roll", "performance")[2:4] == [
        "healthy", f"{left * 100:.1f} % (rolling-28d@2026-11-16T00:00Z)"]


def test_the_review_decides_by_the_teams_release_policy(world: Path, tmp_path: Path) -> None:
    # A stricter policy beside the SLO files: the review decides by it, as the report does.
    import shutil

    import yaml

    from slo_jobs.decisions import policy

    slos = tmp_path / "slos"
    shutil.copytree(world / "slos", slos)
    matrix = yaml.safe_load(policy.DEFAULT_FILE.read_text())["releasePolicy"]
    matrix["healthy"] = {"low": "review", "medium": "defer", "high": "block"}
    (slos / "release-policy.yaml").write_text(yaml.safe_dump({"releasePolicy": matrix}))
    proc = cli("review", "--week", "2026-W46", "--slos", str(slos), "--lake",
               str(world / "lake"), "--out", str(tmp_path / "out"), "--as-of",
               "2026-11-17T00:00Z", cwd=world)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "out" / "weekly" / "2026-W46" / "review.html").read_text()
    # pay is healthy, find exhausted, thin not judged (see the module's docstring).
    assert _cells(html, "pay", "decisions")[1:] == [matrix["healthy"][r]
                                                    for r in ("low", "medium", "high")]
    assert _cells(html, "find", "decisions")[1:] == [matrix["exhausted"][r]
                                                     for r in ("low", "medium", "high")]
    assert _cells(html, "thin", "decisions")[1:] == [matrix["unjudged"][r]
                                                     for r in ("low", "medium", "high")]


def test_slos_whose_week_has_not_begun_are_left_out_with_a_note(world: Path,
                                                                 tmp_path: Path) -> None:
    # 2026-W47 begins on Monday 16 November 00:00 UTC, but at Sunday 15 November 10:00 UTC
    # in Pacific/Kiritimati (UTC+14): at 16 November 00:00 UTC only "early" has begun it,
    # the UTC SLOs are left out with a note each (as run and compute leave out an SLO
    # whose month has not begun), and "early", without data, is reviewed as "no data".
    import shutil

    slos = tmp_path / "slos"
    shutil.copytree(world / "slos", slos)
    (slos / "early.yaml").write_text(DOC.format(name="early", team="web", target=0.99)
                                     + "  window: {calendar: month, timeZone: "
                                       "Pacific/Kiritimati}\n")
    proc = cli("review", "--week", "2026-W47", "--slos", str(slos), "--lake",
               str(world / "lake"), "--out", str(tmp_path / "out"), "--as-of",
               "2026-11-16T00:00Z", cwd=world)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stderr.splitlines()) == [
        f"note: SLO {name} left out: week 2026-W47 in UTC begins 2026-11-16T00:00Z, after "
        "as-of 2026-11-16T00:00Z" for name in ("find", "pay", "thin")]
    html = (tmp_path / "out" / "weekly" / "2026-W47" / "review.html").read_text()
    assert re.findall(r'<table id="performance">.*?</table>', html, re.S)[0].count(
        "<tr data-slo=") == 1
    assert _cells(html, "early", "performance")[2] == "no data"
