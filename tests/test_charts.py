"""Chart text never overlaps: titles, legends, ticks and reference labels each have room, and
reference labels sit outside the data so no line crosses them. Text boxes are estimated from
the font size (the SVG carries no layout), generously: a wide glyph estimate, full height."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from slo_jobs.report import charts

NS = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def text_boxes(svg: str) -> list[tuple[str, Box]]:
    root = ET.fromstring(svg)
    base = float(root.get("font-size", "9"))
    out = []
    for el in root.iter(f"{NS}text"):
        text = "".join(el.itertext())
        size = float(el.get("font-size", base))
        width = len(text) * size * (0.68 if el.get("font-weight") == "bold" else 0.62)
        rotated = re.match(r"translate\(([\d.]+) ([\d.]+)\) rotate\(-90\)",
                           el.get("transform", ""))
        if rotated:  # y-axis title: vertical, centred on its anchor
            x, y = map(float, rotated.groups())
            out.append((text, (x - size * 0.8, y - width / 2, x + size * 0.2, y + width / 2)))
            continue
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        anchor = el.get("text-anchor", "start")
        x0 = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        out.append((text, (x0, y - size * 0.8, x0 + width, y + size * 0.2)))
    return out


def overlapping(svg: str) -> list[tuple[str, str]]:
    def hit(a: Box, b: Box) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    return [(a, b) for (a, ba), (b, bb) in combinations(text_boxes(svg), 2) if hit(ba, bb)]


def plot_area(svg: str) -> Box:
    rect = ET.fromstring(svg).find(f"{NS}rect")
    assert rect is not None
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    return x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))


def labels_inside_plot(svg: str, names: list[str]) -> list[str]:
    x0, y0, x1, y1 = plot_area(svg)
    return [t for t, b in text_boxes(svg) if t in names
            and b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0]


def burn_like(refs: list[charts.Ref]) -> str:
    days = [__import__("datetime").date(2026, 9, d) for d in range(1, 31)]
    pts = [(i / 720, 0.2 + (30 if 380 < i < 390 else 0)) for i in range(720)]
    return str(charts.line_chart(
        "Burn rate (log scale)", [charts.Series("1 h", pts), charts.Series("6 h", pts),
                                  charts.Series("1 d", pts)],
        refs, y_label="burn rate", x_labels=charts.day_axis(days), log=True, y_min=0.1))


@pytest.mark.parametrize("refs", [
    # the defaults for 30 days, and the close pairs overrides make
    [charts.Ref("page 1h x14.4", 14.4), charts.Ref("page 6h x6", 6.0),
     charts.Ref("ticket 1d x3", 3.0)],
    [charts.Ref("page 1h x14.4", 14.4), charts.Ref("page 4h x13", 13.0),
     charts.Ref("ticket 1d x12", 12.0), charts.Ref("ticket 3d x1", 1.0)],
    [charts.Ref("top", 1000.0), charts.Ref("almost top", 900.0)],
])
def test_burn_chart_text_never_overlaps(refs: list[charts.Ref]) -> None:
    svg = burn_like(refs)
    assert overlapping(svg) == []
    assert labels_inside_plot(svg, [r.name for r in refs]) == []


def test_percent_chart_with_target_at_the_top_and_a_long_title() -> None:
    days = [__import__("datetime").date(2026, 9, d) for d in range(1, 31)]
    svg = str(charts.line_chart(
        "Error budget remaining over the whole month", [
            charts.Series("remaining", [(i / 30, 1 - i / 20) for i in range(31)]),
            charts.Series("even spend", [(0.0, 1.0), (1.0, 0.0)])],
        [charts.Ref("exhausted", 0.0), charts.Ref("target", 0.99875)],
        y_label="budget", x_labels=charts.day_axis(days), pct=True, y_min=0.99, y_max=1.0))
    assert overlapping(svg) == []
    assert labels_inside_plot(svg, ["exhausted", "target"]) == []


def test_the_overlap_check_catches_an_overlap() -> None:
    # The check itself must fail on overlapping text, or the tests above prove nothing.
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" font-size="9"><rect x="0" y="0" '
           'width="10" height="10"/><text x="50" y="20">page 6h x6</text>'
           '<text x="60" y="22">ticket 1d x3</text></svg>')
    assert overlapping(svg) == [("page 6h x6", "ticket 1d x3")]


def test_the_report_condition_labels_fit_the_chart_whole() -> None:
    # The report names each condition by severity, both windows and factor ("page 1 h &
    # 5 min x14.4"): wider than the margin, so it wraps; nothing runs past the chart's edge.
    from slo_jobs.core import periods
    from slo_jobs.report import stream as report_stream

    conds = report_stream.alert_conditions({}, periods.month("2026-09"))
    refs = [charts.Ref(f"{c['label']} x{c['factor']:.4g}", c["factor"]) for c in conds]
    svg = burn_like(refs)
    boxes = text_boxes(svg)
    assert [b for _, b in boxes if b[0] < 0 or b[2] > charts.W] == []
    assert overlapping(svg) == []
    words = " ".join(t for t, b in boxes if b[0] >= plot_area(svg)[2])
    # every label whole, in order of its lines
    assert all(r.name in words for r in refs), words
    assert labels_inside_plot(svg, [t for t, _ in boxes if t.split(" ")[0] in
                                    ("page", "ticket")]) == []
