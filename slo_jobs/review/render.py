"""The weekly review and the stakeholder page as Markdown and HTML (templates in reports/)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from ..core import redaction, resources
from ..lake import atomicio
from ..report.pages import template_env


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


# Markdown punctuation that could turn a value into a link, an image, emphasis, code or a
# table cell of its own; each is shown as itself once backslash-escaped.
_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")


def md_text(value: Any) -> str:
    """A value as plain text inside Markdown: HTML special characters as entities (a
    renderer shows ``<script>`` as text, never as markup), Markdown punctuation escaped and
    line breaks as spaces (a value stays in its table cell or list item)."""
    text = " ".join(str(value).splitlines())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def _envs() -> tuple[jinja2.Environment, jinja2.Environment]:
    html = template_env()
    # Markdown is not HTML: every value is escaped for Markdown (md_text) instead, with
    # the same filters and the same strictness.
    md = jinja2.Environment(loader=html.loader, autoescape=False, finalize=md_text,
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
