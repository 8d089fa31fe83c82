"""``spec.breakdown`` without Prometheus: bad definitions are one line each, and the month's
attribution is computed from a hand-made lake (maintenance windows, the as-of, days without
a breakdown or with one of an earlier definition) as derived by hand below."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slo_jobs import lake
from slo_jobs.core import periods
from slo_jobs.report import monthly as report
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from slo_jobs.spec.model import _hash
from tests.lakeutil import utc, write_buckets

SEP = periods.month("2026-09")
SPEC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: pay}
spec:
  service: pay
  indicator:
    ratio:
      good:  {selector: 'http_requests_total{service="pay",code!~"5.."}'}
      total: {selector: 'http_requests_total{service="pay"}'}
  objective: {target: 0.99}
  breakdown: [code, route]
  maintenance:
    countAs: excluded
    windows:
      - {start: '2026-09-10T10:00:00Z', end: '2026-09-10T10:30:30Z'}
---
apiVersion: slo-jobs/v1
kind: MaintenanceWindows
metadata: {name: pay-drills}
spec:
  service: pay
  countAs: good
  windows:
    - {start: '2026-09-11T00:00:00Z', end: '2026-09-11T01:00:00Z'}
"""
# Per minute: (code, route) -> (bad, total); 3 bad of 100 in all.
GROUPS = {("503", "/cart"): (2.0, 30.0), ("500", "/pay"): (1.0, 10.0),
          ("200", "/pay"): (0.0, 60.0)}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("field, expected", [
    ("breakdown: [code, 2xx]", "spec.breakdown: [\"code\", \"2xx\"]; '2xx' is not a "
                               "Prometheus label name"),
    ("breakdown: [a, b, c, d]", "spec.breakdown: [\"a\", \"b\", \"c\", \"d\"]; expected 1 to 3 "
                                "label names"),
    ("breakdown: []", "spec.breakdown: []; expected 1 to 3 label names"),
    ("breakdown: [code, code]", "expected each label once"),
    ("breakdown: [__name__]", "'__name__' is not a Prometheus label name"),
    ("breakdown: [le]", "'le' is a histogram bucket's bound"),
    ("breakdown: code", "spec.breakdown: 'code'; input should be a valid list"),
])
def test_a_bad_breakdown_is_one_line(tmp_path: Path, field: str, expected: str) -> None:
    path = tmp_path / "pay.yaml"
    path.write_text(SPEC.split("  breakdown:")[0] + f"  {field}\n")  # line 11
    done = _cli("validate", str(path))
    assert done.returncode != 0
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{path}:11: ") and expected in line, line


