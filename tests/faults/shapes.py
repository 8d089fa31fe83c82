"""Fault 5: a small generated history with the shapes real counters have, and its exact truth.

One metric, ``shape_requests_total{pod, code}``, over February 2026 on the 1-minute grid:

* counter resets: pod ``a`` restarts on 5 Feb 06:00 (both its series), pod ``b``'s code 200
  counter on 24 Feb 23:59 (its first bucket after the reset crosses midnight);
* a scrape outage: no sample of any series in [10 Feb 02:00, 05:00);
* label churn: pod ``a`` is replaced by pod ``b`` on 14 Feb 09:30 (a new ``pod`` value);
* a series starting mid-month: ``{pod="b", code="503"}`` from 20 Feb 12:00.

Conventions are the demo generator's: a series' first sample is 0 and the sample at t holds
the events of [first, t); a reset right after the sample at r leaves the sample at r + 1m
holding only that minute's events. The extractor counts raw samples: the events between two
samples of a series land in the bucket of the later one (bucket [t, t + 1m) holds the sample
at t + 1m), so the events of a scrape outage are counted in the first bucket after it, and
the buckets inside an outage (samples more than 3 intervals apart) are "no data".
:func:`truth` applies exactly these rules, from the events rather than the counter values.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

START = datetime(2026, 2, 1, tzinfo=UTC)
END = datetime(2026, 3, 1, tzinfo=UTC)
MINUTES = int((END - START).total_seconds()) // 60
OUTAGE = (datetime(2026, 2, 10, 2, tzinfo=UTC), datetime(2026, 2, 10, 5, tzinfo=UTC))
CHURN = datetime(2026, 2, 14, 9, 30, tzinfo=UTC)
NEW_SERIES = datetime(2026, 2, 20, 12, tzinfo=UTC)
RESET_A = datetime(2026, 2, 5, 6, tzinfo=UTC)
RESET_B = datetime(2026, 2, 24, 23, 59, tzinfo=UTC)
SEED = 20260201
METRIC = "shape_requests_total"
GOOD = f'{METRIC}{{code!~"5.."}}'


@dataclass(frozen=True)
class Series:
    pod: str
    code: str
    first: datetime  # first sample (value 0)
    last: datetime  # last sample; no events after it
    per_minute: float  # mean events per minute (Poisson)
    resets: tuple[datetime, ...] = ()

    @property
    def good(self) -> bool:
        return not self.code.startswith("5")


SERIES = (
    Series("a", "200", START, CHURN, 120.0, (RESET_A,)),
    Series("a", "500", START, CHURN, 0.8, (RESET_A,)),
    Series("b", "200", CHURN, END, 150.0, (RESET_B,)),
    Series("b", "500", CHURN, END, 0.5),
    Series("b", "503", NEW_SERIES, END, 2.0),
)


def _index(t: datetime) -> int:
    return int((t - START).total_seconds()) // 60


@dataclass
class Generated:
    events: npt.NDArray[np.int64]  # series x minute: events of [t, t + 1m)
    present: npt.NDArray[np.bool_]  # series x instant (MINUTES + 1): a sample exists
    values: npt.NDArray[np.int64]  # series x instant: the counter's value there


def generate() -> Generated:
    rng = np.random.default_rng(SEED)
    n = len(SERIES)
    events = np.zeros((n, MINUTES), dtype=np.int64)
    present = np.zeros((n, MINUTES + 1), dtype=bool)
    values = np.zeros((n, MINUTES + 1), dtype=np.int64)
    outage = slice(_index(OUTAGE[0]), _index(OUTAGE[1]))
    for i, s in enumerate(SERIES):
        first, last = _index(s.first), _index(s.last)
        events[i, first:last] = rng.poisson(s.per_minute, last - first)
        present[i, first:last + 1] = True
        values[i, first + 1:] = np.cumsum(events[i, first:])
        for r in sorted(s.resets):
            values[i, _index(r) + 1:] -= values[i, _index(r)]
    present[:, outage] = False  # the app kept counting; nobody scraped it
    return Generated(events, present, values)


def write_openmetrics(gen: Generated, path: Path) -> Path:
    """OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``."""
    seconds = int(START.timestamp()) + 60 * np.arange(MINUTES + 1)
    with path.open("w") as fh:
        fh.write("# TYPE shape_requests counter\n")
        for i, s in enumerate(SERIES):
            at = np.flatnonzero(gen.present[i])
            prefix = f'{METRIC}{{pod="{s.pod}",code="{s.code}"}} '
            fh.write("".join(f"{prefix}{v} {t}\n" for v, t in
                             zip(gen.values[i, at].tolist(), seconds[at].tolist(), strict=True)))
        fh.write("# EOF\n")
    return path


def build_tsdb(folder: Path) -> tuple[Path, Generated]:
    gen = generate()
    folder.mkdir(parents=True, exist_ok=True)
    history = write_openmetrics(gen, folder / "shapes.om")
    tsdb = folder / "tsdb"
    # One block for the month (promtool's default 2 h blocks would make 336 of them).
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=744h", str(history), str(tsdb)],
                   check=True, stdout=subprocess.DEVNULL)
    return tsdb, gen


@dataclass
class Truth:
    good: npt.NDArray[np.int64]  # per bucket [t, t + 1m) of the month
    total: npt.NDArray[np.int64]
    has_data: npt.NDArray[np.bool_]


def truth(gen: Generated) -> Truth:
    """Per bucket: the events between consecutive samples of each series, in the bucket of
    the later sample; a bucket has data when a sample falls in it or it lies between two
    samples of a series at most 3 minutes apart."""
    good = np.zeros(MINUTES, dtype=np.int64)
    total = np.zeros(MINUTES, dtype=np.int64)
    has = np.zeros(MINUTES, dtype=bool)
    for i, s in enumerate(SERIES):
        at = np.flatnonzero(gen.present[i])
        for prev, cur in zip(at[:-1].tolist(), at[1:].tolist(), strict=True):
            seen = int(gen.events[i, prev:cur].sum())
            total[cur - 1] += seen
            if s.good:
                good[cur - 1] += seen
            has[cur - 1] = True
            if cur - prev <= 3:
                has[prev:cur] = True
    return Truth(good=good, total=total, has_data=has)
