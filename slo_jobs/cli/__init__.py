"""The ``slo-jobs`` command: every pipeline stage without Airflow.

Example::

    slo-jobs run --month 2026-09 --slos slos --prometheus-url http://127.0.0.1:9090

Commands import their stage when they run (so ``-h`` loads no data library); the
governance commands are in ``governance``, the options they share in ``options``.

May import: every stage package.
"""

from __future__ import annotations

import sys
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from typer._click.exceptions import UsageError  # typer's own click, which main() catches

from .. import __version__
from ..core import redaction
from ..core.errors import SloJobsError
from . import definitions as cli_definitions
from . import governance as cli_governance
from . import options as cli_options
from .options import (
    AnyMonth,
    AsOf,
    Lake,
    Month,
    Out,
    PromUrl,
    Quarter,
    Slos,
    Year,
    as_of_or_now,
    echo_notes,
    lake_at,
    now,
    print_files,
    report_files,
    slo_paths,
)

if TYPE_CHECKING:
    from ..spec import Slo

# The data stack (DuckDB, pyarrow, pandas, WeasyPrint, httpx, pydantic) is imported inside the
# commands that use it, purely for start-up speed: importing it all up front made every
# command, even --help or a mistyped --month, take seconds to answer. Arguments are checked
# while they are parsed (``options``), before any of it loads.

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Auditable monthly SLO reports from Prometheus history.\n\n"
                  "Example: slo-jobs run --month 2026-09 --slos slos/ "
                  "--prometheus-url http://127.0.0.1:9090")
_state = {"debug": False}


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"slo-jobs {__version__}")
        raise typer.Exit()


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
          version: Annotated[bool, typer.Option(
              "--version", callback=_show_version, is_eager=True,
              help="Print the version and exit.")] = False) -> None:
    _state["debug"] = debug
    # Time enters here, once per command: the render time and the default --as-of.
    cli_options.invoked_at(datetime.now(UTC))


@app.command()
def run(month: Month, slos: Slos = None, prometheus_url: PromUrl = None,
        lake: Lake = "lake", out: Out = Path("reports/out"), as_of: AsOf = None) -> None:
    """Extract, compute and report one month (each SLO's month in its own time zone).

    Example: slo-jobs run --month 2026-09 --slos slos/ --prometheus-url http://127.0.0.1:9090
    """
    from ..core import periods
    from ..decisions import teams
    from ..report import text as report_text
    from ..run import runner
    from ..run.sources import Sources
    from ..spec import catalog

    period = periods.month(month)
    at = as_of_or_now(as_of)
    every, journeys = catalog.load_with_journeys(slo_paths(slos))
    loaded, notes = runner.started(every, period, at)
    echo_notes(notes)
    with Sources.from_env(prometheus_url) as sources:
        rows, files = runner.run_month(sources, loaded, period, lake_at(lake), out, now(), as_of=at,
                                       teams=teams.load_for(slo_paths(slos)), journeys=journeys)
    typer.echo(report_text.table(rows))
    _unmatched(lake, loaded, period.days)
    print_files(report_files(files))


def _unmatched(lake: str, slos: list[Slo], days: list[date]) -> None:
    from ..sources.prometheus import check  # each selector or breakdown label that matched nothing

    typer.echo("".join(f"warning: {x}\n" for x in check.unmatched(lake_at(lake), slos, days)),
               nl=False)


@app.command()
def extract(month: Month, slos: Slos = None, prometheus_url: PromUrl = None,
            lake: Lake = "lake", as_of: AsOf = None) -> None:
    """Pull the days one month needs into the lake, as run does: each SLO's month in its own
    time zone (read again whole), its burn-rate lookback and own window, nothing past the
    as-of. Data the lake holds that the source no longer has is kept.

    Example: slo-jobs extract --month 2026-09 --prometheus-url http://127.0.0.1:9090
    """
    from ..core import periods
    from ..run import runner
    from ..run.sources import Sources
    from ..spec import catalog

    period = periods.month(month)
    loaded = catalog.load(slo_paths(slos))
    with Sources.from_env(prometheus_url) as sources:
        done = runner.fill_month(sources, loaded, period, lake_at(lake), as_of_or_now(as_of),
                                 redo=True)
    typer.echo(f"extracted {sum(len(d) for d in done.values())} partitions into {lake}")
    for slo in loaded:
        _unmatched(lake, [slo], sorted(done[slo.name]))


@app.command(name="compute")
def compute_cmd(month: Month, slos: Slos = None, lake: Lake = "lake",
                as_of: AsOf = None) -> None:
    """Compute the month's summary from the lake.

    Example: slo-jobs compute --month 2026-09 --slos slos/
    """
    from ..core import periods
    from ..decisions import teams
    from ..report import text as report_text
    from ..run import runner
    from ..spec import catalog

    period = periods.month(month)
    at = as_of_or_now(as_of)
    every, journeys = catalog.load_with_journeys(slo_paths(slos))
    loaded, notes = runner.started(every, period, at)
    echo_notes(notes)
    rows = runner.compute_month(lake_at(lake), loaded, period, at, teams.load_for(slo_paths(slos)),
                                journeys)
    typer.echo(report_text.table(rows))