@pytest.mark.parametrize("indicator, method, found", [
    ("threshold: {query: 'up{job=\"pay\"}', op: gte, value: 1}", "Timeslices",
     "on a threshold indicator"),
    ("ratio:\n      good: {selector: 'a_total'}\n"
     "      total: {expr: 'sum(increase(b_total[{{.window}}]))'}", "Occurrences",
     "on a ratio 'expr' indicator"),
    ("ratio: {raw: 'avg(x)', rawType: success}", "RatioTimeslices", "on a raw ratio indicator"),
    ("ratio:\n      good: {selector: 'a_total'}\n      total: {selector: 'b_total'}",
     "Timeslices", "with budgetingMethod Timeslices"),
])
def test_a_breakdown_on_other_indicators_is_refused(tmp_path: Path, indicator: str,
                                                    method: str, found: str) -> None:
    slices = "" if method == "Occurrences" else (
        ", timeSliceWindow: 1m" + (", timeSliceTarget: 0.9" if method == "Timeslices" else ""))
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\n"
                    "metadata: {name: x}\nspec:\n  service: x\n  indicator:\n"
                    f"    {indicator}\n  objective: {{target: 0.99{slices}}}\n"
                    f"  budgetingMethod: {method}\n  breakdown: [code]\n")
    done = _cli("validate", str(path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{path}:") and f"spec.breakdown: [code] {found}; expected it " \
        "only on a ratio" in line, line


def test_the_spec_hash_changes_only_with_a_breakdown(tmp_path: Path) -> None:
    path = tmp_path / "pay.yaml"
    path.write_text(SPEC)
    (slo,) = catalog.load([path])
    path.write_text(SPEC.replace("  breakdown: [code, route]\n", ""))
    (plain,) = catalog.load([path])
    assert plain.breakdown == () and slo.breakdown == ("code", "route")
    assert slo.spec_hash != plain.spec_hash
    assert _hash(replace(slo, breakdown=())) == plain.spec_hash


def _breakdown(labels: list[str], groups: dict[tuple[str, ...], tuple[float, float]],
               day: periods.date) -> pa.Table:
    first = utc(day.year, day.month, day.day)
    ts, values, bad, total = [], [], [], []
    for m in range(1440):
        for g, (b, t) in groups.items():
            ts.append(first + timedelta(minutes=m))
            values.append(list(g))
            bad.append(b)
            total.append(t)
    return pa.table({"ts": ts, "labels": [labels] * len(ts), "values": values, "bad": bad,
                     "total": total}, schema=lake.BREAKDOWN_SCHEMA)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    base = tmp_path_factory.mktemp("breakdown-month")
    (base / "pay.yaml").write_text(SPEC)
    (slo,) = catalog.load([base / "pay.yaml"])
    for d in range(19):
        day = (SEP.start + timedelta(days=d)).date()
        write_buckets(base / "lake", "pay", SEP.start + timedelta(days=d), [(97.0, 100.0)] * 1440)
        if d == 4:  # 5 September: extracted before the breakdown was defined
            continue
        table = (_breakdown(["code"], {("503",): (3.0, 100.0)}, day) if d == 5 else
                 _breakdown(["code", "route"], GROUPS, day))
        lake.write_atomic(table, lake.detail_partition(base / "lake", "breakdown", "pay", day))
    (row,) = runner.compute_month(base / "lake", [slo], SEP, as_of=utc(2026, 9, 20))
    return base, row


def test_the_month_is_attributed_as_derived_by_hand(
        month: tuple[Path, dict[str, object]]) -> None:
    base, row = month
    got = {tuple(r["values"]): r for r in pq.read_table(
        base / "lake" / "monthly" / "month=2026-09" / "breakdown.parquet").to_pylist()}
    # 1-19 September (the as-of), less 31 excluded minutes (10:00 to 10:30:30 touches the
    # 10:30 minute) and the two days without this breakdown; the 60 minutes counted good keep
    # their total but no bad events.
    counted = 19 * 1440 - 31 - 2 * 1440
    with_bad = counted - 60
    assert set(got) == set(GROUPS)
    allowed = row["allowed_bad"]
    assert allowed == pytest.approx(0.01 * (19 * 1440 - 31) * 100 * 30 / 19, rel=1e-12)
    for g, (bad, total) in GROUPS.items():
        r = got[g]
        assert (r["bad"], r["total"]) == (bad * with_bad, total * counted)
        assert r["bad_share"] == pytest.approx(bad * with_bad / row["bad"], rel=1e-12)
        assert r["budget_share"] == pytest.approx(bad * with_bad / allowed, rel=1e-12)
        assert (r["days"], r["days_missing"]) == (19, 2)
        assert r["group"] == f'code="{g[0]}", route="{g[1]}"'
    # The month's own figures, by the compute stage's maintenance arithmetic.
    assert row["bad"] == 3 * (19 * 1440 - 31 - 60)
    assert [got[g]["rank"] for g in GROUPS] == [1, 2, 3]


def test_the_report_and_summary_json_show_it(month: tuple[Path, dict[str, object]]) -> None:
    base, row = month
    report.render(base / "lake", SEP, base / "out", source="test", formats=("html", "json"),
                  generated_at=utc(2026, 9, 20))
    (record,) = json.loads((base / "out" / "2026-09" / "summary.json").read_text())
    b = record["breakdown"]
    assert b["labels"] == ["code", "route"] and (b["days"], b["days_missing"]) == (19, 2)
    assert [g["values"] for g in b["groups"]] == [list(g) for g in GROUPS]
    html = " ".join((base / "out" / "2026-09" / "report.html").read_text().split())
    counted = 19 * 1440 - 31 - 2 * 1440
    attributed = 3 * (counted - 60)
    assert (f"{attributed:,} of the month's {3 * (19 * 1440 - 91):,} bad events attributed to "
            "3 label values; 2 of 19 days have no breakdown") in html
    assert "<svg" in html and 'aria-label="Error budget spent by code, route"' in html


def test_a_sharded_month_publishes_the_same_breakdown(
        month: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    import shutil

    from slo_jobs.compute import shards

    base, _ = month
    (slo,) = catalog.load([base / "pay.yaml"])
    lake_dir = tmp_path / "lake"
    shutil.copytree(base / "lake", lake_dir, ignore=shutil.ignore_patterns("monthly"))
    shards.compute_shard(lake_dir, shards.members([slo], 0, 1), SEP, 0, 1,
                         as_of=utc(2026, 9, 20))
    runner.merge_shards(lake_dir, [slo], SEP, [0])
    name = "monthly/month=2026-09/breakdown.parquet"
    expected = pq.read_table(base / "lake" / name)
    assert expected.num_rows > 0
    assert pq.read_table(lake_dir / name).equals(expected)
