"""The month runner: the one place that decides which days an SLO's month needs
(``month_days``), whether a period has begun for an SLO (``begun``, ``started``), extracts
the days through the SLO's source (``fill_month``), computes and renders (``publish_month``).
The CLI, backfills (``backfill.py``), the DAG tasks (``tasks.py``), what-if (``whatif.py``)
and the weekly review (``review_week``) all go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import compute, decisions, lake
from ..compute import rollup, shards
from ..core import burnrate, periods
from ..core.errors import SloJobsError
from ..core.periods import Period
from ..decisions.teams import Team
from ..lake import LakeDir, daytable
from ..lake.daytable import DayResult
from ..spec import Slo
from ..spec.journey import Journey
from .sources import Sources

# The report and review stages are imported where they are used: an extraction task (a shard
# of the daily DAG) imports this module and needs neither (the report's WeasyPrint alone is
# about a second of CPU at every task's start).
if TYPE_CHECKING:
    from ..report.monthly import ReportFiles
    from ..report.rollup import RollupFiles

# Concurrent SLOs of one extraction, like the default Airflow pool's slots (in the DAGs each
# shard task reads slo_common.SHARD_QUERIES at a time, holding as many slots of the pool
# ``prometheus``). Each thread reads an SLO, then writes it: threads that only wrote, so
# that reads went on meanwhile, cost more than they saved (the process decodes on one core,
# and a write's many short system calls hand that core back and forth; docs/performance.md).
EXTRACT_CONCURRENCY = 4
T = TypeVar("T")


def month_days(slo: Slo, month: Period, as_of: datetime | None = None
               ) -> tuple[list[date], list[date]]:
    """The UTC days (lake partitions) a report of ``month`` needs for ``slo``:
    (the days of its month in its own time zone, the other days it reads: the burn-rate
    lookback before the month and its own window to date). Days starting at or after
    ``as_of`` are left out: nothing is extracted for time that has not happened. Every path
    that extracts a month (run, extract, backfill, the monthly DAG) takes its days here."""
    local = month.in_zone(slo.time_zone)
    at = local.end if as_of is None else min(as_of, local.end)
    window = compute.own_window(slo, at)
    lookback = burnrate.lookback([a.long_window for a in slo.burn_rate_alerts])
    start = min(local.start, window.start) - lookback

    def upto(p: Period) -> list[date]:
        return [d for d in periods.utc_days(p)
                if as_of is None or periods.midnight(d) < as_of]

    own = upto(local)
    before = [d for d in upto(Period("", start, at)) if d not in set(own)]
    return own, before


def days_to_extract(lake_dir: LakeDir, slo: Slo, month: Period, as_of: datetime | None,
                    redo: bool) -> tuple[list[date], list[date]]:
    """(days of the SLO's month to extract: all with ``redo``, else those without a
    complete partition; the other days it reads that have none)."""
    own, before = month_days(slo, month, as_of)
    todo = own if redo else lake.missing_days(lake_dir, slo.name, own, as_of)
    return todo, lake.missing_days(lake_dir, slo.name, before, as_of)


def begun(slo: Slo, period: Period, as_of: datetime) -> bool:
    """True if the calendar ``period`` (a month, a week) has begun at ``as_of`` in the
    SLO's own zone."""
    return as_of > period.in_zone(slo.time_zone).start


def started(slos: Sequence[Slo], period: Period, as_of: datetime
            ) -> tuple[list[Slo], list[str]]:
    """(the SLOs whose calendar ``period`` has begun at ``as_of`` in their own zone, a
    one-line note for each one left out). Refuses the period when it has begun for none of
    them."""
    chosen: list[Slo] = []
    notes: list[str] = []
    kind, label = period.kind, period.label
    for s in slos:
        if begun(s, period, as_of):
            chosen.append(s)
        else:
            start = period.in_zone(s.time_zone).start
            notes.append(f"note: SLO {s.name} left out: {kind} {label} in {s.time_zone} "
                         f"begins {start:%Y-%m-%dT%H:%MZ}, after as-of {as_of:%Y-%m-%dT%H:%MZ}")
    if slos and not chosen or not slos and as_of <= period.start:
        raise SloJobsError(f"{kind} {label}: has not begun at as-of {as_of:%Y-%m-%dT%H:%MZ}; "
                           f"expected a {kind} that has started (or a later --as-of)")
    return chosen, notes


