"""Load generated scrapes into a real Prometheus TSDB or a real VictoriaMetrics.

    python -m demo.backends openmetrics out.om     # the month scenario as text
    python -m demo.backends prometheus .cache/rd   # ... as Prometheus TSDB blocks
    python -m demo.backends victoria http://127.0.0.1:8428   # ... into VictoriaMetrics
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import numpy as np

from slo_jobs.lake import atomicio

from . import prom
from .scrapes import BUCKET, COUNT, REQUESTS, Scrapes, Series, generate, month_scenario

# OpenMetrics names a family without the sample suffix; each family's lines stay together.
FAMILIES = (("http_requests", "counter", (REQUESTS,)),
            ("http_request_duration_seconds", "histogram", (BUCKET, COUNT)))
VICTORIA = "victoria-metrics"


def _label_text(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")


def _series_lines(s: Series) -> str:
    prefix = f"{s.labels['__name__']}{{{_label_text(s.labels)}}} "
    secs, ms = np.divmod(s.ts_ms, 1000)
    # Counts are whole numbers: print them without a decimal point.
    return "".join(f"{prefix}{v} {a}.{b:03d}\n" for v, a, b in zip(
        s.values.astype(np.int64).tolist(), secs.tolist(), ms.tolist(), strict=True))


def write_openmetrics(scrapes: Scrapes, path: Path) -> None:
    """OpenMetrics text (timestamps in seconds with milliseconds, ``# EOF``) that
    ``promtool tsdb create-blocks-from openmetrics`` accepts."""
    known = {name for _, _, names in FAMILIES for name in names}
    unknown = {s.labels["__name__"] for s in scrapes.series} - known
    if unknown:
        raise ValueError(f"no OpenMetrics family for {sorted(unknown)}; known: {sorted(known)}")
    def fill(fh: BinaryIO) -> None:
        for family, kind, names in FAMILIES:
            fh.write(f"# TYPE {family} {kind}\n".encode())
            for name in names:
                for s in scrapes.series:
                    if s.labels["__name__"] == name:
                        fh.write(_series_lines(s).encode())
        fh.write(b"# EOF\n")

    atomicio.write_file(path, fill)


def build_prometheus_tsdb(scrapes: Scrapes, folder: Path) -> Path:
    """TSDB blocks of ``scrapes`` in ``folder``/tsdb (replaced), built with promtool."""
    if shutil.which("promtool") is None:
        raise RuntimeError("promtool not found: install Debian's prometheus package "
                           "(apt-get install prometheus)")
    folder.mkdir(parents=True, exist_ok=True)
    text, tsdb = folder / "scrapes.om", folder / "tsdb"
    shutil.rmtree(tsdb, ignore_errors=True)
    write_openmetrics(scrapes, text)
    try:
        # 744 h blocks: one block per month instead of promtool's default 2 h (far faster).
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                        "--max-block-duration=744h", str(text), str(tsdb)],
                       check=True, stdout=subprocess.DEVNULL)
    finally:
        text.unlink(missing_ok=True)  # hundreds of MB of text, no longer needed
    return tsdb


def start_victoria(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start VictoriaMetrics on 127.0.0.1:``port`` storing in ``data_dir``; return once it
    answers ``/health``."""
    binary = shutil.which(VICTORIA) or shutil.which("victoria-metrics-prod")
    if binary is None:
        raise RuntimeError(f"{VICTORIA} not found on PATH: install Debian's package "
                           f"(apt-get install {VICTORIA})")
    out = log.open("wb")
    proc = subprocess.Popen(
        [binary, f"-storageDataPath={data_dir}",
         # The history lies in the past: the default 1 month retention would drop it.
         "-retentionPeriod=100y",
         f"-httpListenAddr=127.0.0.1:{port}",
         # Serve samples up to the query time, not 30 s behind it.
         "-search.latencyOffset=0s"],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{VICTORIA} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_victoria(proc)
    raise RuntimeError(f"{VICTORIA} did not answer /health within 60 s; see {log}")


def stop_victoria(proc: subprocess.Popen[bytes]) -> None:
    prom.stop(proc)  # the same SIGTERM, wait, then kill


def _import_batches(scrapes: Scrapes, max_samples: int = 500_000) -> Iterator[bytes]:
    lines: list[str] = []
    size = 0
    for s in scrapes.series:
        lines.append(json.dumps({"metric": s.labels,
                                 "values": s.values.astype(np.int64).tolist(),
                                 "timestamps": s.ts_ms.tolist()}))
        size += len(s.ts_ms)
        if size >= max_samples:
            yield ("\n".join(lines) + "\n").encode()
            lines, size = [], 0
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def _victoria_samples(client: httpx.Client, url: str, at_s: float, window_s: int) -> int:
    r = client.get(f"{url}/api/v1/query", params={
        "query": f'sum(count_over_time({{__name__=~"http_request.*"}}[{window_s}s]))',
        "time": f"{at_s:.3f}", "nocache": "1"})
    r.raise_for_status()
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def load_victoria(url: str, scrapes: Scrapes, timeout_s: float = 120.0) -> None:
    """Import ``scrapes`` through ``/api/v1/import`` and wait until every sample is queryable."""
    expected = sum(len(s.ts_ms) for s in scrapes.series)
    if not expected:
        return
    lo = min(int(s.ts_ms[0]) for s in scrapes.series if len(s.ts_ms))
    hi = max(int(s.ts_ms[-1]) for s in scrapes.series if len(s.ts_ms))
    with httpx.Client(timeout=300) as client:
        for body in _import_batches(scrapes):
            client.post(f"{url}/api/v1/import", content=body).raise_for_status()
        # Imported rows sit in memory buffers for about a second; flush them to searchable parts.
        client.get(f"{url}/internal/force_flush").raise_for_status()
        window = (hi - lo) // 1000 + 2
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            seen = _victoria_samples(client, url, hi / 1000 + 1, window)
            if seen == expected:
                return
            time.sleep(0.5)
            client.get(f"{url}/internal/force_flush").raise_for_status()
    raise RuntimeError(f"VictoriaMetrics at {url} shows {seen} of {expected} imported samples "
                       f"after {timeout_s:.0f} s; see its log")


def main() -> None:
    parser = argparse.ArgumentParser(description="Month scenario scrapes for real backends.")
    parser.add_argument("what", choices=["openmetrics", "prometheus", "victoria"])
    parser.add_argument("path", help="output file (openmetrics), folder (prometheus) or "
                                     "the URL of a running VictoriaMetrics (victoria)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start, end, jobs = month_scenario(args.seed)
    scrapes = generate(start, end, jobs, args.seed)
    if args.what == "openmetrics":
        write_openmetrics(scrapes, Path(args.path))
    elif args.what == "victoria":
        load_victoria(args.path.rstrip("/"), scrapes)
        print(f"{sum(len(s.ts_ms) for s in scrapes.series)} samples of "
              f"{len(scrapes.series)} series imported into {args.path}")
    else:
        print(build_prometheus_tsdb(scrapes, Path(args.path)))


if __name__ == "__main__":
    main()
