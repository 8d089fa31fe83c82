"""What the PDF is rendered from: the report's HTML, made lighter for WeasyPrint.

The PDF shows the same content as the HTML. Two things make WeasyPrint slow on it, and both
are handled here (measured in bench/report.py, docs/performance.md):

- Inline ``<svg>`` charts are HTML elements to WeasyPrint: the pure-Python HTML parser
  reads every node of them, and every node gets a computed CSS style. ``print_html`` hands
  each chart over as an ``<img>`` of the same SVG (a ``data:`` URL, the one kind of URL the
  renderer may load), which WeasyPrint parses with ElementTree and draws just the same.
- WeasyPrint lays out and draws SVG ``<text>`` one character at a time (a Pango layout per
  character) so that per-character positions can apply. The charts' labels have none (one
  ``x``, one ``y``, no ``dx``, ``dy``, ``rotate``, ``letter-spacing`` or ``textLength``),
  and such a label is laid out and drawn as one run (``_text``): the same glyphs at the
  same place, shaped as a whole, each text shaped once per document (axis ticks and legends
  repeat in every SLO's charts), and its ``text-anchor`` applied there rather than by a
  PDF group per label. Any other text goes through WeasyPrint's own code.
"""

from __future__ import annotations

import base64
import importlib
import re
from contextlib import suppress
from math import inf
from pathlib import Path
from typing import Any

import weasyprint.svg as svg_draw
from weasyprint import HTML
from weasyprint.css.properties import INITIAL_VALUES
from weasyprint.draw.text import draw_emojis, draw_first_line
from weasyprint.matrix import Matrix
from weasyprint.svg.bounding_box import EMPTY_BOUNDING_BOX, extend_bounding_box
from weasyprint.svg.utils import PointError, normalize, size
from weasyprint.svg.utils import color as svg_color
from weasyprint.text.line_break import split_first_line
from weasyprint.urls import URLFetcher

# The module: ``weasyprint.svg.text`` as an attribute is the function its package imports.
svg_text = importlib.import_module("weasyprint.svg.text")

# Written by charts.py only (autoescaping keeps "<svg" out of any value), never nested.
_SVG = re.compile(r'<svg xmlns="http://www\.w3\.org/2000/svg".*?</svg>', re.S)
# The anchor of a label with one x and one y and nothing placed per character (charts.py
# writes no other): such a label is drawn by ``_text``, which shifts it itself.
_ANCHOR = re.compile(r'(<text (?:class="[\w -]*" )?x="[-\d.]+" y="[-\d.]+" '
                     r'(?:transform="[\w (). -]*" )?)text-anchor=')
# Attributes that place or space characters one by one: WeasyPrint's own code draws those.
_PER_CHARACTER = ("dx", "dy", "rotate", "letter-spacing", "textLength")
_TEXT_TAGS = ("a", "text", "textPath", "tspan")
# A fill that is a colour by itself (no gradient, pattern or context paint), and what changes
# a fill or stroke's alpha: such labels go through WeasyPrint's own graphical state.
_PLAIN_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|black|white")
_OTHER = object()
# The shapes charts.py writes and the attributes they may have (font ones are inherited from
# the chart): with only these, a shape is drawn by ``_draw_node``.
_SHAPES = ("circle", "line", "path", "rect")
_SHAPE_ATTRIBUTES = frozenset((
    "x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx", "cy", "r", "d", "class",
    "data-month", "fill", "stroke", "stroke-width", "stroke-dasharray", "font-family",
    "font-size", "font-weight", "role", "aria-label", "data-value"))
_LABEL_ATTRIBUTES = frozenset((
    "x", "y", "class", "fill", "transform", "data-anchor", "font-family", "font-size",
    "font-weight", "font-style", "role", "aria-label"))
_OPACITY = ("opacity", "fill-opacity", "stroke-opacity")
_COLOURS: dict[str, Any] = {}


