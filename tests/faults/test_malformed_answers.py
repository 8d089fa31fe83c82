"""Fault 3: answers that are not what a query_range should return.

Each ends in a one-line error naming the SLO and the query (nothing written), or, for
values that cannot be counts (NaN, +Inf, -Inf, negative), in "no data" buckets that lower
coverage and are never counted as good.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from slo_jobs import compute, spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo
from tests.faults.conftest import DAY, SEP, fast, no_parquet
from tests.faults.faultserver import FORWARD, FaultServer, Reply, error_body


def _no_values(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["result"][0] = {"metric": body["data"]["result"][0]["metric"]}
    return body


def _with(key: str, value: Any) -> Any:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body[key] = value
        return body
    return edit


def _data(value: Any) -> Any:
    return _with("data", value)


def _first_point(value: Any) -> Any:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["result"][0]["values"][0] = value
        return body
    return edit


# name: (the reply to every request, a pattern the error must match, requests expected)
REFUSED: dict[str, tuple[Reply, str, int]] = {
    "status-error-422": (Reply(422, error_body(
        "execution", "query timed out in expression evaluation")),
        r"refused query .*: execution: query timed out in expression evaluation", 1),
    "status-error-400": (Reply(400, error_body("bad_data", 'invalid parameter "query"')),
        r"bad_data: invalid parameter", 1),
    "status-error-200": (Reply(edit=_with("status", "error")), r"refused query", 1),
    "warnings": (Reply(edit=_with("warnings", ["store 10.0.0.3 unreachable"])),
                 r"with warnings \(partial data\): store 10\.0\.0\.3 unreachable", 1),
    "series-without-values": (Reply(edit=_no_values),
                              r"a series without labels or a list of values", 1),
    "vector-not-matrix": (Reply(edit=lambda b: {**b, "data": {**b["data"],
                                                              "resultType": "vector"}}),
                          r"did not return a range matrix", 1),
    "data-is-a-list": (Reply(edit=_data([])), r"did not return a range matrix", 1),
    "no-data": (Reply(edit=lambda b: {"status": "success"}), r"did not return a range matrix",
                1),
    "not-an-object": (Reply(body=b"[1, 2]"), r"is not a JSON object", 1),
    "malformed-point": (Reply(edit=_first_point(["x"])), r"malformed point \['x'\]", 1),
    "value-not-a-number": (Reply(edit=_first_point([1788220860, "lots"])),
                           r"malformed point", 1),
    "html-401": (Reply(401, b"<html>Unauthorized</html>"), r"HTTP 401 .*Unauthorized", 1),
    # A 200 whose JSON stops half-way may be a cut connection: retried, then refused.
    "truncated-json": (Reply(body=b'{"status":"success","data":{"resultType":"matrix","re'),
                       r"failed after 3 attempts: HTTP 200 with a body that is not JSON", 3),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_malformed_answer_fails_naming_slo_and_query(case: str, prometheus: str,
                                                     slo: spec.Slo, tmp_path: Path) -> None:
    reply, pattern, requests = REFUSED[case]
    with FaultServer(prometheus, lambda n, p: reply) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError, match=pattern) as err:
            extract_slo(client, slo, [DAY], tmp_path)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"SLO {slo.name}, {DAY}: ")
    assert 'http_requests_total{service="checkout"' in message
    assert len(server.seen) == requests  # refusals are final; only a cut answer is retried
    assert no_parquet(tmp_path)


# Bucket index (minute of the day) -> the raw value Prometheus gives for its sample (taken at
# the bucket's end), in a series of the good or the total selector.
BAD_VALUES = {("total", 10): "NaN", ("total", 11): "+Inf", ("good", 500): "NaN",
              ("good", 501): "+Inf", ("good", 502): "-Inf", ("total", 900): "-3",
              ("good", 1438): "NaN"}


def _poison(params: dict[str, str]) -> Reply:
    which = "good" if "code!~" in params["query"] else "total"
    day_start = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp())

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        series = body["data"]["result"][0]  # the code="200" series in both selectors
        at = {int(float(ts)): i for i, (ts, _) in enumerate(series["values"])}
        for (kind, minute), raw in BAD_VALUES.items():
            if kind == which:
                series["values"][at[day_start + (minute + 1) * 60]][1] = raw
        return body
    return Reply(edit=edit)


def test_nan_and_infinite_values_become_no_data_never_good(
        prometheus: str, slo: spec.Slo, reference: Path, tmp_path: Path) -> None:
    with FaultServer(prometheus, lambda n, p: _poison(p)) as server, \
            PrometheusClient(fast(server.url)) as client:
        result = extract_slo(client, slo, [DAY], tmp_path)[0]
    poisoned = {minute for _, minute in BAD_VALUES}
    assert result.unusable == len(poisoned) and result.rows == 1440 - len(poisoned)
    clean, got = pq.read_table(reference).to_pylist(), pq.read_table(result.path).to_pylist()
    # An unusable sample is skipped: its events count with the series' next sample, in the
    # bucket after the poisoned ones; every other bucket is as without the fault.
    after = {m + 1 for m in poisoned} - poisoned
    for minute, (want, row) in enumerate(zip(clean, got, strict=True)):
        if minute in poisoned:
            assert (row["has_data"], row["good"], row["total"]) == (False, 0.0, 0.0), minute
        elif minute in after:
            assert row["has_data"] and row["good"] <= row["total"], minute
        else:
            assert row == want, minute
    # The compute stage reports the loss as coverage, and counts none of it as good.
    # the other days: no partition
    month = compute.compute_calendar(tmp_path, [slo], "month", SEP.label).summary[0]
    assert month["coverage"] == pytest.approx((1440 - len(poisoned)) / (30 * 1440))
    assert month["good"] == pytest.approx(sum(r["good"] for r in got), rel=1e-12)
    assert month["total"] == pytest.approx(sum(r["total"] for r in got), rel=1e-12)
    assert month["good"] <= sum(r["good"] for r in clean)


def test_first_good_answer_after_refusal_is_not_reused(prometheus: str, slo: spec.Slo,
                                                       tmp_path: Path) -> None:
    # The good query succeeds, the total query is refused: nothing is written.
    def script(n: int, _: dict[str, str]) -> Reply:
        return FORWARD if n == 1 else Reply(422, error_body("execution", "boom"))

    with FaultServer(prometheus, script) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError, match="execution: boom"):
            extract_slo(client, slo, [DAY], tmp_path)
    assert no_parquet(tmp_path)
