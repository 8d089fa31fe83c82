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
from slo_jobs.errors import ExtractError
from slo_jobs.extract import PrometheusClient, extract_slo
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


def test_an_interval_that_cannot_be_measured_asks_for_scrape_interval(
        prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    def last_only(body: dict[str, Any]) -> dict[str, Any]:
        for series in body["data"]["result"]:
            series["values"] = series["values"][-1:]
        return body

    one_sample = Reply(edit=last_only)  # one sample per series: the day's last
    with FaultServer(prometheus, lambda n, p: one_sample) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError, match=r"cannot measure the scrape interval of "
                           r"http_requests_total\{service=\"checkout\"\}: no series has two "
                           r"samples; expected spec\.scrapeInterval"):
            extract_slo(client, slo, [DAY], tmp_path)
        # Stated in the definition, the interval needs no measuring: the day is extracted,
        # and its single sample per series makes one bucket of data.
        stated = replace(slo, scrape_interval=timedelta(minutes=1))
        result = extract_slo(client, stated, [DAY], tmp_path)[0]
    assert result.rows == 1 and pq.read_table(result.path).num_rows == 1440


def test_scrape_interval_is_read_from_the_spec(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "slos" / "checkout.yaml").read_text()
    doc = text.split("---")[0].replace("  window: {calendar: month}",
                                       "  window: {calendar: month}\n  scrapeInterval: 30s")
    (tmp_path / "s.yaml").write_text(doc)
    assert spec.load([tmp_path / "s.yaml"])[0].scrape_interval == timedelta(seconds=30)
    (tmp_path / "s.yaml").write_text(doc.replace("30s", "soon"))
    _, problems, _ = spec.load_all([tmp_path / "s.yaml"])
    assert len(problems) == 1 and "spec.scrapeInterval" in problems[0]
