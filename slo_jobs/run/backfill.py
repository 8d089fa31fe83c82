"""Backfill: extract, compute and report every month of a range, resumably.

What is done is not redone: a day final in the lake is not pulled again (one not
final, or without data, is), and a month whose report matches its computed summary
for the current SLO definitions is not rendered again (``redo=True`` does everything
anew).  Every output replaces its own day or month only, so overlapping or repeated
backfills leave each month exactly once.  A period the source no longer holds is
written as empty partitions, and the report shows its coverage instead of a clean
100 %; a re-read never drops what the lake already holds (``daytable.write``).
Every month of the range is attempted: an SLO-month that cannot be computed is reported
with its reason while the range goes on, and a month whose comparison or trend reads a
recomputed month is rendered again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import compute, lake
from ..core import periods
from ..core.errors import SloJobsError
from ..core.periods import Period
from ..decisions.teams import Team
from ..lake import LakeDir
from ..spec import Slo
from ..spec.journey import Journey
from . import runner
from .sources import Sources

REPORT_FILES = ("report.html", "report.pdf", "summary.json", "summary.csv")


@dataclass(frozen=True)
class MonthOutcome:
    period: str
    extracted_days: int  # SLO-days pulled from Prometheus by this run
    reported: bool  # False when the month's report was already current (or nothing computed)
    rows: list[dict[str, Any]]
    # SLO -> why its month could not be computed this time (its report leaves it out)
    failed: dict[str, str] = field(default_factory=dict)
    # set when the month lies outside the range and was computed and rendered again because
    # a month its comparison and trend read (the two before it) was recomputed
    after: str = ""


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


def _follows(period: Period) -> list[Period]:
    """The months whose report compares with ``period`` (previous month, trend)."""
    nxt = periods.month_of(period.end)
    return [nxt, periods.month_of(nxt.end)]


def _compute(lake_dir: LakeDir, slos: Sequence[Slo], period: Period, as_of: datetime,
             out_dir: Path, source: str, rendered_at: datetime,
             teams: Mapping[str, Team] | None, journeys: Sequence[Journey] = ()
             ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Compute and render ``period``; (its rows, every SLO with the reason when it fails)."""
    try:
        rows = runner.publish_month(lake_dir, slos, period, as_of, out_dir, source,
                                    rendered_at, teams, journeys)[0]
    except SloJobsError as exc:
        return [], {s.name: runner.reason(exc) for s in slos}
    return rows, {}


def backfill(sources: Sources, slos: Sequence[Slo], first: str, last: str, lake_dir: LakeDir,
             out_dir: Path, *, redo: bool = False, progress: bool = True,
             rendered_at: datetime,
             teams: Mapping[str, Team] | None = None,
             journeys: Sequence[Journey] = ()) -> list[MonthOutcome]:
    """Bring every month from ``first`` to ``last`` to a complete lake and a current report.

    Each SLO's month is its calendar month in its own zone, with the burn-rate lookback and
    its own window to date (``runner.fill_month``), each read from its own source and
    written one day at a time, so an interrupted backfill keeps every finished day.
    ``rendered_at`` is the time the reports record as their render time (the caller's
    clock), and the as-of: nothing after it is extracted, and a month still running is
    reported to date.

    Every month of the range is attempted: an SLO whose month cannot be read (say, history
    that begins later) is left out of that month's report and named in ``failed`` with the
    reason, and the range goes on. A month whose previous two months were recomputed is
    computed and rendered again, in the range or after it (its "vs previous" and trend read
    them), at the as-of it was computed for.
    """
    outcomes: list[MonthOutcome] = []
    recomputed: set[str] = set()
    source = sources.label(slos)
    for period in periods.month_range(first, last):
        failed: dict[str, str] = {}
        with tqdm(total=len(slos), desc=period.label, unit="SLO", disable=not progress,
                  file=sys.stderr) as bar:
            def finished(slo: Slo) -> None:
                bar.set_postfix_str(slo.name)  # the SLO just done, by name
                bar.update(1)

            done = runner.fill_month(sources, slos, period, lake_dir, rendered_at,
                                     redo, per_day=True, done=finished, failed=failed)
        extracted = sum(len(days) for days in done.values())
        ok = [s for s in slos if s.name not in failed]
        neighbour = any(p.label in recomputed for p in _before(period))
        if ok and (redo or extracted or failed or neighbour
                   or not report_is_current(lake_dir, out_dir, ok, period)):
            rows, broken = _compute(lake_dir, ok, period, rendered_at, out_dir, source,
                                    rendered_at, teams, journeys)
            failed.update(broken)
            if rows:
                recomputed.add(period.label)
            outcomes.append(MonthOutcome(period.label, extracted, bool(rows), rows, failed))
        elif ok:
            outcomes.append(MonthOutcome(period.label, 0, False,
                                         compute.read_summary(lake_dir, period)))
        else:
            outcomes.append(MonthOutcome(period.label, extracted, False, [], failed))
    last_period = periods.month(last)
    for later in _follows(last_period):
        because = sorted(p.label for p in _before(later) if p.label in recomputed)
        if because:
            outcomes += _again(lake_dir, slos, later, out_dir, source, rendered_at, teams,
                               because[-1], journeys)
    return outcomes


def _before(period: Period) -> list[Period]:
    """The two months before ``period`` (its comparison and trend read their summaries)."""
    prev = periods.previous(period)
    return [prev, periods.previous(prev)]


def _again(lake_dir: LakeDir, slos: Sequence[Slo], period: Period, out_dir: Path,
           source: str, rendered_at: datetime, teams: Mapping[str, Team] | None,
           because: str, journeys: Sequence[Journey] = ()) -> list[MonthOutcome]:
    """A month after the range that has a report: computed again (its SLOs, at its as-of)
    and rendered, so its comparison and trend read the recomputed months."""
    if not (out_dir / period.label / "summary.json").exists() or not lake.exists(
            lake.monthly_partition(lake_dir, period.label)):
        return []
    stored = compute.read_summary(lake_dir, period)
    names = {r["slo"] for r in stored}
    chosen = [s for s in slos if s.name in names]
    if not chosen:
        return []
    as_of = max(r["as_of"] for r in stored if r["slo"] in {s.name for s in chosen})
    rows, failed = _compute(lake_dir, chosen, period, as_of, out_dir, source, rendered_at,
                            teams, journeys)
    return [MonthOutcome(period.label, 0, bool(rows), rows, failed, after=because)]


def summary(outcomes: Sequence[MonthOutcome]) -> list[str]:
    """One line per month, then what could not be computed (SLO, month, reason)."""
    lines = []
    for m in outcomes:
        if m.after:
            done = f"rendered again: {m.after} was recomputed"
        elif m.reported:
            done = f"{m.extracted_days} SLO-days extracted"
        elif m.rows:
            done = "already done"
        else:
            done = "not computed"
        cover = min((r["coverage"] for r in m.rows), default=0.0)
        tail = f"; lowest coverage {cover * 100:.1f}%" if m.rows else ""
        fails = f"; {len(m.failed)} SLO{'s' * (len(m.failed) != 1)} failed" if m.failed else ""
        lines.append(f"{m.period}: {done}{tail}{fails}")
    failures = [(m.period, slo, why) for m in outcomes for slo, why in sorted(m.failed.items())]
    if failures:
        lines.append(f"failed: {len(failures)} SLO-month{'s' * (len(failures) != 1)}")
        lines += [f"  {period} {slo}: {why}" for period, slo, why in failures]
    return lines
