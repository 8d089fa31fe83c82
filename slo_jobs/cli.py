"""The ``slo-jobs`` command: every pipeline stage without Airflow.

Example::

    slo-jobs run --month 2026-09 --slos slos --prometheus-url http://127.0.0.1:9090
"""

from __future__ import annotations

import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from . import compute, openslo, periods, pipeline, report, spec, spec_templates
from .backfill import backfill as run_backfill
from .errors import SloJobsError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Auditable monthly SLO reports from Prometheus history.")
_state = {"debug": False}

Month = Annotated[str, typer.Option("--month", help="Calendar month, YYYY-MM (UTC).")]
Slos = Annotated[list[Path], typer.Option("--slos", help="SLO YAML file or folder (repeatable).")]
Lake = Annotated[Path, typer.Option("--lake", help="Parquet lake folder.")]
Out = Annotated[Path, typer.Option("--out", help="Report output folder.")]
AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Evaluate at this instant (ISO 8601, UTC unless a zone is given), e.g. "
    "2026-09-15T12:00Z; default: now. A month still running is reported to date, projected "
    "and marked estimated.")]
PromUrl = Annotated[str | None, typer.Option(
    "--prometheus-url", help="Prometheus base URL (default: $SLO_JOBS_PROMETHEUS_URL).")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _as_of(text: str | None) -> datetime:
    """--as-of, or the clock: the CLI is where time enters; whole minutes (the buckets)."""
    return periods.instant(text) if text else _now().replace(second=0)


@app.command()
def run(month: Month, slos: Slos = [Path("slos")], prometheus_url: PromUrl = None,  # noqa: B006
        lake: Lake = Path("lake"), out: Out = Path("reports/out"), as_of: AsOf = None) -> None:
    """Extract, compute and report one month (each SLO's month in its own time zone).

    Example: slo-jobs run --month 2026-09 --slos slos --prometheus-url http://127.0.0.1:9090
    """
    period = periods.month(month)
    at = _as_of(as_of)
    loaded = spec.load(slos)
    config = pipeline.prometheus_config(loaded, prometheus_url)
    rows, files = pipeline.run_month(config, loaded, period, lake, out, _now(), as_of=at)
    typer.echo(pipeline.table(rows))
    typer.echo(f"HTML: {files.html}\nPDF:  {files.pdf}\nJSON: {files.json}")


@app.command()
def extract(month: Month, slos: Slos = [Path("slos")], prometheus_url: PromUrl = None,  # noqa: B006
            lake: Lake = Path("lake")) -> None:
    """Pull one month of SLI history into the lake (replaces those day partitions).

    Example: slo-jobs extract --month 2026-09 --prometheus-url http://127.0.0.1:9090
    """
    period = periods.month(month)
    loaded = spec.load(slos)
    results = pipeline.extract(pipeline.prometheus_config(loaded, prometheus_url), loaded,
                               period, lake)
    rows = sum(r.rows for r in results)
    typer.echo(f"extracted {len(results)} partitions, {rows} buckets, into {lake}")


@app.command(name="compute")
def compute_cmd(month: Month, slos: Slos = [Path("slos")],  # noqa: B006
                lake: Lake = Path("lake"), as_of: AsOf = None) -> None:
    """Compute the month's summary from the lake.

    Example: slo-jobs compute --month 2026-09
    """
    period = periods.month(month)
    at = _as_of(as_of)
    loaded = spec.load(slos)
    pipeline.started(loaded, period.label, at)
    rows = compute.compute_month(lake, loaded, period, at)
    typer.echo(pipeline.table(rows))


@app.command(name="report")
def report_cmd(month: Month, lake: Lake = Path("lake"), out: Out = Path("reports/out"),
               service: Annotated[str | None, typer.Option(
                   "--service", help="Only this service's SLOs.")] = None,
               formats: Annotated[str, typer.Option(
                   "--format", help="Comma-separated: html,pdf,json,csv.")] = "html,pdf,json,csv",
               ) -> None:
    """Render a computed month as HTML, PDF, JSON and CSV, and refresh the index page.

    Example: slo-jobs report --month 2026-09 --service checkout --format html,pdf
    """
    period = periods.month(month)
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    files = report.render(lake, period, out, source=str(lake), generated_at=_now(),
                          service=service, formats=chosen)
    for name, path in (("html", files.html), ("pdf", files.pdf), ("json", files.json),
                       ("csv", files.csv)):
        if name in chosen:
            typer.echo(f"{name.upper():<5} {path}")
    typer.echo(f"INDEX {files.index}")


@app.command(name="backfill")
def backfill_cmd(
    first: Annotated[str, typer.Option("--from", help="First month, YYYY-MM (UTC).")],
    last: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM, included.")],
    slos: Slos = [Path("slos")], prometheus_url: PromUrl = None,  # noqa: B006
    lake: Lake = Path("lake"), out: Out = Path("reports/out"),
    redo: Annotated[bool, typer.Option("--redo", help="Redo what is already done.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Extract, compute and report every month of a range; resumes where it stopped.

    Example: slo-jobs backfill --from 2026-07 --to 2026-09 --prometheus-url http://127.0.0.1:9090
    """
    loaded = spec.load(slos)
    config = pipeline.prometheus_config(loaded, prometheus_url)
    for m in run_backfill(config, loaded, first, last, lake, out, redo=redo, progress=progress):
        done = f"{m.extracted_days} SLO-days extracted" if m.reported else "already done"
        cover = min((r["coverage"] for r in m.rows), default=0.0)
        typer.echo(f"{m.period}: {done}; lowest coverage {cover * 100:.1f}%; "
                   f"report in {out / m.period}")


@app.command()
def show(month: Month, lake: Lake = Path("lake"), out: Out = Path("reports/out")) -> None:
    """Print a computed month's SLO table and where its report files are.

    Example: slo-jobs show --month 2026-09
    """
    period = periods.month(month)
    typer.echo(pipeline.table(compute.read_summary(lake, period)))
    folder = out / period.label
    for name in ("report.html", "report.pdf", "summary.json"):
        path = folder / name
        typer.echo(f"{name:<13} {path.resolve() if path.exists() else '(not rendered yet)'}")


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Files or folders.")]) -> None:
    """Check SLO definitions (native or OpenSLO v1); one line per problem, exit 1 if any.

    Example: slo-jobs validate slos/
    """
    loaded, problems, files = spec.load_all(paths)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(1)
    typer.echo(f"ok: {len(loaded)} SLOs in {files} file{'s' * (files != 1)} valid")


@app.command()
def init(template: Annotated[str, typer.Option(help="api, web, batch or data-pipeline.")],
         tier: Annotated[str, typer.Option(help="critical, essential, standard, best_effort.")],
         service: Annotated[str, typer.Option(help="Service name (lower-case, dashes).")],
         out: Annotated[Path | None, typer.Option(
             help="File to write (default slos/<service>.yaml; - prints it).")] = None,
         force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
         ) -> None:
    """Write a ready-to-edit SLO spec from a template and a tier.

    Example: slo-jobs init --template api --tier essential --service search
    """
    target = out or Path("slos") / f"{service}.yaml"
    text = spec_templates.render(template, tier, service, str(target))
    if str(target) == "-":
        typer.echo(text, nl=False)
        return
    if target.exists() and not force:
        raise SloJobsError(f"{target}: already exists; expected a new file (or --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")


@app.command(name="export-openslo")
def export_openslo(paths: Annotated[list[Path], typer.Argument(help="Files or folders.")],
                   out: Annotated[Path | None, typer.Option(
                       help="File to write (default: print).")] = None) -> None:
    """Write SLO definitions as OpenSLO v1 documents.

    Example: slo-jobs export-openslo slos/ --out openslo.yaml
    """
    text, warnings = openslo.export(spec.load(paths))
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command(name="rules")
def rules_cmd(
    slos: Slos = [Path("slos")],  # noqa: B006
    out: Annotated[Path, typer.Option("--out", help="Rule file to write.")] = Path(
        "slo-rules.yaml"),
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="Also evaluate the recording rules from --start to --end into "
        "TSDB blocks (promtool tsdb create-blocks-from rules).")] = False,
    blocks: Annotated[Path, typer.Option(help="Folder for the backfilled blocks.")] = Path(
        "rule-blocks"),
    start: Annotated[str | None, typer.Option(help="Backfill start, YYYY-MM-DD (UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Backfill end, YYYY-MM-DD (UTC).")] = None,
    prometheus_url: PromUrl = None,
) -> None:
    """Write Prometheus recording and burn-rate alert rules for the SLOs.

    Example: slo-jobs rules --slos slos --out slo-rules.yaml --backfill
    --start 2026-07-01 --end 2026-10-01 --prometheus-url http://127.0.0.1:9090
    """
    from . import rules

    for line in rules.command(spec.load(slos), out, blocks if backfill else None, start,
                              end, prometheus_url):
        typer.echo(line)


@app.command(name="dashboard")
def dashboard_cmd(
    slos: Slos = [Path("slos")],  # noqa: B006
    out: Annotated[Path, typer.Option("--out", help="Dashboard JSON to write.")] = Path(
        "slo-dashboard.json"),
) -> None:
    """Write a Grafana dashboard (JSON) over the recording rules, one row per SLO.

    Example: slo-jobs dashboard --slos slos --out slo-dashboard.json
    """
    from . import dashboard

    loaded = spec.load(slos)
    typer.echo(f"wrote {dashboard.write(loaded, out)} ({len(loaded)} SLOs)")


def main() -> None:
    try:
        app(standalone_mode=False)
    except SloJobsError as exc:
        if _state["debug"]:
            traceback.print_exc()
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unforeseen: one line
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
