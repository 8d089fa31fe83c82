"""The options and helpers every ``slo-jobs`` command shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..core import periods

if TYPE_CHECKING:
    from ..lake import LakeDir
    from ..report.monthly import ReportFiles



def _month(label: str | None) -> str | None:
    """--month checked while the arguments are parsed: a mistyped month is answered before
    a command imports its data stack (seconds), as a usage error is."""
    return label if label is None else periods.month(label).label


def _quarter(label: str | None) -> str | None:
    return label if label is None else periods.calendar("quarter", label.strip()).label


def _year(label: str | None) -> str | None:
    return label if label is None else periods.calendar("year", label.strip()).label


def _instant(text: str | None) -> str | None:
    if text is not None:
        periods.instant(text)
    return text


Month = Annotated[str, typer.Option("--month", metavar="YYYY-MM", callback=_month,
                                    help="Calendar month (UTC).")]
# The report's period: one of a month, a quarter or a year (the command checks it got one).
AnyMonth = Annotated[str | None, typer.Option("--month", metavar="YYYY-MM", callback=_month,
                                              help="Calendar month (UTC).")]
Quarter = Annotated[str | None, typer.Option(
    "--quarter", metavar="YYYY-Qn", callback=_quarter,
    help="Calendar quarter, e.g. 2026-Q3: roll it up from the lake (needs --slos).")]
Year = Annotated[str | None, typer.Option(
    "--year", metavar="YYYY", callback=_year,
    help="Calendar year, e.g. 2026: roll it up from the lake (needs --slos).")]
Slos = Annotated[list[Path] | None, typer.Option(
    "--slos", metavar="PATH", show_default="slos/",
    help="SLO YAML file or folder, subfolders included (repeatable).")]
Lake = Annotated[str, typer.Option(
    "--lake", metavar="DIR|URL", envvar="SLO_JOBS_LAKE_URL", show_envvar=False,
    help="Parquet lake: a folder, or s3://bucket/prefix on an S3-compatible object store "
    "(credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL). "
    "Default: $SLO_JOBS_LAKE_URL, else lake/.")]
Out = Annotated[Path, typer.Option("--out", metavar="DIR", help="Report output folder.")]
AsOf = Annotated[str | None, typer.Option(
    "--as-of", metavar="TIME", callback=_instant,
    help="Evaluate at this instant (ISO 8601, UTC unless a zone is given), e.g. "
    "2026-09-15T12:00Z; default: now. A month still running is reported to date, projected "
    "and marked estimated.")]
At = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", callback=_instant,
    help="Write them as they stand at this instant (ISO 8601, UTC unless a zone is given): "
    "the phase in force, the maintenance windows from then on; default: now.")]
PromUrl = Annotated[str | None, typer.Option(
    "--prometheus-url", metavar="URL",
    help="Prometheus base URL (default: $SLO_JOBS_PROMETHEUS_URL).")]
# Hidden from the argument list (typer would print its Python type there); the command's help
# says what PATH is.
Paths = Annotated[list[Path] | None, typer.Argument(metavar="PATH", show_default=False,
                                                    hidden=True)]



def slo_paths(*given: Sequence[Path] | None) -> list[Path]:
    """Every ``--slos`` and positional path, in order; ``slos/`` when none is given."""
    paths = [p for group in given for p in (group or [])]
    return paths or [Path("slos")]



def lake_at(where: str) -> LakeDir:
    """The lake --lake names: a folder or s3://bucket/prefix."""
    from ..lake import location

    return location(where)


# The instant this invocation started, read once from the clock by the command's entry
# (``cli._main``): the render time reports record, and the --as-of default.
_invoked: list[datetime] = []


def invoked_at(instant: datetime) -> None:
    """Set the invocation's instant; called once per command by the CLI's entry."""
    _invoked[:] = [instant.astimezone(UTC).replace(microsecond=0)]


def now() -> datetime:
    """The invocation's instant (the render time a report records, labelled as such); the
    data's time comes from --month and --as-of."""
    if not _invoked:
        raise RuntimeError("the CLI's entry sets the invocation time before any command")
    return _invoked[0]


def as_of_or_now(text: str | None) -> datetime:
    """--as-of, or the clock: the CLI is where time enters; whole minutes (the buckets)."""
    return periods.instant(text) if text else now().replace(second=0)


def echo_notes(notes: Sequence[str]) -> None:
    """One line each on stderr: what was left out and why (the results go to stdout)."""
    for line in notes:
        typer.echo(line, err=True)


def print_files(files: Sequence[tuple[str, Path | None]]) -> None:
    """A month's report files, the same way in run, report, show and backfill: one per line,
    name, then absolute path."""
    for name, path in files:
        shown = str(path.resolve()) if path is not None and path.exists() else \
            "(not rendered yet)"
        typer.echo(f"{name:<14} {shown}")


def report_files(files: ReportFiles, formats: Sequence[str] = ("html", "pdf", "json", "csv")
                  ) -> list[tuple[str, Path | None]]:
    chosen = [(files.html, "html"), (files.pdf, "pdf"), (files.json, "json"),
              (files.csv, "csv"), (files.incidents_csv, "csv"), (files.index, "")]
    return [(p.name, p) for p, fmt in chosen if not fmt or fmt in formats]

