"""The CLI's stages one by one against the real Prometheus, and its error handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from slo_jobs.core import periods
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests.conftest import DEMO_SLOS, ROOT, TRUTH, true_counts

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_extract_compute_report_stages(prometheus: str, tmp_path: Path,
                                       truth: pd.DataFrame) -> None:
    slos = str(ROOT / "slos")
    ex = cli("extract", "--month", "2026-08", "--slos", slos, "--prometheus-url", prometheus,
             cwd=tmp_path)
    assert ex.returncode == 0, ex.stderr
    # 18 SLOs (14 from Prometheus, 4 pipelines) x 31 days, and the days before the month each reads
    # (burn-rate lookback, own window), as run pulls them; default ./lake
    loaded = catalog.load([ROOT / "slos"])
    assert len(loaded) == DEMO_SLOS
    august = periods.month("2026-08")
    days = {(s.name, d) for s in loaded for part in runner.month_days(s, august) for d in part}
    assert f"extracted {len(days)} partitions" in ex.stdout
    assert {(p.parent.parent.name[4:], p.parent.name[5:]) for p in
            (tmp_path / "lake" / "sli").glob("*/*/part-0.parquet")} == \
        {(n, d.isoformat()) for n, d in days}
    co = cli("compute", "--month", "2026-08", "--slos", slos, cwd=tmp_path)
    assert co.returncode == 0, co.stderr
    assert (tmp_path / "lake/monthly/month=2026-08/summary.parquet").exists()
    rep = cli("report", "--month", "2026-08", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    out = tmp_path / "reports/out/2026-08"
    assert {p.name for p in out.iterdir()} == {"report.html", "report.pdf", "summary.json",
                                               "summary.csv", "incidents.csv", "history.csv",
                                               "journeys.csv", "journeys.json"}
    assert (tmp_path / "reports/out/index.html").exists()
    records = {r["slo"]: r for r in json.loads((out / "summary.json").read_text())}
    for name in TRUTH:
        assert (records[name]["good"], records[name]["total"]) == \
            true_counts(truth, name, "2026-08-01", "2026-09-01")
    csv = pd.read_csv(out / "summary.csv")
    assert sorted(csv.slo) == sorted(records)
    assert dict(zip(csv.slo, csv.total, strict=True)) == \
        {k: v["total"] for k, v in records.items()}
    show = cli("show", "--month", "2026-08", cwd=tmp_path)
    assert show.returncode == 0 and "checkout-availability" in show.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "--month", "2026-9"],
     "error: month: found '2026-9'; expected YYYY-MM, e.g. 2026-09"),
    (["compute", "--month", "2026-09", "--slos", "nowhere"],
     "error: nowhere: no such file or folder; expected SLO YAML files"),
    (["show", "--month", "2026-09", "--lake", "empty"],
     "error: empty/monthly/month=2026-09/summary.parquet: missing; expected the computed "
     "summary of 2026-09 (run: slo-jobs compute --month 2026-09)"),
])
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == expected
    assert "Traceback" not in proc.stderr
