"""User journeys: a generated month of per-minute events for three steps (with an outage, a
planned window and a sparse step), computed and rendered by ``slo-jobs compute`` and
``slo-jobs report``, against the journey figures derived here from the generated counts with
exact fractions; a journey over rolling-window SLOs judged on that window; a month whose
journeys are gone keeps no journey file; and a bad journey is one line."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from slo_jobs import lake, rules
from slo_jobs.compute.journey import log_shares
from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests.clirun import slo_jobs, slo_jobs_outside
from tests.conftest import ROOT
from tests.lakeutil import utc

SEP = periods.month("2026-09")
MINUTES = 30 * 1440
SLOS = {"search": 0.995, "cart": 0.99, "pay": 0.999, "rare": 0.99}
# The same events as search and pay (without pay's planned window), judged on 28 days.
ROLLING = {"search-rolling": "search", "pay-rolling": "pay"}
ROLLING_WINDOW = "  window: {rolling: 28d}\n"
AS_OF = "2026-10-01T00:00Z"


def _slo(name: str, target: float, extra: str = "") -> str:
    return f"""\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: shop
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{service="{name}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{service="{name}"}}'}}
  objective: {{target: {target}}}
{extra}---
"""


MAINTENANCE = """\
  maintenance:
    windows:
      - {start: '2026-09-12T02:00:00Z', end: '2026-09-12T03:00:00Z'}
"""
JOURNEYS = """\
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: purchase}
spec:
  description: Find a product, then pay.
  objective: {target: 0.99}
  steps:
    - {name: find, slo: search}
    - {name: basket, slo: cart, critical: false}
    - {name: checkout, slo: pay}
---
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: purchase-slices}
spec:
  objective: {target: 0.9}
  budgetingMethod: Timeslices
  timeSliceWindow: 5m
  steps:
    - {name: find, slo: search}
    - {name: checkout, slo: pay}
---
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: rare-path}
spec:
  objective: {target: 0.99}
  steps:
    - {name: find, slo: search}
    - {name: rare, slo: rare}
---
apiVersion: slo-jobs/v1
kind: Journey
metadata: {name: purchase-rolling}
spec:
  objective: {target: 0.99}
  steps:
    - {name: find, slo: search-rolling}
    - {name: checkout, slo: pay-rolling}
"""


def _generate(seed: int) -> dict[str, tuple[list[int], list[int]]]:
    """Per SLO and minute of September: (good, total) events. An outage of ``pay`` on the
    20th (40 % failing for 90 minutes), a slow afternoon of ``search`` on the 5th; ``rare``
    has one request every twelve hours, one of them failing."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in (("search", 0.002), ("cart", 0.004), ("pay", 0.0003)):
        total = rng.integers(40, 160, MINUTES)
        fail = np.full(MINUTES, p)
        if name == "pay":
            fail[19 * 1440 + 600:19 * 1440 + 690] = 0.4
        if name == "search":
            fail[4 * 1440 + 780:4 * 1440 + 960] = 0.03
        bad = rng.binomial(total, fail)
        out[name] = ([int(x) for x in total - bad], [int(x) for x in total])
    total = [1 if m % 720 == 0 else 0 for m in range(MINUTES)]
    good = [0 if m == 720 * 7 else t for m, t in enumerate(total)]
    out["rare"] = (good, total)
    return out


def _write(lake_dir: Path, name: str, good: list[int], total: list[int]) -> None:
    for d in range(30):
        day = (SEP.start + timedelta(days=d)).date()
        at = slice(d * 1440, (d + 1) * 1440)
        g, t = np.array(good[at], float), np.array(total[at], float)
        lake.write_atomic(pa.table({
            "ts": [SEP.start + timedelta(minutes=d * 1440 + i) for i in range(1440)],
            "good": g, "total": t, "clipped": np.zeros(1440, bool),
            "has_data": np.ones(1440, bool), "step_s": np.full(1440, 60, np.int32)},
            schema=lake.SLI_SCHEMA), lake.sli_partition(lake_dir, name, day))


def _catalog() -> str:
    return "".join([*(_slo(n, t, MAINTENANCE if n == "pay" else "") for n, t in SLOS.items()),
                    *(_slo(n, SLOS[of], ROLLING_WINDOW) for n, of in ROLLING.items())])


