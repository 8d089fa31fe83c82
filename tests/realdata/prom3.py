"""A loopback proxy that gives a Prometheus 2 the range selectors of Prometheus 3.

Prometheus 2 answers ``sel[d]`` evaluated at T with the samples of [T - d, T]; Prometheus 3
with those of (T - d, T].  For ``/api/v1/query`` whose query is a plain selector with a range,
the proxy drops the samples stamped exactly T - d; every other request passes unchanged.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
            "w": 604_800_000, "y": 31_536_000_000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
# A metric name and/or a label matcher list (quoted values may hold braces), then [range].
_SELECTOR = re.compile(
    r"\s*(?=[a-zA-Z_:{])([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{(?:[^}\"]|" + _QUOTED + r")*\})?"
    r"\s*\[\s*((?:\d+(?:ms|s|m|h|d|w|y))+)\s*\]\s*")


def duration_ms(text: str) -> int:
    """``1h30m`` -> 5400000; the units of PromQL durations."""
    if not re.fullmatch(r"(?:\d+(?:ms|s|m|h|d|w|y))+", text):
        raise ValueError(f"not a PromQL duration: {text!r}")
    return sum(int(n) * _UNIT_MS[u] for n, u in _DURATION.findall(text))


def range_of(query: str) -> int | None:
    """The range of a plain ``selector[range]`` query in ms, else None."""
    m = _SELECTOR.fullmatch(query)
    if m is None or not (m.group(1) or m.group(2)):
        return None
    return duration_ms(m.group(3))


def time_ms(text: str) -> int:
    """A query ``time``: Unix seconds (decimals allowed) or RFC 3339."""
    try:
        return round(float(text) * 1000)
    except ValueError:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def left_open(answer: dict[str, Any], boundary_ms: int) -> dict[str, Any]:
    """Drop the matrix samples stamped ``boundary_ms``, and series left without samples."""
    data = answer.get("data") or {}
    if answer.get("status") != "success" or data.get("resultType") != "matrix":
        return answer
    kept = []
    for series in data["result"]:
        values = [v for v in series.get("values", [])
                  if round(float(v[0]) * 1000) != boundary_ms]
        if values:
            kept.append({**series, "values": values})
    return {**answer, "data": {**data, "result": kept}}


class Prom3Proxy:
    """Serve on a free loopback port until ``close``; ``url`` is its base URL."""

    def __init__(self, upstream: str) -> None:
        client = httpx.Client(base_url=upstream, timeout=120)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if urlsplit(self.path).path == "/api/v1/read":
                    # A proxy that forwards only the query API: readers fall back to it.
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "accept", "authorization")}
                answer = client.request(method, self.path, content=body or None,
                                        headers=headers)
                out = answer.content
                split = urlsplit(self.path)
                if split.path == "/api/v1/query" and answer.status_code == 200:
                    params = dict(parse_qsl(split.query))
                    if "form" in self.headers.get("Content-Type", ""):
                        params.update(parse_qsl(body.decode()))
                    rng = range_of(params.get("query", ""))
                    # Without a time the upstream's own clock is unknown here: pass through.
                    if rng is not None and "time" in params:
                        edited = left_open(answer.json(), time_ms(params["time"]) - rng)
                        out = json.dumps(edited).encode()
                self.send_response(answer.status_code)
                self.send_header("Content-Type",
                                 answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._forward("POST")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._client = client
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()
