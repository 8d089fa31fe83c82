"""Prometheus recording and burn-rate alert rules from the same SLO specs as the reports.

Per SLO, two rule groups:

* ``slo-jobs:<slo>``: the error ratio over 5m, 30m, 1h, 2h, 6h, 1d and 3d
  (``slo:sli_error:ratio_rate<w>``, in the batch's unit: events or slices), the multi-window
  multi-burn-rate alerts (``SLOErrorBudgetBurn``, severity page or ticket) and an alert for
  absent SLI data (``SLOSLIDataAbsent``);
* ``slo-jobs:<slo>:period`` (evaluated every 5 minutes): the error ratio over the SLO's period
  following its budgeting method (``slo:sli_error:ratio_period``) and the metadata
  ``slo:objective:ratio``, ``slo:error_budget:ratio`` and ``slo:period:seconds``.

The alert conditions are the batch's own (``burnrate.CONDITIONS`` and ``alert_factor``):
fire iff ``err(L) > f*B and err(S) > f*B`` with ``f = p * P / L`` and ``S = L / 12``, so the
pager and the report's incidents agree window for window. What PromQL cannot express is in
``LIMITS`` and in docs/alerts.md.

Also here: maintenance windows in PromQL (``maintenance``), promtool (``promtool``) and
the Grafana dashboard over the recorded series (``dashboard``).

May import: ``sources`` (endpoint settings), ``lake`` (atomic writes), ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ..core import periods, redaction
from ..core.burnrate import CONDITIONS, SHORT_WINDOW_DIVISOR, alert_factor, budget_fraction
from ..core.errors import SloJobsError
from ..lake import atomicio
from ..sources.endpoint import PrometheusConfig
from ..spec import Query, Slo
from ..spec.governance import phase_in_force
from ..spec.journey import Journey
from ..spec.links import rule_annotations
from ..spec.promql import number
from . import journeys as journey_rules
from .maintenance import HORIZON, kept, maintenance_expr
from .promtool import backfill, http_config

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
RECORD = "slo:sli_error:ratio_rate{window}"
PERIOD_RECORD = "slo:sli_error:ratio_period"
# Nominal lengths where a calendar period has no fixed length in PromQL (months use
# days_in_month() instead, exactly).
NOMINAL_DAYS = {"week": 7, "month": 30, "quarter": 91, "year": 365}
PERIOD_INTERVAL = "5m"
MAINTENANCE_RECORD = "slo:maintenance:active"
LIMITS = (
    "A range selector has a fixed length: for a calendar window the period ratio covers the "
    "trailing 30 d (month), 7 d (week), 91 d (quarter) or 365 d (year), which equals the "
    "calendar period only at the end of a period of that length; the monthly report is the "
    "calendar truth.",
    "Burn-rate factors of calendar months use days_in_month() in UTC (exact for UTC months; "
    "a month in another time zone may differ by the hour of a DST change, under 0.14 %); "
    "quarters and years use 91 d and 365 d.",
    "Burn-rate windows count what the budget counts (events, or slices of a time-slice SLO); "
    "a rule judges the slices completed at evaluation, so it may lag the report by a slice.",
)


@dataclass(frozen=True)
class Condition:
    """One multi-window burn-rate condition: ``err(long) > factor*B and err(short) > ...``."""

    severity: str
    long_window: str
    short_window: str
    share: float | None
    long_s: int
    factor: float | None  # None: a calendar month, whose P is days_in_month() at evaluation


def prom_duration(seconds: float) -> str:
    """``3600`` -> ``1h``: the largest unit dividing the duration."""
    n, unit = periods.whole_unit(int(seconds))
    return f"{n}{unit}"


def period_seconds(slo: Slo) -> int:
    """The period P of the alert factors: a rolling SLO's length, else the nominal length."""
    if slo.window_kind == "rolling" and slo.rolling_window is not None:
        return int(slo.rolling_window.total_seconds())
    return NOMINAL_DAYS[slo.calendar_unit or "month"] * periods.DAY_S


def _calendar_month(slo: Slo) -> bool:
    return slo.window_kind == "calendar" and (slo.calendar_unit or "month") == "month"


def period_expr(slo: Slo) -> str:
    """P in seconds as PromQL: exact per month for calendar-month SLOs."""
    if _calendar_month(slo):
        return "(86400 * scalar(days_in_month()))"
    return str(period_seconds(slo))


def window_start(slo: Slo, at: datetime) -> datetime:
    """The start of the SLO's own window holding the instant just before ``at``."""
    if slo.window_kind == "rolling" and slo.rolling_window is not None:
        return at - slo.rolling_window
    return periods.containing(slo.calendar_unit or "month", at - timedelta(microseconds=1),
                              slo.time_zone, slo.window_start).start


