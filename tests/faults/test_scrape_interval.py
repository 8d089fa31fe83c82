"""Fault 5c: scrapes too sparse to measure a bucket, or an interval that cannot be measured.

The real demo Prometheus answers; the fault server thins its raw samples. Each ends in one
line naming the SLO, what was found and what to do, and nothing is written; a
``spec.scrapeInterval`` in the definition replaces the measurement.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from slo_jobs import spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo
from slo_jobs.spec import catalog
from tests.faults.conftest import DAY, fast, no_parquet
from tests.faults.faultserver import FaultServer, Reply


def _keep_every(n: int) -> Any:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        for series in body["data"]["result"]:
            series["values"] = series["values"][::n]
        return body
    return edit


def test_samples_fifteen_minutes_apart_are_refused(prometheus: str, slo: spec.Slo,
                                                   tmp_path: Path) -> None:
    with FaultServer(prometheus, lambda n, p: Reply(edit=_keep_every(15))) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError) as err:
            extract_slo(client, slo, [DAY], tmp_path)
    message = str(err.value)
    assert message.startswith(f"SLO {slo.name}, {DAY}: ") and "\n" not in message
    assert "is scraped every 900 s; expected at most 600 s" in message
    assert no_parquet(tmp_path)


def _last_only(body: dict[str, Any]) -> dict[str, Any]:
    for series in body["data"]["result"]:
        series["values"] = series["values"][-1:]
    return body


def test_an_unmeasurable_interval_counts_only_buckets_with_samples(
        prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    # One sample per series (the day's last): its events count; the interval, and so which
    # buckets between samples were scraped, cannot be told: only its own bucket has data,
    # and the report says why.
    with FaultServer(prometheus, lambda n, p: Reply(edit=_last_only)) as server, \
            PrometheusClient(fast(server.url)) as client:
        result = extract_slo(client, slo, [DAY], tmp_path / "a")[0]
        assert result.rows == 1 and pq.read_table(result.path).num_rows == 1440
        assert result.notes == ('cannot measure the scrape interval of http_requests_total'
                                '{service="checkout"}: no series has two samples; expected '
                                'spec.scrapeInterval (e.g. 30s) in the SLO definition: only '
                                'buckets holding a sample count as data',)
        # Stated in the definition, the interval needs no measuring, and no note is made.
        stated = replace(slo, scrape_interval=timedelta(minutes=1))
        assert extract_slo(client, stated, [DAY], tmp_path / "b")[0].notes == ()


def test_an_expression_without_a_measurable_interval_is_refused(
        prometheus: str, tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "slos" / "checkout.yaml").read_text()
    doc = text.split("---")[0].replace(
        "total: {selector: 'http_requests_total{service=\"checkout\"}'}",
        "total: {expr: 'sum(increase(http_requests_total{service=\"checkout\"}[{{.window}}]))'}")
    (tmp_path / "expr.yaml").write_text(doc)
    expr_slo = catalog.load([tmp_path / "expr.yaml"])[0]
    with FaultServer(prometheus, lambda n, p: Reply(edit=_last_only)) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError, match=r"cannot measure the scrape interval of "
                           r"http_requests_total\{service=\"checkout\"\}: no series has two "
                           r"samples; expected spec\.scrapeInterval"):
            extract_slo(client, expr_slo, [DAY], tmp_path / "lake")
    assert no_parquet(tmp_path)


def test_scrape_interval_is_read_from_the_spec(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "slos" / "checkout.yaml").read_text()
    doc = text.split("---")[0].replace("  window: {calendar: month}",
                                       "  window: {calendar: month}\n  scrapeInterval: 30s")
    (tmp_path / "s.yaml").write_text(doc)
    assert catalog.load([tmp_path / "s.yaml"])[0].scrape_interval == timedelta(seconds=30)
    (tmp_path / "s.yaml").write_text(doc.replace("30s", "soon"))
    _, problems, _ = catalog.load_all([tmp_path / "s.yaml"])
    assert len(problems) == 1 and "spec.scrapeInterval" in problems[0]
