"""The monthly report DAG end to end with dag.test(), against the real test Prometheus."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from tests.conftest import DEMO_SLOS, ROOT, TRUTH, true_counts

pytestmark = pytest.mark.integration
TARGETS = {"checkout-availability": 0.999, "checkout-latency": 0.99,
           "search-availability": 0.995, "search-latency": 0.95,
           "frontend-availability": 0.995, "frontend-latency": 0.99,
           "checkout-errors": 0.999, "checkout-latency-p95": 0.99,
           "frontend-latency-tiers-typical": 0.9, "frontend-latency-tiers-slowest": 0.995,
           "search-quality": 0.995, "enricher-consumer-lag": 0.99,
           "enricher-event-latency": 0.99, "enricher-throughput": 0.99}
# Journeys over the two checkout SLOs (one team's, so each team PDF still names only its
# team's SLOs), in a copy of slos/ the DAG reads.
JOURNEYS = """\
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: checkout-path}
spec:
  objective: {target: 0.99}
  steps:
    - {name: pay, slo: checkout-availability}
    - {name: pay-fast, slo: checkout-latency}
---
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: checkout-minutes}
spec:
  objective: {target: 0.95}
  budgetingMethod: Timeslices
  steps:
    - {name: pay, slo: checkout-availability}
    - {name: pay-fast, slo: checkout-latency}
"""


class SloTable(HTMLParser):
    """Collect the cells of each ``<tr data-slo=...>`` in the report's SLO table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._slo: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and dict(attrs).get("data-slo"):
            self._slo = dict(attrs)["data-slo"]
            self.rows[self._slo] = []
        elif tag == "td" and self._slo:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._slo and self._cell is not None:
            self.rows[self._slo].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._slo = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def expected_status(good: int, total: int, target: float) -> str:
    # SLO_MATH 4 at the end of the period (elapsed = 1): exhausted iff nothing remains.
    consumed = (total - good) / (round(1 - target, 12) * total)
    if 1 - consumed <= 0:
        return "exhausted"
    return "critical" if consumed > 2 else "warning" if consumed > 1.5 else \
        "attention" if consumed > 1 else "healthy"