def _compute_and_report(base: Path, slos: Path, formats: str = "html,json,csv") -> None:
    """The month through the command line, as a user runs it."""
    for args in (("compute", "--slos", str(slos)), ("report", "--out", str(base / "out"),
                                                    "--format", formats)):
        code, _, err = slo_jobs_outside(args[0], "--month", "2026-09", "--lake",
                                        str(base / "lake"), "--as-of", AS_OF, *args[1:])
        assert code == 0, err


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    base = tmp_path_factory.mktemp("journeys")
    (base / "slos").mkdir()
    (base / "slos" / "shop.yaml").write_text(_catalog())
    (base / "slos" / "journeys.yaml").write_text(JOURNEYS)
    truth = _generate(28)
    for name, (good, total) in truth.items():
        _write(base / "lake", name, good, total)
    for name, of in ROLLING.items():
        _write(base / "lake", name, *truth[of])
        truth[name] = truth[of]
    _compute_and_report(base, base / "slos")
    got = {r["journey"]: r for r in pq.read_table(
        base / "lake" / "monthly" / "month=2026-09" / "journeys.parquet").to_pylist()}
    # The planned window (02:00 to 03:00 on the 12th) leaves pay's 60 minutes out.
    planned = range(11 * 1440 + 120, 11 * 1440 + 180)
    good, total = truth["pay"]
    truth["pay"] = ([0 if m in planned else g for m, g in enumerate(good)],
                    [0 if m in planned else t for m, t in enumerate(total)])
    return base, {"rows": got, "truth": truth}


def _ratio(counts: tuple[list[int], list[int]]) -> Fraction:
    return Fraction(sum(counts[0]), sum(counts[1]))


def test_the_events_journey_is_the_product_of_its_critical_steps(
        month: tuple[Path, dict[str, object]]) -> None:
    _, data = month
    row, truth = data["rows"]["purchase"], data["truth"]  # type: ignore[index]
    search, pay, cart = _ratio(truth["search"]), _ratio(truth["pay"]), _ratio(truth["cart"])
    sli = search * pay  # the basket step is not critical
    n = min(sum(truth["search"][1]), sum(truth["pay"][1]))
    assert row["sli"] == pytest.approx(float(sli), rel=1e-12)
    assert row["total"] == n and row["good"] == pytest.approx(float(sli * n), rel=1e-12)
    consumed = (1 - sli) / Fraction(1, 100)
    assert row["budget_consumed"] == pytest.approx(float(consumed), rel=1e-9)
    assert row["budget_remaining"] == pytest.approx(float(1 - consumed), rel=1e-9)
    assert row["met"] is (sli >= Fraction(99, 100)) and row["outlook"] is None
    expected_status = ("exhausted" if consumed >= 1 else "critical" if consumed > 2 else
                       "warning" if consumed > 1.5 else "attention" if consumed > 1 else "healthy")
    assert row["status"] == expected_status
    steps = {s["step"]: s for s in row["steps"]}
    assert steps["basket"]["sli"] == pytest.approx(float(cart), rel=1e-12)
    assert steps["basket"]["bad_share"] is None and not steps["basket"]["critical"]
    logs = {"find": -math.log(search), "checkout": -math.log(pay)}
    for name, x in logs.items():
        assert steps[name]["bad_share"] == pytest.approx(x / sum(logs.values()), rel=1e-9)
        assert steps[name]["budget_share"] == pytest.approx(
            x / sum(logs.values()) * float(consumed), rel=1e-9)
    assert row["top_step"] == max(logs, key=lambda k: logs[k])
    assert row["top_step_share"] == pytest.approx(max(logs.values()) / sum(logs.values()))


