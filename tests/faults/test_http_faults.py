"""Fault 2: HTTP 503 and 429, connection resets, cut and slow answers.

Each is retried with jittered exponential backoff within a bounded total time; a transient
fault ends in the same partition as a clean run, a lasting one in a one-line error that names
the SLO, the URL and the query, with nothing written.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from slo_jobs import spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo
from slo_jobs.sources.request import retry_after as _retry_after
from tests.faults.conftest import DAY, fast, no_parquet
from tests.faults.faultserver import FORWARD, FaultServer, Reply

TRANSIENT = {
    "503": Reply(503, b"unavailable"),
    "502": Reply(502, b"bad gateway"),
    "429": Reply(429, b"slow down", {"Retry-After": "0"}),
    "reset": Reply(reset=True),
    "cut-body": Reply(cut_at=100),  # Content-Length promises more than arrives
    "truncated-json": Reply(body=b'{"status":"success","data":{"resultType":"matr'),
    "slow": Reply(delay_s=1.0),  # past the 0.3 s timeout below
}


@pytest.mark.parametrize("fault", sorted(TRANSIENT))
def test_transient_fault_is_retried_to_the_clean_result(
        fault: str, prometheus: str, slo: spec.Slo, reference: Path, tmp_path: Path) -> None:
    def script(n: int, _: dict[str, str]) -> Reply:
        return TRANSIENT[fault] if n <= 2 else FORWARD

    with FaultServer(prometheus, script) as server, \
            PrometheusClient(fast(server.url, timeout_s=0.3)) as client:
        result = extract_slo(client, slo, [DAY], tmp_path)[0]
    assert len(server.seen) == 2 + 2  # two faults, then the good and the total query
    assert result.path.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("fault", sorted(TRANSIENT))
def test_lasting_fault_fails_in_one_line_naming_slo_url_and_query(
        fault: str, prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    with FaultServer(prometheus, lambda n, p: TRANSIENT[fault]) as server, \
            PrometheusClient(fast(server.url, timeout_s=0.3)) as client:
        with pytest.raises(ExtractError) as err:
            extract_slo(client, slo, [DAY], tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert f"SLO {slo.name}" in message and server.url in message
    assert "failed after 3 attempts" in message and "http_requests_total" in message
    assert len(server.seen) == 3
    assert no_parquet(tmp_path)


def test_retry_after_is_honoured(prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    # Backoff alone would wait at most 0.05 s: the gap comes from Retry-After.
    def script(n: int, _: dict[str, str]) -> Reply:
        return Reply(429, b"slow down", {"Retry-After": "1"}) if n == 1 else FORWARD

    with FaultServer(prometheus, script) as server, \
            PrometheusClient(fast(server.url)) as client:
        extract_slo(client, slo, [DAY], tmp_path)
    assert server.seen[1].at - server.seen[0].at >= 0.95


def test_retry_after_as_http_date() -> None:
    sent = datetime.now(UTC)
    later = format_datetime(sent + timedelta(seconds=30), usegmt=True)
    response = httpx.Response(429, headers={"Retry-After": later,
                                            "Date": format_datetime(sent, usegmt=True)})
    assert 25 <= (_retry_after(response) or 0) <= 30
    # the date counts from the server's Date header; without one, backoff applies instead
    assert _retry_after(httpx.Response(429, headers={"Retry-After": later})) is None
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "-5"})) == 0


def test_retry_after_beyond_the_budget_gives_up_at_once(prometheus: str, slo: spec.Slo,
                                                       tmp_path: Path) -> None:
    hour = Reply(503, b"overloaded", {"Retry-After": "3600"})
    with FaultServer(prometheus, lambda n, p: hour) as server, \
            PrometheusClient(fast(server.url, attempts=1000, max_retry_s=5)) as client:
        with pytest.raises(ExtractError, match=r"HTTP 503 with Retry-After 3600 s, beyond the "
                                               r"retry budget of 5 s"):
            extract_slo(client, slo, [DAY], tmp_path)
    assert len(server.seen) == 1


@pytest.mark.parametrize("fault", ["503", "slow"])
def test_total_retry_time_is_bounded(fault: str, prometheus: str, slo: spec.Slo,
                                     tmp_path: Path) -> None:
    # Unlimited attempts and a wait of up to 0.4 s each: the 1 s budget ends it.
    config = fast(prometheus, attempts=10_000, backoff_s=0.1, backoff_max_s=0.4,
                  max_retry_s=1.0, timeout_s=0.3)
    started = time.monotonic()
    with FaultServer(prometheus, lambda n, p: TRANSIENT[fault]) as server, \
            PrometheusClient(fast(server.url, **{k: getattr(config, k) for k in (
                "attempts", "backoff_s", "backoff_max_s", "max_retry_s", "timeout_s")})
                             ) as client:
        with pytest.raises(ExtractError, match=r"\(gave up after 1\.\d s"):
            extract_slo(client, slo, [DAY], tmp_path)
    # The budget plus one last request's timeout, with slack for a loaded machine; without
    # the budget, 10,000 attempts would take over an hour.
    assert time.monotonic() - started < 5
    assert 2 <= len(server.seen) < 30
    assert no_parquet(tmp_path)


def test_backoff_is_jittered_and_grows(prometheus: str, slo: spec.Slo, tmp_path: Path) -> None:
    config = fast(prometheus, attempts=6, backoff_s=0.02, backoff_max_s=1.0)
    with FaultServer(prometheus, lambda n, p: Reply(503, b"x")) as server, \
            PrometheusClient(fast(server.url, attempts=6, backoff_s=config.backoff_s,
                                  backoff_max_s=config.backoff_max_s)) as client:
        with pytest.raises(ExtractError):
            extract_slo(client, slo, [DAY], tmp_path)
    gaps = [b.at - a.at for a, b in zip(server.seen, server.seen[1:], strict=False)]
    # Random exponential: wait n is uniform in [0, 0.02 * 2**n]; never above its cap.
    assert len(gaps) == 5
    assert all(g <= 0.02 * 2 ** (i + 1) + 0.25 for i, g in enumerate(gaps)), gaps


def test_a_dripping_answer_is_cut_at_the_request_deadline(prometheus: str, slo: spec.Slo,
                                                          tmp_path: Path) -> None:
    # One byte every 0.05 s, headers included: every read is far inside the 1 s timeout,
    # yet each answer takes about 7 s; only a deadline on the whole request stops it.
    body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    with FaultServer(prometheus, lambda n, p: Reply(body=body, drip_s=0.05)) as server, \
            PrometheusClient(fast(server.url, attempts=10_000, timeout_s=1.0,
                                  max_retry_s=2.0)) as client:
        started = time.monotonic()
        with pytest.raises(ExtractError, match=r"no complete answer within 1 s "
                                               r"\(gave up after 2\.\d s"):
            extract_slo(client, slo, [DAY], tmp_path)
        elapsed = time.monotonic() - started
    # The 2 s budget, with slack for a loaded machine; one dripped answer alone takes 7 s.
    assert elapsed < 4.5
    assert len(server.seen) >= 2  # each attempt was cut at its 1 s and tried again
    assert no_parquet(tmp_path)
