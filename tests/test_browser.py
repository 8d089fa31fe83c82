"""report.html and index.html in a real browser (Debian's headless Chromium): they render, and
they fetch nothing from anywhere.

Chromium is driven over its DevTools protocol (``--remote-debugging-pipe``), and every request
the page makes is recorded from the page's own Network events, so the browser's background
traffic is not mistaken for the page's. Chromium's network also goes through a proxy on
loopback that answers 403, so nothing leaves the machine whatever happens. A control page
with an outside image and stylesheet proves the recorder catches such requests."""

from __future__ import annotations

import json
import os
import re
import shutil
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from slo_jobs.compute import SloParams, compute_window, write_result
from slo_jobs.core import periods
from slo_jobs.report import monthly as report
from tests.lakeutil import write_buckets

NOV = periods.month("2026-11")
HOSTILE = '<img src="http://203.0.113.9/x.png"> <script src="https://cdn.example/x.js"></script>'
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-pings",
         "--disable-breakpad", "--metrics-recording-only"]


class _Sink(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.rfile.readline(4096)
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")


@pytest.fixture(scope="module")
def sink() -> Iterator[str]:
    """A proxy on loopback that refuses everything: no request leaves the machine."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _as_fds_3_and_4(commands: int, replies: int) -> None:
    # In the child, before exec: Chromium reads commands on fd 3 and writes replies on fd 4.
    # Copied high first, so neither pipe end is clobbered when it already is 3 or 4.
    a, b = os.dup(commands), os.dup(replies)
    os.dup2(a, 3)
    os.dup2(b, 4)


class Browser:
    """Headless Chromium over the DevTools pipe (fd 3: commands in, fd 4: messages out)."""

    def __init__(self, proxy: str, profile: Path, *extra: str) -> None:
        exe = shutil.which("chromium")
        assert exe is not None, "chromium: not installed; run make install (scripts/bootstrap.sh)"
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", f"--proxy-server=http://{proxy}",
             "--proxy-bypass-list=<-loopback>", "--remote-debugging-pipe", *extra,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=lambda: _as_fds_3_and_4(to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            assert time.monotonic() < deadline, "chromium: no answer on the DevTools pipe"
            chunk = os.read(self._from_chrome, 1 << 16)
            assert chunk, "chromium: the DevTools pipe closed"
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def requests_of(self, url: str) -> list[str]:
        """Every URL the page at ``url`` requested (itself included), after it has loaded."""
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        session = self.send("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
        self.send("Network.enable", session)
        self.send("Page.enable", session)
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired")
        time.sleep(1.0)  # late requests (a script adding an image after load) land in here
        self.send("Runtime.evaluate", session, expression="1")  # drains pending events
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and e.get("sessionId") == session]

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except AssertionError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


@pytest.fixture()
def browser(sink: str, tmp_path: Path) -> Iterator[Browser]:
    b = Browser(sink, tmp_path / "profile")
    yield b
    b.close()


def chromium(*args: str, proxy: str, profile: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe is not None, "chromium: not installed; run make install (scripts/bootstrap.sh)"
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}",
                           f"--proxy-server=http://{proxy}", "--proxy-bypass-list=<-loopback>",
                           "--virtual-time-budget=5000", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> report.ReportFiles:
    base = tmp_path_factory.mktemp("browser")
    slos = [SloParams("api-availability", "api", f"Requests without a 5xx. {HOSTILE}", "h",
                      0.99),
            SloParams("web-latency", "web", "Pages within 1 s.", "h", 0.995)]
    write_buckets(base / "lake", "api-availability", NOV.start,
                  [(990.0, 1000.0)] * 20_000 + [None] * 200 + [(1000.0, 1000.0)] * 23_000)
    write_buckets(base / "lake", "web-latency", NOV.start, [(996.0, 1000.0)] * 43_200)
    write_result(base / "lake", compute_window(base / "lake", slos, NOV))
    return report.render(base / "lake", NOV, base / "out", source="test",
                         generated_at=datetime(2026, 12, 1, 6, 0, tzinfo=UTC))


@pytest.mark.parametrize("page", ["html", "index"])
def test_page_renders_and_fetches_nothing(rendered: report.ReportFiles, page: str,
                                          browser: Browser) -> None:
    path = rendered.html if page == "html" else rendered.index
    requested = browser.requests_of(path.as_uri())
    assert requested == [path.as_uri()], f"the page requested more than itself: {requested}"
    session = next(e["sessionId"] for e in browser.events if "sessionId" in e)
    dom = browser.send("Runtime.evaluate", session,
                       expression="document.documentElement.outerHTML")["result"]["value"]
    if page == "html":
        assert "SLO report 2026-11" in dom and 'data-slo="web-latency"' in dom
        assert dom.count("<svg") == 8  # the three charts of the month and the 12 months per SLO
        assert "&lt;img src=" in dom  # the hostile description is text, not an element
    else:
        assert 'data-month="2026-11"' in dom and 'href="2026-11/report.html"' in dom
    # nothing in the file could make a request in another browser either
    text = path.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "@import" not in text and "url(http" not in text


def test_the_recorder_catches_an_outside_request(browser: Browser, tmp_path: Path) -> None:
    """Control: without it, "nothing was requested" could mean nothing was recorded."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><img src="http://203.0.113.9/pixel.png">'
                    '<link rel="stylesheet" href="https://cdn.example/x.css">')
    requested = browser.requests_of(page.as_uri())
    assert page.as_uri() in requested
    assert "http://203.0.113.9/pixel.png" in requested
    assert "https://cdn.example/x.css" in requested


def test_screenshot_shows_the_report(rendered: report.ReportFiles, sink: str,
                                     tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars",
                    rendered.html.as_uri(), proxy=sink, profile=tmp_path / "profile")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, 1600)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
    # a blank or error page has a handful of colours; the report's text, badges and charts
    # many more
    assert colours is None or len(colours) > 50