def test_the_slice_journey_counts_slices_where_every_critical_step_was_good(
        month: tuple[Path, dict[str, object]]) -> None:
    _, data = month
    row, truth = data["rows"]["purchase-slices"], data["truth"]  # type: ignore[index]
    good = counted = 0
    bad_of = {"find": Fraction(0), "checkout": Fraction(0)}
    for k in range(0, MINUTES, 5):
        bad = []
        seen = False
        for step, slo in (("find", "search"), ("checkout", "pay")):
            g, t = sum(truth[slo][0][k:k + 5]), sum(truth[slo][1][k:k + 5])
            seen |= t > 0
            if t and Fraction(g, t) < Fraction(str(SLOS[slo])):
                bad.append(step)
        counted += seen
        good += seen and not bad
        for step in bad:
            bad_of[step] += Fraction(1, len(bad))
    assert (row["good"], row["total"]) == (good, counted)
    assert row["sli"] == pytest.approx(good / counted, rel=1e-12)
    # pay's planned hour has no events: its slices are judged by search alone
    assert row["no_data_slices"] == MINUTES // 5 - counted == 0
    assert row["budget_consumed"] == pytest.approx((counted - good) / (0.1 * counted))
    assert row["met"] is (Fraction(good, counted) >= Fraction(9, 10))
    steps = {s["step"]: s for s in row["steps"]}
    for step, x in bad_of.items():
        assert steps[step]["bad_slices"] == pytest.approx(float(x))
        assert steps[step]["bad_share"] == pytest.approx(float(x) / (counted - good))
    assert row["top_step"] == max(bad_of, key=lambda k: bad_of[k])


def test_a_journey_with_a_sparse_critical_step_is_not_judged(
        month: tuple[Path, dict[str, object]]) -> None:
    _, data = month
    row = data["rows"]["rare-path"]  # type: ignore[index]
    # Counted over its thinnest critical step: 60 requests, where a 99 % target needs 101
    # for one failure to spend less than the whole budget. Figures shown, not judged.
    assert row["total"] == 60 and row["status"] == "too few events"
    assert row["met"] is None and row["outlook"] is None
    search = _ratio(data["truth"]["search"])  # type: ignore[index]
    assert row["sli"] == pytest.approx(float(search * Fraction(59, 60)), rel=1e-12)


