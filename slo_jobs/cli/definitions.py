"""The commands on SLO definitions: ``validate``, ``init``, ``export-openslo``, and the rule
file and dashboard written from them (``rules``, ``dashboard``). Registered on the main
command by ``cli/__init__.py``, after the month commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import SloJobsError
from .options import (
    At,
    Paths,
    PromUrl,
    Slos,
    as_of_or_now,
    slo_paths,
)

app = typer.Typer()  # the commands below, added to the main one by cli/__init__.py


@app.command()
def validate(paths: Paths = None, slos: Slos = None) -> None:
    """Check SLO definitions (native or OpenSLO v1), the team file (teams.yaml) and the
    release policy (release-policy.yaml) beside them; one line per problem, exit 1 if any.

    PATH: SLO YAML files or folders, subfolders included, like --slos (default slos/).

    Example: slo-jobs validate slos/
    """
    from ..decisions import policy, teams
    from ..spec import catalog

    loaded, journeys, problems, files = catalog.load_all_with_journeys(slo_paths(paths, slos))
    for kind in (teams, policy):  # the decisions' files beside the SLOs
        found = kind.find(slo_paths(paths, slos))
        if found is not None:
            problems += kind.check(found)[1]
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(1)
    counted = f" and {len(journeys)} journey{'s' * (len(journeys) != 1)}" if journeys else ""
    typer.echo(f"ok: {len(loaded)} SLOs{counted} in {files} file{'s' * (files != 1)} valid")


@app.command()
def init(template: Annotated[str, typer.Option(
             metavar="NAME", help="api, web, batch, data-pipeline or streaming.")],
         tier: Annotated[str, typer.Option(
             metavar="TIER", help="critical, essential, standard or best-effort.")],
         service: Annotated[str, typer.Option(
             metavar="NAME", help="Service name (lower-case, dashes).")],
         out: Annotated[Path | None, typer.Option(
             metavar="FILE", help="File to write (default slos/<service>.yaml; - prints it).")
         ] = None,
         force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
         ) -> None:
    """Write a ready-to-edit SLO spec from a template and a tier.

    Example: slo-jobs init --template api --tier essential --service search
    """
    from ..lake import atomicio
    from ..spec import templates

    target = out or Path("slos") / f"{service}.yaml"
    text = templates.render(template, tier, service, str(target))
    if str(target) == "-":
        typer.echo(text, nl=False)
        return
    if target.exists() and not force:
        raise SloJobsError(f"{target}: already exists; expected a new file (or --force)")
    atomicio.write_text(target, text)
    typer.echo(f"wrote {target}")


@app.command(name="export-openslo")
def export_openslo(paths: Paths = None, slos: Slos = None,
                   out: Annotated[Path | None, typer.Option(
                       metavar="FILE", help="File to write (default: print).")] = None) -> None:
    """Write SLO definitions as OpenSLO v1 documents.

    PATH: SLO YAML files or folders, subfolders included, like --slos (default slos/).

    Example: slo-jobs export-openslo slos/ --out openslo.yaml
    """
    from ..lake import atomicio
    from ..spec import catalog, openslo

    text, warnings = openslo.export(catalog.load(slo_paths(paths, slos)))
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomicio.write_text(out, text)
        typer.echo(f"wrote {out}")


@app.command(name="rules")
def rules_cmd(
    slos: Slos = None,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="Rule file to write.")
                   ] = Path("slo-rules.yaml"),
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="Also evaluate the recording rules from --start to --end into "
        "TSDB blocks (promtool tsdb create-blocks-from rules).")] = False,
    blocks: Annotated[Path, typer.Option(metavar="DIR",
                                         help="Folder for the backfilled blocks.")
                      ] = Path("rule-blocks"),
    start: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD",
                                              help="Backfill start (UTC).")] = None,
    end: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD",
                                            help="Backfill end (UTC).")] = None,
    prometheus_url: PromUrl = None, at: At = None,
) -> None:
    """Write Prometheus recording and burn-rate alert rules for the SLOs: the targets of the
    phases in force and the maintenance windows (no alert while one is open) at --at.

    Example: slo-jobs rules --slos slos/ --out slo-rules.yaml --backfill
    --start 2026-07-01 --end 2026-10-01 --prometheus-url http://127.0.0.1:9090
    """
    from .. import rules
    from ..spec import catalog

    loaded, journeys = catalog.load_with_journeys(slo_paths(slos))
    for line in rules.command(loaded, out, as_of_or_now(at), blocks if backfill else None,
                              start, end, prometheus_url, journeys):
        typer.echo(line)


@app.command(name="dashboard")
def dashboard_cmd(
    slos: Slos = None,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="Dashboard JSON to write.")
                   ] = Path("slo-dashboard.json"), at: At = None,
) -> None:
    """Write a Grafana dashboard (JSON) over the recording rules, one row per SLO, with the
    targets of the phases in force at --at.

    Example: slo-jobs dashboard --slos slos/ --out slo-dashboard.json
    """
    from ..rules import dashboard
    from ..spec import catalog

    loaded = catalog.load(slo_paths(slos))
    # As `rules` prints its file: the commands that write one file say "wrote <file>".
    typer.echo(f"wrote {dashboard.write(loaded, out, as_of_or_now(at))} "
               f"({dashboard.summary(loaded)})")


# what-if, review, summary-page, discover, check
