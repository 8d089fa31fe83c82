"""The governance commands of ``slo-jobs``: what-if targets, the weekly review, the
stakeholder page, discovery and the selector check. Registered on the main command by
``cli/__init__.py``, after the commands on definitions."""

from __future__ import annotations

import sys
from datetime import UTC, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import SloJobsError
from .options import (
    AsOf,
    Lake,
    Month,
    Out,
    PromUrl,
    Slos,
    as_of_or_now,
    echo_notes,
    lake_at,
    now,
    print_files,
    slo_paths,
)

app = typer.Typer()  # the commands below, added to the main one by cli/__init__.py

@app.command(name="whatif")
def whatif_cmd(
    slo: Annotated[str, typer.Option("--slo", metavar="NAME", help="The SLO to judge again.")],
    first: Annotated[str, typer.Option("--from", metavar="YYYY-MM", help="First month.")],
    last: Annotated[str, typer.Option("--to", metavar="YYYY-MM", help="Last month, included.")],
    target: Annotated[float | None, typer.Option(
        "--target", metavar="X", help="Another target, e.g. 0.9995.")] = None,
    budgeting: Annotated[str | None, typer.Option(
        "--budgeting", metavar="METHOD",
        help="Another budgeting method: Occurrences, Timeslices or RatioTimeslices.")] = None,
    slice_window: Annotated[str | None, typer.Option(
        "--slice-window", metavar="DURATION", help="Time slice for --budgeting, e.g. 5m.")
    ] = None,
    slice_target: Annotated[float | None, typer.Option(
        "--slice-target", metavar="X", help="Good share making a slice good (Timeslices).")
    ] = None,
    window: Annotated[str | None, typer.Option(
        "--window", metavar="DURATION",
        help="Judge the rolling window of this length (e.g. 28d) ending at each month's end.")
    ] = None,
    slos: Slos = None, lake: Lake = "lake", out: Out = Path("reports/out"),
    as_of: AsOf = None,
) -> None:
    """Judge past months again with another target (or method, or window), from the lake.

    Prints each month as defined and with the what-if, and writes the same as HTML to
    <out>/whatif/<slo>.html. Reads only the lake, never Prometheus.

    Example: slo-jobs whatif --slo checkout-availability --target 0.9995 --from 2026-07
    --to 2026-09
    """
    from ..lake import atomicio
    from ..run import whatif
    from ..spec import catalog
    from ..spec import io as specio

    loaded = {s.name: s for s in catalog.load(slo_paths(slos))}
    if slo not in loaded:
        raise SloJobsError(f"--slo: found {slo!r}; expected one of {', '.join(sorted(loaded))}")

    def span(option: str, text: str | None, units: str) -> timedelta | None:
        try:
            return None if text is None else specio.duration(text, units)
        except ValueError as exc:
            raise SloJobsError(f"{option}: found {text!r}; {exc}") from None

    methods = ("Occurrences", "Timeslices", "RatioTimeslices")
    if budgeting is not None and budgeting not in methods:
        raise SloJobsError(f"--budgeting: found {budgeting!r}; expected one of "
                           f"{', '.join(methods)}")
    scenario = whatif.Scenario(target=target, method=budgeting,
                               slice_window=span("--slice-window", slice_window, "mh"),
                               slice_target=slice_target,
                               rolling=span("--window", window, "dw"))
    chosen = loaded[slo]
    at = as_of_or_now(as_of)
    rows = whatif.run(lake_at(lake), chosen, scenario, first, last, at)
    typer.echo(whatif.table(chosen, scenario, rows))
    missing = whatif.missing_lines(whatif.not_extracted(lake_at(lake), chosen, first, last, at),
                                   lake_at(lake))
    typer.echo("".join(f"{line}\n" for line in missing), nl=False)
    page = whatif.render(atomicio.confined(out) / "whatif" / f"{slo}.html", chosen, scenario,
                         rows, str(lake), now(), missing)
    print_files([(page.name, page)])
