"""Task bodies for orchestrators: explicit arguments in, small JSON-able summaries out.

The DAGs call these with the run's data interval; nothing here reads the clock
or knows about Airflow.  Where Prometheus is needed, the caller passes a function
that resolves a connection name (an SLO may name its own with the label
``prometheus_conn_id``; ``None`` means the default), so a run that needs no
Prometheus never looks one up.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import compute, lake, spec
from ..compute import rollup, shards
from ..core import periods, redaction
from ..core.errors import SloJobsError
from ..core.names import SAFE_NAME_HINT
from ..core.periods import LOCAL_MONTH_SETTLE, Period, consecutive, month_of
from ..decisions import teams as team_file
from ..lake import LakeDir
from ..report import text as report_text
from ..sources.pipelines import record
from ..sources.pipelines.record import AirflowFor
from ..spec import catalog
from . import runner
from .sources import PrometheusFor as ConfigFor
from .sources import Sources

# Rendering and delivery are imported where used, as in runner: extraction tasks need neither.
if TYPE_CHECKING:
    from ..deliver.budget import ChatSender, EmailSender


def period_of(interval_start: datetime | None, interval_end: datetime | None) -> Period:
    """The calendar month a monthly data interval covers; refuses any other interval."""
    if interval_start is None or interval_end is None:
        raise SloJobsError("data interval: missing; expected a monthly data interval")
    period = month_of(interval_start)
    if period.start != interval_start or period.end != interval_end:
        raise SloJobsError(f"data interval: found [{interval_start}, {interval_end}); "
                           "expected one whole calendar month in UTC")
    return period


def settled(period: Period) -> datetime:
    """The as-of of a monthly run: its interval's end plus the settle delay the DAG waits
    (LOCAL_MONTH_SETTLE), by when every zone's month has ended. A UTC day it cuts (the one
    after the month) is written as incomplete and read whole by a later run."""
    return period.end + LOCAL_MONTH_SETTLE


def day_of(interval_start: datetime | None, interval_end: datetime | None) -> date:
    """The UTC day a daily data interval covers; refuses any other interval."""
    if interval_start is None or interval_end is None:
        raise SloJobsError("data interval: missing; expected a daily data interval")
    start = interval_start.astimezone(UTC)
    if (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0) \
            or interval_end - interval_start != periods.DAY:
        raise SloJobsError(f"data interval: found [{interval_start}, {interval_end}); "
                           "expected one whole day in UTC")
    return start.date()


def slo_names(slos_dir: Path, source: str = "all") -> list[str]:
    """SLO names; ``source`` "prometheus" or "pipeline" keeps the SLOs read from there."""
    return [s.name for s in _of_source(catalog.load([slos_dir]), source)]


def _of_source(slos: list[spec.Slo], source: str) -> list[spec.Slo]:
    return [s for s in slos if source == "all" or (s.pipeline is None) == (source == "prometheus")]


def _one(slos_dir: Path, name: str) -> spec.Slo:
    for s in catalog.load([slos_dir]):
        if s.name == name:
            return s
    raise SloJobsError(f"SLO {name!r}: not found in {slos_dir}")


def day_ranges(days: list[date]) -> str:
    """``2026-09-03..2026-09-05, 2026-09-10``: consecutive days folded into ranges."""
    return ", ".join(r[0].isoformat() if len(r) == 1 else f"{r[0]}..{r[-1]}"
                     for r in consecutive(days))


def record_interval(airflow_for: AirflowFor, slos_dir: Path, lake_dir: LakeDir, slo_name: str,
                    interval_start: datetime | None,
                    interval_end: datetime | None) -> dict[str, Any]:
    """Replace exactly the interval's minutes of one pipeline SLO (within one UTC day)."""
    if interval_start is None or interval_end is None:
        raise SloJobsError("data interval: missing; expected an hourly data interval")
    slo = _one(slos_dir, slo_name)
    if slo.pipeline is None:
        raise SloJobsError(f"SLO {slo_name!r}: its SLI is read from Prometheus; expected a "
                           "pipeline SLO (completion, or freshness/completeness from a table)")
    r = record.record_interval(slo, interval_start, interval_end, lake_dir, airflow_for)
    return {"slo": slo_name, "day": r.day.isoformat(), "start": interval_start.isoformat(),
            "end": interval_end.isoformat(), "rows": r.rows}


