"""A separate writer process for the object store tests: ``python -m tests.lake_writer MODE``.

    merge   URL SLO DAY HOURS...   merge each hour (good = hour + 1 in its minutes), one
                                   conditional update per hour; prints the merges repeated
    replace URL SLO DAY VALUE N    replace the whole partition N times (good = VALUE)
    big     URL KEY ROWS           one PUT of a large incompressible file at KEY
    set     URL FOLDER VALUE NAMES...  publish the files NAMES as one set in FOLDER (each
                                   a table of ``set_table(VALUE)``), printing "put NAME"
                                   after each PUT and going on at each line of stdin

The store's endpoint and credentials come from the AWS_* environment, as in production.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from slo_jobs import lake

MINUTES = 1440


def day_table(day: date, good: np.ndarray) -> pa.Table:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    n = len(good)
    return pa.table({"ts": [start + timedelta(minutes=i) for i in range(n)],
                     "good": good.astype(float), "total": np.full(n, 100.0),
                     "clipped": np.zeros(n, bool), "has_data": good > 0,
                     "step_s": np.full(n, 60, np.int32)}, schema=lake.SLI_SCHEMA)


def set_hour(old: pa.Table | None, day: date, hour: int) -> pa.Table:
    good = np.zeros(MINUTES) if old is None else old.column("good").to_numpy().copy()
    good[hour * 60:(hour + 1) * 60] = hour + 1
    return day_table(day, good)


def set_table(value: float) -> pa.Table:
    """A small table of a set, telling which writer wrote it."""
    return pa.table({"slo": ["checkout-availability"], "value": [value]})


def main(argv: list[str]) -> None:
    mode, url = argv[0], argv[1]
    root = lake.location(url)
    if mode == "merge":
        slo, day, hours = argv[2], date.fromisoformat(argv[3]), [int(h) for h in argv[4:]]
        path = lake.sli_partition(root, slo, day)
        calls = 0
        for hour in hours:
            def merge(old: pa.Table | None, hour: int = hour) -> pa.Table:
                nonlocal calls
                calls += 1
                return set_hour(old, day, hour)

            lake.update(path, lake.SLI_SCHEMA, merge)
        print(calls - len(hours))
    elif mode == "replace":
        slo, day, value, n = argv[2], date.fromisoformat(argv[3]), float(argv[4]), int(argv[5])
        table = day_table(day, np.full(MINUTES, value))
        for _ in range(n):
            lake.write_atomic(table, lake.sli_partition(root, slo, day))
    elif mode == "big":
        rng = np.random.default_rng(7)
        rows = int(argv[3])
        table = pa.table({"x": rng.random(rows), "y": rng.random(rows)})
        target = root
        for part in argv[2].split("/"):
            target = target / part
        print("ready", flush=True)
        lake.write_atomic(table, target)
        print("written", flush=True)
    elif mode == "set":
        folder = root
        for part in argv[2].split("/"):
            folder = folder / part
        with lake.publish_set(folder) as stage:
            for name in argv[4:]:
                lake.write_atomic(set_table(float(argv[3])), stage / name)
                print(f"put {name}", flush=True)
                sys.stdin.readline()
        print("published", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