Week = Annotated[str, typer.Option("--week", metavar="YYYY-Www",
                                   help="ISO week (Monday to Monday), e.g. 2026-W38.")]


@app.command()
def review(week: Week, slos: Slos = None, lake: Lake = "lake",
           out: Out = Path("reports/out"), as_of: AsOf = None) -> None:
    """Fill the weekly SLO review from the lake: status per service, budget consumption
    rate and trend, incidents, release decisions and the checklist (Markdown and HTML).

    Example: slo-jobs review --week 2026-W38 --slos slos/
    """
    from ..run import runner
    from ..spec import catalog

    loaded = catalog.load(slo_paths(slos))
    files, notes = runner.review_week(lake_at(lake), loaded, week, out, as_of_or_now(as_of),
                                      now(), slo_paths(slos))
    echo_notes(notes)
    print_files([(p.name, p) for p in files])


@app.command(name="summary-page")
def summary_page(month: Month, lake: Lake = "lake", out: Out = Path("reports/out")
                 ) -> None:
    """Write the one-page summary of a computed month for stakeholders (Markdown and HTML).

    Example: slo-jobs summary-page --month 2026-09
    """
    from .. import review as reviews
    from ..core import periods

    files = reviews.write_summary_page(lake_at(lake), periods.month(month), out, now())
    print_files([(p.name, p) for p in files])


@app.command()
def discover(
    prometheus_url: PromUrl = None,
    weeks: Annotated[int, typer.Option("--weeks", metavar="N",
                                       help="Whole weeks of history to measure.")] = 12,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="YYYY-MM-DD",
        help="End of the last week (a Monday, UTC); default: the last Monday.")] = None,
    headroom: Annotated[float, typer.Option(
        "--headroom", metavar="X",
        help="Error budget at least X times the median week's error ratio.")] = 2.0,
    out: Annotated[Path, typer.Option("--out", metavar="DIR",
                                      help="Folder for the SLO files.")
                   ] = Path("slos/discovered"),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Find services from request counters and duration histograms, measure their weekly
    history and write SLO files with suggested targets and the evidence as comments.

    Example: slo-jobs discover --prometheus-url http://127.0.0.1:9090 --weeks 12
    """
    from .. import discovery
    from ..core import periods
    from ..sources.prometheus import PrometheusConfig

    end = discovery.last_monday(periods.instant(until) if until else now())
    config = PrometheusConfig.from_env(prometheus_url)
    for path, s in discovery.discover(config, end, weeks, out, headroom, force):
        latency = "" if s.latency is None else \
            f", latency {s.latency * 100:g} % within {s.threshold:g} s"
        typer.echo(f"wrote {path} ({s.tier}: availability {s.availability * 100:g} %"
                   f"{latency}; {s.weeks} weeks observed)")


@app.command(name="check")
def check_cmd(slos: Slos = None, prometheus_url: PromUrl = None, as_of: AsOf = None,
              window: Annotated[str, typer.Option(
                  "--window", metavar="DURATION",
                  help="How far back before --as-of a series counts, e.g. 1h or 7d.")] = "1d",
              ) -> None:
    """Count the series each SLO's selectors (and breakdown labels) match, before any month
    is run; exit 1 if one matches nothing.

    Example: slo-jobs check --slos slos/ --prometheus-url http://127.0.0.1:9090
    """
    from ..run.sources import PrometheusSource, Sources
    from ..sources.prometheus import check
    from ..spec import catalog

    span = check.window(window)
    at, loaded = as_of_or_now(as_of).astimezone(UTC), catalog.load(slo_paths(slos))
    with Sources.from_env(prometheus_url) as sources:
        clients = {s.name: src.client for s in loaded
                   if isinstance(src := sources.for_slo(s), PrometheusSource)}
        lines, failed = check.lines(check.check(loaded, lambda s: clients[s.name], at, span),
                                    at, span)
    typer.echo("\n".join(lines))
    if failed:
        sys.exit(1)