def check_month(slos_dir: Path, lake_dir: LakeDir, interval_start: datetime | None,
                interval_end: datetime | None) -> dict[str, Any]:
    """Fail, naming SLOs and days, unless every SLO has a complete partition for every day
    of its month (in its own time zone)."""
    period = period_of(interval_start, interval_end)
    slos = catalog.load([slos_dir])
    as_of = settled(period)
    gaps = {s.name: lake.missing_days(lake_dir, s.name,
                                      runner.month_days(s, period, as_of)[0], as_of)
            for s in slos}
    found = [f"{name} misses {day_ranges(days)}" for name, days in gaps.items() if days]
    if found:
        raise SloJobsError(
            f"month {period.label}: extraction incomplete: {'; '.join(found)}; expected one "
            "partition per SLO and day (run slo_extract for those days, or trigger "
            "slo_monthly_report with missing_days=fill)")
    return {"period": period.label, "slos": len(slos), "days": len(period.days)}


def plan_shards(slos_dir: Path, shard_size: int, source: str = "all") -> list[dict[str, Any]]:
    """The shards of a run's extraction or compute, one mapped task each: per shard of
    ``shard_size`` SLOs (by name; ``source`` as for ``slo_names``), its index, its SLOs with
    their spec hashes and the spec files (relative to ``slos_dir``) that define them, so
    that a shard task parses only those files of a large catalog validated here once."""
    every, files = catalog.load_indexed([slos_dir])
    slos = _of_source(every, source)
    plan = []
    for index in range(shards.count(len(slos), shard_size)):
        part = shards.members(slos, index, shard_size)
        needed = dict.fromkeys(f for s in part for f in files[s.name])
        plan.append({"index": index, "size": shard_size,
                     "slos": {s.name: s.spec_hash for s in part},
                     "files": [Path(f).relative_to(slos_dir).as_posix() for f in needed]})
    return plan


def planned(slos_dir: Path, shard: dict[str, Any], planner: str = "plan_shards"
            ) -> list[spec.Slo]:
    """The SLOs a shard of ``plan_shards`` names, read from the files it names; refuses
    them if a definition changed after planning (``planner``: the task that plans again)."""
    root = slos_dir.resolve()
    again = f"clear the DAG run from {planner} to plan again"
    paths = []
    for name in shard["files"]:
        path = slos_dir / name  # as the catalog names it: the same SLO and spec hash
        if not path.resolve().is_relative_to(root):
            raise SloJobsError(f"shard {shard['index']}: files: found {name!r}; expected a "
                               f"spec file under {slos_dir}")
        if not path.is_file():
            raise SloJobsError(f"shard {shard['index']}: files: {name}: no longer in "
                               f"{slos_dir}; expected the files the shards were planned "
                               f"from ({again})")
        paths.append(path)
    loaded = {s.name: s for s in catalog.load(paths)} if paths else {}
    changed = sorted(n for n, h in shard["slos"].items()
                     if n not in loaded or loaded[n].spec_hash != h)
    if changed:
        raise SloJobsError(f"shard {shard['index']}: SLO {shards.listed(changed)}: removed "
                           f"or changed in {slos_dir} since the shards were planned; expected "
                           f"the planned definitions ({again})")
    return [loaded[n] for n in sorted(shard["slos"])]


def compute_shard(slos_dir: Path, lake_dir: LakeDir, interval_start: datetime | None,
                  interval_end: datetime | None, shard: dict[str, Any]) -> dict[str, Any]:
    """Compute one shard of ``plan_shards`` for the interval's month into its folder
    (replaced whole)."""
    period = period_of(interval_start, interval_end)
    index, size = int(shard["index"]), int(shard["size"])
    part = planned(slos_dir, shard)
    folder = shards.compute_shard(lake_dir, part, period, index, size)
    return {"index": index, "slos": len(part), "folder": str(folder)}


