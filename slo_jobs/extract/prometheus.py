"""A small Prometheus HTTP API client for ``query_range``, with retries and chunking."""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import tenacity

from .. import redaction
from ..endpoint import PrometheusConfig
from ..errors import ExtractError
from .samples import Series, decode_series

# Prometheus refuses query_range answers of more than 11,000 points per series.
MAX_POINTS = 11_000
_RETRY_STATUS = {429, 500, 502, 503, 504}
# Refusals that a shorter range avoids: Prometheus' resolution and sample limits, and the
# range limits of Thanos and Mimir in front of it.
_TOO_LARGE = ("exceeded maximum resolution", "would load too many samples",
              "maximum number of samples", "query time range exceeds the limit")


class _Watch:
    """The sockets of one request, shut down if it outlives its deadline."""

    def __init__(self) -> None:
        self.streams: list[Any] = []
        self.done = False
        self.expired = False

    def add(self, stream: Any) -> None:
        self.streams.append(stream)
        if self.expired:  # connected after the deadline: end it at once
            _shutdown(stream)

    def expire(self) -> None:
        self.expired = True
        for stream in list(self.streams):
            _shutdown(stream)


def _shutdown(stream: Any) -> None:
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        try:
            # The plain socket's shutdown, also under TLS: it wakes a blocked reader.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _Watchdog:
    """One thread for the process that ends requests past their deadline.

    Requests run in their callers' threads (handing each to a thread cost about 2 ms a
    request); a finished request is only marked done, and the thread wakes at the earliest
    deadline, so it costs nothing while requests finish in time.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, deadline: float) -> Iterator[_Watch]:
        watch = _Watch()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prometheus-deadlines",
                                                daemon=True)
                self._thread.start()
            if not self._heap or deadline < self._heap[0][0]:
                self._cond.notify()
            heapq.heappush(self._heap, (deadline, next(self._seq), watch))
        try:
            yield watch
        finally:
            watch.done = True

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    watch = heapq.heappop(self._heap)[2]
                    if not watch.done:
                        watch.expire()
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _TooLarge(Exception):
    """Prometheus refused the range as too large; a shorter one may pass."""


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: either delay-seconds or an HTTP date.

    An HTTP date is read against the response's own ``Date`` header, not the local clock:
    both come from the server, so a skewed client clock cannot stretch or skip the wait.
    Without a ``Date`` header the date is ignored and the usual backoff applies.
    """
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return max(0.0, (when - sent).total_seconds())


