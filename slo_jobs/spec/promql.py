"""PromQL checks run by ``validate``: a query that does not parse fails there, naming its file,
line and field, instead of at extract time as a Prometheus 400 with no location.

The parsing is promql-parser's (the PromQL grammar of Prometheus, as a maintained library);
this module only decides which shape each spec field may take.
"""

from __future__ import annotations

import promql_parser

# The ways users write the window placeholder of an ``expr`` (Sloth's and Go templates').
WINDOW_PLACEHOLDERS = ("{{.window}}", "{{window}}", "{{ window }}", "{{ .window }}")
SELECTOR_EXAMPLE = 'http_requests_total{service="api",code=~"5.."}'


def _parse(text: str) -> object:
    try:
        return promql_parser.parse(text)
    except ValueError as exc:
        # The parser's messages are single phrases ("unclosed left parenthesis").
        reason = " ".join(str(exc).split()) or "syntax error"
        raise ValueError(f"expected valid PromQL; it does not parse: {reason}") from None


def check_expr(text: str) -> str:
    """``text`` if it parses as a PromQL expression; ValueError saying why not."""
    _parse(text)
    return text


def check_optional_expr(text: str | None) -> str | None:
    return None if text is None else check_expr(text)


def check_selector(text: str) -> str:
    """``text`` if it is a plain vector selector: a metric name and/or label matchers.

    slo-jobs wraps it as ``sum(increase(<selector>[<step>]))``, so a function, a range, an
    offset or an ``@`` would make that wrapper invalid or silently shift the data.
    """
    node = _parse(text)
    if not isinstance(node, promql_parser.VectorSelector):
        shape = {promql_parser.MatrixSelector: "a range vector (x[5m])",
                 promql_parser.Call: "a function call",
                 promql_parser.AggregateExpr: "an aggregation",
                 promql_parser.BinaryExpr: "an arithmetic or comparison expression"}
        found = next((v for k, v in shape.items() if isinstance(node, k)), "an expression")
        raise ValueError(f"expected a plain vector selector such as {SELECTOR_EXAMPLE} (slo-jobs "
                         f"adds increase() and the range itself), not {found}; write a full "
                         "query as expr: with the {{.window}} placeholder instead")
    if node.offset is not None or node.at is not None:
        raise ValueError(f"expected a plain vector selector such as {SELECTOR_EXAMPLE}, "
                         "without offset or @ (the data would not be the bucket's)")
    return text


def has_placeholder(text: str) -> bool:
    return any(p in text for p in WINDOW_PLACEHOLDERS)


def fill(text: str, window: str) -> str:
    """``text`` with every window placeholder replaced by ``window`` (e.g. ``1m``)."""
    for p in WINDOW_PLACEHOLDERS:
        text = text.replace(p, window)
    return text


def check_windowed_expr(text: str) -> str:
    """``text`` if it parses as Prometheus will see it: the placeholder replaced by a step."""
    check_expr(fill(text, "1m"))
    return text


def number(value: float) -> str:
    """A float as the shortest PromQL (and YAML) literal: 0.999, 14.4, 2 rather than 2.0."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
