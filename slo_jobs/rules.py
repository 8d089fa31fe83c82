"""Prometheus recording and burn-rate alert rules from the same SLO specs as the reports.

Per SLO, two rule groups:

* ``slo-jobs:<slo>``: the error ratio over 5m, 30m, 1h, 2h, 6h, 1d and 3d
  (``slo:sli_error:ratio_rate<w>``, events as the batch counts them), the multi-window
  multi-burn-rate alerts (``SLOErrorBudgetBurn``, severity page or ticket) and an alert for
  absent SLI data (``SLOSLIDataAbsent``);
* ``slo-jobs:<slo>:period`` (evaluated every 5 minutes): the error ratio over the SLO's period
  following its budgeting method (``slo:sli_error:ratio_period``) and the metadata
  ``slo:objective:ratio``, ``slo:error_budget:ratio`` and ``slo:period:seconds``.

The alert conditions are the batch's own (``burnrate.CONDITIONS`` and ``alert_factor``):
fire iff ``err(L) > f*B and err(S) > f*B`` with ``f = p * P / L`` and ``S = L / 12``, so the
pager and the report's incidents agree window for window. What PromQL cannot express is in
``LIMITS`` and in the README.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from . import atomicio, redaction
from .burnrate import CONDITIONS, SHORT_WINDOW_DIVISOR, alert_factor, budget_fraction
from .errors import SloJobsError
from .spec import Query, Slo
from .spec.promql import number

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
RECORD = "slo:sli_error:ratio_rate{window}"
PERIOD_RECORD = "slo:sli_error:ratio_period"
# Nominal lengths where a calendar period has no fixed length in PromQL (months use
# days_in_month() instead, exactly).
NOMINAL_DAYS = {"week": 7, "month": 30, "quarter": 91, "year": 365}
PERIOD_INTERVAL = "5m"
LIMITS = (
    "A range selector has a fixed length: for a calendar window the period ratio covers the "
    "trailing 30 d (month), 7 d (week), 91 d (quarter) or 365 d (year), which equals the "
    "calendar period only at the end of a period of that length; the monthly report is the "
    "calendar truth.",
    "Burn-rate factors of calendar months use days_in_month() in UTC (exact for UTC months; "
    "a month in another time zone may differ by the hour of a DST change, under 0.14 %); "
    "quarters and years use 91 d and 365 d.",
    "Burn-rate windows count events, as the batch does; for threshold and freshness SLIs an "
    "event is a minute with data, so noDataPolicy applies to the period ratio only.",
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
    s = int(seconds)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def period_seconds(slo: Slo) -> int:
    """The period P of the alert factors: a rolling SLO's length, else the nominal length."""
    if slo.window_kind == "rolling" and slo.rolling_window is not None:
        return int(slo.rolling_window.total_seconds())
    return NOMINAL_DAYS[slo.calendar_unit or "month"] * 86_400


def _calendar_month(slo: Slo) -> bool:
    return slo.window_kind == "calendar" and (slo.calendar_unit or "month") == "month"


def period_expr(slo: Slo) -> str:
    """P in seconds as PromQL: exact per month for calendar-month SLOs."""
    if _calendar_month(slo):
        return "(86400 * scalar(days_in_month()))"
    return str(period_seconds(slo))


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
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}[window[-1]]
    return int(window[:-1]) * unit


def events(q: Query, window: str) -> str:
    """The events of ``q`` in ``(t - window, t]``: counters by increase, per-minute
    instant values (threshold, freshness, raw ratios) summed minute by minute."""
    if _windowed(q):
        return q.promql(window)
    return f"sum_over_time(({q.promql('1m')})[{_subrange(window)}:1m])"


def error_ratio(slo: Slo, window: str) -> str:
    """The error ratio of events over ``window`` (a ratio of sums, never of ratios)."""
    good, total = events(slo.good, window), events(slo.total, window)
    return f"(({total}) - ({good})) / ({total})"


def period_error_ratio(slo: Slo) -> str:
    """The error ratio over the SLO's period by its budgeting method."""
    window = prom_duration(period_seconds(slo))
    if slo.budgeting_method == "Occurrences":
        return error_ratio(slo, window)
    slice_w = prom_duration((slo.time_slice_window or timedelta(minutes=1)).total_seconds())
    g, t = events(slo.good, slice_w), events(slo.total, slice_w)
    outer = f"[{_subrange(window)}:{slice_w}]"
    if slo.budgeting_method == "RatioTimeslices":
        return f"1 - avg_over_time((({g}) / (({t}) > 0)){outer})"
    good_slice = f"(({g}) / ({t})) >= bool {number(slo.time_slice_target or 1.0)}"
    good = f"sum_over_time(({good_slice}){outer})"
    counted = f"count_over_time(({good_slice}){outer})"
    n = number(_seconds(window) / _seconds(slice_w))
    if slo.no_data_policy == "good":
        return f"(({counted}) - ({good})) / {n}"
    if slo.no_data_policy == "bad":
        return f"1 - ({good}) / {n}"
    return f"1 - ({good}) / ({counted})"


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
    for key, names in (("runbook_url", ("runbook_url", "runbook")),
                       ("dashboard_url", ("dashboard_url", "dashboard"))):
        found = next((slo.labels[n] for n in names if slo.labels.get(n)), None)
        if found:
            out[key] = found
    return out


