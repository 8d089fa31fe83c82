"""What-if: past periods judged again with another target (or budgeting method, or window),
side by side with the real one. Reads only the lake: the same compute as the monthly run
(``compute.compute_calendar``) with changed parameters, so status, budget, incidents and
release decisions follow the same rules (docs/slo-math.md); the months and their days are
the runner's (``runner.begun``, ``runner.month_days``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import compute, lake
from ..compute import phases
from ..compute.params import SloParams
from ..core import periods, resources
from ..core.errors import SloJobsError
from ..core.periods import Period
from ..lake import LakeDir
from ..report.pages import template_env, write_published
from ..rules import prom_duration
from ..spec import EXPR_COUNT_ERROR, EXPR_SLI_ERROR, RatioSli, Slo
from ..spec.checks import objective_rules
from ..spec.schema import Objective
from . import runner

RISKS = ("low", "medium", "high")


@dataclass(frozen=True)
class Scenario:
    """What changes; None keeps the SLO's own setting."""

    target: float | None = None
    method: str | None = None
    slice_window: timedelta | None = None
    slice_target: float | None = None
    rolling: timedelta | None = None  # judge the rolling window ending at each month's end

    def describe(self, slo: Slo) -> str:
        parts = [f"target {_pct(self.target)}" if self.target is not None else "",
                 f"budgeting {self.method}" if self.method else "",
                 f"slices of {_span(self.slice_window)}" if self.slice_window else "",
                 f"slice target {_pct(self.slice_target)}" if self.slice_target else "",
                 f"rolling {_span(self.rolling)} to each month's end" if self.rolling else ""]
        return ", ".join(p for p in parts if p) or "the SLO as defined"


@dataclass(frozen=True)
class Outcome:
    """One period as judged by one set of parameters."""

    period: str
    start: datetime
    end: datetime
    target: float
    method: str
    sli: float | None
    budget_consumed: float | None
    budget_remaining: float | None
    status: str
    met: bool | None
    coverage: float
    estimated: bool
    pages: int
    tickets: int
    incident_minutes: float
    decisions: dict[str, str]


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _span(value: timedelta | None) -> str:
    if value is None:
        return ""
    return prom_duration(value.total_seconds())


def alternative(slo: Slo, base: SloParams, scenario: Scenario) -> SloParams:
    """``base`` with the scenario's changes, checked by the spec's own rules."""
    target = base.target if scenario.target is None else scenario.target
    if not 0 < target < 1:
        raise SloJobsError(f"--target: found {target:g}; expected a number in (0, 1), "
                           "e.g. 0.9995")
    if scenario.slice_target is not None and not 0 < scenario.slice_target <= 1:
        raise SloJobsError(f"--slice-target: found {scenario.slice_target:g}; expected a "
                           "number in (0, 1], e.g. 0.99")
    method = scenario.method or base.method
    # A time-slice method without --slice-window keeps the SLO's slice (else one bucket).
    window = scenario.slice_window or (timedelta(seconds=base.slice_seconds)
                                       if method != "Occurrences" else None)
    slice_target = scenario.slice_target
    if slice_target is None and method == "Timeslices":
        slice_target = slo.time_slice_target
    objective = Objective.model_construct(
        target=target, timeSliceWindow=_span(window) if window else None,
        timeSliceTarget=slice_target)
    raw = isinstance(slo.sli, RatioSli) and slo.sli.raw
    problem = objective_rules(method, slo.kind, raw, [objective])
    if problem:
        raise SloJobsError(f"--budgeting: {method} for SLO {slo.name}: {problem}")
    changed = replace(base, target=target, method=method,
                      slice_seconds=window.total_seconds() if window else base.slice_seconds,
                      slice_target=slice_target or base.slice_target)
    if scenario.rolling is not None:
        changed = replace(changed, alert_period_s=scenario.rolling.total_seconds())
    return changed


def _outcome(lake_dir: LakeDir, slo: Slo, label: str, at: datetime, params: SloParams,
             window: Callable[[Period], Period] | None = None) -> Outcome:
    """Month ``label`` of ``slo`` judged by ``params`` at ``at`` (over ``window`` of the
    month when given)."""
    result = compute.compute_calendar(lake_dir, [slo], "month", label, at,
                                      params=lambda s, p: params, window=window)
    row, period = result.summary[0], result.period
    pages = sum(1 for i in result.incidents if i["severity"] == "page")
    return Outcome(
        period=period.label, start=period.start, end=period.end, target=params.target,
        method=params.method, sli=row["sli"], budget_consumed=row["budget_consumed"],
        budget_remaining=row["budget_remaining"], status=row["status"], met=row["met"],
        coverage=row["coverage"], estimated=bool(row["estimated"]), pages=pages,
        tickets=len(result.incidents) - pages,
        incident_minutes=sum(i["duration_minutes"] or 0 for i in result.incidents
                             if i["severity"] == "page"),
        decisions={d["risk"]: d["decision"] for d in result.decisions})


def _rolling_to(length: timedelta, as_of: datetime) -> Callable[[Period], Period]:
    """The rolling window of ``length`` ending where a month is judged: its end, or
    ``as_of`` in a month still running."""
    return lambda month: periods.rolling(min(as_of, month.end), length)


def not_extracted(lake_dir: LakeDir, slo: Slo, first: str, last: str, as_of: datetime
                  ) -> list[tuple[str, int, int]]:
    """(month, its days not in the lake, its days) for each month of ``[first, last]`` begun
    at ``as_of`` that lacks any of the SLO's day partitions (days up to ``as_of``)."""
    out = []
    for month in periods.month_range(first, last):
        if not runner.begun(slo, month, as_of):
            break
        label = month.label
        days = runner.month_days(slo, month, as_of)[0]
        have = len(lake.existing_days(lake_dir, slo.name, days))
        if have < len(days):
            out.append((label, len(days) - have, len(days)))
    return out