def in_force(slo: Slo, at: datetime) -> Slo:
    """``slo`` with the target judging its window at ``at``, as the report judges it: the
    phase in force at the window's start (docs/slo-math.md, Phases)."""
    found = phase_in_force(slo.phases, slo.time_zone, window_start(slo, at))
    return slo if found is None else replace(slo, target=found[1].target)


def valid_until(slo: Slo, at: datetime) -> datetime:
    """When the rules written at ``at`` stop saying what the report says: the end of the
    maintenance horizon, or the first window judged by the next phase."""
    until = at + HORIZON
    for p in slo.phases:
        start = p.starts(slo.time_zone)
        if start > window_start(slo, at):
            if slo.window_kind == "rolling" and slo.rolling_window is not None:
                first = start + slo.rolling_window
            else:
                w = periods.containing(slo.calendar_unit or "month", start, slo.time_zone,
                                       slo.window_start)
                first = w.start if w.start == start else w.end
            return min(until, max(first, at))
    return until


def conditions(slo: Slo) -> list[Condition]:
    """The SLO's alert conditions: its ``alerting.burnRates`` overrides, else the defaults."""
    month = _calendar_month(slo)
    p = period_seconds(slo)
    if slo.burn_rate_alerts:
        out = []
        for a in slo.burn_rate_alerts:
            long_s = int(a.long_window.total_seconds())
            share = a.budget_consumed
            factor = a.factor if a.factor is not None else (
                None if month else alert_factor(share or 0.0, p, long_s))
            out.append(Condition(a.severity, prom_duration(long_s),
                                 prom_duration(a.short_window.total_seconds()),
                                 share if a.factor is None else None, long_s, factor))
        return out
    return [Condition("page" if name.startswith("thr_page") else "ticket",
                      prom_duration(long_s), prom_duration(long_s // SHORT_WINDOW_DIVISOR),
                      share, long_s,
                      None if month else alert_factor(share, p, long_s))
            for name, (share, long_s) in CONDITIONS.items()]


def threshold_expr(slo: Slo, c: Condition) -> str:
    """``f * B`` as PromQL, computed in the batch's order: ((p * P) / L) * B."""
    b = number(budget_fraction(slo.target))
    if c.factor is not None:
        return number(c.factor * budget_fraction(slo.target))
    return f"({number(c.share or 0.0)} * {period_expr(slo)} / {c.long_s} * {b})"


def _windowed(q: Query) -> bool:
    return q.promql("1m") != q.promql("2m")


def _subrange(window: str) -> str:
    # Subquery ranges include their left end on Prometheus 2.x: one second less keeps
    # exactly the window's points (t-w, t] on the minute grid.
    seconds = int(_seconds(window))
    return f"{seconds - 1}s"


def _seconds(window: str) -> float:
    return int(window[:-1]) * periods.UNIT_SECONDS[window[-1]]


def events(q: Query, window: str) -> str:
    """The events of ``q`` in ``(t - window, t]``: counters by increase, per-minute
    instant values (threshold, freshness, raw ratios) summed minute by minute."""
    if _windowed(q):
        return q.promql(window)
    return f"sum_over_time(({q.promql('1m')})[{_subrange(window)}:1m])"


def error_ratio(slo: Slo, window: str, at: datetime | None = None) -> str:
    """The error ratio over ``window`` in the budget's unit (docs/slo-math.md): of events, a
    ratio of sums; of a time-slice SLO, bad / counted slices completed in ``window`` (subquery
    steps fall on multiples of the slice length: at a slice's end the batch's slices), a
    window shorter than a slice reading the last one. With ``at``, the SLO's maintenance
    windows around ``at`` count as in the report: their minutes (slices) left out or good."""
    plan = at is not None and slo.maintenance is not None
    lookback = timedelta(seconds=_seconds(window)) + (slo.time_slice_window or timedelta())
    if slo.budgeting_method == "Occurrences":
        if not plan or at is None:
            good, total = events(slo.good, window), events(slo.total, window)
        else:  # minute by minute, so a closed window leaves nothing behind
            t1, g1 = slo.total.promql("1m"), slo.good.promql("1m")
            total, good = (f"sum_over_time(({kept(v, slo, at, lookback, 60, gv)})"
                           f"[{_subrange(window)}:1m])" for v, gv in ((t1, None), (g1, t1)))
        return f"(({total}) - ({good})) / ({total})"
    slice_s = (slo.time_slice_window or periods.BUCKET).total_seconds()
    slice_w, span = prom_duration(slice_s), prom_duration(max(_seconds(window), slice_s))
    g, t = events(slo.good, slice_w), events(slo.total, slice_w)
    outer = f"[{_subrange(span)}:{slice_w}]"
    ratio = f"({g}) / (({t}) > 0)"  # no events: no point, left to the no-data policy
    if plan and at is not None:
        ratio = kept(ratio, slo, at, lookback, int(slice_s), "vector(1)")
    if slo.budgeting_method == "RatioTimeslices":
        return f"1 - avg_over_time(({ratio}){outer})"
    good_slice = f"(({ratio}) >= bool {number(slo.time_slice_target or 1.0)}){outer}"
    good, counted = f"sum_over_time({good_slice})", f"count_over_time({good_slice})"
    n = number(_seconds(span) / slice_s)
    if plan and at is not None:  # excluded slices are out of N, whatever the policy
        n = f"count_over_time(({kept('vector(1)', slo, at, lookback, int(slice_s), None)}){outer})"
    return {"good": f"(({counted}) - ({good})) / {n}", "bad": f"1 - ({good}) / {n}"}.get(
        slo.no_data_policy, f"1 - ({good}) / ({counted})")


def period_error_ratio(slo: Slo, at: datetime | None = None) -> str:
    """The error ratio over the SLO's period by its budgeting method; with ``at``, its
    maintenance windows count as the report counts them (left out or good)."""
    return error_ratio(slo, prom_duration(period_seconds(slo)), at)


def alert_expr(slo: Slo, severity: str, ratio: Callable[[str], str]) -> str | None:
    """The alert of one severity, its value the long window's burn rate; ``ratio(w)`` gives
    the error ratio over ``w`` (a recorded series, or the raw expression in tests)."""
    parts = []
    for c in conditions(slo):
        if c.severity == severity:
            thr = threshold_expr(slo, c)
            parts.append(f"(({ratio(c.long_window)}) > {thr} and ({ratio(c.short_window)}) "
                         f"> {thr})")
    if not parts:
        return None
    return f"({' or '.join(parts)}) / {number(budget_fraction(slo.target))}"


def labels(slo: Slo) -> dict[str, str]:
    out = {"slo": slo.name, "service": slo.service}
    if slo.team:
        out["team"] = slo.team
    return out


def _selector(slo: Slo) -> str:
    return f'{{slo="{slo.name}"}}'


def _text(value: str) -> str:
    # Annotations are Go templates: user text must not open an action.
    return value.replace("{{", "{ {")


def _windows(slo: Slo) -> list[str]:
    extra = {w for c in conditions(slo) for w in (c.long_window, c.short_window)}
    return list(WINDOWS) + sorted(extra - set(WINDOWS), key=_seconds)


def _annotations(slo: Slo, severity: str) -> dict[str, str]:
    conds = [c for c in conditions(slo) if c.severity == severity]
    spans = ", ".join(f"{c.long_window} and {c.short_window}" for c in conds)
    out = {
        "summary": f"SLO {slo.name} ({slo.service}): error budget burning too fast "
                   f"({severity})",
        "description": (
            f"{_text(slo.description or slo.name)} Objective {number(slo.target * 100)} %. The "
            f"error ratio over {spans} is above the alert threshold; the long window burns "
            "the budget at {{ $value | humanize }} times the sustainable rate."),
    }
    return {**out, **rule_annotations(slo.links, slo.labels)}


def groups(slo: Slo, at: datetime) -> list[dict[str, Any]]:
    """The two rule groups of one SLO as they stand at ``at`` (the CLI's --at): the target of
    the phase in force, and no page or ticket while a maintenance window is open."""
    slo = in_force(slo, at)
    lab = labels(slo)
    rules: list[dict[str, Any]] = [
        {"record": RECORD.format(window=w), "expr": error_ratio(slo, w, at), "labels": lab}
        for w in _windows(slo)]
    muted = maintenance_expr(slo, at)
    if muted is not None:  # before the alerts: a group's rules run in order, one instant
        rules.append({"record": MAINTENANCE_RECORD, "expr": muted, "labels": lab})
    for severity in ("page", "ticket"):
        expr = alert_expr(slo, severity,
                          lambda w: RECORD.format(window=w) + _selector(slo))
        if expr is not None:
            if muted is not None:
                expr = f"({expr}) unless on() {MAINTENANCE_RECORD}{_selector(slo)}"
            rules.append({"alert": "SLOErrorBudgetBurn", "expr": expr,
                          "labels": {"severity": severity, **lab},
                          "annotations": _annotations(slo, severity)})
    rules.append({
        "alert": "SLOSLIDataAbsent", "expr": f"absent({events(slo.total, '10m')})",
        "for": "10m", "labels": {"severity": "ticket", **lab},
        "annotations": {
            "summary": f"SLO {slo.name} ({slo.service}): no SLI data",
            "description": _text(f"The total-events query of {slo.name} returned no data for "
                                 "20 minutes: the SLO cannot be judged and the burn-rate "
                                 "alerts cannot fire."),
            **rule_annotations(slo.links, slo.labels)}})
    until = valid_until(slo, at)
    rules.append({
        "alert": "SLORulesOutdated", "expr": f"vector(time()) >= {int(until.timestamp())}",
        "labels": {"severity": "ticket", **lab},
        "annotations": {
            "summary": f"SLO {slo.name} ({slo.service}): alert rules out of date",
            "description": _text(
                f"These rules hold the target and maintenance windows of {slo.name} up to "
                f"{until:%Y-%m-%d %H:%M} UTC (a new phase or the end of the windows spelled "
                "out); write them again with slo-jobs rules.")}})
    period = prom_duration(period_seconds(slo))
    meta = [
        {"record": PERIOD_RECORD, "expr": period_error_ratio(slo, at),
         "labels": {**lab, "period": period}},
        {"record": "slo:objective:ratio", "expr": f"vector({number(slo.target)})", "labels": lab},
        {"record": "slo:error_budget:ratio",
         "expr": f"vector({number(budget_fraction(slo.target))})", "labels": lab},
        {"record": "slo:period:seconds",
         "expr": ("days_in_month() * 86400" if _calendar_month(slo)
                  else f"vector({period_seconds(slo)})"), "labels": lab},
    ]
    return [{"name": f"slo-jobs:{slo.name}", "rules": rules},
            {"name": f"slo-jobs:{slo.name}:period", "interval": PERIOD_INTERVAL,
             "rules": meta}]


class _Dumper(yaml.SafeDumper):
    """Plain YAML without anchors: each rule reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(slos: Sequence[Slo], at: datetime) -> str:
    """The rule file for ``slos`` as YAML, as they stand at ``at`` (the CLI's --at)."""
    # Pipeline SLIs read from the Airflow API or a table have no series to alert on.
    skipped = [s.name for s in slos if s.pipeline is not None]
    head = "".join(f"# {line}\n" for line in (
        "Generated by slo-jobs rules from the SLO definitions; edit those, not this file.",
        f"As of {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC: targets of the phases in force, "
        f"maintenance windows (no page or ticket while one is open) for {HORIZON.days} days.",
        *("Limit: " + limit for limit in LIMITS),
        *(["Not here (SLI read from the Airflow API or a table, not Prometheus): "
           + ", ".join(skipped)] if skipped else [])))
    # Secrets masked in the values before dumping: YAML then quotes a value starting "***".
    body = yaml.dump(redaction.mask_values({"groups": [g for s in slos if s.pipeline is None
                                                       for g in groups(s, at)]}),
                     Dumper=_Dumper, sort_keys=False, width=10_000)
    return head + body


def write(slos: Sequence[Slo], out: Path, at: datetime, journeys: Sequence[Journey] = ()) -> Path:
    """Write the rule file (the ``journeys``' rules last) atomically, known secrets masked."""
    return atomicio.write_text(out, redaction.redact(
        render(slos, at) + journey_rules.render(journeys, slos)))


def parse_instant(text: str, option: str) -> datetime:
    """``2026-09-01`` or ``2026-09-01T12:00`` (UTC unless an offset is given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SloJobsError(f"{option}: {text!r} is not a time; expected YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM (UTC), e.g. 2026-09-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def command(slos: Sequence[Slo], out: Path, at: datetime, backfill_to: Path | None = None,
            start: str | None = None, end: str | None = None,
            url: str | None = None, journeys: Sequence[Journey] = ()) -> list[str]:
    """``slo-jobs rules``: write the rule file and, with ``backfill_to``, the rule blocks.
    Returns the lines to print."""
    lines = [f"wrote {write(slos, out, at, journeys)} ({len(slos)} SLOs)"]
    if backfill_to is None:
        return lines
    if not start or not end:
        raise SloJobsError("--backfill: --start and --end are missing; expected both, e.g. "
                           "--start 2026-07-01 --end 2026-10-01")
    config = PrometheusConfig.from_env(url)
    auth = http_config(config.token, config.username, config.password)
    try:
        blocks = backfill(out, config.url, parse_instant(start, "--start"),
                          parse_instant(end, "--end"), backfill_to, http_config=auth)
    finally:
        if auth is not None:
            auth.unlink(missing_ok=True)
    lines.append(f"wrote {len(blocks)} blocks into {backfill_to}; move them into "
                 "Prometheus' --storage.tsdb.path to use them")
    return lines
