"""When the data was missing: runs of buckets without data in an SLO's window, for the report's
data-quality section (coverage says how much; this says when, so it can be checked against
scrape outages and retention)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from .. import lake
from ..core import periods
from ..core.periods import BUCKET_S, DAY, Period
from . import LakeDir

GAPS_SHOWN = 8  # per SLO in the report's data-quality section; the rest are counted


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


def shown(lake_dir: LakeDir, row: dict[str, Any]) -> dict[str, Any]:
    """The runs of buckets without data of one SLO's window, up to its as-of."""
    end = row.get("as_of") or row["period_end"]
    found = find(lake_dir, row["slo"], row["period_start"], end)
    return {"shown": found[:GAPS_SHOWN], "more": max(0, len(found) - GAPS_SHOWN),
            "count": len(found)}


def extract_notes(lake_dir: LakeDir, period: Period, slos: Sequence[str]) -> list[dict[str, Any]]:
    """What the extractor noted about each SLO's days (e.g. a selector matching no series),
    one entry per SLO and note with the days it applies to."""
    out = []
    for slo in slos:
        days: dict[str, list[str]] = {}
        for day in period.days:
            for note in lake.notes(lake.sli_partition(lake_dir, slo, day)):
                days.setdefault(note, []).append(day.isoformat())
        out += [{"slo": slo, "note": note, "days": len(d), "first": d[0], "last": d[-1]}
                for note, d in days.items()]
    return out