class NoFetch(URLFetcher):  # type: ignore[misc]
    """Only inline ``data:`` URLs: content must never make the renderer read files or the net."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:"):
            raise ValueError(f"external resource refused: {url[:80]}")
        return super().fetch(url, headers)


def write(html: bytes, folder: Path) -> bytes:
    """The PDF of the report's ``html`` (UTF-8, links relative to ``folder``), from its print
    form (``print_html``); the renderer loads nothing but ``data:`` URLs."""
    _draw_labels_as_runs()
    data = HTML(string=print_html(html.decode("utf-8")), base_url=str(folder),
                url_fetcher=NoFetch()).write_pdf()
    return data if data is not None else b""


def print_html(html: str) -> str:
    """``html`` with each chart as an ``<img>`` of its SVG, for WeasyPrint. A plain label's
    ``text-anchor`` is handed to ``_text`` as ``data-anchor``: WeasyPrint would draw each
    anchored label into a group of its own (a PDF object per label) to shift it by its
    width, which ``_text`` knows when it lays the label out."""
    return _SVG.sub(lambda m: '<img class="chart" alt="" src="data:image/svg+xml;base64,'
                    + base64.b64encode(_ANCHOR.sub(r"\1data-anchor=", m.group(0))
                                       .encode("utf-8")).decode("ascii") + '">', html)


def _weight(value: Any) -> int:
    if value == "bold":
        return 700
    try:
        return int(value)
    except ValueError:  # "normal" and anything WeasyPrint would not read either
        return 400


def _plain_label(node: Any) -> bool:
    """A text node of one run: text, no child, one x and one y, nothing per character."""
    attrib = node.attrib
    return bool(node.tag == "text" and node.text and not len(node._etree_node)
                and not any(a in attrib for a in _PER_CHARACTER)
                and len(str(attrib.get("x", "")).split()) == 1
                and len(str(attrib.get("y", "")).split()) == 1)


def _text(svg: Any, node: Any, font_size: float) -> None:
    """Draw an SVG text node; a plain one (see the module's docstring) as one run."""
    attrib = node.attrib
    if not _plain_label(node):
        _own_text(svg, node, font_size)
        return
    style = svg_text.Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config
    style["font_family"] = [f.strip("\"'") for f in
                            node.get("font-family", "sans-serif").split(",")]
    style["font_style"] = node.get("font-style", "normal")
    style["font_weight"] = _weight(node.get("font-weight", 400))
    style["font_size"] = font_size
    if node.get("direction") in ("ltr", "rtl"):
        style["direction"] = node.get("direction")
    # Labels repeat across a report's charts (axis ticks, legends, thresholds): each text in
    # each font is shaped once per document and drawn from that layout again.
    shaped = vars(svg.context).setdefault("_shaped_labels", {})
    key = (node.text, tuple(style["font_family"]), style["font_style"],
           style["font_weight"], font_size, style["direction"])
    if key not in shaped:
        shaped[key] = split_first_line(node.text, style, svg.context, inf, 0)
        # Measured, it is let go; made ready to draw once, it is drawn from as is.
        shaped[key][0].reactivate(style)
    layout, _, _, width, height, baseline = shaped[key]
    x = size(attrib["x"], font_size, svg.inner_width)
    y = size(attrib["y"], font_size, svg.inner_height)
    x -= {"middle": width / 2, "end": width}.get(attrib.get("data-anchor", ""), 0)
    svg.cursor_d_position[0] = svg.cursor_d_position[1] = 0
    svg.cursor_position = x + width, y
    # The bounding box places the text-anchor shift (draw_node), as WeasyPrint's own does.
    node.text_bounding_box = extend_bounding_box(
        node.text_bounding_box, ((x, y - baseline), (x + width, y - baseline + height)))
    svg.stream.push_state()
    fill, stroke = _paint(svg, node, font_size)
    svg.stream.begin_text()
    svg.fill_stroke(fill, stroke, text=True)
    box = svg_text.TextBox(layout, style)
    box.baseline = baseline
    emojis = draw_first_line(svg.stream, box, "none", "none", Matrix(a=1, d=-1, e=x, f=y))
    svg.stream.end_text()
    svg.stream.pop_state()
    draw_emojis(svg.stream, style, x, y, emojis)


def _paint(svg: Any, node: Any, font_size: float) -> tuple[Any, Any]:
    """The label's colour, as ``set_graphical_state`` sets it. A label that is filled with a
    plain colour and not stroked (every label charts.py writes) needs only its fill colour:
    the dash, cap, join and miter settings apply to strokes, and the state is popped after
    the label."""
    fill = _plain_paint(node.get("fill", "black"))
    if (fill is not None and fill is not _OTHER and _plain_paint(node.get("stroke", "")) is None
            and not any(a in node.attrib for a in _OPACITY)):
        svg.stream.set_color(fill)
        return fill, None
    fill_paint, stroke_paint = svg.set_graphical_state(node, font_size)
    return fill_paint, stroke_paint


def _draw_node(svg: Any, node: Any, font_size: float, fill_stroke: bool = True,
               context: Any = None) -> None:
    """Draw an SVG node; a plain shape (a line, rectangle, path or circle with nothing but
    its geometry, a plain fill and stroke, a stroke width and dashes: every shape charts.py
    writes) directly, as WeasyPrint's ``draw_node`` would: in a saved state, its colours
    and line settings, the shape, fill and stroke. Any other node goes to WeasyPrint's."""
    attrib = node.attrib
    if (fill_stroke and context is None and _LABEL_ATTRIBUTES.issuperset(attrib)
            and _plain_label(node)):
        # What draw_node does for such a label (no filter, clip, mask, opacity or anchor
        # group: print_html hands the anchor to _text), around _text.
        font_size = size(attrib.get("font-size", "1em"), font_size, font_size)
        svg.stream.push_state()
        svg.transform(node, font_size)
        node.text_bounding_box = EMPTY_BOUNDING_BOX
        if node.display and node.get("visibility") != "hidden":
            _text(svg, node, font_size)
        svg.cursor_position = [0, 0]
        svg.cursor_d_position = [0, 0]
        svg.text_path_width = 0
        svg.stream.pop_state()
        return
    if (not fill_stroke or context is not None or node.tag not in _SHAPES
            or not _SHAPE_ATTRIBUTES.issuperset(attrib) or len(node._etree_node)):
        _own_draw_node(svg, node, font_size, fill_stroke, context)
        return
    font_size = size(attrib.get("font-size", "1em"), font_size, font_size)
    stream = svg.stream
    stream.push_state()
    fill = _plain_paint(attrib.get("fill", "black"))
    stroke = _plain_paint(attrib.get("stroke", ""))
    if fill is _OTHER or stroke is _OTHER:  # a gradient, pattern or context paint
        stream.pop_state()
        _own_draw_node(svg, node, font_size, fill_stroke, context)
        return
    if fill is not None:
        stream.set_color(fill)
    width = svg.length(attrib.get("stroke-width", "1px"), font_size)
    if not width:
        stroke = None
    elif stroke is not None:
        stream.set_color(stroke, stroke=True)
        stream.set_line_width(width)
    dashes = tuple(svg.length(v, font_size) for v in
                   normalize(attrib.get("stroke-dasharray")).split() if v != "none")
    if dashes and any(dashes) and min(dashes) >= 0:
        stream.set_dash(dashes, 0)
    else:
        stream.set_dash((), 0)
    stream.set_line_cap(0)
    stream.set_line_join(0)
    stream.set_miter_limit(4.0)
    if node.display and node.get("visibility") != "hidden":
        with suppress(PointError):
            svg_draw.TAGS[node.tag](svg, node, font_size)
    svg.fill_stroke(fill, stroke)
    node.vertices.clear()  # no markers: nothing is drawn at the vertices
    stream.pop_state()


def _plain_paint(value: str) -> Any:
    """The colour of a fill or stroke given as a plain colour, None for none, else _OTHER."""
    value = value.strip()
    if not value or value == "none":
        return None
    if value not in _COLOURS:
        if not _PLAIN_COLOUR.fullmatch(value):
            return _OTHER
        _COLOURS[value] = svg_color(value)  # parsed once: tinycss2 gives a new object each time
    return _COLOURS[value]


# WeasyPrint's SVG drawing picks a node's function from TAGS and tells text nodes apart by
# comparing it with its module's ``text``: both point at ``_text``, which hands what it does
# not draw itself to WeasyPrint's. Left alone if WeasyPrint is not laid out as expected.
_own_text = svg_draw.TAGS.get("text")
_own_draw_node = svg_draw.SVG.draw_node


def _draw_labels_as_runs() -> None:
    """Hand WeasyPrint's SVG text to ``_text``: on the first PDF, not when the report stage
    is imported, so importing slo-jobs changes nothing of WeasyPrint's."""
    if _own_text is svg_text.text and getattr(svg_draw, "text", None) is _own_text:
        svg_draw.text = _text
        for tag in _TEXT_TAGS:
            svg_draw.TAGS[tag] = _text
    if svg_draw.SVG.draw_node is _own_draw_node:
        svg_draw.SVG.draw_node = _draw_node
