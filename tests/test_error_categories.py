"""``spec.errorCategories``: bad definitions are one line each, and through ``slo-jobs run``
against a real Prometheus holding generated requests by status code, each category's share
of the month's bad events and of each incident's equals the generator's truth.

The generator draws every scrape interval's requests of two pods per status code, with an
outage of 503s and one of 504s and a counter reset, and keeps the events of each interval:
the truth. A delta belongs to the minute of its later sample (docs/extraction.md), so the
expected shares are sums of the generator's deltas, derived here without slo-jobs."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo import backends, prom, scrapes
from slo_jobs.spec import catalog
from tests.lakeutil import utc

pytestmark = pytest.mark.integration
SPEC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: shop-availability}
spec:
  service: shop
  indicator:
    ratio:
      bad:   {selector: 'http_requests_total{job="shop",code=~"5..|429"}'}
      total: {selector: 'http_requests_total{job="shop"}'}
  objective: {target: 0.99}
  errorCategories:
    server: 'http_requests_total{job="shop",code=~"50[0-3]"}'
    timeout: 'http_requests_total{job="shop",code="504"}'
    gateway: 'http_requests_total{job="shop",code=~"50[24]"}'
"""
CATEGORIES = {"server": ("500", "501", "502", "503"), "timeout": ("504",),
              "gateway": ("502", "504")}
BAD = ("429", "500", "501", "502", "503", "504")
CODES = ("200", "404", *BAD)
NORMAL = (0.964, 0.02, 0.004, 0.004, 0.001, 0.003, 0.002, 0.002)
START, AS_OF = utc(2026, 8, 31, 23), utc(2026, 9, 3)
OUTAGES = {"503": (utc(2026, 9, 1, 10), utc(2026, 9, 1, 11)),
           "504": (utc(2026, 9, 2, 15), utc(2026, 9, 2, 15, 40))}
RESET = utc(2026, 9, 1, 18)  # pod b crashes just after its scrape before this


