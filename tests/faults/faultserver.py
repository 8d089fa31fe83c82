"""A fault-injecting HTTP server on loopback, in front of the real test Prometheus.

Each request asks ``script(n, params)`` (n counts from 1) for a :class:`Reply`: forward to
Prometheus, answer something else, answer late, cut the answer or reset the connection.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None  # None: Prometheus' own answer
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late
    reset: bool = False  # close the connection with a TCP reset, no answer
    cut_at: int | None = None  # send only this many body bytes, then close
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # rewrite the JSON
    drip_s: float = 0.0  # send the whole answer, headers included, one byte per drip_s
    pad_s: float = 0.0  # with drip_s: a header line long enough to drip for this long


FORWARD = Reply()


def error_body(error_type: str, error: str) -> bytes:
    return json.dumps({"status": "error", "errorType": error_type, "error": error}).encode()


@dataclass
class Seen:
    at: float
    params: dict[str, str]
    headers: dict[str, str]
    client: tuple[str, int] = ("", 0)  # the client's address: the same one on a kept-alive
    # connection
    dripped: int | None = None  # of a dripped answer: the bytes sent before the client left
    head: int = 0  # of a dripped answer: the length of its status line and headers

    @property
    def points(self) -> int:
        p = self.params
        return (int(p["end"]) - int(p["start"])) // int(p["step"]) + 1

    @property
    def range_s(self) -> int:
        """The range of a raw-sample query ``selector[<n>s]``."""
        return int(self.params["query"].rsplit("[", 1)[1].removesuffix("s]"))


class FaultServer:
    def __init__(self, upstream: str,
                 script: Callable[[int, dict[str, str]], Reply] = lambda n, p: FORWARD) -> None:
        self.seen: list[Seen] = []
        self.script = script
        self.bulk = False  # forward remote read and export (see Handler._bulk)
        upstream_http = httpx.Client(base_url=upstream, timeout=30)
        outer = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _bulk(self) -> bool:
                """The bulk read paths (remote read, export) stand in front of Prometheus'
                query API only when ``bulk`` says so; else they are refused, uncounted, as
                a proxy forwarding only the query API would."""
                if urlsplit(self.path).path not in ("/api/v1/read", "/api/v1/export"):
                    return False
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if outer.bulk:
                    answer = upstream_http.request(self.command, self.path, content=body,
                                                   headers=dict(self.headers))
                    status, out, kind = answer.status_code, answer.content, \
                        answer.headers.get("Content-Type", "")
                else:
                    status, out, kind = 404, b"404 page not found", "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return True

            def do_POST(self) -> None:  # noqa: N802
                if not self._bulk():
                    self.send_error(405)

            def do_GET(self) -> None:  # noqa: N802
                if self._bulk():
                    return
                params = dict(parse_qsl(urlsplit(self.path).query))
                seen = Seen(time.monotonic(), params, dict(self.headers), self.client_address)
                with lock:
                    outer.seen.append(seen)
                    n = len(outer.seen)
                reply = outer.script(n, params)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.reset:
                    # SO_LINGER 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                body, status = reply.body, reply.status
                if body is None:
                    answer = upstream_http.get(self.path)
                    body, status = answer.content, answer.status_code
                    if reply.edit is not None:
                        body = json.dumps(reply.edit(json.loads(body))).encode()
                if reply.drip_s:
                    self._drip(seen, status, body, reply)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body if reply.cut_at is None else body[:reply.cut_at])
                except OSError:
                    pass  # the client gave up waiting
                if reply.cut_at is not None:
                    self.close_connection = True

            def _drip(self, seen: Seen, status: int, body: bytes, reply: Reply) -> None:
                pad = f"X-Pad: {'a' * int(reply.pad_s / reply.drip_s)}\r\n" if reply.pad_s \
                    else ""
                head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n{pad}"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                self.close_connection = True
                seen.head, seen.dripped = len(head), 0
                for i, byte in enumerate(head + body):
                    if i:
                        time.sleep(reply.drip_s)
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up
                    seen.dripped = i + 1

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that time out leave broken pipes behind

        self._upstream = upstream_http
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._upstream.close()
