"""The weekly review and the stakeholder page as Markdown and HTML (templates in reports/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from .. import atomicio, redaction, report, resources


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _envs() -> tuple[jinja2.Environment, jinja2.Environment]:
    html = report._env()
    # Markdown is not HTML: no escaping, same filters and the same strictness.
    md = jinja2.Environment(loader=html.loader, autoescape=False,
                            undefined=jinja2.StrictUndefined, trim_blocks=True,
                            lstrip_blocks=True)
    md.filters.update(html.filters)
    for env in (html, md):
        env.globals["rate"] = rate
    return md, html


def render_pair(name: str, **context: Any) -> tuple[str, str]:
    """``<name>.md.j2`` and ``<name>.html.j2`` rendered with ``context``."""
    md, html = _envs()
    css = (resources.templates_dir() / "report.css").read_text()
    return (md.get_template(f"{name}.md.j2").render(**context),
            html.get_template(f"{name}.html.j2").render(css=css, **context))


def write_pair(folder: Path, stem: str, texts: tuple[str, str]) -> tuple[Path, Path]:
    """Publish ``<stem>.md`` and ``<stem>.html`` in ``folder`` as one set."""
    with atomicio.publish_folder(folder) as stage:
        for suffix, text in zip(("md", "html"), texts, strict=True):
            # Known secrets never reach a published file, whatever path they took in.
            atomicio.write_text(stage / f"{stem}.{suffix}", redaction.redact(text))
    return folder / f"{stem}.md", folder / f"{stem}.html"


def stamp(rendered_at: datetime) -> str:
    return rendered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