def groups(slo: Slo) -> list[dict[str, Any]]:
    """The two rule groups of one SLO."""
    lab = labels(slo)
    rules: list[dict[str, Any]] = [
        {"record": RECORD.format(window=w), "expr": error_ratio(slo, w), "labels": lab}
        for w in _windows(slo)]
    for severity in ("page", "ticket"):
        expr = alert_expr(slo, severity,
                          lambda w: RECORD.format(window=w) + _selector(slo))
        if expr is not None:
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
                                 "alerts cannot fire.")}})
    period = prom_duration(period_seconds(slo))
    meta = [
        {"record": PERIOD_RECORD, "expr": period_error_ratio(slo),
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


def render(slos: Sequence[Slo]) -> str:
    """The rule file for ``slos`` as YAML."""
    # Pipeline SLIs read from the Airflow API or a table have no series to alert on.
    skipped = [s.name for s in slos if s.pipeline is not None]
    head = "".join(f"# {line}\n" for line in (
        "Generated by slo-jobs rules from the SLO definitions; edit those, not this file.",
        *("Limit: " + limit for limit in LIMITS),
        *(["Not here (SLI read from the Airflow API or a table, not Prometheus): "
           + ", ".join(skipped)] if skipped else [])))
    # Secrets masked in the values before dumping: YAML then quotes a value starting "***".
    body = yaml.dump(redaction.mask_values({"groups": [g for s in slos if s.pipeline is None
                                                       for g in groups(s)]}),
                     Dumper=_Dumper, sort_keys=False, width=10_000)
    return head + body


def write(slos: Sequence[Slo], out: Path) -> Path:
    """Write the rule file atomically, known secrets masked (it is published to Prometheus)."""
    return atomicio.write_text(out, redaction.redact(render(slos)))


def _takes_http_config(exe: str) -> bool:
    """Whether this promtool accepts ``--http.config.file`` (2.42, Debian 12's, does not)."""
    try:
        shown = subprocess.run([exe, "tsdb", "create-blocks-from", "rules", "--help"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--http.config.file" in shown.stdout + shown.stderr


def backfill(rule_file: Path, url: str, start: datetime, end: datetime, output_dir: Path,
             promtool: str = "promtool", http_config: Path | None = None) -> list[Path]:
    """Evaluate the recording rules over ``[start, end)`` with ``promtool tsdb
    create-blocks-from rules`` against Prometheus at ``url``; the blocks land in
    ``output_dir`` (move them into Prometheus' data folder to use them).

    Credentials go to promtool only in ``http_config`` (a file), never in its command
    line, which every local user can read; a promtool without that option is refused."""
    exe = shutil.which(promtool)
    if exe is None:
        raise SloJobsError("promtool: not found on PATH; expected Prometheus' promtool "
                           "(apt-get install prometheus)")
    if end <= start:
        raise SloJobsError(f"--end: {end.isoformat()} is not after --start "
                           f"{start.isoformat()}; expected a later end")
    url, user, password = redaction.split_userinfo(url)
    if user or password:
        raise SloJobsError(f"--prometheus-url: {redaction.redact(url)} carries credentials; "
                           "expected them in SLO_JOBS_PROMETHEUS_USERNAME / _PASSWORD")
    if http_config is not None and not _takes_http_config(exe):
        raise SloJobsError(
            f"{exe}: this promtool has no --http.config.file option, so it cannot be given "
            "the Prometheus credentials (SLO_JOBS_PROMETHEUS_TOKEN / _USERNAME / _PASSWORD) "
            "without showing them on its command line; expected a promtool whose "
            "'tsdb create-blocks-from rules --help' lists --http.config.file, or a "
            "Prometheus URL that needs no credentials (e.g. on its own host)")
    output_dir.mkdir(parents=True, exist_ok=True)
    before = set(output_dir.iterdir())
    cmd = [exe, "tsdb", "create-blocks-from", "rules",
           "--start", str(int(start.timestamp())), "--end", str(int(end.timestamp())),
           "--url", url, "--output-dir", str(output_dir)]
    if http_config is not None:
        cmd += ["--http.config.file", str(http_config)]
    done = subprocess.run([*cmd, str(rule_file)], capture_output=True, text=True)
    if done.returncode != 0:
        last = redaction.redact((done.stderr.strip().splitlines() or ["no output"])[-1])
        raise SloJobsError(f"{rule_file}: promtool tsdb create-blocks-from rules failed: "
                           f"{last}; expected a reachable Prometheus at {url}")
    return sorted(p for p in set(output_dir.iterdir()) - before if (p / "meta.json").exists())


def http_config(token: str | None, username: str | None, password: str | None) -> Path | None:
    """A promtool HTTP config file for the credentials in the environment, if any."""
    if not token and not username:
        return None
    conf: dict[str, Any] = ({"authorization": {"type": "Bearer", "credentials": token}}
                            if token else
                            {"basic_auth": {"username": username, "password": password or ""}})
    # Not an output: a secret handed to promtool, owner-only (mkstemp's 0600) on purpose and
    # deleted by the caller after the run, so it does not go through atomicio.
    fd, name = tempfile.mkstemp(prefix="slo-jobs-promtool-", suffix=".yml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(conf, f)
    return Path(name)


def parse_instant(text: str, option: str) -> datetime:
    """``2026-09-01`` or ``2026-09-01T12:00`` (UTC unless an offset is given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SloJobsError(f"{option}: {text!r} is not a time; expected YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM (UTC), e.g. 2026-09-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def command(slos: Sequence[Slo], out: Path, backfill_to: Path | None = None,
            start: str | None = None, end: str | None = None,
            url: str | None = None) -> list[str]:
    """``slo-jobs rules``: write the rule file and, with ``backfill_to``, the rule blocks.
    Returns the lines to print."""
    from .extract import PrometheusConfig

    lines = [f"wrote {write(slos, out)} ({len(slos)} SLOs)"]
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
