"""Compute stage: DuckDB SQL over the lake, one window (month, quarter, rolling ...) at a time.

Outputs per period, each a Parquet file under ``<lake>/monthly/month=<label>/``:
``summary`` (one row per SLO), ``decisions`` (SLO x risk level), ``daily`` (SLO x local
day), ``incidents`` (the historical alert timeline) and ``burn`` (hourly burn rates);
``compute_month`` adds the pipeline tables of :mod:`slo_jobs.compute.pipelines`, the
budget attribution of :mod:`.breakdown`, the error categories of :mod:`.categories` and the
latency percentiles of :mod:`.percentiles`.

Also here: the SLO parameters the engine reads (``params``), phases applied to them
(``phases``), maintenance windows as minute masks (``maintenance``), the numpy burn stream
(``stream``), shards and their merge (``shards``), the pipeline SLIs' month
(``pipelines``) and quarter and year roll-ups per SLO, team and organisation (``rollup``).

May import: ``sources`` (pipeline run judging), ``lake``, ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa

from .. import lake
from ..core import periods
from ..core.burnrate import alert_factor
from ..core.errors import LakeError
from ..core.periods import Period
from ..lake import LakeDir
from ..lake.computed import read_summary, read_table
from ..spec import Slo, objectives
from ..spec.journey import Journey
from . import breakdown, categories, journey, maintenance, percentiles, phases
from . import pipelines as monthly
from .engine import WindowResult, compute_window, connect
from .params import SloParams

__all__ = ["SloParams", "WindowResult", "alert_factor", "compute_calendar", "compute_month",
           "compute_part", "compute_window", "finish_month",
           "connect", "read_summary", "read_table", "write_result"]

TABLES = ("summary", "decisions", "daily", "incidents", "burn")
LIST_TABLES = TABLES[:-1]  # burn is kept as an Arrow table


def _concat(a: pa.Table | None, b: pa.Table | None) -> pa.Table | None:
    if a is None or b is None:
        return a if b is None else b
    return pa.concat_tables([a, b])


def compute_calendar(lake_dir: LakeDir, slos: Sequence[Slo], kind: str, label: str,
                     as_of: datetime | None = None, processes: bool = True,
                     params: Callable[[Slo, Period], SloParams] = phases.params,
                     window: Callable[[Period], Period] | None = None) -> WindowResult:
    """A calendar period (``month``/``quarter``/``week``) for every SLO, each in its own
    time zone: SLOs are grouped by zone and the results merged. The one computation of a
    period: the monthly run's, the weekly review's and what-if's.

    ``params``: what each SLO is judged by in its zone's period (default: its own, with the
    target of its phase in force at the period's start); ``window``: the window judged in
    place of the zone's period (what-if's rolling window to the month's end)."""
    zones = sorted({s.time_zone for s in slos})
    merged: WindowResult | None = None
    for tz in zones:
        period = periods.calendar(kind, label, tz)
        group = [s for s in slos if s.time_zone == tz]
        part = compute_window(lake_dir, [params(s, period) for s in group],
                              period if window is None else window(period), as_of, tz=tz,
                              processes=processes)
        by_name = {s.name: s for s in group}
        for r in part.summary:
            r.update(phases.fields(by_name[r["slo"]], period, r))
            r.update(by_name[r["slo"]].approximation(r["sli"]))
        if merged is None:
            merged = part
        else:
            for name in LIST_TABLES:
                getattr(merged, name).extend(getattr(part, name))
            merged.burn_table = _concat(merged.burn_table, part.burn_table)
    if merged is None:
        utc = periods.calendar(kind, label)
        return WindowResult(utc, as_of or utc.end)
    merged.summary.sort(key=lambda r: (r["service"], r["slo"]))
    return merged


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows) if rows else pa.table({"slo": pa.array([], pa.string())})


def write_result(lake_dir: LakeDir, result: WindowResult,
                 folder: LakeDir | None = None) -> LakeDir:
    """Replace the period's output files as one set; other periods are untouched.

    ``folder``: write into this (staging) folder instead, for a caller publishing more."""
    target = lake.monthly_partition(lake_dir, result.period.label)
    if folder is None:
        with lake.publish_set(target.parent) as stage:
            write_result(lake_dir, result, stage)
        return target
    for name in LIST_TABLES:
        lake.write_atomic(_table(getattr(result, name)), folder / f"{name}.parquet")
    lake.write_atomic(result.burn_table if result.burn_table is not None else _table([]),
                      folder / "burn.parquet")
    return target