def extract_slo_days(sources: Sources, slo: Slo, days: list[date], lake_dir: LakeDir,
                     as_of: datetime | None = None, per_day: bool = False
                     ) -> list[DayResult]:
    """Replace exactly the ``days`` partitions of ``slo``, under its lock, after clearing
    temp files a killed run left behind (so a re-run leaves the lake as an uninterrupted
    run). All days are read before any is written; with ``per_day``, one day at a time, so
    each finished day is kept if the run is interrupted."""
    source = sources.for_slo(slo)
    out: list[DayResult] = []
    for chunk in ([[d] for d in days] if per_day else [days] if days else []):
        with sources.reading():
            read = source.read_days(slo, chunk, as_of)  # a failing source writes nothing
        out += daytable.replace(lake_dir, slo.name, chunk, read)
    return out


def extract_days(sources: Sources, slos: Sequence[Slo], days: list[date], lake_dir: LakeDir,
                 as_of: datetime | None = None,
                 concurrency: int = EXTRACT_CONCURRENCY) -> list[DayResult]:
    """The same ``days`` of every SLO, at most ``concurrency`` SLOs reading at a time."""
    return [r for rs in each(slos, concurrency,
                             lambda s: extract_slo_days(sources, s, days, lake_dir, as_of))
            for r in rs]


def fill_month(sources: Sources, slos: Sequence[Slo], month: Period, lake_dir: LakeDir,
               as_of: datetime | None, redo: bool = False, per_day: bool = False,
               concurrency: int = EXTRACT_CONCURRENCY,
               done: Callable[[Slo], None] | None = None,
               failed: dict[str, str] | None = None) -> dict[str, list[date]]:
    """Extract what ``month`` needs of each SLO (``days_to_extract``); returns the
    days extracted per SLO. ``done`` is called as each SLO finishes (progress bars).

    With ``failed``, a failure does not stop the others: one day at a time, a day that
    cannot be read is left out and the others go on; when it is a day of the SLO's month,
    the SLO is put in ``failed`` with the first reason (a day of the burn-rate lookback
    before the history begins is read as a day without data, as any day not in the lake)."""
    def one(slo: Slo) -> list[date]:
        if failed is None:
            todo, others = days_to_extract(lake_dir, slo, month, as_of, redo)
            extract_slo_days(sources, slo, todo + others, lake_dir, as_of, per_day)
            got = todo + others
        else:
            got = _fill_tolerant(sources, slo, month, lake_dir, as_of, redo, failed)
        if done is not None:
            done(slo)
        return got

    return dict(zip([s.name for s in slos], each(slos, concurrency, one),
                    strict=True))


def reason(exc: SloJobsError) -> str:
    """The error as one line, for a list of what failed."""
    return " ".join(str(exc).split())


def _fill_tolerant(sources: Sources, slo: Slo, month: Period, lake_dir: LakeDir,
                   as_of: datetime | None, redo: bool, failed: dict[str, str]
                   ) -> list[date]:
    got: list[date] = []
    broken: list[tuple[date | None, str]] = []
    try:
        todo, others = days_to_extract(lake_dir, slo, month, as_of, redo)
    except SloJobsError as exc:
        todo, others, broken = [], [], [(None, reason(exc))]
    for day in todo + others:
        try:
            if extract_slo_days(sources, slo, [day], lake_dir, as_of, per_day=True):
                got.append(day)
        except SloJobsError as exc:
            if day in todo:
                broken.append((day, reason(exc)))
    if broken:
        days = [d for d, _ in broken if d is not None]
        count = f" ({len(days)} of {len(todo)} days)" if len(days) > 1 else ""
        failed[slo.name] = broken[0][1] + count
    return got


def each(slos: Sequence[Slo], concurrency: int, fn: Callable[[Slo], T]) -> list[T]:
    """``fn`` of each SLO, in order, at most ``concurrency`` at a time (threads: the work is
    waiting for the source and decoding its answers)."""
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        return list(pool.map(fn, slos))


def policy(teams: Mapping[str, Team] | None) -> decisions.TeamPolicy:
    """The team policy a computed month is published with."""
    # not "teams or {}": a folder without teams still carries its release policy
    return decisions.TeamPolicy({} if teams is None else teams)


def compute_month(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
                  as_of: datetime | None = None, teams: Mapping[str, Team] | None = None,
                  journeys: Sequence[Journey] = ()) -> list[dict[str, Any]]:
    """Compute ``period`` from the lake at ``as_of`` in one process and publish it with the
    team policy's tables; returns the summary rows. The DAG computes the same month in
    shards (``compute.shards.compute_shard`` per shard, then ``merge_shards``)."""
    return compute.compute_month(lake_dir, slos, period, as_of, policy(teams), journeys)