def test_a_running_month_is_neither_met_nor_missed(
        month: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    base, data = month
    slos, journeys = catalog.load_with_journeys([base / "slos"])
    runner.compute_month(base / "lake", slos, SEP, as_of=utc(2026, 9, 20), journeys=journeys)
    got = {r["journey"]: r for r in pq.read_table(
        base / "lake" / "monthly" / "month=2026-09" / "journeys.parquet").to_pylist()}
    truth = data["truth"]  # type: ignore[index]
    upto = 19 * 1440
    search = Fraction(sum(truth["search"][0][:upto]), sum(truth["search"][1][:upto]))
    pay = Fraction(sum(truth["pay"][0][:upto]), sum(truth["pay"][1][:upto]))
    row = got["purchase"]
    assert row["sli"] == pytest.approx(float(search * pay), rel=1e-12)
    assert row["met"] is None and row["estimated"] and row["outlook"] in ("on track", "at risk")
    consumed_to_date = (1 - search * pay) / Fraction(1, 100)
    assert row["budget_consumed"] == pytest.approx(float(consumed_to_date * Fraction(19, 30)))
    runner.compute_month(base / "lake", slos, SEP, journeys=journeys)  # the month again


def test_a_journey_of_rolling_window_steps_is_judged_on_that_window(
        month: tuple[Path, dict[str, object]]) -> None:
    base, data = month
    row, truth = data["rows"]["purchase-rolling"], data["truth"]  # type: ignore[index]
    first = 2 * 1440  # 28 days to October 1st: from September 3rd
    search, pay = (Fraction(sum(truth[n][0][first:]), sum(truth[n][1][first:]))
                   for n in ROLLING)
    sli = search * pay
    assert (row["period_start"], row["period_end"]) == (utc(2026, 9, 3), utc(2026, 10, 1))
    assert row["window"] == "rolling-28d@2026-10-01T00:00Z" and row["own_window"] is True
    assert row["sli"] == pytest.approx(float(sli), rel=1e-12)
    assert row["total"] == min(sum(truth[n][1][first:]) for n in ROLLING)
    consumed = (1 - sli) / Fraction(1, 100)
    assert row["budget_consumed"] == pytest.approx(float(consumed), rel=1e-9)
    assert row["met"] is (sli >= Fraction(99, 100)) and row["estimated"] is False
    # Each step as its own SLO is judged: on the same window, to the same figures.
    folder = base / "out" / "2026-09"
    records = {r["slo"]: r for r in json.loads((folder / "summary.json").read_text())}
    steps = {s["slo"]: s for s in row["steps"]}
    for name, step_sli in zip(ROLLING, (search, pay), strict=True):
        assert records[name]["window"] == row["window"]
        assert records[name]["sli"] == pytest.approx(float(step_sli), rel=1e-12)
        assert steps[name]["sli"] == pytest.approx(float(step_sli), rel=1e-12)
    full = {j["journey"]: j for j in json.loads((folder / "journeys.json").read_text())}
    assert full["purchase-rolling"]["window"] == row["window"]
    assert full["purchase"]["window"] == "2026-09" and full["purchase"]["own_window"] is False
    html = " ".join((folder / "report.html").read_text().split())
    assert f'<span class="window">on {row["window"]}, its steps' in html


def test_a_month_whose_journeys_are_gone_keeps_no_journey_file(
        month: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    base, _ = month
    for name in ("lake", "out"):
        shutil.copytree(base / name, tmp_path / name)
    folder = tmp_path / "out" / "2026-09"
    assert {"journeys.csv", "journeys.json"} <= {p.name for p in folder.iterdir()}
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "shop.yaml").write_text(_catalog())  # the SLOs without journeys
    _compute_and_report(tmp_path, tmp_path / "slos")
    assert not list(folder.glob("journeys*"))
    assert pq.read_table(tmp_path / "lake/monthly/month=2026-09/journeys.parquet").num_rows == 0
    records = json.loads((folder / "summary.json").read_text())
    assert len(records) == len(SLOS) + len(ROLLING)
    assert all(r["journeys"] == [] for r in records)
    assert 'id="journeys"' not in (folder / "report.html").read_text()


def test_validate_counts_the_journeys(month: tuple[Path, dict[str, object]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = month
    code, out, err = slo_jobs(capsys, "validate", str(base / "slos"))
    assert code == 0, err
    assert out == (f"ok: {len(SLOS) + len(ROLLING)} SLOs and {JOURNEYS.count('kind: Journey')} "
                   "journeys in 2 files valid\n")
    # The demo's journeys in slos/, and the worked example over the SLO files it refers to,
    # as its header says to check it.
    example = ROOT / "docs" / "examples" / "journeys.yaml"
    demo = ROOT / "slos" / "journeys.yaml"
    code, out, err = slo_jobs(capsys, "validate", str(ROOT / "slos"))
    assert code == 0, err
    assert out == (f"ok: {len(catalog.load([ROOT / 'slos']))} SLOs and "
                   f"{demo.read_text().count('kind: Journey')} journeys in "
                   f"{len(catalog.yaml_files([ROOT / 'slos']))} files valid\n")
    files = [ROOT / "slos" / f"{s}.yaml" for s in ("checkout", "search", "frontend")]
    code, out, err = slo_jobs(capsys, "validate", *map(str, files), str(example))
    assert code == 0, err
    assert out == (f"ok: {len(catalog.load(files))} SLOs and "
                   f"{example.read_text().count('kind: Journey')} journeys in 4 files valid\n")


def test_the_report_summary_json_and_csv_carry_the_journeys(
        month: tuple[Path, dict[str, object]]) -> None:
    base, data = month
    rows = data["rows"]  # type: ignore[index]
    folder = base / "out" / "2026-09"
    # The product of the critical steps' SLIs, derived here, in each file of the report.
    truth = data["truth"]  # type: ignore[index]
    sli = float(_ratio(truth["search"]) * _ratio(truth["pay"]))
    full = {j["journey"]: j for j in json.loads((folder / "journeys.json").read_text())}
    assert full["purchase"]["sli"] == pytest.approx(sli, rel=1e-12)
    html = " ".join((folder / "report.html").read_text().split())
    assert f'<td class="num">{sli * 100:.4f} %</td>' in html.split(
        'data-journey="purchase"')[1].split("</tr>")[0]
    records = {r["slo"]: r for r in json.loads((folder / "summary.json").read_text())}
    assert [j["journey"] for j in records["pay"]["journeys"]] == ["purchase", "purchase-slices"]
    assert records["cart"]["journeys"][0]["critical"] is False
    assert records["pay"]["journeys"][0]["journey_sli"] == rows["purchase"]["sli"]
    with (folder / "journeys.csv").open() as fh:
        table = {r["journey"]: r for r in csv.DictReader(fh)}
    assert set(table) == set(rows)
    assert float(table["purchase"]["sli"]) == rows["purchase"]["sli"]
    assert table["purchase"]["steps"] == "find > basket > checkout"
    assert table["purchase"]["critical_steps"] == "find > checkout"
    assert table["purchase"]["met"] == str(rows["purchase"]["met"]).lower()
    assert float(table["purchase"]["sli"]) == pytest.approx(sli, rel=1e-12)
    assert full["purchase-slices"]["top_step"] == rows["purchase-slices"]["top_step"]
    assert '<section id="journeys">' in html and 'data-journey="purchase-slices"' in html
    top = rows["purchase"]["top_step"]
    assert f'<span class="name">{top}</span> (' in html


@pytest.mark.parametrize("change, expected", [
    ("slo: pay}", "spec.steps[2].slo: 'payment' is not an SLO of the catalog"),
    ("name: basket,", "spec.steps[1].name: 'find' is already the name of spec.steps[0]"),
    ("target: 0.99}", "spec.objective.target: 1.5; expected a share of good journeys above 0"),
    ("slo: search}", "spec.steps: SLOs with the windows calendar month, rolling 28d; expected "
                     "steps whose SLOs share one spec.window"),
])
def test_a_bad_journey_is_one_line(tmp_path: Path, change: str, expected: str) -> None:
    path = tmp_path / "shop.yaml"
    bad = {"slo: pay}": "slo: payment}", "name: basket,": "name: find,",
           "target: 0.99}": "target: 1.5}", "slo: search}": "slo: search-rolling}"}[change]
    journey = JOURNEYS.split("---")[0].replace(change, bad, 1)
    path.write_text(_catalog() + journey)
    _, problems, _ = catalog.load_all([path])
    (line,) = problems
    assert line.startswith(f"{path}:") and expected in line, line
    with pytest.raises(SpecError, match="expected"):
        catalog.load_with_journeys([path])
    assert len(catalog.load([path])) == len(SLOS) + len(ROLLING)  # the SLOs alone still load


def _counter_slo(name: str) -> str:
    return _slo(name, 0.99).replace("service: shop", f"service: {name}")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_the_recording_rule_is_the_product_of_the_steps_ratios(tmp_path: Path) -> None:
    # search fails 10 of 1,000 requests a minute, pay 5 of 1,000: over any window the journey
    # passes (1 - 10/1000) x (1 - 5/1000), as Prometheus evaluates it from the counters.
    (tmp_path / "slos.yaml").write_text(_counter_slo("search") + _counter_slo("pay")
                                        + JOURNEYS.split("---")[1].lstrip("\n") + "---\n"
                                        + JOURNEYS.split("---")[0].replace(
                                            "    - {name: basket, slo: cart, critical: false}\n",
                                            ""))
    slos, journeys = catalog.load_with_journeys([tmp_path / "slos.yaml"])
    out = rules.write(slos, tmp_path / "rules.yaml", utc(2026, 10, 1), journeys)
    text = out.read_text()
    assert "# No rule for journey purchase-slices: a time-slice journey" in text
    assert "&id" not in text  # plain YAML, as the rest of the file
    series = [{"series": f'http_requests_total{{service="{s}",code="{c}"}}',
               "values": f"0+{n}x120"}
              for s, bad in (("search", 10), ("pay", 5)) for c, n in (("200", 1000 - bad),
                                                                     ("500", bad))]
    expected = (1 - 10 / 1000) * (1 - 5 / 1000)
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({
        "rule_files": [out.name], "evaluation_interval": "1m", "tests": [{
            "interval": "1m", "input_series": series, "promql_expr_test": [
                {"expr": f'{record}{{journey="purchase"}}', "eval_time": "90m",
                 "exp_samples": [{"labels": f'{record}{{journey="purchase"}}',
                                  "value": expected}]}
                for record in ("slo:journey_sli:ratio_rate5m", "slo:journey_sli:ratio_rate1h")]}]}))
    done = subprocess.run(["promtool", "test", "rules", str(tmp_path / "tests.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_values_of_slo_math() -> None:
    # docs/slo-math.md, "User journeys": 99.9 %, 99.5 % and 99.0 % against a 98 % target.
    slis = [0.999, 0.995, 0.99]
    sli = math.prod(slis)
    assert round(sli, 5) == 0.98406 and round((1 - sli) / 0.02, 3) == 0.797
    assert [round(s, 3) for s in log_shares(slis)] == [0.062, 0.312, 0.626]
    assert log_shares([0.9, 0.0, 0.0]) == [0.0, 0.5, 0.5] and log_shares([1.0, None]) == [None] * 2
    assert log_shares([1.0, 1.0]) == [None, None]  # nothing bad: no step spent anything