def own_window(slo: Slo, at: datetime) -> Period:
    """The SLO's own window (its calendar week/month/quarter/year in its zone, or its rolling
    window) that holds the instant just before ``at``: the window "to date" at ``at``."""
    if slo.window_kind == "rolling" and slo.rolling_window is not None:
        return periods.rolling(at, slo.rolling_window)
    return periods.containing(slo.calendar_unit or "month", at - timedelta(microseconds=1),
                              slo.time_zone, slo.window_start)


# The own window's figures kept beside the month's; slo_jobs/core/verdict.py judges by them.
WINDOW_FIELDS = ("sli", "budget_consumed", "budget_remaining", "budget_consumed_to_date",
                 "status", "outlook", "met", "estimated", "coverage", "good", "total", "bad",
                 "allowed_bad", "budget_remaining_events", "budget_minutes",
                 "budget_remaining_minutes", "exhaustion", "exhaustion_days")


def own_windows(lake_dir: LakeDir, slos: Sequence[Slo], month_rows: Sequence[dict[str, Any]],
                processes: bool = True) -> dict[str, dict[str, Any]]:
    """Per SLO, its own window to date at the as-of of its month row (the month itself for a
    calendar-month SLO): ``window_label``, ``window_start``/``_end`` and ``window_<field>``."""
    rows = {r["slo"]: r for r in month_rows}
    out: dict[str, dict[str, Any]] = {}
    groups: dict[tuple[Period, datetime, str], list[Slo]] = {}
    for s in slos:
        if s.name not in rows:
            continue
        row = rows[s.name]
        window = own_window(s, row["as_of"])
        if (window.start, window.end) == (row["period_start"], row["period_end"]):
            # A calendar-month SLO: its window is the month just computed, at the same
            # as-of and target; computing it again would double the month's cost.
            out[s.name] = _window_fields(window, row)
            continue
        groups.setdefault((window, row["as_of"], s.time_zone), []).append(s)
    for (window, at, tz), group in groups.items():
        computed = compute_window(lake_dir, [phases.params(s, window) for s in group], window,
                                  at, tz=tz, processes=processes).summary
        for r in computed:
            out[r["slo"]] = _window_fields(window, r)
    return out


def _window_fields(window: Period, row: dict[str, Any]) -> dict[str, Any]:
    return {"window_label": window.label, "window_start": window.start,
            "window_end": window.end, **{f"window_{f}": row[f] for f in WINDOW_FIELDS}}


def _stored_summary(lake_dir: LakeDir, period: Period) -> list[dict[str, Any]]:
    """The month's summary as last computed; none when absent or unreadable (it is
    about to be replaced)."""
    if not lake.exists(lake.monthly_partition(lake_dir, period.label)):
        return []
    try:
        return read_summary(lake_dir, period)
    except LakeError:
        return []


class MonthPolicy(Protocol):
    """What a team decides from a computed month (``decisions.TeamPolicy``): given the
    month's summary, decisions and incidents and the summaries of the ``history_months``
    months before it, the tables published with the month (``decisions`` with its reasons,
    and more). Passed in by the runner: computing a month applies a policy it does not own."""

    @property
    def history_months(self) -> int: ...

    def __call__(self, slos: Sequence[Slo], summary: Sequence[Mapping[str, Any]],
                 decisions: Sequence[Mapping[str, Any]],
                 incidents: Sequence[Mapping[str, Any]],
                 earlier: Sequence[Sequence[Mapping[str, Any]]]
                 ) -> dict[str, list[dict[str, Any]]]: ...


def _earlier_summaries(lake_dir: LakeDir, period: Period, months: int
                       ) -> list[list[dict[str, Any]]]:
    """The computed summaries of the ``months`` months before ``period`` (oldest first; a
    month never computed is left out)."""
    labels: list[str] = []
    p = period
    for _ in range(months):
        p = periods.previous(p)
        labels.insert(0, p.label)
    return [read_table(lake_dir, label, "summary") for label in labels
            if lake.exists(lake.monthly_partition(lake_dir, label))]


