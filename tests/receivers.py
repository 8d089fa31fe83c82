"""Receivers for the delivery tests: a real SMTP server (aiosmtpd) and a loopback HTTP server
standing in for Slack's incoming-webhook endpoint, each keeping what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from demo.prom import free_port


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "no HTML body"
        return str(part.get_content())  # type: ignore[attr-defined]

    def attachments(self) -> dict[str, bytes]:
        return {str(p.get_filename()): p.get_content()  # type: ignore[attr-defined]
                for p in self.message.iter_attachments()}


@dataclass
class Mailbox:
    """What the SMTP server accepted, in order."""
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else \
            str(envelope.content).encode()
        self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos),
                               message_from_bytes(content, policy=policy.default)))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a fixed port, so it can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def connection(self, sender: str = "slo-reports@example.com") -> str:
        """``AIRFLOW_CONN_SMTP_DEFAULT`` for this server: plain SMTP on loopback, and no
        retries inside the hook, so a refused send fails the task at once."""
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"from_email": sender, "disable_ssl": True,
                                     "disable_tls": True, "retry_limit": 0, "timeout": 10}})


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Webhook:
    """The posts a loopback stand-in for a Slack incoming webhook received."""
    port: int
    token: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def connection(self) -> str:
        """``AIRFLOW_CONN_SLACK_DEFAULT``: the webhook's host in host, its token in password."""
        return json.dumps({"conn_type": "slackwebhook", "host": f"127.0.0.1:{self.port}",
                           "schema": "http", "password": self.token})


@contextmanager
def webhook(token: str = "T0000TEST/B0000TEST/webhooksecret0123456789") -> Iterator[Webhook]:
    hook = Webhook(free_port(), token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.paths.append(self.path)
            hook.posts.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")  # what Slack answers

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