def extract_hint(missing: Sequence[tuple[str, int, int]]) -> str:
    """The command that brings the months ``missing`` into the lake."""
    a, b = missing[0][0], missing[-1][0]
    return f"slo-jobs backfill --from {a} --to {b}" if a != b else \
        f"slo-jobs backfill --from {a} --to {a} (or slo-jobs extract --month {a})"


def missing_lines(missing: Sequence[tuple[str, int, int]], lake_dir: LakeDir) -> list[str]:
    """What the what-if could not judge, and the command that extracts it."""
    if not missing:
        return []
    lines = [f"{label}: " + ("not in the lake, left out" if gone == days
                             else f"{gone} of {days} days not in the lake (read as no data)")
             for label, gone, days in missing]
    return lines + [f"extract them into {lake_dir} first: {extract_hint(missing)} "
                    "--slos <folder> --prometheus-url <url>"]


def run(lake_dir: LakeDir, slo: Slo, scenario: Scenario, first: str, last: str,
        as_of: datetime) -> list[tuple[Outcome, Outcome]]:
    """(real, what-if) per month of ``[first, last]`` that has begun at ``as_of``; a month
    still running is judged to date and marked estimated, as in the monthly report. A
    month with none of its days in the lake is left out (``not_extracted`` names it): it
    was never extracted, which is not a month without data; none in the lake is an error
    naming the months and the command that extracts them."""
    gone = {label for label, missing, days in not_extracted(lake_dir, slo, first, last, as_of)
            if missing == days}
    window = None if scenario.rolling is None else _rolling_to(scenario.rolling, as_of)
    out = []
    for month in periods.month_range(first, last):
        if not runner.begun(slo, month, as_of):
            break
        label = month.label
        if label in gone:
            continue
        period = month.in_zone(slo.time_zone)
        at = min(as_of, period.end)
        real = phases.params(slo, period)
        out.append((_outcome(lake_dir, slo, label, at, real),
                    _outcome(lake_dir, slo, label, at, alternative(slo, real, scenario),
                             window)))
    if not out and gone:
        missing = [(label, 0, 0) for label in sorted(gone)]
        raise SloJobsError(f"SLO {slo.name}: {', '.join(sorted(gone))} not in the lake "
                           f"{lake_dir}; expected the months extracted first: "
                           f"{extract_hint(missing)} --slos <folder> --prometheus-url <url>")
    if not out:
        raise SloJobsError(f"--from: {first} has not begun at as-of {as_of:%Y-%m-%dT%H:%MZ}; "
                           "expected past months")
    return out


def _yes(met: bool | None) -> str:
    return "n/a" if met is None else "yes" if met else "no"


def table(slo: Slo, scenario: Scenario, rows: Sequence[tuple[Outcome, Outcome]]) -> str:
    """Two lines per period, the real judgement and the what-if under it, and a tally."""
    head = (f"{'period':<10} {'':<8} {'target':>8} {'SLI':>10} {'budget left':>12} "
            f"{'status':<17} {'met':<4} {'pages':>5} {'tickets':>7}  release low/medium/high")
    lines = [f"what-if for {slo.name}: {scenario.describe(slo)}", head, "-" * len(head)]
    for real, alt in rows:
        for label, o in ((real.period, real), ("", alt)):
            kind = "real" if o is real else "what-if"
            lines.append(
                f"{label:<10} {kind:<8} {_pct(o.target):>8} {_pct(o.sli, 4):>10} "
                f"{_pct(o.budget_remaining, 1):>12} {o.status:<17} {_yes(o.met):<4} "
                f"{o.pages:>5} {o.tickets:>7}  "
                + "/".join(o.decisions.get(r, "n/a") for r in RISKS)
                + (" (estimated)" if o.estimated else ""))
    met_real = sum(1 for r, _ in rows if r.met)
    met_alt = sum(1 for _, a in rows if a.met)
    lines.append(f"met: {met_real} of {len(rows)} periods as defined, {met_alt} of "
                 f"{len(rows)} with the what-if")
    if slo.approximate:  # as the monthly report marks it (docs/extraction.md)
        lines.append("approximate SLI: read from a PromQL expression, its error ratio within "
                     f"{EXPR_SLI_ERROR * 100:g} % of itself, its counts up to "
                     f"{EXPR_COUNT_ERROR * 100:g} % low")
    return "\n".join(lines)


def context(slo: Slo, scenario: Scenario, rows: Sequence[tuple[Outcome, Outcome]],
            source: str, rendered_at: datetime, missing: Sequence[str] = ()
            ) -> dict[str, Any]:
    return {"slo": slo, "scenario": scenario.describe(slo), "rows": rows, "source": source,
            "missing": missing,
            "risks": RISKS, "met_real": sum(1 for r, _ in rows if r.met),
            "met_alt": sum(1 for _, a in rows if a.met),
            "rendered_at": rendered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "css": (resources.templates_dir() / "report.css").read_text()}


def render(path: Path, slo: Slo, scenario: Scenario, rows: Sequence[tuple[Outcome, Outcome]],
           source: str, rendered_at: datetime, missing: Sequence[str] = ()) -> Path:
    """The what-if as an HTML page (the report's styles, self-contained) at ``path``;
    ``missing``: the lines naming months not in the lake (``missing_lines``)."""
    html = template_env().get_template("whatif.html.j2").render(
        **context(slo, scenario, rows, source, rendered_at, missing))
    write_published(path, html)
    return path
