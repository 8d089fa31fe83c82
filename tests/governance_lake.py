"""A hand-made three-month lake for the governance tests (phases, what-if, maintenance).

Every minute has the same counts within a month, so each figure can be derived by hand:

- 28 June to 31 July 2026: 996 good of 1,000 (SLI 0.996; June's last days are July's lookback)
- August: 993 of 1,000, except 10:00-12:00 UTC on 12 August: 900 of 1,000 (an outage)
- September: 1,999 of 2,000 (SLI 0.9995)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.lakeutil import utc, write_buckets

SLO = "api-availability"
JULY = (996.0, 1000.0)
AUGUST = (993.0, 1000.0)
OUTAGE = (900.0, 1000.0)
OUTAGE_START, OUTAGE_MINUTES = utc(2026, 8, 12, 10), 120
SEPTEMBER = (1999.0, 2000.0)
MINUTES = {"2026-07": 31 * 1440, "2026-08": 31 * 1440, "2026-09": 30 * 1440}

SPEC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}, labels: {{tier: critical, team: platform}}}}
spec:
  service: api
  description: API requests without a server error.
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{service="api",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{service="api"}}'}}
  objective:
    target: {target}
{objective}
  window: {{calendar: month, timeZone: UTC}}
{extra}"""


def spec_file(folder: Path, objective: str = "", extra: str = "", name: str = SLO,
              target: float = 0.99) -> Path:
    """The SLO as YAML; ``objective`` lines go under ``spec.objective``, ``extra`` under
    ``spec`` (both indented by the caller), or whole documents after it."""
    path = folder / "api.yaml"
    path.write_text(SPEC.format(name=name, objective=objective, extra=extra, target=target))
    return path


def write(lake: Path, slo: str = SLO) -> None:
    def span(first: tuple[int, int, int], days: int, counts: tuple[float, float]) -> None:
        for d in range(days):  # a day at a time keeps the helper's dict small
            write_buckets(lake, slo, utc(*first) + timedelta(days=d), [counts] * 1440)

    span((2026, 6, 28), 34, JULY)
    span((2026, 8, 1), 31, AUGUST)
    write_buckets(lake, slo, OUTAGE_START, [OUTAGE] * OUTAGE_MINUTES)
    span((2026, 9, 1), 30, SEPTEMBER)