def merge_month(slos_dir: Path, lake_dir: LakeDir, interval_start: datetime | None,
                interval_end: datetime | None, computed: list[dict[str, Any]]) -> str:
    """Publish the interval's month from its computed shards (the cross-SLO tables computed
    here) and remove the shards."""
    period = period_of(interval_start, interval_end)
    slos, journeys = catalog.load_with_journeys([slos_dir])
    runner.merge_shards(lake_dir, slos, period, [int(c["index"]) for c in computed],
                        team_file.load_for([slos_dir]), journeys)
    return str(lake.monthly_partition(lake_dir, period.label))


def render_month(config_for: ConfigFor, slos_dir: Path, lake_dir: LakeDir, out_dir: Path,
                 interval_start: datetime | None, interval_end: datetime | None,
                 rendered_at: datetime, pdf_max_slos: int | None = None) -> dict[str, Any]:
    """Render the interval's month; ``rendered_at`` is the render time the report records.

    Then each team's PDF (``report-team-<team>.pdf``, the SLOs of that ``team`` label),
    whatever the month's size: ``team_pdfs`` of the result maps each team to its file.

    A month whose SLOs are all pipeline SLOs renders without any Prometheus connection.
    A month of more than ``pdf_max_slos`` SLOs gets no PDF (one page or more per SLO: a
    10,000-SLO book would take the render the better part of an hour and gigabytes of
    memory); its HTML, JSON and CSV are written as always, and ``slo-jobs report --service``
    renders one service's PDF.
    """
    from ..report.monthly import FORMATS
    period = period_of(interval_start, interval_end)
    rows = compute.read_summary(lake_dir, period)
    formats: list[str] = list(FORMATS)
    skipped = ""
    if pdf_max_slos is not None and len(rows) > pdf_max_slos:
        formats.remove("pdf")
        skipped = (f"no PDF: {len(rows)} SLOs, more than pdf_max_slos={pdf_max_slos}; "
                   f"render a service's with slo-jobs report --month {period.label} "
                   "--service NAME --format pdf")
        print(skipped)
    with Sources(config_for) as sources:
        source = sources.label(catalog.load([slos_dir]))
    files = runner.render_month(lake_dir, period, out_dir, source, rendered_at, formats,
                                without=["pdf"] if skipped else [], team_pdfs=True)
    print(report_text.table(rows))
    if files.teams_skipped:
        print(f"no team PDF for team labels {', '.join(map(repr, files.teams_skipped))}: "
              f"{SAFE_NAME_HINT}")
    return {"period": period.label, "html": str(files.html),
            "pdf": "" if skipped else str(files.pdf), "json": str(files.json),
            "csv": str(files.csv), **({"pdf_skipped": skipped} if skipped else {}),
            "team_pdfs": {team: str(path) for team, path in files.teams.items()}}


def week_of(interval_start: datetime | None, interval_end: datetime | None) -> str:
    """The ISO week label (``2026-W38``) a weekly data interval covers; refuses any other."""
    if interval_start is None or interval_end is None:
        raise SloJobsError("data interval: missing; expected a weekly data interval")
    label = periods.label_of("week", interval_start.astimezone(UTC))
    week = periods.calendar("week", label)
    if week.start != interval_start or week.end != interval_end:
        raise SloJobsError(f"data interval: found [{interval_start}, {interval_end}); "
                           "expected one whole ISO week (Monday to Monday) in UTC")
    return label


def review_week(slos_dir: Path, lake_dir: LakeDir, out_dir: Path,
                interval_start: datetime | None, interval_end: datetime | None,
                rendered_at: datetime) -> dict[str, str]:
    """Fill the weekly review of the interval's ISO week from the lake, as of the interval's
    end plus the settle delay (every zone's week has ended by then)."""
    label = week_of(interval_start, interval_end)
    as_of = periods.calendar("week", label).end + LOCAL_MONTH_SETTLE
    (md, html), _ = runner.review_week(lake_dir, catalog.load([slos_dir]), label, out_dir,
                                       as_of, rendered_at, [slos_dir])
    return {"week": label, "markdown": str(md), "html": str(html)}


