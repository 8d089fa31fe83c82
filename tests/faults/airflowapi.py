"""A minimal Airflow REST API v2 on loopback, for faults a real Airflow cannot be made to show:
``POST /auth/token`` and ``GET /api/v2/dags/<dag>/dagRuns`` (filtered by logical date, ordered
by id, paged by ``limit``/``offset`` as Airflow pages), over https with a required client
certificate when given a throwaway CA, with scripted 503s and dripped answers.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.faults.tlsutil import Pki


@dataclass
class Request:
    method: str
    path: str  # as sent, still quoted
    client: tuple[str, int]
    peer_cn: str | None  # the client certificate's common name (https only)


@dataclass
class AirflowApi:
    """``runs``: each DAG's run records as the API returns them (``dag_run_id``,
    ``logical_date``, ...); ``fault(n)`` may answer request n (from 1) with a status instead,
    a body (bytes, HTTP 200), or ``"drip"``: its headers one byte every 0.05 s, for a minute."""

    runs: dict[str, list[dict[str, Any]]]
    password: str
    pki: Pki | None = None
    fault: Callable[[int], int | str | bytes | None] = lambda n: None
    seen: list[Request] = field(default_factory=list)
    dripped: list[int] = field(default_factory=list)  # bytes of each drip sent

    def __post_init__(self) -> None:
        token = secrets.token_urlsafe(24)
        api, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _seen(self) -> int | str | bytes | None:
                cert = self.connection.getpeercert() if api.pki else None
                cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else None
                with lock:
                    api.seen.append(Request(self.command, self.path, self.client_address, cn))
                    return api.fault(len(api.seen))

            def _drip(self) -> None:
                head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 1200 + b"\r\n"
                self.close_connection = True
                api.dripped.append(0)
                for i, byte in enumerate(head):
                    time.sleep(0.05)
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up
                    api.dripped[-1] = i + 1

            def do_POST(self) -> None:  # noqa: N802
                fault = self._seen()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if isinstance(fault, int):
                    self._answer(fault, {"detail": "unavailable"})
                elif body == {"username": "admin", "password": api.password}:
                    self._answer(201, {"access_token": token})
                else:
                    self._answer(401, {"detail": "Invalid credentials"})

            def do_GET(self) -> None:  # noqa: N802
                fault = self._seen()
                if fault == "drip":
                    self._drip()
                    return
                if isinstance(fault, int):
                    self._answer(fault, {"detail": "unavailable"})
                    return
                if isinstance(fault, bytes):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(fault)))
                    self.end_headers()
                    self.wfile.write(fault)
                    return
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self._answer(401, {"detail": "Not authenticated"})
                    return
                parts = urlsplit(self.path)
                segments = parts.path.split("/")
                if len(segments) != 6 or segments[:4] != ["", "api", "v2", "dags"] \
                        or segments[5] != "dagRuns" or unquote(segments[4]) not in api.runs:
                    self._answer(404, {"detail": "Not Found"})
                    return
                q = dict(parse_qsl(parts.query))
                after, until = _at(q["logical_date_gt"]), _at(q["logical_date_lte"])
                match = sorted((r for r in api.runs[unquote(segments[4])]
                                if after < _at(r["logical_date"]) <= until),
                               key=lambda r: r["id"])
                offset, limit = int(q["offset"]), int(q["limit"])
                self._answer(200, {"dag_runs": match[offset:offset + limit],
                                   "total_entries": len(match)})

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # refused handshakes and clients that gave up

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if self.pki is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            ctx.load_verify_locations(self.pki.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