def _generate(seed: int = 28) -> tuple[list[scrapes.Series], pd.DataFrame]:
    """Two pods' counters per code, scraped every 30 s with jitter, and the truth: one row
    per interval of each pod with the events of each code and the later sample's time."""
    rng = np.random.default_rng(seed)
    series, truth = [], []
    for pod in ("a", "b"):
        t_ms = (np.arange(int((AS_OF - START).total_seconds()) // 30 + 4) * 30_000
                + int(START.timestamp() * 1000) + rng.integers(0, 5000, 1)
                + rng.integers(0, 3000, int((AS_OF - START).total_seconds()) // 30 + 4))
        at = pd.to_datetime(t_ms, unit="ms", utc=True)
        p = np.tile(NORMAL, (len(t_ms), 1))
        for code, (lo, hi) in OUTAGES.items():
            inside = (at > lo) & (at <= hi)
            p[inside] *= 0.6
            p[inside, CODES.index(code)] += 0.4
        events = np.vstack([rng.multinomial(rng.poisson(20), row) for row in p])
        events[0] = 0  # every series starts at 0 in the first scrape
        restart = int(np.searchsorted(at, RESET)) if pod == "b" else len(t_ms)
        values = np.cumsum(events, axis=0)
        values[restart:] = np.cumsum(events[restart:], axis=0)
        # The reset must show (a drop) in every series that counted before it.
        before, after = values[restart - 1], values[restart % len(t_ms)]
        assert pod == "a" or ((before == 0) | (after < before)).all()
        for i, code in enumerate(CODES):
            series.append(scrapes.Series({"__name__": scrapes.REQUESTS, "job": "shop",
                                          "pod": pod, "code": code}, t_ms, values[:, i]))
        truth.append(pd.DataFrame(events[1:], columns=list(CODES)).assign(later=at[1:]))
    return series, pd.concat(truth, ignore_index=True)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, pd.DataFrame]]:
    base = tmp_path_factory.mktemp("categories")
    series, truth = _generate()
    tsdb = backends.build_prometheus_tsdb(scrapes.Scrapes(series, pd.DataFrame(),
                                                          pd.DataFrame()), base / "prom")
    port = prom.free_port()
    proc = prom.start(tsdb, port, base / "prometheus.log")
    try:
        (base / "slos").mkdir()
        (base / "slos" / "shop.yaml").write_text(SPEC)
        done = subprocess.run([
            sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09",
            "--as-of", AS_OF.isoformat(), "--slos", str(base / "slos"),
            "--prometheus-url", f"http://127.0.0.1:{port}", "--lake", str(base / "lake"),
            "--out", str(base / "out")], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    finally:
        prom.stop(proc)
        shutil.rmtree(base / "prom", ignore_errors=True)
    yield base, truth


def _expected(truth: pd.DataFrame, lo: datetime, hi: datetime) -> dict[str, Any]:
    """The truth's bad events of the minutes [lo, hi) (a sample at a minute's end is that
    minute's) and each category's share of them."""
    inside = truth[(truth.later > lo) & (truth.later <= hi)]
    bad = int(inside[list(BAD)].to_numpy().sum())
    shares = {name: int(inside[list(codes)].to_numpy().sum()) / bad
              for name, codes in CATEGORIES.items()}
    shares["uncategorised"] = int(inside["429"].sum()) / bad
    return {"bad": bad, "shares": shares}


def test_each_category_share_equals_the_generator_truth(
        month: tuple[Path, pd.DataFrame]) -> None:
    base, truth = month
    folder = base / "lake" / "monthly" / "month=2026-09"
    rows = pq.read_table(folder / "categories.parquet").to_pylist()
    incidents = pq.read_table(folder / "incidents.parquet").to_pylist()
    assert {i["severity"] for i in incidents} == {"page", "ticket"}
    spans = [(utc(2026, 9, 1), AS_OF, None)] + [(i["start"], i["end"], i["severity"])
                                                 for i in incidents]
    assert len(rows) == 4 * len(spans)
    (record,) = json.loads((base / "out" / "2026-09" / "summary.json").read_text())
    for k, (lo, hi, severity) in enumerate(spans):
        got = rows[4 * k:4 * k + 4]
        want = _expected(truth, lo, hi)
        assert [r["category"] for r in got] == [*CATEGORIES, "uncategorised"]
        assert {(r["start"], r["severity"]) for r in got} == {(lo, severity)}
        assert all(r["bad"] == want["bad"] for r in got)
        assert {r["category"]: r["share"] for r in got} == pytest.approx(want["shares"],
                                                                        rel=1e-12)
    # The month's bad events are the SLI's, and what the summary says.
    assert rows[0]["bad"] == record["bad"] == _expected(truth, spans[0][0], AS_OF)["bad"]
    assert (rows[0]["days"], rows[0]["days_missing"]) == (2, 0)


def test_the_report_and_exports_show_the_shares(month: tuple[Path, pd.DataFrame]) -> None:
    base, truth = month
    out = base / "out" / "2026-09"
    (record,) = json.loads((out / "summary.json").read_text())
    c = record["error_categories"]
    want = _expected(truth, utc(2026, 9, 1), AS_OF)
    assert c["categories"] == list(CATEGORIES) and c["bad"] == want["bad"]
    assert {s["category"]: s["share"] for s in c["shares"]} == pytest.approx(want["shares"])
    # 502 and 504 are counted by gateway and by server or timeout too.
    inside = truth[(truth.later > utc(2026, 9, 1)) & (truth.later <= AS_OF)]
    assert c["overlap"] == int(inside[["502", "504"]].to_numpy().sum())
    (line,) = csv.DictReader(io.StringIO((out / "summary.csv").read_text()))
    assert line["error_categories"] == ";".join(f"{k}={v:.6g}"
                                                for k, v in want["shares"].items())
    for i in csv.DictReader(io.StringIO((out / "incidents.csv").read_text())):
        lo = datetime.fromisoformat(i["start"])
        shares = _expected(truth, lo, datetime.fromisoformat(i["end"]))["shares"]
        assert i["error_categories"] == ";".join(f"{k}={v:.6g}" for k, v in shares.items())
    html = " ".join((out / "report.html").read_text().split())
    assert "<h4>Bad events by category</h4>" in html
    assert f"The categories overlap: {c['overlap']:,} of the month's events" in html


@pytest.mark.parametrize("field, expected", [
    ("errorCategories: {Server: 'x_total'}",
     "spec.errorCategories: {\"Server\": \"x_total\"}; category 'Server': expected lower-case"),
    ("errorCategories: {uncategorised: 'x_total'}", "other than 'uncategorised'"),
    ("errorCategories: {server: 'x_total{code=~\"5..\"'}",
     "category server: 'x_total{code=~\"5..\"': expected valid PromQL; it does not parse"),
    ("errorCategories: {server: 'rate(x_total[5m])'}",
     "category server: 'rate(x_total[5m])': expected a plain vector selector"),
    ("errorCategories: {}", "expected 1 to 8 categories"),
])
def test_a_bad_category_is_one_line(tmp_path: Path, field: str, expected: str) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SPEC.split("  errorCategories:")[0] + f"  {field}\n")  # line 11
    _, problems, _ = catalog.load_all([path])
    (line,) = problems
    assert line.startswith(f"{path}:11: ") and expected in line, line


def test_categories_on_a_kind_without_events_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "up.yaml"
    path.write_text("apiVersion: slo-jobs/v1\nkind: ServiceLevelObjective\n"
                    "metadata: {name: up}\nspec:\n  service: up\n  indicator:\n"
                    "    threshold: {query: 'up{job=\"shop\"}', op: gte, value: 1}\n"
                    "  objective: {target: 0.99, timeSliceWindow: 1m, timeSliceTarget: 0.9}\n"
                    "  budgetingMethod: Timeslices\n"
                    "  errorCategories: {down: 'up_total'}\n")
    _, problems, _ = catalog.load_all([path])
    (line,) = problems
    assert line.startswith(f"{path}:") and "spec.errorCategories: {down} on a threshold " \
        "indicator; expected it only on a ratio" in line, line
