"""Error categories: each SLO with ``spec.errorCategories``, its bad events per category over
the month to date and over each of the month's incidents (``sql/error_categories.sql``),
published as ``categories.parquet`` with the month's other tables.

The sibling of :mod:`.breakdown`: the same window (the summary row's month up to its as-of),
the same maintenance arithmetic and the same handling of days extracted before the
definition, so the month's bad events here are the summary's ``bad`` whenever every day of
the month has category rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from ..core import periods, resources
from ..lake import LakeDir
from ..spec import Slo
from .breakdown import counted, day_rows, maintenance_table, tagged
from .engine import connect

_TS = pa.timestamp("us", tz="UTC")
COLUMNS = pa.schema([
    ("slo", pa.string()), ("span", pa.string()), ("start", _TS), ("end", _TS),
    ("severity", pa.string()), ("category", pa.string()), ("events", pa.float64()),
    ("bad", pa.float64()), ("share", pa.float64()), ("days", pa.int64()),
    ("days_missing", pa.int64()),
])


def _spans(row: dict[str, Any], incidents: Sequence[dict[str, Any]]) -> pa.Table:
    """The month (k = 0) and then each incident of the SLO, in the incidents' order."""
    spans = [("month", row["period_start"], row["as_of"], None)] + [
        ("incident", i["start"], i["end"], i["severity"]) for i in incidents]
    return pa.table({
        "k": pa.array(range(len(spans)), pa.int64()),
        "span": pa.array([s[0] for s in spans], pa.string()),
        "start": pa.array([s[1] for s in spans], _TS),
        "end": pa.array([s[2] for s in spans], _TS),
        "severity": pa.array([s[3] for s in spans], pa.string())})


def month_categories(lake_dir: LakeDir, slos: Sequence[Slo], summary: Sequence[dict[str, Any]],
                     incidents: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows per SLO with error categories: the month's span, then each incident's, each with
    one row per category in spec order and ``uncategorised`` last; ``days_missing``: days of
    the window without category rows of this definition."""
    con = connect()
    parts = []
    for s, row in counted(slos, summary, lambda s: bool(s.error_categories)):
        names = [n for n, _ in s.error_categories]
        days = periods.utc_days(periods.Period("", row["period_start"], row["as_of"]))
        rows, missing = day_rows(lake_dir, "categories", s.name, "categories", names, days)
        con.register("rows", rows)
        con.register("maintenance", maintenance_table(s, row["period_start"], row["as_of"]))
        con.register("spans", _spans(row, [i for i in incidents if i["slo"] == s.name]))
        found = con.sql(resources.sql("error_categories"),
                        params={"categories": names}).to_arrow_table()
        for name in ("rows", "maintenance", "spans"):
            con.unregister(name)
        parts.append(tagged(found, s.name, len(days), missing))
    if not parts:
        return COLUMNS.empty_table()
    return pa.concat_tables([p.cast(COLUMNS) for p in parts])