def merge_shards(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
                 indices: Sequence[int], teams: Mapping[str, Team] | None = None,
                 journeys: Sequence[Journey] = ()) -> list[dict[str, Any]]:
    """Publish ``period`` from its computed shards with the team policy's tables, as
    ``compute_month`` publishes it, and remove the shards; returns the summary rows."""
    return shards.merge(lake_dir, slos, period, indices, policy(teams), journeys)


def render_month(lake_dir: LakeDir, period: Period, out_dir: Path, source: str,
                 generated_at: datetime, formats: Sequence[str] | None = None,
                 without: Sequence[str] = (), service: str | None = None,
                 as_of: datetime | None = None, team: str | None = None,
                 team_pdfs: bool = False) -> ReportFiles:
    """Render a computed ``period`` (one ``service``'s or ``team``'s SLOs, or all; with
    ``team_pdfs``, each team's PDF besides); ``source`` is what the report names as the
    data's origin, ``generated_at`` the render time it records, ``as_of`` the instant the
    index is drawn at (default: ``generated_at``); ``formats``: all by default."""
    from ..report import monthly as report
    return report.render(lake_dir, period, out_dir, source=source, generated_at=generated_at,
                         service=service, formats=report.FORMATS if formats is None else formats,
                         as_of=as_of, without=without, team=team, team_pdfs=team_pdfs)


def publish_month(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
                  as_of: datetime | None, out_dir: Path, source: str, generated_at: datetime,
                  teams: Mapping[str, Team] | None = None, journeys: Sequence[Journey] = ()
                  ) -> tuple[list[dict[str, Any]], ReportFiles]:
    """Compute ``period`` from the lake at ``as_of`` and render its report."""
    rows = compute_month(lake_dir, slos, period, as_of, teams, journeys)
    return rows, render_month(lake_dir, period, out_dir, source, generated_at)


def run_month(sources: Sources, slos: Sequence[Slo], period: Period, lake_dir: LakeDir,
              out_dir: Path, generated_at: datetime,
              as_of: datetime | None = None, teams: Mapping[str, Team] | None = None,
              journeys: Sequence[Journey] = ()
              ) -> tuple[list[dict[str, Any]], ReportFiles]:
    """Extract, compute and render ``period`` as it stands at ``as_of`` (default: its end).

    Each SLO's month is its calendar month in its own zone; of it and the days it reads
    besides (the burn-rate lookback, its own quarter or rolling window to date), the days
    not yet final in the lake are extracted (``lake.missing_days``), so the month in
    progress costs about a day's extraction per run. A month still running at ``as_of`` is
    reported to date and projected, marked estimated; no partition is written past ``as_of``.
    An SLO whose month has not begun at ``as_of`` in its zone is left out (``started``).
    """
    if as_of is not None:
        slos = started(slos, period, as_of)[0]  # the caller shows the notes
    fill_month(sources, slos, period, lake_dir, as_of)
    return publish_month(lake_dir, slos, period, as_of, out_dir, sources.label(slos),
                         generated_at, teams, journeys)


def rollup_period(lake_dir: LakeDir, slos: Sequence[Slo], kind: str, label: str,
                  as_of: datetime, out_dir: Path, generated_at: datetime,
                  formats: Sequence[str] | None = None, processes: bool = True
                  ) -> tuple[list[dict[str, Any]], RollupFiles, list[str]]:
    """Roll up the quarter or year ``label`` from the lake (its days and monthly summaries)
    at ``as_of`` and render it: (the organisation's and teams' rows, its files, a note for
    each SLO left out because its period has not begun in its zone)."""
    from ..report import monthly
    from ..report import rollup as rollup_report
    chosen, notes = started(slos, periods.calendar(kind, label), as_of)
    tables = rollup.compute_rollup(lake_dir, chosen, kind, label, as_of, processes)
    files = rollup_report.render(lake_dir, label, out_dir, generated_at,
                                 monthly.FORMATS if formats is None else formats, as_of)
    return tables["groups"], files, notes


def review_week(lake_dir: LakeDir, slos: Sequence[Slo], week: str, out_dir: Path,
                as_of: datetime, rendered_at: datetime, slo_files: Sequence[Path] = ()
                ) -> tuple[tuple[Path, Path], list[str]]:
    """The weekly review of ``week`` from the lake (``review.write_weekly``), of the SLOs
    whose week has begun at ``as_of`` in their zone (``started``); (its Markdown and HTML
    files, a note for each SLO left out)."""
    from .. import review
    chosen, notes = started(slos, periods.calendar("week", week), as_of)
    return review.write_weekly(lake_dir, chosen, week, out_dir, as_of, rendered_at,
                               slo_files), notes
