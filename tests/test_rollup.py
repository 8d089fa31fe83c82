"""Quarter and year roll-ups against the generator's exact truth: a quarter of minute buckets
for four SLOs in two teams (one in America/New_York, one with too few events to judge),
its months computed, then ``slo-jobs report --quarter`` / ``--year`` and the DAG."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from slo_jobs.core import periods
from tests.clirun import slo_jobs
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

START = datetime(2026, 6, 28, tzinfo=UTC)  # the lookback before July, and past Q3 in every zone
END = datetime(2026, 10, 3, tzinfo=UTC)
MINUTES = int((END - START).total_seconds() // 60)
# name: (team, target, zone, events a minute per month, bad share per month)
SLOS: dict[str, tuple[str, float, str, dict[int, float], dict[int, float]]] = {
    # Heavy July, light August: the quarter's ratio of sums is far from the mean of months.
    "api-availability": ("alpha", 0.99, "UTC", {6: 100, 7: 100, 8: 10, 9: 50, 10: 50},
                         {6: 0.001, 7: 0.002, 8: 0.05, 9: 0.004, 10: 0.004}),
    "api-latency": ("alpha", 0.95, "America/New_York", {6: 40, 7: 40, 8: 40, 9: 80, 10: 80},
                    {6: 0.01, 7: 0.03, 8: 0.08, 9: 0.02, 10: 0.02}),
    "web-availability": ("beta", 0.999, "UTC", {6: 20, 7: 20, 8: 60, 9: 20, 10: 20},
                         {6: 0.0, 7: 0.0005, 8: 0.002, 9: 0.0005, 10: 0.0005}),
    # One event every 1,440 minutes: 92 in the quarter, under the 101 a 99 % target needs.
    "nightly-batch": ("beta", 0.99, "UTC", {}, {}),
}
MONTHS = ("2026-07", "2026-08", "2026-09")


def _series(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(good, total) per minute from START: whole events, so the sums are exact."""
    _, _, _, rate, bad = SLOS[name]
    ts = [START + timedelta(minutes=i) for i in range(MINUTES)]
    if not rate:
        total = np.array([1.0 if t.hour == 3 and t.minute == 0 else 0.0 for t in ts])
        return total.copy(), total
    total = np.array([rate[t.month] for t in ts], dtype=float)
    # Bad events on every k-th minute, so that each month's bad share is exact.
    good = total.copy()
    for month, share in bad.items():
        idx = np.array([i for i, t in enumerate(ts) if t.month == month])
        per_minute = share * rate[month]  # bad events a minute on average
        if per_minute:
            k = max(1, round(1 / per_minute)) if per_minute < 1 else 1
            hit = idx[::k]
            good[hit] -= min(rate[month], max(1.0, round(per_minute * k)))
    return good, total


