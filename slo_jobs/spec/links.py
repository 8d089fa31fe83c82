"""Where to look when an SLO burns: ``spec.links``, its runbook and dashboard.

The links are shown beside the SLO in the report, in ``summary.json`` and in budget alerts,
and become the ``runbook_url`` and ``dashboard_url`` annotations of its alert rules (the
Prometheus and Alertmanager convention). They change nothing that is computed, so they are
no part of the spec hash (``model._hash``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator

# What each link is called in rule annotations, summary.json and the OpenSLO annotations.
ANNOTATIONS = {"runbook": "runbook_url", "dashboard": "dashboard_url"}
# The characters RFC 3986 allows in a URL (percent-encode the rest): no space, quote, angle
# bracket or brace that could end an attribute, open a tag or start a Go template action
# in an alert annotation.
_URL_TEXT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
HINT = "expected an http(s) URL, e.g. https://runbooks.example.com/checkout"


def check_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not _URL_TEXT.fullmatch(value):
        raise ValueError(f"{HINT}, its spaces, quotes, <, > and braces percent-encoded")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(HINT)
    return value


class Links(BaseModel):
    """``spec.links``: a runbook and a dashboard, each an http(s) URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runbook: str | None = None
    dashboard: str | None = None

    _url = field_validator("runbook", "dashboard")(check_url)


def urls(links: Links | None, labels: Mapping[str, str]) -> dict[str, str | None]:
    """``runbook_url`` and ``dashboard_url`` of an SLO: its ``spec.links``, else the labels
    of those names (or ``runbook``/``dashboard``) that rule files were first written from."""
    out: dict[str, str | None] = {}
    for name, key in ANNOTATIONS.items():
        own = getattr(links, name) if links is not None else None
        out[key] = own or labels.get(key) or labels.get(name) or None
    return out


def rule_annotations(links: Links | None, labels: Mapping[str, str]) -> dict[str, str]:
    """The alert rule annotations of the links an SLO has."""
    return {k: v for k, v in urls(links, labels).items() if v}
