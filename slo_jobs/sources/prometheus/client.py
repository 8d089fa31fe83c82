"""A small Prometheus HTTP API client for ``query_range``, with retries and chunking."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from ...core import redaction
from ...core.errors import ExtractError
from ..endpoint import PrometheusConfig
from ..request import Requester, Retryable
from .rawpath import RawReader
from .samples import Series, decode_series

# Prometheus refuses query_range answers of more than 11,000 points per series.
MAX_POINTS = 11_000
# Refusals that a shorter range avoids: Prometheus' resolution and sample limits, and the
# range limits of Thanos and Mimir in front of it.
_TOO_LARGE = ("exceeded maximum resolution", "would load too many samples",
              "maximum number of samples", "query time range exceeds the limit")


class _TooLarge(Exception):
    """Prometheus refused the range as too large; a shorter one may pass."""


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
        self._http = Requester(config, headers, auth, transport)
        self.reader = RawReader(config, self._http, self.query_samples, self._redact)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _refused(self, body: dict[str, Any], query: str) -> ExtractError | _TooLarge:
        message = str(body.get("error", "no message"))
        if any(marker in message for marker in _TOO_LARGE):
            return _TooLarge(message)
        return ExtractError(f"Prometheus at {self.config.url} refused query {query!r}: "
                            f"{body.get('errorType', 'error')}: {_short(self._redact(message))}")

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One attempt: the answer's JSON, or Retryable, or an ExtractError naming the query."""
        query = params.get("query") or params.get("match[]", "")
        response = self._http.attempt("GET", path, params=params)
        try:
            # The bytes straight to the parser: Response.json() costs a text decode more.
            body = json.loads(response.content)
        except ValueError:
            if response.status_code == 200:
                # A cut connection or a proxy in between: worth another try.
                raise Retryable("HTTP 200 with a body that is not JSON (truncated?)") from None
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
        query = params.get("query") or params.get("match[]", "")
        return self._http.call(lambda: self._get(path, params), f"query {query!r}")

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
        up to ``at``, as Prometheus stored them, through the source's read path (remote read,
        export or the query API: see :mod:`.rawpath`).

        Remote read and Prometheus 2 return ``[at - range, at]``, Prometheus 3 and
        VictoriaMetrics ``(at - range, at]``: callers ask overlapping ranges and deduplicate,
        so all give the same samples.  A range refused as too large is split in halves.
        """
        try:
            return self.reader.samples(selector, at, range_s)
        except ExtractError as exc:
            raise ExtractError(self._redact(str(exc))) from None

    def query_samples(self, selector: str, at: int, range_s: int) -> list[Series]:
        """:meth:`raw_samples` through the query API: an instant query of ``selector[range]``."""
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
