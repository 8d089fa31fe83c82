"""Small, dependency-free SVG line charts for the report (HTML and PDF alike).

Charts must read in print and in grey scale: every series has its own dash pattern and a
legend, axes carry labels and ticks, and reference lines (target, thresholds) are drawn
and named. Values are numbers we computed; labels pass through ``escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from markupsafe import Markup

W, H = 600, 170
# Reference-line labels sit in the right margin, outside the data, so no line crosses them.
LEFT, RIGHT, TOP, BOTTOM = 62, 104, 22, 30
FONT = 9  # px; text widths below are estimated at CHAR_W per character (DejaVu Sans digits)
CHAR_W = 0.62
LINE = FONT + 1.5  # px between the baselines of two lines of labels
DASHES = ("", "6 3", "2 2", "8 3 2 3")
GREYS = ("#000000", "#555555", "#888888", "#333333")

Point = tuple[float, float | None]  # (x in [0, 1], y); None breaks the line


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Ref:
    name: str
    y: float


def _fmt(v: float, pct: bool, step: float) -> str:
    """A tick label with just enough decimals to tell neighbouring ticks apart."""
    scale = 100.0 if pct else 1.0
    decimals = max(0, min(4, -math.floor(math.log10(step * scale)))) if step > 0 else 0
    text = f"{v * scale:,.{decimals}f}"
    return text + "%" if pct else text


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def line_chart(title: str, series: Sequence[Series], refs: Sequence[Ref] = (),
               y_label: str = "", x_labels: Sequence[tuple[float, str]] = (),
               pct: bool = False, y_min: float | None = None,
               y_max: float | None = None, log: bool = False,
               bands: Sequence[tuple[float, float]] = ()) -> Markup:
    """An SVG line chart; x in [0, 1] across the period, y in data units. ``bands``:
    x ranges shaded behind the data (planned maintenance), named in the legend."""
    ys = [y for s in series for _, y in s.points if y is not None] + [r.y for r in refs]
    if log:
        ys = [y for y in ys if y > 0]
    lo = y_min if y_min is not None else (min(ys) if ys else 0.0)
    hi = y_max if y_max is not None else (max(ys) if ys else 1.0)
    if hi <= lo:
        hi = lo + (abs(lo) * 0.01 or 1.0)
    pad = (hi - lo) * 0.05
    lo, hi = (lo if y_min is not None else lo - pad), (hi if y_max is not None else hi + pad)
    if log:
        lo, hi = max(lo, 1e-3), max(hi, 1e-2)
        tr = (math.log10(lo), math.log10(hi))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x * plot_w

    def py(y: float) -> float:
        if log:
            v = (math.log10(max(y, lo)) - tr[0]) / (tr[1] - tr[0])
        else:
            v = (y - lo) / (hi - lo)
        return TOP + (1 - min(max(v, 0.0), 1.0)) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
           f'width="{W}" height="{H}" role="img" aria-label="{escape(title)}" '
           'font-family="DejaVu Sans, sans-serif" font-size="9">',
           f'<text x="{LEFT}" y="12" font-size="10" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
           'stroke="#999" stroke-width="0.6"/>']
    for x0, x1 in bands:
        a, b = max(0.0, min(x0, 1.0)), max(0.0, min(x1, 1.0))
        # At least half a pixel: a 30-minute window in a month is narrower than that.
        out.append(f'<rect class="maintenance" x="{px(a):.1f}" y="{TOP}" '
                   f'width="{max(px(b) - px(a), 0.5):.1f}" height="{plot_h}" '
                   'fill="#d0d0d0" fill-opacity="0.7"/>')
    ticks = ([10 ** e for e in range(math.floor(tr[0]), math.ceil(tr[1]) + 1)
              if lo <= 10 ** e <= hi] if log else _ticks(lo, hi))
    step = (ticks[1] - ticks[0]) if len(ticks) > 1 else (hi - lo)
    for t in ticks:
        y = py(t)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd" stroke-width="0.5"/>')
        out.append(f'<text x="{LEFT - 3}" y="{y + 3:.1f}" text-anchor="end">'
                   f'{escape(_fmt(t, pct, t if log else step))}</text>')
    for x, label in x_labels:
        out.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">'
                   f'{escape(label)}</text>')
    if y_label:
        out.append(f'<text x="0" y="0" transform="translate(10 {TOP + plot_h / 2:.0f}) '
                   f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>')
    # A label wider than the margin wraps onto lines of its own, never past the edge.
    lines = [_wrap(r.name, int((RIGHT - 6) / (FONT * CHAR_W))) for r in refs]
    for r, text, label_y in zip(refs, lines, _spread(
            [py(r.y) + 3 for r in refs], TOP + 3, TOP + plot_h + 3,
            [len(t) * LINE for t in lines]), strict=True):
        y = py(r.y)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#b00" stroke-width="0.8" stroke-dasharray="1 2"/>')
        out += [f'<text class="{"ref-more" if i else "ref"}" x="{LEFT + plot_w + 4}" '
                f'y="{label_y + i * LINE:.1f}" fill="#b00">{escape(t)}</text>'
                for i, t in enumerate(text)]
    # The legend starts after the title, however long the title is.
    legend_x = LEFT + round(len(title) * 10 * 0.68) + 16
    for i, s in enumerate(series):
        dash, colour = DASHES[i % len(DASHES)], GREYS[i % len(GREYS)]
        path: list[str] = []
        for run in _runs(s.points):
            path += _polyline([(f"{px(x):.1f}", f"{py(v):.1f}") for x, v in run])
        if path:
            out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.2" stroke-dasharray="{dash}"/>')
        lx = legend_x
        legend_x += 19 + round(len(s.name) * FONT * CHAR_W) + 14
        out.append(f'<line x1="{lx}" x2="{lx + 16}" y1="9" y2="9" stroke="{colour}" '
                   f'stroke-width="1.2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{lx + 19}" y="12">{escape(s.name)}</text>')
    if bands:
        out.append(f'<rect x="{legend_x}" y="5" width="16" height="7" fill="#d0d0d0"/>'
                   f'<text x="{legend_x + 19}" y="12">maintenance</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """The unbroken runs of ``points`` (a None value breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, value in points:
        if value is None:
            runs.append([])
        else:
            runs[-1].append((x, value))
    return [r for r in runs if r]


def _polyline(run: Sequence[tuple[str, str]]) -> list[str]:
    """Path commands through ``run``, less the points inside a level stretch (same drawn
    y before and after): the same line with fewer points for the PDF renderer to draw."""
    keep = [p for i, p in enumerate(run)
            if i in (0, len(run) - 1) or not run[i - 1][1] == p[1] == run[i + 1][1]]
    return [f"{'L' if i else 'M'}{x},{y}" for i, (x, y) in enumerate(keep)]


def _spread(ys: Sequence[float], lo: float, hi: float,
            heights: Sequence[float] | None = None) -> list[float]:
    """Baselines for labels wanted at ``ys``, moved apart just enough not to overlap;
    ``heights``: each label's height (one line unless given)."""
    h = list(heights) if heights is not None else [LINE] * len(ys)
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed: list[float] = []
    for n, i in enumerate(order):
        placed.append(max(ys[i], lo, placed[-1] + h[order[n - 1]] if placed else lo))
    # Pushed past the bottom: shift the stack up as a whole.
    excess = placed[-1] + h[order[-1]] - LINE - hi if placed else 0.0
    if excess > 0:
        placed = [max(lo, y - excess) for y in placed]
    out = [0.0] * len(ys)
    for i, y in zip(order, placed, strict=True):
        out[i] = y
    return out


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def day_axis(days: Sequence[date]) -> list[tuple[float, str]]:
    """Tick labels for a few days of the period (x positions at day midpoints)."""
    n = len(days)
    if not n:
        return []
    every = max(1, n // 6)
    return [((i + 0.5) / n, d.strftime("%d %b")) for i, d in enumerate(days) if i % every == 0]


def position(t: datetime, start: datetime, end: datetime) -> float:
    return (t - start).total_seconds() / (end - start).total_seconds()


def bar_chart(title: str, bars: Sequence[tuple[str, float]], ref: Ref | None = None) -> Markup:
    """Horizontal bars (label, share in [0, ...)) as percentages, largest first as given;
    ``ref``: a vertical line, e.g. the whole budget at 100 %."""
    label_w = min(220, max((len(b[0]) for b in bars), default=0) * FONT * CHAR_W + 8)
    left, bar_h, gap = LEFT + label_w - 54, 12, 5
    plot_w = W - left - RIGHT
    height = TOP + len(bars) * (bar_h + gap) + 8
    hi = max([v for _, v in bars] + ([ref.y] if ref else []) + [1e-9])

    def px(v: float) -> float:
        return left + max(v, 0.0) / hi * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" '
           f'width="{W}" height="{height}" role="img" aria-label="{escape(title)}" '
           'font-family="DejaVu Sans, sans-serif" font-size="9">',
           f'<text x="{LEFT}" y="12" font-size="10" font-weight="bold">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = TOP + i * (bar_h + gap)
        # Long label values are cut to the margin; the table beside the chart has them whole.
        shown = label if len(label) * FONT * CHAR_W <= label_w else \
            label[:max(1, int(label_w / (FONT * CHAR_W)) - 1)] + "…"
        out.append(f'<text x="{left - 4}" y="{y + bar_h - 3}" text-anchor="end">'
                   f'{escape(shown)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{max(px(value) - left, 0.5):.1f}" '
                   f'height="{bar_h}" fill="{GREYS[1]}"/>')
        out.append(f'<text x="{px(value) + 3:.1f}" y="{y + bar_h - 3}">'
                   f'{escape(_fmt(value, True, 0.001))}</text>')
    if ref is not None:
        x = px(ref.y)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{height - 6}" '
                   'stroke="#b00" stroke-width="0.8" stroke-dasharray="1 2"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{TOP - 6}" fill="#b00">{escape(ref.name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


MONTH_H = 110  # short: it is one more chart per SLO in a PDF of many
# The 12-month chart's two panels: SLI (top) and budget spent (bottom), one slot per month.
_SLI_PANEL, _SPENT_PANEL = (18.0, 34.0), (62.0, 26.0)  # (top, height)
SPENT_CAP = 4.0  # budget spent shown up to 400 %; a bar beyond it reaches the top, marked


def month_chart(months: Sequence[str], sli: Sequence[float | None],
                spent: Sequence[float | None], to_date: Sequence[bool],
                target: float) -> Markup:
    """An SVG of the SLI and the budget spent month by month (``months``: ``YYYY-MM``, oldest
    first): a none is a month without data, left blank and shaded as a gap (never a zero);
    a month still running (``to_date``) is drawn hollow. No text per point, so it stays
    cheap in the PDF; each point carries its month and value as ``data-`` attributes."""
    n = len(months) or 1
    plot_w = W - LEFT - RIGHT
    slot = plot_w / n
    vals = [v for v in sli if v is not None]
    lo = min(vals + [target])
    sli_lo, sli_hi = max(0.0, lo - (1 - lo) * 0.2), 1.0
    if sli_hi <= sli_lo:
        sli_lo = sli_hi - 0.01
    spent_hi = min(SPENT_CAP, max([v for v in spent if v is not None] + [1.0]) * 1.05)

    def cx(i: int) -> float:
        return LEFT + (i + 0.5) * slot

    def py(v: float, lo: float, hi: float, panel: tuple[float, float]) -> float:
        return panel[0] + (1 - min(max((v - lo) / (hi - lo), 0.0), 1.0)) * panel[1]

    title = "Last 12 months"
    bottom = _SPENT_PANEL[0] + _SPENT_PANEL[1]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {MONTH_H}" '
           f'width="{W}" height="{MONTH_H}" role="img" aria-label="{title}" '
           'font-family="DejaVu Sans, sans-serif" font-size="9" class="months">',
           f'<text x="{LEFT}" y="12" font-size="10" font-weight="bold">{title}</text>']
    for i, (month, v) in enumerate(zip(months, sli, strict=True)):
        if v is None:
            out.append(f'<rect class="gap" data-month="{escape(month)}" '
                       f'x="{LEFT + i * slot:.1f}" y="{_SLI_PANEL[0]}" width="{slot:.1f}" '
                       f'height="{bottom - _SLI_PANEL[0]}" fill="#eeeeee"/>')
    panels = ((_SLI_PANEL, sli_lo, sli_hi, Ref(f"target {_fmt(target, True, 0.0001)}", target),
               "SLI", 0.0001),
              (_SPENT_PANEL, 0.0, spent_hi, Ref("whole budget", 1.0), "spent", 0.01))
    for panel, lo_, hi_, ref, label, step in panels:
        out.append(f'<rect x="{LEFT}" y="{panel[0]}" width="{plot_w}" height="{panel[1]}" '
                   'fill="none" stroke="#999" stroke-width="0.6"/>')
        ticks = _ticks(lo_, hi_, 2)
        tick_step = ticks[1] - ticks[0] if len(ticks) > 1 else step
        for t in ticks:
            out.append(f'<text x="{LEFT - 3}" y="{py(t, lo_, hi_, panel) + 3:.1f}" '
                       f'text-anchor="end">{escape(_fmt(t, True, tick_step))}</text>')
        y = py(ref.y, lo_, hi_, panel)
        out.append(f'<line class="ref" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#b00" stroke-width="0.8" stroke-dasharray="1 2"/>'
                   f'<text class="ref" x="{LEFT + plot_w + 4}" y="{y + 3:.1f}" '
                   f'fill="#b00">{escape(ref.name)}</text>')
        out.append(f'<text x="0" y="0" transform="translate(10 {panel[0] + panel[1] / 2:.0f}) '
                   f'rotate(-90)" text-anchor="middle">{label}</text>')
    # The SLI: a line broken at each gap, a dot per month (hollow: to date).
    path, pen = [], "M"
    for i, v in enumerate(sli):
        if v is None:
            pen = "M"
            continue
        path.append(f"{pen}{cx(i):.1f},{py(v, sli_lo, sli_hi, _SLI_PANEL):.1f}")
        pen = "L"
    if path:
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="#000" '
                   'stroke-width="1.2"/>')
    for i, (month, v, running) in enumerate(zip(months, sli, to_date, strict=True)):
        if v is None:
            continue
        out.append(f'<circle class="sli{" to-date" if running else ""}" '
                   f'data-month="{escape(month)}" data-value="{v!r}" cx="{cx(i):.1f}" '
                   f'cy="{py(v, sli_lo, sli_hi, _SLI_PANEL):.1f}" r="2.2" stroke="#000" '
                   f'fill="{"#fff" if running else "#000"}"/>')
    zero = py(0.0, 0.0, spent_hi, _SPENT_PANEL)
    for i, (month, v, running) in enumerate(zip(months, spent, to_date, strict=True)):
        if v is None:
            continue
        top = py(v, 0.0, spent_hi, _SPENT_PANEL)
        fill = 'fill="#fff" stroke="#555" stroke-dasharray="2 1"' if running else \
            f'fill="{GREYS[1]}"'
        out.append(f'<rect class="spent{" to-date" if running else ""}'
                   f'{" over" if v > spent_hi else ""}" data-month="{escape(month)}" '
                   f'data-value="{v!r}" x="{cx(i) - slot * 0.3:.1f}" y="{top:.1f}" '
                   f'width="{slot * 0.6:.1f}" height="{max(zero - top, 0.5):.1f}" {fill}/>')
    for i, month in enumerate(months):
        year, mon = month.split("-")
        # The first month and each quarter's first are named: every label is drawn on its
        # own in a PDF, and a slot per month with a tick every third reads as well.
        if not (i == 0 or mon in ("01", "04", "07", "10")):
            continue
        name = ("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[int(mon) - 1]
                if mon.isdigit() and 1 <= int(mon) <= 12 else mon)
        out.append(f'<text x="{cx(i):.1f}" y="{bottom + 11}" text-anchor="middle">'
                   f'{escape(name)}</text>')
        if i == 0 or mon == "01":  # the year under the first month and each January
            out.append(f'<text x="{cx(i):.1f}" y="{bottom + 11 + LINE:.1f}" '
                       f'text-anchor="middle">{escape(year)}</text>')
    x = LEFT + round(len(title) * 10 * 0.68) + 16
    # The legend names what the chart shows: "to date" and "no data" only where they occur.
    keys = [('<line x1="{x}" x2="{x2}" y1="9" y2="9" stroke="#000" stroke-width="1.2"/>',
             "SLI"),
            ('<rect x="{x}" y="5" width="16" height="7" fill="#555"/>', "budget spent")]
    if any(to_date):
        keys.append(('<circle cx="{xc}" cy="9" r="2.2" stroke="#000" fill="#fff"/>',
                     "to date"))
    if any(v is None for v in sli):
        keys.append(('<rect x="{x}" y="5" width="16" height="7" fill="#eeeeee" '
                     'stroke="#999" stroke-width="0.4"/>', "no data"))
    for key, text in keys:
        out.append(key.format(x=x, x2=x + 16, xc=x + 8) +
                   f'<text x="{x + 19}" y="12">{text}</text>')
        x += 19 + round(len(text) * FONT * CHAR_W) + 14
    out.append("</svg>")
    return Markup("".join(out))
