"""An SLI read from a windowed PromQL expression is marked approximate, with its measured
error bound, wherever its figures appear: summary, summary.json, CSV, HTML report, the CLI
table. The bound itself is measured in tests/realdata/test_extract_real.py."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_jobs import spec
from slo_jobs.core import periods
from slo_jobs.report import monthly as report
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests.conftest import ROOT
from tests.lakeutil import write_buckets

SPEC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: shop
  indicator:
    ratio:
      good:  {{{good}: '{good_q}'}}
      total: {{{total}: '{total_q}'}}
  objective: {{target: 0.99}}
  window: {{calendar: month}}
"""
EXPR = 'sum(increase(http_requests_total{{job="shop"{extra}}}[{{{{.window}}}}]))'
SEL = 'http_requests_total{{job="shop"{extra}}}'


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    folder = tmp_path_factory.mktemp("approx")
    good_expr = EXPR.format(extra=',code!~"5.."')
    (folder / "slos.yaml").write_text("---\n".join([
        SPEC.format(name="shop-expr", good="expr", good_q=good_expr, total="expr",
                    total_q=EXPR.format(extra="")),
        SPEC.format(name="shop-samples", good="selector",
                    good_q=SEL.format(extra=',code!~"5.."'), total="selector",
                    total_q=SEL.format(extra=""))]))
    slos = catalog.load([folder / "slos.yaml"])
    period = periods.month("2026-10")
    for s in slos:
        write_buckets(folder / "lake", s.name, datetime(2026, 10, 3, 4, 17, tzinfo=UTC),
                      [(990.0, 1000.0)] * 90)
    rows = runner.compute_month(folder / "lake", slos, period,
                                 datetime(2026, 11, 1, tzinfo=UTC))
    report.render(folder / "lake", period, folder / "out", source="test",
                  generated_at=datetime(2026, 11, 2, 9, 41, tzinfo=UTC),
                  formats=["html", "json", "csv"])
    return folder, rows


def test_the_summary_marks_only_the_expression_sli(
        rendered: tuple[Path, list[dict[str, object]]]) -> None:
    _, rows = rendered
    by = {r["slo"]: r for r in rows}
    # 90 minutes of 990 good in 1,000: SLI 0.99, error ratio 0.01
    assert by["shop-expr"]["sli"] == pytest.approx(0.99)
    assert (by["shop-expr"]["approximate"], by["shop-expr"]["count_error_bound"]) == \
        (True, spec.EXPR_COUNT_ERROR)
    assert by["shop-expr"]["sli_error_bound"] == pytest.approx(spec.EXPR_SLI_ERROR * 0.01)
    assert [by["shop-samples"][k] for k in ("approximate", "sli_error_bound",
                                            "count_error_bound")] == [False, None, None]


def test_json_csv_and_html_carry_the_mark(
        rendered: tuple[Path, list[dict[str, object]]]) -> None:
    folder, _ = rendered
    out = folder / "out" / "2026-10"
    records = {r["slo"]: r for r in json.loads((out / "summary.json").read_text())}
    assert records["shop-expr"]["approximate"] is True
    assert records["shop-expr"]["sli_error_bound"] == pytest.approx(spec.EXPR_SLI_ERROR * 0.01)
    assert records["shop-expr"]["count_error_bound"] == spec.EXPR_COUNT_ERROR
    assert records["shop-samples"]["approximate"] is False
    with (out / "summary.csv").open() as f:
        table = {r["slo"]: r for r in csv.DictReader(f)}
    assert (table["shop-expr"]["approximate"], table["shop-samples"]["approximate"]) == \
        ("true", "false")
    assert float(table["shop-expr"]["sli_error_bound"]) == \
        pytest.approx(spec.EXPR_SLI_ERROR * 0.01)
    html = (out / "report.html").read_text()
    pp = f"{spec.EXPR_SLI_ERROR * 0.01 * 100:.2g}"
    mark = f"approximate, &plusmn;{pp} pp"
    assert html.count(mark) == 1  # the all-SLOs table: the expression SLO's row only
    section = html[html.index('<div class="slo" data-slo="shop-expr"'):]
    section = section[:section.index('<div class="slo" data-slo="shop-samples"')] \
        if '<div class="slo" data-slo="shop-samples"' in section else section
    assert f"within &plusmn;{pp} percentage points" in section
    assert f"up to {spec.EXPR_COUNT_ERROR * 100:g} % low" in section
    assert html.count("percentage points of the true one") == 1


def test_the_cli_table_names_the_approximate_sli(
        rendered: tuple[Path, list[dict[str, object]]]) -> None:
    folder, _ = rendered
    shown = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "show", "--month", "2026-10",
                            "--lake", str(folder / "lake"), "--out", str(folder / "out")],
                           capture_output=True, text=True, cwd=folder, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    note = [line for line in shown.splitlines() if line.startswith("approximate")]
    assert note == [f"approximate SLI (read from a PromQL expression; counts up to "
                    f"{spec.EXPR_COUNT_ERROR * 100:g} % low): shop-expr "
                    f"±{spec.EXPR_SLI_ERROR * 0.01 * 100:.2g} pp"]


def test_the_what_if_marks_the_approximate_sli(
        rendered: tuple[Path, list[dict[str, object]]]) -> None:
    folder, rows = rendered
    sli = next(r["sli"] for r in rows if r["slo"] == "shop-expr")
    done = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "whatif", "--slo", "shop-expr",
                           "--target", "0.995", "--from", "2026-10", "--to", "2026-10",
                           "--slos", "slos.yaml", "--as-of", "2026-11-03T07:19+02:00"],
                          capture_output=True, text=True, cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert (
        f"approximate SLI: read from a PromQL expression, its error ratio within "
        f"{spec.EXPR_SLI_ERROR * 100:g} % of itself, its counts up to "
        f"{spec.EXPR_COUNT_ERROR * 100:g} % low") in done.stdout.splitlines()
    html = (folder / "reports" / "out" / "whatif" / "shop-expr.html").read_text()
    bound = spec.EXPR_SLI_ERROR * (1 - float(sli)) * 100  # type: ignore[arg-type]
    assert html.count(f"approximate, &plusmn;{bound:.2g} pp") == 2  # as defined, what-if
