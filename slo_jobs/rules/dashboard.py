"""A Grafana dashboard over the recording rules of ``rules.py``: one row per SLO.

Each row holds the SLI over the period (stat), the error budget remaining (gauge), the burn
rate over the alert windows with the alert factors as threshold lines, and the SLI over time.
Every query reads the recorded series, so the dashboard shows what the alerts see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import rules
from ..core import redaction
from ..core.burnrate import budget_fraction
from ..lake import atomicio
from ..spec import Slo

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UID = "slo-jobs-slos"


def _sel(slo: Slo) -> str:
    return f'{{slo="{slo.name}"}}'


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(kind: str, title: str, x: int, y: int, w: int, targets: list[dict[str, Any]],
           defaults: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": w, "h": 8}, "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options or {}}


def _steps(*pairs: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


def _burn_thresholds(slo: Slo) -> list[tuple[float, str]]:
    """The alert factors as threshold lines (a calendar month's at 30 days)."""
    out = []
    period = rules.period_seconds(slo)
    for c in rules.conditions(slo):
        factor = c.factor if c.factor is not None else (c.share or 0.0) * period / c.long_s
        out.append((round(factor, 4), "red" if c.severity == "page" else "orange"))
    return sorted(set(out))


def row(slo: Slo, y: int, first_id: int) -> list[dict[str, Any]]:
    """The row header and four panels of one SLO, from height ``y``."""
    sel, b = _sel(slo), budget_fraction(slo.target)
    period = rules.prom_duration(rules.period_seconds(slo))
    objective = slo.target
    sli = f"1 - {rules.PERIOD_RECORD}{sel}"
    remaining = f"1 - {rules.PERIOD_RECORD}{sel} / {b!r}"
    burn = [_target(f"{rules.RECORD.format(window=w)}{sel} / {b!r}", w, chr(65 + i))
            for i, w in enumerate(("5m", "1h", "6h", "1d", "3d"))]
    thresholds = [(None, "green"), *_burn_thresholds(slo)]
    panels: list[dict[str, Any]] = [
        {"type": "row", "title": f"{slo.name} ({slo.service})", "collapsed": False,
         "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []},
        _panel("stat", f"SLI, last {period} (objective {objective * 100:g} %)", 0, y + 1, 4,
               [_target(sli, "SLI", "A")],
               {"unit": "percentunit", "decimals": 3,
                "thresholds": _steps((None, "red"), (objective, "green"))},
               {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}),
        _panel("gauge", "Error budget remaining", 4, y + 1, 4,
               [_target(remaining, "remaining", "A")],
               {"unit": "percentunit", "min": 0, "max": 1, "decimals": 1,
                "thresholds": _steps((None, "red"), (0.25, "orange"), (0.5, "green"))},
               {"reduceOptions": {"calcs": ["lastNotNull"]}}),
        _panel("timeseries", "Burn rate (lines: alert factors)", 8, y + 1, 8, burn,
               {"unit": "none", "custom": {"thresholdsStyle": {"mode": "line+area"}},
                "thresholds": _steps(*thresholds)}),
        _panel("timeseries", "SLI over time", 16, y + 1, 8,
               [_target(f"1 - {rules.RECORD.format(window='5m')}{sel}", "5m", "A"),
                _target(f"1 - {rules.RECORD.format(window='1h')}{sel}", "1h", "B")],
               {"unit": "percentunit", "decimals": 3,
                "custom": {"thresholdsStyle": {"mode": "line"}},
                "thresholds": _steps((None, "red"), (objective, "green"))}),
    ]
    for i, p in enumerate(panels):
        p["id"] = first_id + i
    return panels


def drawn(slos: Sequence[Slo]) -> list[Slo]:
    """The SLOs the dashboard has a row for: pipeline SLIs read from the Airflow API or a
    table have no series to chart."""
    return [s for s in slos if s.pipeline is None]


def summary(slos: Sequence[Slo]) -> str:
    """What the dashboard draws, e.g. ``6 SLOs; left out, without series to chart: 4
    pipeline SLOs (a, b, c, d)``."""
    rows = drawn(slos)
    left = [s.name for s in slos if s not in rows]
    text = f"{len(rows)} SLO{'s' * (len(rows) != 1)}"
    if left:
        text += (f"; left out, without series to chart: {len(left)} pipeline "
                 f"SLO{'s' * (len(left) != 1)} ({', '.join(left)})")
    return text


def build(slos: Sequence[Slo], at: datetime, title: str = "SLOs"
          ) -> dict[str, Any]:
    """The dashboard model (what Grafana's import and HTTP API take), with the targets of the
    phases in force at ``at`` (the CLI's --at), as ``rules`` writes them."""
    panels: list[dict[str, Any]] = []
    for n, slo in enumerate(drawn(slos)):
        panels += row(rules.in_force(slo, at), n * 9, len(panels) + 1)
    return {
        "uid": UID, "title": title, "tags": ["slo", "slo-jobs"], "timezone": "utc",
        "schemaVersion": 39, "editable": True, "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus",
                                 "type": "datasource", "query": "prometheus"}]},
        # The maintenance windows the rules mute alerts in, as shaded regions.
        "annotations": {"list": [{
            "name": "Maintenance", "datasource": DATASOURCE, "enable": True,
            "iconColor": "blue", "expr": f"{rules.MAINTENANCE_RECORD} == 1",
            "step": "1m", "titleFormat": "maintenance: {{slo}}", "useValueForTime": False}]},
        "panels": panels,
    }


def write(slos: Sequence[Slo], out: Path, at: datetime) -> Path:
    # Known secrets masked in the JSON text, as in every published file.
    return atomicio.write_text(out, redaction.redact(json.dumps(build(slos, at), indent=2)
                                                     + "\n"))