def _sums(series: tuple[np.ndarray, np.ndarray], start: datetime, end: datetime
          ) -> tuple[float, float]:
    a = int((start - START).total_seconds() // 60)
    b = int((end - START).total_seconds() // 60)
    return float(series[0][a:b].sum()), float(series[1][a:b].sum())


def _spec(name: str) -> str:
    team, target, zone, _, _ = SLOS[name]
    return (f"apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\nmetadata:\n  name: {name}\n"
            f"  labels: {{team: {team}}}\nspec:\n  service: {name.split('-')[0]}\n"
            f"  description: generated\n  indicator:\n    ratio:\n"
            f"      good: {{selector: 'good_total{{slo=\"{name}\"}}'}}\n"
            f"      total: {{selector: 'all_total{{slo=\"{name}\"}}'}}\n"
            f"  objective: {{target: {target}}}\n"
            f"  window: {{calendar: month, timeZone: {zone}}}\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rollup")
    (base / "slos").mkdir()
    for name in SLOS:
        (base / "slos" / f"{name}.yaml").write_text(_spec(name))
    series = {name: _series(name) for name in SLOS}
    for name, (good, total) in series.items():
        write_buckets(base / "lake", name, START, list(zip(good.tolist(), total.tolist(),
                                                           strict=True)))
    from slo_jobs.run import runner
    from slo_jobs.spec import catalog

    slos = catalog.load([base / "slos"])
    for m in MONTHS:
        runner.compute_month(base / "lake", slos, periods.month(m))
    return {"base": base, "series": series, "slos": slos}


def _truth(world: dict[str, Any], kind: str, label: str, as_of: datetime | None = None
           ) -> dict[str, dict[str, Any]]:
    """Per SLO from the generated minutes: good, total, SLI and budget spent of its period
    in its zone (to ``as_of``, projected to the period's end by the elapsed share)."""
    out = {}
    for name, (team, target, zone, _, _) in SLOS.items():
        p = periods.calendar(kind, label, zone)
        end = p.end if as_of is None else min(as_of, p.end)
        good, total = _sums(world["series"][name], p.start, end)
        budget = round(1 - target, 12)
        elapsed = (end - p.start) / (p.end - p.start)
        few = total / elapsed * budget <= 1
        out[name] = {"team": team, "target": target, "good": good, "total": total,
                     "sli": good / total, "few": few,
                     "consumed": (total - good) / (budget * total) * elapsed}
    return out


def _groups(truth: dict[str, dict[str, Any]], closed: bool) -> dict[str, dict[str, Any]]:
    """The documented formula (docs/slo-math.md, "Roll-ups"), computed again here: share met
    over the judged SLOs of a closed period; budget spent the plain mean over judged SLOs."""
    members: dict[str, list[str]] = {"organisation": list(truth)}
    for name, t in truth.items():
        members.setdefault(t["team"], []).append(name)
    out = {}
    for group, names in members.items():
        judged = [truth[n] for n in names if not truth[n]["few"]]
        met = sum(t["sli"] >= t["target"] for t in judged)
        out[group] = {"share_met": met / len(judged) if closed else None,
                      "budget": sum(t["consumed"] for t in judged) / len(judged),
                      "unjudged": [n for n in names if truth[n]["few"]]}
    return out


def _report(capsys: pytest.CaptureFixture[str], world: dict[str, Any], out: Path,
            *args: str) -> dict[str, Any]:
    base = world["base"]
    code, stdout, err = slo_jobs(capsys, "report", *args, "--slos", str(base / "slos"),
                                 "--lake", str(base / "lake"), "--out", str(out))
    assert code == 0, stdout + err
    label = args[1]
    return {"stdout": stdout, "doc": json.loads((out / label / "summary.json").read_text())}


def _check(doc: dict[str, Any], truth: dict[str, dict[str, Any]], closed: bool) -> None:
    rows = {r["slo"]: r for r in doc["slos"]}
    assert set(rows) == set(truth)
    for name, t in truth.items():
        r = rows[name]
        assert (r["good"], r["total"]) == (t["good"], t["total"]), name
        assert r["sli"] == pytest.approx(t["sli"], abs=1e-12), name
        if t["few"]:
            assert r["status"] == "too few events" and r["met"] is None
        elif closed:
            assert r["met"] == (t["sli"] >= t["target"]), name
        else:
            assert r["met"] is None and r["estimated"] and r["outlook"], name
        assert r["budget_consumed"] == pytest.approx(t["consumed"], rel=1e-9), name
    expected = _groups(truth, closed)
    got = {"organisation": doc["organisation"], **{g["name"]: g for g in doc["teams"]}}
    assert set(got) == set(expected)
    for group, e in expected.items():
        g = got[group]
        assert g["share_met"] == (None if e["share_met"] is None
                                  else pytest.approx(e["share_met"], abs=1e-12)), group
        assert g["budget_consumed"] == pytest.approx(e["budget"], rel=1e-9), group
        assert [u.split(" (")[0] for u in filter(None, g["unjudged"].split(", "))] \
            == e["unjudged"], group


def test_quarter_is_the_ratio_of_its_own_events_per_slo_team_and_organisation(
        world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = world["base"] / "out"
    run = _report(capsys, world, out, "--quarter", "2026-Q3", "--as-of", "2026-10-02T00:00Z")
    doc, truth = run["doc"], _truth(world, "quarter", "2026-Q3")
    assert doc["running"] is False and doc["kind"] == "quarter"
    _check(doc, truth, closed=True)
    # Not the mean of the months: the generated traffic differs from month to month.
    rows = {r["slo"]: r for r in doc["slos"]}
    for name in ("api-availability", "api-latency", "web-availability"):
        zone = SLOS[name][2]
        monthly = [_sums(world["series"][name], p.start, p.end)
                   for p in (periods.calendar("month", m, zone) for m in MONTHS)]
        mean = sum(g / t for g, t in monthly) / 3
        assert abs(rows[name]["sli"] - mean) > 1e-4, name
        # The months beside it are the monthly summaries, each its own month's ratio.
        shown = [m["sli"] for m in rows[name]["months"]]
        assert shown == pytest.approx([g / t for g, t in monthly], abs=1e-12)
        assert [m["state"] for m in rows[name]["months"]] == ["computed"] * 3
    # The New York quarter is not the UTC one: its first hours of July are June in UTC.
    ny = periods.calendar("quarter", "2026-Q3", "America/New_York")
    assert rows["api-latency"]["period_start"] == "2026-07-01T04:00:00Z" == \
        ny.start.isoformat().replace("+00:00", "Z")
    assert truth["api-latency"]["total"] != _sums(
        world["series"]["api-latency"], *(lambda p: (p.start, p.end))(
            periods.calendar("quarter", "2026-Q3")))[1]
    # Every format, and the index links the roll-up.
    folder = out / "2026-Q3"
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (folder / "report.html").read_text()
    assert 'data-slo="api-latency"' in html and "America/New_York" in html
    with (folder / "summary.csv").open() as fh:
        table = {r["slo"]: r for r in csv.DictReader(fh)}
    assert float(table["web-availability"]["sli"]) == pytest.approx(
        truth["web-availability"]["sli"], abs=1e-12)
    assert table["api-availability"]["month_sli_2026-08"] != ""
    with (folder / "teams.csv").open() as fh:
        teams = {r["name"]: r for r in csv.DictReader(fh)}
    assert set(teams) == {"organisation", "alpha", "beta"}
    assert 'href="2026-Q3/report.html"' in (out / "index.html").read_text()
    assert "organisation" in run["stdout"]


def test_a_quarter_still_running_is_to_date_and_never_met_or_missed(
        world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    at = datetime(2026, 8, 15, tzinfo=UTC)
    out = world["base"] / "out-running"
    doc = _report(capsys, world, out, "--quarter", "2026-Q3", "--as-of",
                  "2026-08-15T00:00Z")["doc"]
    assert doc["running"] is True
    _check(doc, _truth(world, "quarter", "2026-Q3", at), closed=False)
    for r in doc["slos"]:
        assert [m["state"] for m in r["months"]][2] == "not begun"
    assert doc["organisation"]["met"] == doc["organisation"]["missed"] == 0
    assert "(still running)" in (out / "index.html").read_text()


def test_a_year_shows_the_months_not_computed_as_missing(
        world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    doc = _report(capsys, world, world["base"] / "out-year", "--year", "2026", "--as-of",
                  "2027-01-02T00:00Z")["doc"]
    for r in doc["slos"]:
        states = {m["month"]: m["state"] for m in r["months"]}
        assert len(states) == 12
        assert [m for m, s in states.items() if s == "computed"] == list(MONTHS)
        assert all(s == "missing" for m, s in states.items() if m not in MONTHS)
        # A quarter of data in a year: below the coverage a verdict needs.
        assert r["status"] == "insufficient data" and r["met"] is None
    assert doc["organisation"]["share_met"] is None


@pytest.mark.parametrize("args", [(), ("--month", "2026-09", "--quarter", "2026-Q3"),
                                  ("--quarter", "2026-Q3", "--year", "2026")])
def test_report_takes_exactly_one_period(capsys: pytest.CaptureFixture[str],
                                         args: tuple[str, ...]) -> None:
    code, out, err = slo_jobs(capsys, "report", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "expected exactly one of --month, --quarter, --year" in err


def test_a_mistyped_quarter_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = slo_jobs(capsys, "report", "--quarter", "2026-Q5")
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "2026-Q5" in err and "YYYY-Qn" in err


@pytest.mark.integration
def test_the_quarterly_dag_rolls_up_the_quarter(world: dict[str, Any], airflow_db: Path,
                                                tmp_path: Path) -> None:
    shutil.copytree(world["base"] / "lake", tmp_path / "lake")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_SLOS_DIR", str(world["base"] / "slos"))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(tmp_path / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_rollups.py")).get_dag(
            "slo_quarterly_rollup")
        run = dag.test(logical_date=datetime(2026, 10, 1, tzinfo=UTC))
    assert run.state == "success"
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    doc = json.loads((tmp_path / "out" / "2026-Q3" / "summary.json").read_text())
    _check(doc, _truth(world, "quarter", "2026-Q3"), closed=True)
    # As of the interval's end plus the settle delay: every zone's quarter has ended.
    assert all(r["as_of"] == r["period_end"] for r in doc["slos"])
    assert doc["as_of"] == "2026-10-01T04:00:00Z"  # New York's quarter ends last