def rollup_of(kind: str, interval_start: datetime | None, interval_end: datetime | None
              ) -> Period:
    """The calendar quarter or year (UTC) a data interval covers; refuses any other."""
    if interval_start is None or interval_end is None:
        raise SloJobsError(f"data interval: missing; expected a {kind}ly data interval")
    period = periods.calendar(kind, periods.label_of(kind, interval_start.astimezone(UTC)))
    if period.start != interval_start or period.end != interval_end:
        raise SloJobsError(f"data interval: found [{interval_start}, {interval_end}); "
                           f"expected one whole calendar {kind} in UTC")
    return period


def compute_rollup(slos_dir: Path, lake_dir: LakeDir, kind: str,
                   interval_start: datetime | None, interval_end: datetime | None
                   ) -> dict[str, Any]:
    """Roll up the interval's quarter or year from the lake (its days and the monthly
    summaries there), as of its end plus the settle delay (every zone's period has ended)."""
    period = rollup_of(kind, interval_start, interval_end)
    as_of = period.end + LOCAL_MONTH_SETTLE
    chosen, _ = runner.started(catalog.load([slos_dir]), period, as_of)
    tables = rollup.compute_rollup(lake_dir, chosen, kind, period.label, as_of,
                                   processes=False)
    missing = sorted({m["month"] for m in tables["months"] if m["state"] == "missing"})
    return {"period": period.label, "slos": len(tables["slos"]), "missing_months": missing}


def render_rollup(lake_dir: LakeDir, out_dir: Path, kind: str,
                  interval_start: datetime | None, interval_end: datetime | None,
                  rendered_at: datetime) -> dict[str, str]:
    """Render the interval's roll-up from the lake; ``rendered_at`` is the render time the
    report records."""
    from ..report import rollup as rollup_report
    period = rollup_of(kind, interval_start, interval_end)
    files = rollup_report.render(lake_dir, period.label, out_dir, rendered_at,
                                 as_of=period.end + LOCAL_MONTH_SETTLE)
    print(report_text.rollup_table(rollup_report.read(lake_dir, period.label)["groups"]))
    return {"period": period.label, "html": str(files.html), "pdf": str(files.pdf),
            "json": str(files.json), "csv": str(files.csv)}


def budget_alerts(slos_dir: Path, lake_dir: LakeDir, interval_start: datetime | None,
                  interval_end: datetime | None, run_type: str, run_start: datetime | None,
                  notify_past: bool, send_email: EmailSender | None,
                  send_chat: ChatSender | None) -> dict[str, Any]:
    """Warn each Prometheus SLO's team of the budget thresholds its month crossed, as of
    the end of the interval's day (docs/report.md, "Budget alerts"). A run about the past
    (``budget.is_past``: a backfill, or started more than a day after its day) sends nothing
    unless ``notify_past``. ``send_email``/``send_chat`` are None without a connection; a
    failed send fails the task once the others are sent and recorded."""
    from ..deliver import budget
    day = day_of(interval_start, interval_end)
    assert interval_end is not None  # day_of refuses a missing interval
    out: dict[str, Any] = {"day": day.isoformat(), "sent": []}
    if budget.is_past(interval_end, run_type, run_start) and not notify_past:
        started = f", started {run_start:%Y-%m-%dT%H:%MZ}" if run_start else ""
        print(f"budget alerts: {day}: a run about the past ({run_type} run{started}); "
              "nothing sent (trigger it with notify_past=true to send)")
        return {**out, "past": True}
    slos = [s for s in catalog.load([slos_dir]) if s.pipeline is None]
    alerts, notes = budget.due(lake_dir, slos, team_file.load_for([slos_dir]), interval_end)
    sent, more, failures = budget.deliver(lake_dir, alerts, send_email, send_chat,
                                          interval_end)
    mask = redaction.masker()
    for line in notes + more + failures:
        print(mask(line))
    if failures:
        raise SloJobsError(f"budget alerts: {len(failures)} of {len(alerts)} messages not "
                           "sent (listed above); expected every send to succeed (the retry "
                           "sends those not recorded)")
    return {**out, "sent": sent}
