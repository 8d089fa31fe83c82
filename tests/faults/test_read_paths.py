"""A source that refuses remote read is read through the query API, to the same partition;
one that offers it is read through it, split when its sample limit refuses a range."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from slo_jobs import spec
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo, remote_read
from tests.faults.conftest import DAY, StartProm, fast
from tests.faults.faultserver import FaultServer


def test_a_proxy_refusing_remote_read_falls_back_to_the_query_api(
        prometheus: str, slo: spec.Slo, reference: Path, tmp_path: Path) -> None:
    for bulk, path in ((False, "query"), (True, "remote-read")):
        with FaultServer(prometheus) as server, PrometheusClient(fast(server.url)) as client:
            server.bulk = bulk
            part = extract_slo(client, slo, [DAY], tmp_path / path)[0].path
            assert client.reader.path() == path
            # the query API's reads pass the fault server; remote reads do not
            assert bool(server.seen) == (path == "query")
        assert pq.read_table(part).equals(pq.read_table(reference)), path


def test_a_range_over_the_sample_limit_is_split(private_prometheus: StartProm, slo: spec.Slo,
                                                reference: Path, tmp_path: Path) -> None:
    # A day of the demo's counters holds about 2,900 samples per series: 1,000 refuses a day
    # and passes a few hours.
    url, _ = private_prometheus("--storage.remote.read-sample-limit=1000")
    found = remote_read.matchers(slo.total.selector or "")
    assert found is not None
    start_ms = int(datetime.combine(DAY, time(), UTC).timestamp()) * 1000
    whole = httpx.post(f"{url}/api/v1/read", headers=remote_read.HEADERS,
                       content=remote_read.request(found, start_ms, start_ms + 86_400_000))
    assert whole.status_code == 400 and "exceeded sample limit (1000)" in whole.text
    with PrometheusClient(fast(url)) as client:
        part = extract_slo(client, slo, [DAY], tmp_path)[0].path
        assert client.reader.path() == "remote-read"
    assert pq.read_table(part).equals(pq.read_table(reference))