def _tls(config: PrometheusConfig) -> ssl.SSLContext | bool:
    if not (config.ca_bundle or config.client_cert):
        return True
    try:
        ctx = ssl.create_default_context(cafile=config.ca_bundle)
        if config.client_cert:
            ctx.load_cert_chain(config.client_cert, config.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ExtractError(f"Prometheus TLS files (CA bundle {config.ca_bundle}, client "
                           f"certificate {config.client_cert}): cannot load "
                           f"({type(exc).__name__}); expected readable PEM files") from None
    return ctx


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class PrometheusClient:
    """``query_range`` returning one aggregated series as ``{unix_seconds: value}``.

    Values are returned as Prometheus gave them, NaN and infinities included: the
    caller decides what an unusable value means.
    """

    def __init__(self, config: PrometheusConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        auth = (config.username, config.password or "") if config.username else None
        self._http = httpx.Client(base_url=config.url, headers=headers, auth=auth,
                                  timeout=config.timeout_s, transport=transport,
                                  verify=_tls(config))
        if config.token or config.password:
            redaction.warn_plain_http(config.url, "Prometheus")
        self._deadline = threading.local()  # per calling thread: the current request's end

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        wait = tenacity.wait_random_exponential(multiplier=self.config.backoff_s,
                                                max=self.config.backoff_max_s)(state)
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            wait = max(exc.retry_after, wait)
        # Never sleep past the retry budget: total time stays bounded.
        remaining = self.config.max_retry_s - (state.seconds_since_start or 0.0)
        return max(0.0, min(wait, remaining))

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        elapsed = state.seconds_since_start or 0.0
        if isinstance(exc, _Retryable) and exc.retry_after is not None \
                and elapsed + exc.retry_after > self.config.max_retry_s:
            # Prometheus asks for more patience than the budget has left: give up now
            # instead of asking again before it is ready.
            exc.reason += (f" with Retry-After {exc.retry_after:g} s, beyond the retry "
                           f"budget of {self.config.max_retry_s:g} s")
            return True
        return state.attempt_number >= self.config.attempts or \
            elapsed >= self.config.max_retry_s

    def _tls_refusal(self, exc: BaseException) -> ExtractError | None:
        """A TLS failure that another attempt cannot fix, as a clear error; else None.

        An untrusted server certificate or an alert from the server (it refused our client
        certificate, or that there was none) is configuration, not a passing fault: retrying
        would only hide it. A TLS connection cut short stays retryable.
        """
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ExtractError(
                f"Prometheus at {self.config.url}: TLS server certificate not trusted "
                f"({cause.verify_message}); expected a certificate signed by a CA in the CA "
                f"bundle ({self.config.ca_bundle or 'none set: system CAs'}; set "
                "SLO_JOBS_PROMETHEUS_CA_BUNDLE or ca_bundle in the connection's extra)")
        if isinstance(cause, ssl.SSLError) and "ALERT" in (cause.reason or ""):
            sent = f"client certificate {self.config.client_cert}" if self.config.client_cert \
                else "no client certificate"
            return ExtractError(
                f"Prometheus at {self.config.url}: TLS handshake refused by the server "
                f"({cause.reason}, {sent} sent); expected a client certificate it accepts "
                "(SLO_JOBS_PROMETHEUS_CLIENT_CERT and _CLIENT_KEY, or client_cert and "
                "client_key in the connection's extra)")
        return None

    def _refused(self, body: dict[str, Any], query: str) -> ExtractError | _TooLarge:
        message = str(body.get("error", "no message"))
        if any(marker in message for marker in _TOO_LARGE):
            return _TooLarge(message)
        return ExtractError(f"Prometheus at {self.config.url} refused query {query!r}: "
                            f"{body.get('errorType', 'error')}: {_short(self._redact(message))}")

    def _send(self, path: str, params: dict[str, str], deadline: float) -> httpx.Response:
        """GET ``path`` and read the whole answer by ``deadline`` (monotonic), or give up.

        httpx's timeout applies to each read, so a server dripping a byte at a time could
        hold a request for ever: the watchdog shuts the request's socket down at the
        deadline, which ends a blocked read at once.
        """
        with _WATCHDOG.watch(deadline) as watch:
            def trace(event: str, info: dict[str, Any]) -> None:
                if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                    watch.add(info.get("return_value"))

            try:
                with self._http.stream("GET", path, params=params,
                                       extensions={"trace": trace}) as answer:
                    watch.add(answer.extensions.get("network_stream"))
                    answer.read()
            except httpx.TransportError:
                if watch.expired:
                    raise httpx.ReadTimeout("no complete answer by the deadline") from None
                raise
            return answer

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("query") or params.get("match[]", "")
        deadline = getattr(self._deadline, "at", time.monotonic() + self.config.max_retry_s)
        attempt_deadline = min(deadline, time.monotonic() + self.config.timeout_s)
        try:
            response = self._send(path, params, attempt_deadline)
        except httpx.TimeoutException:
            raise _Retryable("no complete answer within "
                             f"{min(self.config.timeout_s, self.config.max_retry_s):g} s"
                             ) from None
        except httpx.TransportError as exc:
            tls = self._tls_refusal(exc)
            if tls is not None:
                raise tls from None
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        try:
            # The bytes straight to the parser: Response.json() costs a text decode more.
            body = json.loads(response.content)
        except ValueError:
            if response.status_code == 200:
                # A cut connection or a proxy in between: worth another try.
                raise _Retryable("HTTP 200 with a body that is not JSON (truncated?)") from None
            raise ExtractError(f"Prometheus at {self.config.url}: HTTP {response.status_code} "
                               f"for query {query!r}: {_short(self._redact(response.text), 120)!r}"
                               ) from None
        if not isinstance(body, dict):
            raise ExtractError(f"Prometheus at {self.config.url}: answer to query {query!r} "
                               "is not a JSON object")
        if body.get("status") != "success":
            raise self._refused(body, query)
        if body.get("warnings"):
            # Thanos and federated setups answer "success" with warnings when a source was
            # missing: the numbers would be partial, so refuse them.
            raise ExtractError(f"Prometheus at {self.config.url} answered query {query!r} "
                               f"with warnings (partial data): "
                               f"{_short(self._redact('; '.join(map(str, body['warnings']))))}; "
                               "expected a complete answer")
        return body

    def _fetch(self, params: dict[str, str],
               path: str = "/api/v1/query_range") -> dict[str, Any]:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=self._stop, wait=self._wait, reraise=True)
        started = time.monotonic()
        # One deadline for every attempt and wait: the whole request ends by then.
        self._deadline.at = started + self.config.max_retry_s
        try:
            return retrying(self._get, path, params)
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", self.config.attempts)
            raise ExtractError(
                f"Prometheus at {self.config.url} failed after {attempts} attempts: "
                f"{exc.reason} (gave up after {time.monotonic() - started:.1f} s; "
                f"query {params.get('query') or params.get('match[]')!r})") from None

    def _redact(self, text: str) -> str:
        # A server or proxy may echo the credentials it refused: never pass them on.
        # Called before any shortening, so a cut cannot leave part of a secret behind.
        basic = base64.b64encode(f"{self.config.username}:{self.config.password or ''}"
                                 .encode()).decode() if self.config.username else None
        return redaction.redact(text, (self.config.token, self.config.password, basic))

    def query_range(self, promql: str, start: datetime, end: datetime,
                    step: timedelta) -> dict[int, float]:
        """Evaluate at start, start+step, ..., end (inclusive); one series expected.

        Long ranges are split so no request exceeds MAX_POINTS points per series, and
        a range Prometheus refuses as too large is halved until it passes.
        """
        try:
            return self._query_range(promql, start, end, step)
        except ExtractError as exc:
            raise ExtractError(self._redact(str(exc))) from None

    def _query_range(self, promql: str, start: datetime, end: datetime,
                     step: timedelta) -> dict[int, float]:
        step_s = int(step.total_seconds())
        t0, t1 = int(start.timestamp()), int(end.timestamp())
        out: dict[int, float] = {}
        chunk = (MAX_POINTS - 1) * step_s
        pending: list[tuple[int, int]] = []
        while t0 <= t1:
            hi = min(t1, t0 + chunk)
            pending.append((t0, hi))
            t0 = hi + step_s
        pending.reverse()
        # Each split halves a range, so this ends after at most 2 * points requests.
        while pending:
            lo, hi = pending.pop()
            try:
                body = self._fetch({"query": promql, "start": str(lo), "end": str(hi),
                                    "step": str(step_s)})
            except _TooLarge as exc:
                if hi == lo:
                    raise ExtractError(
                        f"Prometheus at {self.config.url} refused query {promql!r} even for "
                        f"a single point: {_short(self._redact(str(exc)))}; expected a query "
                        "within its limits (raise --query.max-samples or simplify the query)"
                        ) from None
                mid = lo + ((hi - lo) // step_s // 2) * step_s
                pending += [(mid + step_s, hi), (lo, mid)]
                continue
            out.update(self._single_series(body, promql))
        return out

    def _matrix(self, body: dict[str, Any], query: str) -> list[Any]:
        """The series of a range-matrix answer; anything else is an error naming the query."""
        data = body.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("resultType") != "matrix" \
                or not isinstance(result, list):
            raise ExtractError(f"Prometheus at {self.config.url}: query {query!r} did not "
                               "return a range matrix")
        return result

    def _single_series(self, body: dict[str, Any], promql: str) -> dict[int, float]:
        result = self._matrix(body, promql)
        if len(result) > 1:
            # Taking the first series would silently drop events: refuse instead.
            labels = ", ".join(str(s.get("metric") if isinstance(s, dict) else s)
                               for s in result[:3])
            raise ExtractError(f"query {promql!r} returned {len(result)} series ({labels}); "
                               "expected one: aggregate it with sum(...)")
        points: dict[int, float] = {}
        for series in result:
            values = series.get("values") if isinstance(series, dict) else None
            if not isinstance(values, list):
                raise ExtractError(f"Prometheus at {self.config.url}: query {promql!r}: a "
                                   "series without a list of values")
            for point in values:
                try:
                    ts, raw = point
                    points[int(float(ts))] = float(raw)
                except (TypeError, ValueError):
                    raise ExtractError(
                        f"Prometheus at {self.config.url}: query {promql!r}: malformed point "
                        f"{_short(repr(point), 60)}; expected [unix_time, \"value\"]") from None
        return points

    # --- raw samples ----------------------------------------------------------------------

    def raw_samples(self, selector: str, at: int, range_s: int) -> list[Series]:
        """Every raw sample of every series matching ``selector`` in the ``range_s`` seconds
        up to ``at``, as Prometheus stored them (an instant query of ``selector[range]``).

        Prometheus 2 returns ``[at - range, at]``, Prometheus 3 and VictoriaMetrics
        ``(at - range, at]``: callers ask overlapping ranges and deduplicate, so both give the
        same samples.  A range refused as too large is split in halves.
        """
        try:
            return self._raw(selector, at, range_s)
        except ExtractError as exc:
            raise ExtractError(self._redact(str(exc))) from None

    def _raw(self, selector: str, at: int, range_s: int) -> list[Series]:
        query = f"{selector}[{range_s}s]"
        try:
            body = self._fetch({"query": query, "time": str(at)}, "/api/v1/query")
        except _TooLarge as exc:
            if range_s <= 60:
                raise ExtractError(
                    f"Prometheus at {self.config.url} refused query {query!r} even for one "
                    f"minute of samples: {_short(self._redact(str(exc)))}; expected a "
                    "selector matching fewer series (raise --query.max-samples)") from None
            half = range_s // 2
            return self._raw(selector, at - half, range_s - half) + \
                self._raw(selector, at, half)
        result = self._matrix(body, query)
        out = []
        for entry in result:
            metric = entry.get("metric") if isinstance(entry, dict) else None
            values = entry.get("values") if isinstance(entry, dict) else None
            if not isinstance(metric, dict) or not isinstance(values, list):
                raise ExtractError(f"Prometheus at {self.config.url}: query {query!r}: a "
                                   "series without labels or a list of values")
            out.append(decode_series(metric, values, query, self.config.url))
        return out

    def label_sets(self, match: str, start: int, end: int) -> list[dict[str, str]]:
        """The label sets of the series matching ``match`` with samples in [start, end]."""
        params = {"match[]": match, "start": str(start), "end": str(end)}
        try:
            body = self._fetch(params, "/api/v1/series")
        except _TooLarge as exc:
            raise ExtractError(self._redact(f"Prometheus at {self.config.url} refused to list "
                                            f"series {match!r}: "
                                            f"{_short(self._redact(str(exc)))}")) from None
        except ExtractError as exc:
            raise ExtractError(self._redact(str(exc))) from None
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ExtractError(f"Prometheus at {self.config.url}: series of {match!r}: "
                               "expected a list of label sets")
        return [{str(k): str(v) for k, v in d.items()} for d in data]
