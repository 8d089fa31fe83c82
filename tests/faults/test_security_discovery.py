"""Security: label values from the monitored system never choose a path.

``slo-jobs discover`` turns Prometheus label values into file names and SLO text. A real
Prometheus here holds a service labelled ``../../x`` and one that is no name at all; only the
path-safe service gets a file, each refused value gets one line, and nothing is written
outside ``--out``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo import prom
from slo_jobs.core import names
from tests.conftest import ROOT

UNTIL = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday: one week before it is read
START = UNTIL - timedelta(days=8)
MINUTES = 8 * 24 * 60 + 60
# service label, code, increase per minute
SERIES = [("shop", "200", 997), ("shop", "500", 3), ("../../x", "200", 5),
          ("Shop API\n", "200", 7)]


@pytest.fixture(scope="module")
def hostile_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hostile-prom")
    history = folder / "history.om"
    t0 = int(START.timestamp())
    with history.open("w") as fh:
        fh.write("# TYPE http_requests counter\n")
        for service, code, step in SERIES:
            label = service.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
            prefix = f'http_requests_total{{service="{label}",code="{code}"}} '
            fh.write("".join(f"{prefix}{i * step} {t0 + 60 * i}\n" for i in range(MINUTES)))
        fh.write("# EOF\n")
    tsdb = folder / "tsdb"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(history), str(tsdb)],
                   check=True, stdout=subprocess.DEVNULL)
    port = prom.free_port()
    proc = prom.start(tsdb, port, folder / "prometheus.log")
    yield f"http://127.0.0.1:{port}"
    prom.stop(proc)


def test_label_values_that_are_no_names_never_become_paths(hostile_prometheus: str,
                                                           tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    out = work / "out"
    work.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "discover",
                           "--prometheus-url", hostile_prometheus, "--until", "2026-11-30",
                           "--weeks", "1", "--out", str(out)],
                          cwd=work.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out / 'shop.yaml'} (")
    assert len(proc.stdout.splitlines()) == 1
    assert sorted(proc.stderr.splitlines()) == sorted(
        f"warning: Prometheus series http_requests_total{{service={ascii(value)}}}: not "
        f"usable as a service name, skipped; {names.SAFE_NAME_HINT}"
        for value in ("../../x", "Shop API\n"))
    # Nothing anywhere but the one file: not ../../x.yaml beside or above the output folder.
    assert [p.relative_to(tmp_path) for p in sorted(tmp_path.rglob("*"))] == [
        Path("a"), Path("a/b"), Path("a/b/out"), Path("a/b/out/shop.yaml")]
    text = (out / "shop.yaml").read_text()
    assert "../" not in text and "Shop API" not in text
    # The week's requests, counted from the generator: the safe service's two series.
    week = re.findall(r"^#   2026-11-23 +([\d,]+) +([\d.]+) %", text, re.M)
    requests = 7 * 24 * 60 * sum(step for service, _, step in SERIES if service == "shop")
    assert [int(week[0][0].replace(",", ""))] == [requests]
    assert float(week[0][1]) == pytest.approx(100 * (1 - 3 / 1000), abs=1e-4)
    valid = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert valid.returncode == 0, valid.stderr
