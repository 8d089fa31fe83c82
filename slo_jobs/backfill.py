"""Backfill: extract, compute and report every month of a range, resumably.

What is done is not redone: a day final in the lake is not pulled again (one not
final, or without data, is), and a month whose report matches its computed summary
for the current SLO definitions is not rendered again (``redo=True`` does everything
anew).  Every output replaces its own day or month only, so overlapping or repeated
backfills leave each month exactly once.  A period the source no longer holds is
written as empty partitions, and the report shows its coverage instead of a clean
100 %; a re-read never drops what the lake already holds (``daytable.write``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import compute, lake, periods, report, runner
from .decisions.teams import Team
from .errors import SloJobsError
from .lake import LakeDir
from .periods import Period
from .sources import Sources
from .spec import Slo

REPORT_FILES = ("report.html", "report.pdf", "summary.json", "summary.csv")


@dataclass(frozen=True)
class MonthOutcome:
    period: str
    extracted_days: int  # SLO-days pulled from Prometheus by this run
    reported: bool  # False when the month's report was already current
    rows: list[dict[str, Any]]


def months(first: str, last: str) -> list[Period]:
    """Every calendar month from ``first`` to ``last`` (``YYYY-MM``), both included."""
    a, b = periods.month(first), periods.month(last)
    if b.start < a.start:
        raise SloJobsError(f"--to {b.label}: before --from {a.label}; expected a range such "
                           "as --from 2026-07 --to 2026-09")
    out = [a]
    while out[-1].start < b.start:
        out.append(periods.month_of(out[-1].end))
    return out


def _published(rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("slo", "spec_hash", "good", "total", "buckets")
    return sorted(tuple(r.get(k) for k in keys) for r in rows)


def report_is_current(lake_dir: LakeDir, out_dir: Path, slos: Sequence[Slo],
                      period: Period) -> bool:
    """True if the month's summary covers exactly ``slos`` and its report shows that summary."""
    with lake.reading_sets():
        if not lake.exists(lake.monthly_partition(lake_dir, period.label)):
            return False
        rows = compute.read_summary(lake_dir, period)
    if sorted((r["slo"], r["spec_hash"]) for r in rows) != \
            sorted((s.name, s.spec_hash) for s in slos):
        return False
    folder = out_dir / period.label
    if not all((folder / name).exists() for name in REPORT_FILES):
        return False
    try:
        shown = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(shown, list) and _published(shown) == _published(rows)


def backfill(sources: Sources, slos: Sequence[Slo], first: str, last: str, lake_dir: LakeDir,
             out_dir: Path, *, redo: bool = False, progress: bool = True,
             rendered_at: datetime,
             teams: Mapping[str, Team] | None = None) -> list[MonthOutcome]:
    """Bring every month from ``first`` to ``last`` to a complete lake and a current report.

    Each SLO's month is its calendar month in its own zone, with the burn-rate lookback and
    its own window to date (``runner.days_to_extract``), each read from its own source and
    written one day at a time, so an interrupted backfill keeps every finished day.
    ``rendered_at`` is the time the reports record as their render time (the caller's
    clock), and the as-of: nothing after it is extracted, and a month still running is
    reported to date.
    """
    outcomes = []
    for period in months(first, last):
        with tqdm(total=len(slos), desc=period.label, unit="SLO", disable=not progress,
                  file=sys.stderr) as bar:
            def finished(slo: Slo) -> None:
                bar.set_postfix_str(slo.name)  # the SLO just done, by name
                bar.update(1)

            done = runner.fill_month(sources, slos, period.label, lake_dir, rendered_at,
                                     redo=redo, per_day=True, done=finished)
        extracted = sum(len(days) for days in done.values())
        if redo or extracted or not report_is_current(lake_dir, out_dir, slos, period):
            rows = compute.compute_month(lake_dir, slos, period, rendered_at, teams)
            report.render(lake_dir, period, out_dir, source=sources.label(slos),
                          generated_at=rendered_at)
            outcomes.append(MonthOutcome(period.label, extracted, True, rows))
        else:
            outcomes.append(MonthOutcome(period.label, 0, False,
                                         compute.read_summary(lake_dir, period)))
    return outcomes
