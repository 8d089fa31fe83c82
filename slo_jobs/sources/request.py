"""The one request core of every HTTP service slo-jobs calls (Prometheus and the Airflow
REST API): TLS from the endpoint's CA bundle and client certificate, retries with jittered
exponential backoff that honour ``Retry-After``, and one deadline for the whole request.

Deadlines: ``timeout_s`` bounds one attempt and ``max_retry_s`` every attempt and wait of
one request. httpx's own timeout applies to each read, so a server dripping a byte at a time
could hold a request for ever; here every connect, TLS handshake, read and write of the
socket gets at most the time left to the attempt's deadline, on a new connection and on a
kept-alive one alike (the connection pool's network backend is wrapped, so no socket
operation escapes it).
"""

from __future__ import annotations

import contextvars
import math
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpcore
import httpx

from ..core import redaction
from ..core.errors import ExtractError
from .endpoint import Endpoint

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")
# The monotonic time by which the current attempt (in this thread or task) must be read.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("slo_jobs_deadline",
                                                                        default=None)


class Retryable(Exception):
    """A fault another attempt may not meet: a timeout, a cut connection, HTTP 429/5xx."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left to the deadline; ``expired`` once it passed."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("no complete answer by the deadline")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname,
                                             _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound(transport: httpx.BaseTransport | None) -> None:
    """Put the deadline under every socket of ``transport``'s pool (proxies included)."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and \
            not isinstance(pool._network_backend, _Backend):
        pool._network_backend = _Backend(pool._network_backend)


def retry_after(response: httpx.Response) -> float | None:
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


def _tls(config: Endpoint) -> ssl.SSLContext | bool:
    if not (config.ca_bundle or config.client_cert):
        return True
    try:
        ctx = ssl.create_default_context(cafile=config.ca_bundle)
        if config.client_cert:
            ctx.load_cert_chain(config.client_cert, config.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ExtractError(f"{config.SERVICE} TLS files (CA bundle {config.ca_bundle}, client "
                           f"certificate {config.client_cert}): cannot load "
                           f"({type(exc).__name__}); expected readable PEM files") from None
    return ctx


class Requester:
    """One service's HTTP client: requests with retries under the endpoint's budget.

    ``call(fn, what)`` runs ``fn`` until it returns or raises something other than
    :class:`Retryable`, all attempts and waits within ``max_retry_s``; inside it,
    ``attempt`` sends one request and reads its whole answer by the attempt's deadline.
    """

    def __init__(self, config: Endpoint, headers: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.Client(base_url=config.url, headers=headers, auth=auth,
                                  timeout=config.timeout_s, transport=transport,
                                  verify=_tls(config))
        for each in (self._http._transport, *self._http._mounts.values()):
            _bound(each)
        if config.token or config.password:
            redaction.warn_plain_http(config.url, config.SERVICE)
        self._whole = threading.local()  # per calling thread: the current request's end

    def close(self) -> None:
        self._http.close()

    def _wait(self, exc: Retryable, attempt: int, elapsed: float) -> float:
        """Seconds to wait before attempt ``attempt + 1``: jittered exponential backoff
        (uniform up to backoff_s * 2^(attempt-1), at most backoff_max_s), at least the
        server's ``Retry-After``, never past the retry budget."""
        c = self.config
        wait = random.uniform(0.0, min(c.backoff_max_s, c.backoff_s * 2.0 ** min(attempt - 1, 60)))
        if exc.retry_after is not None:
            wait = max(exc.retry_after, wait)
        # Never sleep past the retry budget: total time stays bounded.
        return max(0.0, min(wait, c.max_retry_s - elapsed))

    def _stop(self, exc: Retryable, attempt: int, elapsed: float) -> bool:
        if exc.retry_after is not None and elapsed + exc.retry_after > self.config.max_retry_s:
            # The server asks for more patience than the budget has left: give up now
            # instead of asking again before it is ready.
            exc.reason += (f" with Retry-After {exc.retry_after:g} s, beyond the retry "
                           f"budget of {self.config.max_retry_s:g} s")
            return True
        return attempt >= self.config.attempts or elapsed >= self.config.max_retry_s

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried while it raises :class:`Retryable`; a request still failing at
        the end of its attempts or budget is one line naming the URL and ``what``.
        (A plain loop: a retry library's bookkeeping cost more than a fast local request.)"""
        started = time.monotonic()
        outer = getattr(self._whole, "at", None)
        # One deadline for every attempt and wait: the whole request ends by then.
        self._whole.at = started + self.config.max_retry_s
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return fn()
                except Retryable as exc:
                    elapsed = time.monotonic() - started
                    if self._stop(exc, attempt, elapsed):
                        raise ExtractError(
                            f"{self.config.SERVICE} at {self.config.url} failed after "
                            f"{attempt} attempts: {exc.reason} (gave up after {elapsed:.1f} s; "
                            f"{what})") from None
                    time.sleep(self._wait(exc, attempt, elapsed))
        finally:
            self._whole.at = outer

    def attempt(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request, its whole answer read by the attempt's deadline.

        A timeout or a cut connection is :class:`Retryable`, as is HTTP 429/5xx; a TLS
        refusal is configuration, an :class:`ExtractError` at once.
        """
        whole = getattr(self._whole, "at", None) or math.inf
        token = _DEADLINE.set(min(whole, time.monotonic() + self.config.timeout_s))
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TimeoutException:
            raise Retryable("no complete answer within "
                            f"{min(self.config.timeout_s, self.config.max_retry_s):g} s"
                            ) from None
        except httpx.TransportError as exc:
            tls = self._tls_refusal(exc)
            if tls is not None:
                raise tls from None
            raise Retryable(f"connection failed ({type(exc).__name__})") from None
        finally:
            _DEADLINE.reset(token)
        if response.status_code in RETRY_STATUS:
            raise Retryable(f"HTTP {response.status_code}", retry_after(response))
        return response

    def _tls_refusal(self, exc: BaseException) -> ExtractError | None:
        """A TLS failure that another attempt cannot fix, as a clear error; else None.

        An untrusted server certificate or an alert from the server (it refused our client
        certificate, or that there was none) is configuration, not a passing fault: retrying
        would only hide it. A TLS connection cut short stays retryable.
        """
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        c = self.config
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ExtractError(
                f"{c.SERVICE} at {c.url}: TLS server certificate not trusted "
                f"({cause.verify_message}); expected a certificate signed by a CA in the CA "
                f"bundle ({c.ca_bundle or 'none set: system CAs'}; set "
                f"SLO_JOBS_{c.ENV}_CA_BUNDLE or ca_bundle in the connection's extra)")
        if isinstance(cause, ssl.SSLError) and "ALERT" in (cause.reason or ""):
            sent = f"client certificate {c.client_cert}" if c.client_cert \
                else "no client certificate"
            return ExtractError(
                f"{c.SERVICE} at {c.url}: TLS handshake refused by the server "
                f"({cause.reason}, {sent} sent); expected a client certificate it accepts "
                f"(SLO_JOBS_{c.ENV}_CLIENT_CERT and _CLIENT_KEY, or client_cert and "
                "client_key in the connection's extra)")
        return None
