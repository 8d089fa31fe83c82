"""Realistic scrapes with known truth, served by a real Prometheus 2.42, a real
VictoriaMetrics and a proxy that gives the Prometheus the range selectors of Prometheus 3."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import backends, prom, scrapes
from tests.conftest import ROOT
from tests.realdata.prom3 import Prom3Proxy

SEED = 7
CACHE = ROOT / ".cache" / "realdata"


def _stamp() -> str:
    # The generator's source is part of the key: an edited generator rebuilds the TSDB.
    source = b"".join(Path(m.__file__ or "").read_bytes() for m in (scrapes, backends))
    start, end, _ = scrapes.month_scenario(SEED)
    return (f"{scrapes.SCRAPES_VERSION} {SEED} {start.isoformat()} {end.isoformat()} "
            f"{hashlib.sha256(source).hexdigest()[:16]}\n")


@pytest.fixture(scope="session")
def real_scrapes() -> scrapes.Scrapes:
    start, end, jobs = scrapes.month_scenario(SEED)
    return scrapes.generate(start, end, jobs, SEED)


@pytest.fixture(scope="session")
def real_tsdb(real_scrapes: scrapes.Scrapes) -> Path:
    """TSDB blocks of the scrapes, cached under .cache/realdata while the stamp matches."""
    tsdb, stamp = CACHE / "tsdb", CACHE / "tsdb.stamp"
    CACHE.mkdir(parents=True, exist_ok=True)
    # One builder at a time: the test workers that need it first wait for the one building.
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == _stamp() and tsdb.is_dir():
            return tsdb
        stamp.unlink(missing_ok=True)
        # Build beside the cache and swap in, so an interrupted build never looks current.
        building = CACHE / "building"
        shutil.rmtree(building, ignore_errors=True)
        built = backends.build_prometheus_tsdb(real_scrapes, building)
        shutil.rmtree(tsdb, ignore_errors=True)
        built.rename(tsdb)
        shutil.rmtree(building, ignore_errors=True)
        stamp.write_text(_stamp())
        return tsdb


@pytest.fixture(scope="session")
def real_prometheus(real_tsdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus 2.42 on loopback over a private copy of the cached blocks (it may compact
    them)."""
    data = tmp_path_factory.mktemp("real-prometheus") / "tsdb"
    shutil.copytree(real_tsdb, data)
    port = prom.free_port()
    proc = prom.start(data, port, data.parent / "prometheus.log")
    yield f"http://127.0.0.1:{port}"
    prom.stop(proc)


@pytest.fixture(scope="session")
def real_victoria(real_scrapes: scrapes.Scrapes,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A VictoriaMetrics on loopback loaded with the same scrapes."""
    folder = tmp_path_factory.mktemp("real-victoria")
    port = prom.free_port()
    proc = backends.start_victoria(folder / "data", port, folder / "victoria.log")
    try:
        url = f"http://127.0.0.1:{port}"
        backends.load_victoria(url, real_scrapes)
        yield url
    finally:
        backends.stop_victoria(proc)


@pytest.fixture(scope="session")
def prometheus3(real_prometheus: str) -> Iterator[str]:
    """``real_prometheus`` behind a proxy with Prometheus 3's left-open range selectors."""
    proxy = Prom3Proxy(real_prometheus)
    try:
        yield proxy.url
    finally:
        proxy.close()
