"""Which way raw samples are read from a source, chosen once per client, and the reads of the
two bulk paths (docs/extraction.md, "Read paths").

* ``remote-read``: Prometheus' remote-read API, protobuf samples (:mod:`.remote_read`);
* ``export``: VictoriaMetrics' ``/api/v1/export`` (JSON lines of plain numbers);
* ``query``: an instant query of ``selector[range]`` (any Prometheus-compatible API).

``auto`` (the default) probes the source once: remote read where it answers a protobuf
ReadResponse, export where it answers an export, the query API otherwise (Thanos, a proxy
that forwards only the query API, anything that refuses the others).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ...core.errors import ExtractError
from ..endpoint import PrometheusConfig
from ..request import Requester, Retryable
from . import remote_read
from .samples import Series

# What a refused remote read says when a shorter range would pass
# (--storage.remote.read-sample-limit).
_TOO_MANY = ("exceeded sample limit", "exceeded bytes limit")
# A range of this length is never split further.
_MIN_RANGE_S = 60
_PROBE = '{__name__="slo_jobs_read_path_probe"}'


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class RawReader:
    """Raw samples of a selector over ``[at - range_s, at]`` through the client's read path.

    ``query``: the query API's read (the fallback, and the path of selectors the protocols
    cannot express); ``redact``: the client's credential filter for any text a server sent.
    """

    def __init__(self, config: PrometheusConfig, http: Requester,
                 query: Callable[[str, int, int], list[Series]],
                 redact: Callable[[str], str]) -> None:
        self.config = config
        self._http = http
        self._query = query
        self._redact = redact
        self._lock = threading.Lock()
        self._path: str | None = None if config.read == "auto" else config.read

    def path(self) -> str:
        """The read path of this client's source (probed on first use, then kept)."""
        with self._lock:
            if self._path is None:
                found = self._probe()
                if found is None:
                    # The source did not answer at all: the query API's read reports that
                    # in its own words, and the next read probes again.
                    return "query"
                self._path = found
            return self._path

    def samples(self, selector: str, at: int, range_s: int) -> list[Series]:
        path = self.path()
        if path != "query":
            found = remote_read.matchers(selector)
            if found is not None:
                if path == "remote-read":
                    return self._remote(selector, found, at, range_s)
                return self._export(selector, at, range_s)
        return self._query(selector, at, range_s)

    # --- choosing -------------------------------------------------------------------------

    def _answer(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One attempt's answer, any status; None when HTTP 429/5xx or nothing came back
        (a probe is not worth retries: the fallback works everywhere)."""
        try:
            return self._http.attempt(method, url, **kw)
        except Retryable:
            return None

    def _probe(self) -> str | None:
        """The first path the source answers; None when it answered nothing at all."""
        found = remote_read.matchers(_PROBE)
        assert found is not None
        answer = self._answer("POST", "/api/v1/read", headers=remote_read.HEADERS,
                              content=remote_read.request(found, 0, 0))
        if answer is None:
            return None
        if answer.status_code == 200 and \
                answer.headers.get("content-type", "").startswith("application/x-protobuf"):
            try:
                remote_read.decode(answer.content)
                return "remote-read"
            except remote_read.Malformed:
                pass
        answer = self._answer("GET", "/api/v1/export",
                              params={"match[]": _PROBE, "start": "0", "end": "1"})
        if answer is not None and answer.status_code == 200:
            try:
                remote_read.decode_export(answer.content)
                return "export"
            except remote_read.Malformed:
                pass
        return "query"

    # --- reading --------------------------------------------------------------------------

    def _refused(self, how: str, selector: str, response: httpx.Response) -> ExtractError:
        return ExtractError(f"Prometheus at {self.config.url}: {how} of {selector!r}: HTTP "
                            f"{response.status_code}: "
                            f"{_short(self._redact(response.text))!r}; expected the raw "
                            "samples (set read: query in the connection's extra or "
                            "SLO_JOBS_PROMETHEUS_READ=query to read through the query API)")

    def _remote(self, selector: str, found: Sequence[Any], at: int, range_s: int
                ) -> list[Series]:
        body = remote_read.request(found, (at - range_s) * 1000, at * 1000)

        def once() -> list[Series] | None:
            response = self._http.attempt("POST", "/api/v1/read", content=body,
                                          headers=remote_read.HEADERS)
            if response.status_code != 200 and any(marker in response.text
                                                    for marker in _TOO_MANY):
                return None
            return self._decoded(response, remote_read.decode, "remote read", selector)

        out = self._http.call(once, f"remote read of {selector!r}")
        if out is not None:
            return out
        if range_s <= _MIN_RANGE_S:
            raise ExtractError(f"Prometheus at {self.config.url} refused the remote read of "
                               f"{selector!r} even for one minute of samples; expected a "
                               "selector matching fewer series (raise "
                               "--storage.remote.read-sample-limit)")
        half = range_s // 2  # the halves overlap at one instant: merged later
        return self._remote(selector, found, at - half, range_s - half) + \
            self._remote(selector, found, at, half)

    def _export(self, selector: str, at: int, range_s: int) -> list[Series]:
        params = {"match[]": selector, "start": str(at - range_s), "end": str(at)}

        def once() -> list[Series]:
            response = self._http.attempt("GET", "/api/v1/export", params=params)
            return self._decoded(response, remote_read.decode_export, "export", selector)

        return self._http.call(once, f"export of {selector!r}")

    def _decoded(self, response: httpx.Response, decode: Callable[[bytes], list[Series]],
                 how: str, selector: str) -> list[Series]:
        """The series of a bulk read's answer; a refusal is an error naming the selector."""
        if response.status_code != 200:
            raise self._refused(how, selector, response)
        try:
            return decode(response.content)
        except remote_read.Malformed as exc:
            # A cut connection or a proxy in between: worth another try.
            raise Retryable(f"HTTP 200 with an answer that does not decode: {exc}") from None