@app.command(name="report")
def report_cmd(ctx: typer.Context, month: AnyMonth = None, quarter: Quarter = None,
               year: Year = None, slos: Slos = None, lake: Lake = "lake",
               out: Out = Path("reports/out"),
               service: Annotated[str | None, typer.Option(
                   "--service", metavar="NAME", help="Only this service's SLOs.")] = None,
               team: Annotated[str | None, typer.Option(
                   "--team", metavar="NAME",
                   help="Only this team's SLOs (their team label).")] = None,
               formats: Annotated[str, typer.Option(
                   "--format", metavar="LIST", help="Comma-separated: html,pdf,json,csv.")
               ] = "html,pdf,json,csv", as_of: AsOf = None,
               ) -> None:
    """Render a computed month as HTML, PDF, JSON and CSV, or roll up a quarter or a year
    from the lake's days and monthly summaries and render it; refresh the index page.

    Example: slo-jobs report --month 2026-09 --service checkout --format html,pdf
    Example: slo-jobs report --quarter 2026-Q3 --slos slos/
    Example: slo-jobs report --month 2026-09 --team payments --format pdf
    """
    given = [f"--{k}" for k, v in (("month", month), ("quarter", quarter), ("year", year)) if v]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise UsageError(f"expected exactly one of --month, --quarter, --year; "
                                 f"found {found}", ctx=ctx)
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    if month is None:
        if service is not None:
            raise UsageError("--service: only with --month; a roll-up covers every "
                                     "SLO", ctx=ctx)
        _rollup("quarter" if quarter else "year", quarter or year or "", slos, lake, out,
                chosen, as_of)
        return
    if slos:
        raise UsageError("--slos: only with --quarter or --year; a month is "
                                 "rendered from what slo-jobs compute stored", ctx=ctx)
    from ..core import periods
    from ..run import runner

    period = periods.month(month)
    files = runner.render_month(lake_at(lake), period, out, lake, now(), chosen,
                                service=service, as_of=as_of_or_now(as_of), team=team)
    print_files(report_files(files, chosen))


def _rollup(kind: str, label: str, slos: list[Path] | None, lake: str, out: Path,
            formats: list[str], as_of: str | None) -> None:
    from ..report import text as report_text
    from ..run import runner
    from ..spec import catalog

    groups, files, notes = runner.rollup_period(
        lake_at(lake), catalog.load(slo_paths(slos)), kind, label, as_of_or_now(as_of), out,
        now(), formats)
    echo_notes(notes)
    typer.echo(report_text.rollup_table(groups))
    print_files([(p.name, p) for p, fmt in ((files.html, "html"), (files.pdf, "pdf"),
                                             (files.json, "json"), (files.csv, "csv"),
                                             (files.teams_csv, "csv"), (files.index, ""))
                 if not fmt or fmt in formats])


@app.command(name="backfill")
def backfill_cmd(
    first: Annotated[str, typer.Option("--from", metavar="YYYY-MM",
                                       help="First month (UTC).")],
    last: Annotated[str, typer.Option("--to", metavar="YYYY-MM",
                                      help="Last month, included.")],
    slos: Slos = None, prometheus_url: PromUrl = None,
    lake: Lake = "lake", out: Out = Path("reports/out"),
    redo: Annotated[bool, typer.Option("--redo", help="Redo what is already done.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="Progress bars on stderr.")] = True,
) -> None:
    """Extract, compute and report every month of a range; resumes where it stopped.

    Example: slo-jobs backfill --from 2026-07 --to 2026-09 --prometheus-url http://127.0.0.1:9090
    """
    from ..core import periods
    from ..decisions import teams
    from ..run import backfill
    from ..run.sources import Sources
    from ..spec import catalog

    loaded, journeys = catalog.load_with_journeys(slo_paths(slos))
    with Sources.from_env(prometheus_url) as sources:
        outcomes = backfill.backfill(sources, loaded, first, last, lake_at(lake), out,
                                     redo=redo, progress=progress, rendered_at=now(),
                                     teams=teams.load_for(slo_paths(slos)), journeys=journeys)
    for line in backfill.summary(outcomes):
        typer.echo(line)
    _unmatched(lake, loaded, [d for p in periods.month_range(first, last) for d in p.days])
    for m in outcomes:
        if m.rows:
            print_files([(name, out / m.period / name) for name in ("report.html",
                                                                     "report.pdf",
                                                                     "summary.json")])
    if any(m.failed for m in outcomes):
        sys.exit(1)


@app.command()
def show(month: Month, lake: Lake = "lake", out: Out = Path("reports/out")) -> None:
    """Print a computed month's SLO table and where its report files are.

    Example: slo-jobs show --month 2026-09
    """
    # Only the lake's reader and the table's text: no engine, no SLO definitions.
    from ..core import periods
    from ..lake import computed
    from ..report import text as report_text

    period = periods.month(month)
    typer.echo(report_text.table(computed.read_summary(lake_at(lake), period)))
    folder = out / period.label
    print_files([(name, folder / name) for name in ("report.html", "report.pdf",
                                                     "summary.json")])



app.registered_commands += cli_definitions.app.registered_commands
app.registered_commands += cli_governance.app.registered_commands


def _usage_error(exc: typer.TyperException) -> NoReturn:
    """A usage mistake as one line naming the command, and where its help is."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "slo-jobs"
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        # Bare `slo-jobs` (or a group without a command): the help is the answer.
        typer.echo(ctx.get_help())
        sys.exit(0)
    message = " ".join(exc.format_message().split()) if hasattr(exc, "format_message") \
        else str(exc)
    print(f"error: {command}: {message} (see {command} --help)", file=sys.stderr)
    sys.exit(getattr(exc, "exit_code", 2))


def main() -> None:
    try:
        app(standalone_mode=False, prog_name="slo-jobs")
    except SloJobsError as exc:
        if _state["debug"]:
            traceback.print_exc()
        # A message may quote what a server answered: masked like any other output.
        for line in redaction.redact(str(exc)).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # unknown command, missing or bad option
        _usage_error(exc)
    except Exception as exc:  # anything unforeseen: still one line
        if _state["debug"]:
            raise
        print(f"error: unexpected {type(exc).__name__}: {redaction.redact(str(exc))} (run "
              "with --debug for details)", file=sys.stderr)
        sys.exit(2)