@pytest.fixture(scope="module")
def dag_run(prometheus: str, airflow_db: Path,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    base = tmp_path_factory.mktemp("dagrun")
    shutil.copytree(ROOT / "slos", base / "slos")
    (base / "slos" / "journeys.yaml").write_text(JOURNEYS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(base / "slos"))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(base / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
            "slo_monthly_report")
        run = dag.test(logical_date=datetime(2026, 10, 1, tzinfo=UTC))
    return run, base


def test_run_succeeds_for_september(dag_run: tuple[Any, Path]) -> None:
    run, _ = dag_run
    assert run.state == "success"
    assert run.data_interval_start == datetime(2026, 9, 1, tzinfo=UTC)
    assert run.data_interval_end == datetime(2026, 10, 1, tzinfo=UTC)


def test_summary_json_matches_truth(dag_run: tuple[Any, Path], truth: pd.DataFrame) -> None:
    _, base = dag_run
    records = {r["slo"]: r for r in json.loads((base / "out/2026-09/summary.json").read_text())
               if r["slo"] in TRUTH}  # the pipeline SLOs are checked in test_pipelines.py
    assert set(records) == set(TRUTH)
    for name, r in records.items():
        good, total = true_counts(truth, name, "2026-09-01", "2026-10-01")
        assert (r["good"], r["total"]) == (good, total), name
        assert r["sli"] == pytest.approx(good / total, rel=1e-12)
        assert r["target"] == TARGETS[name]
        assert r["status"] == expected_status(good, total, TARGETS[name]), name
        assert r["coverage"] == 1.0 and r["period"] == "2026-09"
    # the demo's bad deploy must show: checkout availability overspent its budget
    assert records["checkout-availability"]["status"] == "exhausted"
    assert records["checkout-availability"]["budget_remaining"] < 0


def test_html_table_shows_the_computed_figures(dag_run: tuple[Any, Path]) -> None:
    _, base = dag_run
    records = {r["slo"]: r for r in json.loads((base / "out/2026-09/summary.json").read_text())}
    table = SloTable()
    table.feed((base / "out/2026-09/report.html").read_text())
    assert set(table.rows) == set(records)
    for name, cells in table.rows.items():
        r = records[name]
        # An objective's SLO names its objective and the SLO it is of, under its name.
        assert cells[1] == name + (f"objective {r['objective']} of {r['objective_of']}"
                                   if r.get("objective_of") else "")
        # An SLI read from a PromQL expression says so, with its bound, under the figure.
        assert cells[3] == f"{r['sli'] * 100:.4f} %" + (
            f"approximate, ±{r['sli_error_bound'] * 100:.2g} pp" if r["approximate"] else "")
        assert cells[4] == r["status"]
        # Time-based SLIs add the budget left as minutes under the share.
        assert cells[5].startswith(f"{r['budget_remaining'] * 100:.1f} %")


def _squeezed(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def test_pdf_lists_every_slo_and_renders(dag_run: tuple[Any, Path], tmp_path: Path) -> None:
    _, base = dag_run
    pdf = base / "out/2026-09/report.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    records = json.loads((base / "out/2026-09/summary.json").read_text())
    for r in records:
        assert r["slo"] in text
        assert f"{r['sli'] * 100:.4f} %" in text
    # The journeys' section, in the figures journeys.json gives (checked against the truth
    # in test_journeys_match_truth); compared without blanks and dashes, as the table's
    # narrow cells break names at their dashes.
    journeys = json.loads((base / "out/2026-09/journeys.json").read_text())
    plain = _squeezed(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                     text=True, check=True).stdout)
    assert "User journeys" in text and len(journeys) == 2
    for j in journeys:
        for shown in (j["journey"], f"{j['sli'] * 100:.4f} %",
                      f"{j['top_step']} ({j['top_step_share'] * 100:.1f} % of the bad)",
                      *(f"{s['step']} ({s['slo']}: {s['sli'] * 100:.4f} %)" for s in j["steps"])):
            assert _squeezed(shown) in plain, shown
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = sum(1 for p in page.getdata() if p < 128)
    assert dark > 0.005 * page.width * page.height  # text and table, not a blank page


def test_journeys_match_truth(dag_run: tuple[Any, Path], truth: pd.DataFrame) -> None:
    """The DAG's journeys against the generator's minutes: the events journey is the product
    of its steps' SLIs, the slice journey counts the 5-minute slices in which both steps met
    their targets (compared in integers)."""
    _, base = dag_run
    month = base / "out/2026-09"
    got = {j["journey"]: j for j in json.loads((month / "journeys.json").read_text())}
    with (month / "journeys.csv").open() as fh:
        assert {r["journey"]: float(r["sli"]) for r in csv.DictReader(fh)} == \
            {n: j["sli"] for n, j in got.items()}
    t = truth[(truth.service == "checkout") & (truth.ts >= "2026-09-01")
              & (truth.ts < "2026-10-01")].sort_values("ts")
    assert len(t) == 30 * 1440
    ok, fast, n = (t.requests - t.errors).sum(), t.le_0_3.sum(), t.requests.sum()
    sli = Fraction(int(ok), int(n)) * Fraction(int(fast), int(n))
    events = got["checkout-path"]
    assert events["total"] == n and events["sli"] == pytest.approx(float(sli), rel=1e-12)
    assert events["met"] is (sli >= Fraction(99, 100)) and events["period"] == "2026-09"
    five = [a.to_numpy().reshape(-1, 5).sum(axis=1)
            for a in (t.requests - t.errors, t.le_0_3, t.requests)]
    bad_pay = five[0] * 1000 < 999 * five[2]
    bad_fast = five[1] * 100 < 99 * five[2]
    counted = int((five[2] > 0).sum())
    good = int(((five[2] > 0) & ~bad_pay & ~bad_fast).sum())
    slices = got["checkout-minutes"]
    assert (slices["good"], slices["total"]) == (good, counted) and counted == 30 * 288
    assert slices["met"] is (Fraction(good, counted) >= Fraction(95, 100))
    shares = {s["step"]: s["bad_slices"] for s in slices["steps"]}
    both = bad_pay & bad_fast
    assert shares["pay"] == pytest.approx((bad_pay & ~both).sum() + both.sum() / 2)
    assert shares["pay-fast"] == pytest.approx((bad_fast & ~both).sum() + both.sum() / 2)
    html = " ".join((month / "report.html").read_text().split())
    assert 'data-journey="checkout-minutes"' in html


def test_each_team_gets_a_pdf_of_its_slos(dag_run: tuple[Any, Path]) -> None:
    """The render task writes report-team-<team>.pdf per team label of slos/, each holding
    that team's SLOs and no other (every demo SLO name is part of no other)."""
    from slo_jobs.spec import catalog

    _, base = dag_run
    owners: dict[str, set[str]] = {}
    for s in catalog.load([ROOT / "slos"]):
        owners.setdefault(str(s.team), set()).add(s.name)
    month = base / "out/2026-09"
    assert sorted(p.name for p in month.glob("report-team-*.pdf")) == sorted(
        f"report-team-{team}.pdf" for team in owners)
    every = set().union(*owners.values())
    for team, names in owners.items():
        text = subprocess.run(["pdftotext", str(month / f"report-team-{team}.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert {n for n in every if n in text} == names, team


def test_lake_layout(dag_run: tuple[Any, Path]) -> None:
    _, base = dag_run
    lake = base / "lake"
    parts = sorted(lake.glob("sli/slo=*/date=*/part-0.parquet"))
    days = sorted({p.parent.name for p in parts})
    # the month, plus the 3 days before it that burn rates at its start look back on
    assert days == [f"date=2026-08-{d}" for d in (29, 30, 31)] + [
        f"date=2026-09-{d:02d}" for d in range(1, 31)]
    assert len(parts) == DEMO_SLOS * (3 + 30)
    assert (lake / "monthly/month=2026-09/summary.parquet").exists()
    assert not list(lake.rglob(".tmp-*"))


def test_report_answers_a_service_owner(dag_run: tuple[Any, Path]) -> None:
    # Did we meet our SLOs, how much budget is left, what burned it, what should we do?
    _, base = dag_run
    html = (base / "out/2026-09/report.html").read_text()
    text = " ".join(html.split())
    assert "checkout missed 2 of 4 SLOs; checkout-availability spent 130 % of its error budget" \
        in text
    assert "Error budget exhausted: freeze high-risk releases" in text
    assert "Postmortem for the incident starting 2026-09-17 10:" in text
    assert "<td>2026-09-17 10:" in text  # the bad deploy is in the incident list
    assert '<table class="release" data-release="checkout">' in text
    assert '<tr data-risk="low"><td>low</td><td><b>block</b></td>' in text
    incidents = (base / "out/2026-09/incidents.csv").read_text().splitlines()
    assert incidents[0].startswith("period,slo,service,start,end")
    # ISO 8601 in UTC, as spreadsheets read it
    assert any(",checkout-availability,checkout,2026-09-17T10:" in line for line in incidents)


def test_sharded_run_publishes_what_one_computation_gives(
        dag_run: tuple[Any, Path], prometheus: str,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    # The same month through the DAG in shards of 2 SLOs, and computed at once as the CLI
    # does, each from a copy of the extracted lake: the same tables and summary.json.
    import pyarrow.parquet as pq

    from slo_jobs.core import periods
    from slo_jobs.decisions import teams
    from slo_jobs.report import monthly as report
    from slo_jobs.run import runner
    from slo_jobs.spec import catalog

    _, first = dag_run
    base = tmp_path_factory.mktemp("sharded")
    for name in ("sharded", "whole"):
        shutil.copytree(first / "lake", base / name / "lake",
                        ignore=shutil.ignore_patterns("monthly", ".locks"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(ROOT / "slos"))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "sharded" / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(base / "sharded" / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
            "slo_monthly_report")
        run = dag.test(logical_date=datetime(2026, 10, 1, tzinfo=UTC),
                       run_conf={"shard_size": 2, "missing_days": "fail"})
    assert run.state == "success"
    slos, journeys = catalog.load_with_journeys([ROOT / "slos"])
    shards = [ti for ti in run.get_task_instances() if ti.task_id == "compute_shard"]
    assert sorted(ti.map_index for ti in shards) == list(range(-(-len(slos) // 2)))
    whole = base / "whole"
    sep = periods.month("2026-09")
    runner.compute_month(whole / "lake", slos, sep, teams=teams.load_for([ROOT / "slos"]),
                         journeys=journeys)
    report.render(whole / "lake", sep, whole / "out", source=prometheus,
                  generated_at=datetime(2026, 10, 2, tzinfo=UTC), formats=["json"])
    expected = json.loads((whole / "out/2026-09/summary.json").read_text())
    assert json.loads((base / "sharded/out/2026-09/summary.json").read_text()) == expected
    assert len(expected) == len(slos)
    month = Path("monthly/month=2026-09")
    tables = sorted(p.name for p in (whole / "lake" / month).glob("*.parquet"))
    assert sorted(p.name for p in (base / "sharded/lake" / month).glob("*.parquet")) == tables
    for name in tables:
        assert pq.read_table(base / "sharded/lake" / month / name).equals(
            pq.read_table(whole / "lake" / month / name)), name
    assert not (base / "sharded/lake/monthly/.shards").exists()
    pipelines = pq.read_table(whole / "lake" / month / "pipelines.parquet").to_pylist()
    assert any(r["runs"] for r in pipelines)  # the pipeline details were there to read
