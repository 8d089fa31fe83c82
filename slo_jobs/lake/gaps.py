"""When the data was missing: runs of buckets without data in an SLO's window, for the report's
data-quality section (coverage says how much; this says when, so it can be checked against
scrape outages and retention)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from .. import lake
from ..core import periods
from ..core.periods import BUCKET_S, DAY
from . import LakeDir


@dataclass(frozen=True)
class Gap:
    start: datetime  # first bucket without data
    end: datetime  # end of the last one (excluded)

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def find(lake_dir: LakeDir, slo: str, start: datetime, end: datetime) -> list[Gap]:
    """Every run of buckets in ``[start, end)`` without data, in time order.

    A day never extracted is one gap of the whole day (the compute stage reads it as a day
    without data too). Adjacent runs across midnight are joined.
    """
    runs: list[Gap] = []
    for date_ in periods.utc_days(periods.Period("", start, end)):
        day = periods.midnight(date_)
        path = lake.sli_partition(lake_dir, slo, date_)
        if not path.exists():
            spans = [(day, day + DAY)]
        else:
            table = lake.read_verified(path)
            ts = table.column("ts").to_numpy().astype("datetime64[us]").astype(np.int64)
            step = int(table.column("step_s")[0].as_py()) if table.num_rows else BUCKET_S
            missing = ~table.column("has_data").to_numpy(zero_copy_only=False)
            spans = _spans(ts, missing, step)
        for a, b in spans:
            a, b = max(a, start), min(b, end)
            if a >= b:
                continue
            if runs and runs[-1].end == a:
                runs[-1] = Gap(runs[-1].start, b)
            else:
                runs.append(Gap(a, b))
    return runs


def _spans(ts_us: np.ndarray, missing: np.ndarray, step_s: int
           ) -> list[tuple[datetime, datetime]]:
    """(start, end) of each run of ``missing`` buckets."""
    if not missing.any():
        return []
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    epoch = periods.EPOCH
    return [(epoch + timedelta(microseconds=int(ts_us[a])),
             epoch + timedelta(microseconds=int(ts_us[b - 1])) + timedelta(seconds=step_s))
            for a, b in zip(starts, ends, strict=True)]
