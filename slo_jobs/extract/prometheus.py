"""A small Prometheus HTTP API client for ``query_range``, with retries and chunking."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import tenacity

from ..errors import ExtractError

# Prometheus refuses query_range answers of more than 11,000 points per series.
MAX_POINTS = 11_000
_RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class PrometheusConfig:
    """Where and how to reach Prometheus.  Secrets never appear in ``repr``."""

    url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0

    @classmethod
    def from_env(cls, url: str | None = None) -> PrometheusConfig:
        """Read ``SLO_JOBS_PROMETHEUS_URL`` / ``_TOKEN`` / ``_USERNAME`` / ``_PASSWORD``."""
        resolved = url or os.environ.get("SLO_JOBS_PROMETHEUS_URL")
        if not resolved:
            raise ExtractError("Prometheus URL: not set; expected --prometheus-url or "
                               "SLO_JOBS_PROMETHEUS_URL, e.g. http://127.0.0.1:9090")
        return cls(url=resolved.rstrip("/"),
                   token=os.environ.get("SLO_JOBS_PROMETHEUS_TOKEN") or None,
                   username=os.environ.get("SLO_JOBS_PROMETHEUS_USERNAME") or None,
                   password=os.environ.get("SLO_JOBS_PROMETHEUS_PASSWORD") or None)


    @classmethod
    def from_connection(cls, conn_type: str | None, host: str | None, port: int | None,
                        schema: str | None, login: str | None, password: str | None,
                        extra: dict[str, Any] | None = None) -> PrometheusConfig:
        """Build from the parts of an Airflow Connection (``prometheus_default``).

        ``extra`` may hold ``token`` (bearer); login/password give basic auth.
        """
        if not host:
            raise ExtractError("Prometheus connection: host is empty; expected e.g. "
                               "AIRFLOW_CONN_PROMETHEUS_DEFAULT='http://127.0.0.1:9090'")
        scheme = "https" if (conn_type or "").lower() in {"https"} else "http"
        base = host if "://" in host else f"{scheme}://{host}"
        if port:
            base = f"{base.rstrip('/')}:{port}"
        if schema:
            base = f"{base.rstrip('/')}/{schema.strip('/')}"
        token = (extra or {}).get("token")
        return cls(url=base.rstrip("/"), token=str(token) if token else None,
                   username=login or None, password=password or None)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class PrometheusClient:
    """``query_range`` returning one aggregated series as ``{unix_seconds: value}``."""

    def __init__(self, config: PrometheusConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        auth = (config.username, config.password or "") if config.username else None
        self._http = httpx.Client(base_url=config.url, headers=headers, auth=auth,
                                  timeout=config.timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        base = tenacity.wait_random_exponential(multiplier=self.config.backoff_s,
                                                max=self.config.backoff_max_s)(state)
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(max(exc.retry_after, base), self.config.backoff_max_s * 4)
        return base

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get("/api/v1/query_range", params=params)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.config.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        try:
            body = response.json()
        except ValueError:
            raise _Retryable(f"HTTP {response.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise ExtractError(f"Prometheus at {self.config.url}: answer is not a JSON object")
        if body.get("status") != "success":
            raise ExtractError(
                f"Prometheus at {self.config.url} refused query {params['query']!r}: "
                f"{body.get('errorType', 'error')}: {body.get('error', 'no message')}")
        return body

    def _fetch(self, params: dict[str, str]) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self.config.attempts),
            wait=self._wait, reraise=True)
        try:
            return retrying(self._get, params)
        except _Retryable as exc:
            raise ExtractError(f"Prometheus at {self.config.url} failed after "
                               f"{self.config.attempts} attempts: {exc.reason}") from None

    def query_range(self, promql: str, start: datetime, end: datetime,
                    step: timedelta) -> dict[int, float]:
        """Evaluate at start, start+step, ..., end (inclusive); one series expected.

        Long ranges are split so no request exceeds MAX_POINTS points per series.
        """
        step_s = int(step.total_seconds())
        t0, t1 = int(start.timestamp()), int(end.timestamp())
        out: dict[int, float] = {}
        chunk = (MAX_POINTS - 1) * step_s
        while t0 <= t1:
            hi = min(t1, t0 + chunk)
            body = self._fetch({"query": promql, "start": str(t0), "end": str(hi),
                                "step": str(step_s)})
            out.update(self._single_series(body, promql))
            t0 = hi + step_s
        return out

    def _single_series(self, body: dict[str, Any], promql: str) -> dict[int, float]:
        data = body.get("data") or {}
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise ExtractError(f"Prometheus at {self.config.url}: query {promql!r} did not "
                               "return a range matrix")
        if len(result) > 1:
            # Taking the first series would silently drop events: refuse instead.
            labels = ", ".join(str(s.get("metric")) for s in result[:3])
            raise ExtractError(f"query {promql!r} returned {len(result)} series ({labels}); "
                               "expected one: aggregate it with sum(...)")
        points: dict[int, float] = {}
        for series in result:
            for ts, raw in series.get("values", []):
                value = float(raw)
                if math.isfinite(value):
                    points[int(float(ts))] = value
        return points
