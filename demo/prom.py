"""Build and serve the demo Prometheus: generated history loaded with promtool.

    python -m demo.prom build .cache/demo        # history + TSDB blocks (cached)
    python -m demo.prom serve .cache/demo 19090  # Prometheus on 127.0.0.1, foreground
    python -m demo.prom last-month               # the demo's last complete month
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from . import generate

CONFIG = "global:\n  scrape_interval: 1m\nscrape_configs: []\n"


def _stamp() -> str:
    return f"{generate.GENERATOR_VERSION} {generate.SEED} {generate.START.isoformat()} " \
           f"{generate.END.isoformat()}\n"


def build(cache: Path) -> Path:
    """Generate the history and its TSDB blocks under ``cache`` unless already current."""
    tsdb = cache / "tsdb"
    stamp = cache / "tsdb.stamp"
    if stamp.exists() and stamp.read_text() == _stamp() and \
            all((cache / f).exists() for f in ("truth.parquet", "streaming.parquet")):
        return tsdb
    if shutil.which("promtool") is None:
        raise SystemExit("promtool not found: install Debian's prometheus package "
                         "(apt-get install prometheus)")
    generate.write(cache)
    shutil.rmtree(tsdb, ignore_errors=True)
    # 744 h blocks: one block per month instead of promtool's default 2 h (about 90x faster).
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(cache / "history.om"), str(tsdb)],
                   check=True, stdout=subprocess.DEVNULL)
    (cache / "history.om").unlink()  # 200 MB of text, no longer needed
    stamp.write_text(_stamp())
    return tsdb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ready(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200


def start(tsdb: Path, port: int, log: Path | None = None, extra: Sequence[str] = (),
          ready: Callable[[int], bool] = _http_ready) -> subprocess.Popen[bytes]:
    """Start Prometheus on 127.0.0.1:``port`` over ``tsdb``; return once it answers.

    ``extra`` adds command-line flags (e.g. query limits for fault tests); ``ready`` probes
    the port (a Prometheus serving TLS with client certificates needs its own probe).
    """
    config = tsdb.parent / "prometheus.yml"
    config.write_text(CONFIG)
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
         # The history lies in the past: the default 15 d retention would delete it.
         "--storage.tsdb.retention.time=3650d",
         f"--web.listen-address=127.0.0.1:{port}", *extra],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}; see {log}")
        try:
            if ready(port):
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError("prometheus did not become ready within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def last_month() -> str:
    last = generate.END.replace(day=1)
    y, m = (last.year, last.month - 1) if last.month > 1 else (last.year - 1, 12)
    return f"{y:04d}-{m:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Demo Prometheus with generated history.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("cache", type=Path)
    s = sub.add_parser("serve")
    s.add_argument("cache", type=Path)
    s.add_argument("port", type=int)
    sub.add_parser("last-month")
    args = parser.parse_args()
    if args.cmd == "build":
        print(build(args.cache))
    elif args.cmd == "last-month":
        print(last_month())
    else:
        proc = start(build(args.cache), args.port, args.cache / "prometheus.log")
        print(f"prometheus ready on http://127.0.0.1:{args.port} (pid {proc.pid})", flush=True)
        # Only forward the signal here: waiting inside a handler would deadlock with the
        # wait() below, which returns once Prometheus has shut down.
        signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            sys.exit(proc.wait())
        except KeyboardInterrupt:
            stop(proc)


if __name__ == "__main__":
    main()