def compute_part(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
                 as_of: datetime | None = None, processes: bool = True) -> WindowResult:
    """The per-SLO figures of the month: each SLO's calendar month in its own zone with its
    own window to date beside it. Every table but the summary is ordered by SLO name (stable
    within an SLO), so parts computed apart (shards of name-ordered SLOs) laid end to end
    are what one computation of all of them gives."""
    result = compute_calendar(lake_dir, slos, "month", period.label, as_of, processes)
    windows = own_windows(lake_dir, slos, result.summary, processes)
    by_name = {s.name: s for s in slos}
    for r in result.summary:
        r["time_zone"] = by_name[r["slo"]].time_zone
        r.update(objectives.fields(by_name[r["slo"]]))
        r.update(by_name[r["slo"]].shown())  # the indicator's name and the SLO's links
        r.update(windows.get(r["slo"], {}))
    for name in ("decisions", "daily", "incidents"):
        getattr(result, name).sort(key=lambda r: r["slo"])
    if result.burn_table is not None:
        result.burn_table = result.burn_table.sort_by([("slo", "ascending"),
                                                       ("hour_end", "ascending")])
    return result


def finish_month(lake_dir: LakeDir, slos: Sequence[Slo], period: Period, result: WindowResult,
                 policy: MonthPolicy, stage: LakeDir, journeys: Sequence[Journey] = ()) -> None:
    """The part of a month that needs all its SLOs, written into ``stage`` (the month's new
    folder): the maintenance change notes against the stored month and the tables of the
    team ``policy`` (release decisions' reasons, priorities, toil), with the summary,
    decisions and incidents, and the ``journeys``' month. The caller writes ``daily``,
    ``burn`` and the pipeline tables."""
    with lake.reading_sets():
        # A month computed before keeps its first figures beside the new ones when its
        # maintenance windows changed since (never a silent change of a reported month).
        stored = _stored_summary(lake_dir, period)
        earlier = _earlier_summaries(lake_dir, period, policy.history_months)
    maintenance.note_changes(result.summary, stored)
    extra = policy(slos, result.summary, result.decisions, result.incidents, earlier)
    result.decisions = extra.pop("decisions")
    for name, rows in (("summary", result.summary), ("decisions", result.decisions),
                       ("incidents", result.incidents), *extra.items()):
        lake.write_atomic(_table(rows), stage / f"{name}.parquet")
    lake.write_atomic(journey.month_journeys(lake_dir, slos, journeys, result.summary),
                      stage / "journeys.parquet")


def compute_month(lake_dir: LakeDir, slos: Sequence[Slo], period: Period,
                  as_of: datetime | None, policy: MonthPolicy,
                  journeys: Sequence[Journey] = ()) -> list[dict[str, Any]]:
    """Compute the calendar month (each SLO's in its own zone) at ``as_of`` (default: its
    end; earlier: the month to date, projected and marked estimated), with each SLO's own
    window to date beside it, and replace the month's output files in the lake.

    The team ``policy``'s tables (release decisions with their reasons, the reliability
    priorities, the toil budget) are published with the month. One process
    (with its local workers) computes every SLO; ``compute.shards`` splits the same work
    into tasks."""
    slos = sorted(slos, key=lambda s: s.name)
    result = compute_part(lake_dir, slos, period, as_of)
    # The compute outputs and the "Data pipelines" tables are published as one set.
    folder = lake.monthly_partition(lake_dir, period.label).parent
    with lake.publish_set(folder) as stage:
        finish_month(lake_dir, slos, period, result, policy, stage, journeys)
        lake.write_atomic(_table(result.daily), stage / "daily.parquet")
        lake.write_atomic(result.burn_table if result.burn_table is not None else _table([]),
                          stage / "burn.parquet")
        monthly.summarise(lake_dir, slos, period, stage)
        lake.write_atomic(breakdown.month_breakdown(lake_dir, slos, result.summary),
                          stage / "breakdown.parquet")
        lake.write_atomic(categories.month_categories(lake_dir, slos, result.summary,
                                                      result.incidents),
                          stage / "categories.parquet")
        lake.write_atomic(percentiles.month_percentiles(lake_dir, slos, result.summary),
                          stage / "percentiles.parquet")
    return result.summary
