"""Raw samples through Prometheus' remote-read protocol and VictoriaMetrics' export: the
generated protocol code is protoc's, selectors become the same label matchers, staleness
markers are dropped, and the read-path setting is read and checked."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import cramjam
import numpy as np
import pytest

from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.endpoint import PrometheusConfig
from slo_jobs.sources.prometheus import remote_read
from slo_jobs.sources.prometheus.prompb import remote_pb2, types_pb2
from tests.conftest import ROOT

PROMPB = ROOT / "slo_jobs/sources/prometheus/prompb"


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None,
                    reason="grpcio-tools not installed")
def test_the_committed_protocol_code_is_what_protoc_generates(tmp_path: Path) -> None:
    from scripts import proto  # noqa: I001 - a script, importable only from the repository

    written = proto.generate(tmp_path)
    assert len(written) == 4
    for path in written:
        assert path.read_text() == (PROMPB / path.name).read_text(), path.name


@pytest.mark.parametrize(("selector", "want"), [
    ('http_requests_total{job="api",code!~"5.."}',
     [("EQ", "__name__", "http_requests_total"), ("EQ", "job", "api"), ("NRE", "code", "5..")]),
    ('{__name__=~"a|b", le!="+Inf"}', [("RE", "__name__", "a|b"), ("NEQ", "le", "+Inf")]),
    # PromQL string escapes are resolved, as the query API resolves them
    (r'x{path="a\"b",le=~"1|1\\.0"}', [("EQ", "__name__", "x"), ("EQ", "path", 'a"b'),
                                       ("RE", "le", r"1|1\.0")]),
])
def test_a_selector_becomes_the_same_label_matchers(selector: str,
                                                    want: list[tuple[str, str, str]]) -> None:
    found = remote_read.matchers(selector)
    assert found is not None
    assert [(types_pb2.LabelMatcher.Type.Name(m.type), m.name, m.value) for m in found] == want


def test_a_selector_the_protocol_cannot_express_is_left_to_the_query_api() -> None:
    assert remote_read.matchers("sum(rate(x[5m]))") is None


def _response(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    result = remote_pb2.QueryResult(timeseries=[
        types_pb2.TimeSeries(labels=[types_pb2.Label(name=k, value=v) for k, v in labels.items()],
                             samples=[types_pb2.Sample(timestamp=t, value=v) for t, v in pts])
        for labels, pts in series])
    raw = remote_pb2.ReadResponse(results=[result]).SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw))


def test_stale_markers_are_dropped_and_other_values_kept() -> None:
    stale = struct.unpack("<d", struct.pack("<Q", remote_read.STALE_NAN))[0]
    points = [(1000, 1.0), (2000, stale), (3000, float("nan")), (4000, -1.0),
              (5000, float("inf"))]
    [s] = remote_read.decode(_response([({"b": "2", "__name__": "x"}, points)]))
    assert s.labels == (("__name__", "x"), ("b", "2"))
    assert s.ts_ms.tolist() == [1000, 3000, 4000, 5000]
    # a NaN the target exported is a value (unusable), not a marker: kept as the query API
    assert np.isnan(s.values[1]) and s.values[[0, 2, 3]].tolist() == [1.0, -1.0, float("inf")]


def test_a_request_is_one_snappy_compressed_query_over_a_closed_range() -> None:
    found = remote_read.matchers('x{a="b"}')
    assert found is not None
    message = remote_pb2.ReadRequest.FromString(
        bytes(cramjam.snappy.decompress_raw(remote_read.request(found, 1000, 2000))))
    [q] = message.queries
    assert (q.start_timestamp_ms, q.end_timestamp_ms, len(q.matchers)) == (1000, 2000, 2)
    assert list(message.accepted_response_types) == [remote_pb2.ReadRequest.SAMPLES]


def test_an_answer_that_does_not_decode_is_malformed() -> None:
    with pytest.raises(remote_read.Malformed, match="not a snappy-compressed ReadResponse"):
        remote_read.decode(b"<html>proxy error</html>")


def test_export_lines_of_one_series_are_joined_in_time_order_without_nan() -> None:
    lines = [{"metric": {"__name__": "x", "a": "1"}, "values": [3, "NaN", 5],
              "timestamps": [3000, 4000, 5000]},
             {"metric": {"__name__": "x", "a": "1"}, "values": [1, 2], "timestamps": [1000, 2000]},
             {"metric": {"__name__": "x", "a": "2"}, "values": [7], "timestamps": [1000]}]
    body = "\n".join(json.dumps(x).replace('"NaN"', "NaN") for x in lines).encode()
    found = {s.labels: s for s in remote_read.decode_export(body)}
    one = found[(("__name__", "x"), ("a", "1"))]
    assert one.ts_ms.tolist() == [1000, 2000, 3000, 5000]
    assert one.values.tolist() == [1, 2, 3, 5]
    assert found[(("__name__", "x"), ("a", "2"))].values.tolist() == [7]
    with pytest.raises(remote_read.Malformed, match="not a series"):
        remote_read.decode_export(b'{"status": "success"}')


def test_the_read_path_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PrometheusConfig("http://x").read == "auto"
    monkeypatch.setenv("SLO_JOBS_PROMETHEUS_READ", "Query")
    assert PrometheusConfig.from_env("http://x").read == "query"
    conn = PrometheusConfig.from_connection("http", "h", 9090, None, None, None,
                                            {"read": "remote-read"})
    assert conn.read == "remote-read"
    with pytest.raises(ExtractError, match=r"^Prometheus read path: found 'fast'; expected one "
                                           r"of auto, remote-read, export, query \("):
        PrometheusConfig("http://x", read="fast")
