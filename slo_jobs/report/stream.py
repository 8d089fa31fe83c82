"""The report's per-SLO part, read, drawn and written one SLO at a time.

A month's detail tables hold many rows per SLO (``burn``: one per hour, 720 a month), so at
10,000 SLOs the whole month's rows as Python objects take gigabytes. The report therefore
reads ``daily``, ``burn``, ``incidents``, ``breakdown`` and ``categories`` in storage order,
in record batches, and takes each SLO's rows as the tables reach it (:func:`slo_groups`,
:class:`Cursor`). Every table the compute stage writes is ordered by SLO name
(``compute.compute_part`` sorts them; the shard merge lays name-ordered shards end to end);
a table found out of that order (a month computed before the order was kept) is sorted
first. What the report shows of an SLO (its HTML section, its summary.json record, its CSV
lines) is rendered at once and spooled to an unnamed temporary file (:class:`Spool`); the
files are then written in the report's order, copying each SLO's part from the spool. Memory
grows with the SLOs' summary rows only, never with their detail rows.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import lake
from ..core.burnrate import CONDITIONS, SHORT_WINDOW_DIVISOR, alert_factor
from ..core.errors import LakeError
from ..core.periods import Period, whole_unit
from ..lake import LakeDir
from . import breakdown as attribution
from . import charts
from .text import recommendations

DETAIL_TABLES = ("daily", "burn", "incidents", "breakdown", "categories", "percentiles")
# what summary.json and CSV need
RECORD_TABLES = ("incidents", "breakdown", "categories", "percentiles")
# The columns the report shows of each (None: all); decoding only these halves the work of
# reading ``burn``, the largest table by far.
SHOWN_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "daily": ("slo", "day", "sli", "budget_remaining"),
    "burn": ("slo", "hour_end", "burn_1h", "burn_6h", "burn_1d"),
    "incidents": None, "breakdown": None, "categories": None, "percentiles": None}
BATCH_ROWS = 4096  # rows decoded to Python objects at a time
_CHECK_ROWS = 65_536  # "slo" values compared at a time when checking the order


def _unreadable(path: LakeDir, label: str, name: str, exc: BaseException) -> LakeError:
    reason = " ".join(str(exc).split())[:160]
    return LakeError(f"{path}: not a readable Parquet file ({reason}); expected the computed "
                     f"{name} of {label}: recompute it with slo-jobs compute --month {label}")


def _iter_batches(parquet: pq.ParquetFile, rows: int, columns: list[str] | None
                  ) -> Iterator[pa.RecordBatch]:
    """The file's record batches, a row group at a time: one ``iter_batches`` over the whole
    file keeps every row group's column chunks it has read until it ends (pyarrow 26), so
    its memory would grow with the file."""
    for group in range(parquet.metadata.num_row_groups):
        yield from parquet.iter_batches(batch_size=rows, row_groups=[group], columns=columns,
                                        use_threads=False)


def _in_slo_order(parquet: pq.ParquetFile) -> bool:
    """Whether the file's rows are ordered by ``slo`` (each SLO's rows one run, runs by
    name), checked from that column alone, a batch at a time."""
    last: str | None = None
    for batch in _iter_batches(parquet, _CHECK_ROWS, ["slo"]):
        col = batch.column(0)
        if not len(col):
            continue
        if last is not None and col[0].as_py() < last:
            return False
        if len(col) > 1 and pc.any(pc.less(col.slice(1), col.slice(0, len(col) - 1))).as_py():
            return False
        last = col[-1].as_py()
    return True


def _batches(parquet: pq.ParquetFile, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    if _in_slo_order(parquet):
        yield from _iter_batches(parquet, BATCH_ROWS, columns)
    else:  # a stable sort: each SLO's rows keep their order
        table = parquet.read(columns=columns).sort_by([("slo", "ascending")])
        yield from table.to_batches(BATCH_ROWS)


Rows = list[dict[str, Any]]


def _runs(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Each run of one SLO's rows in ``batches``: (SLO, the run's slice of its batch)."""
    for batch in batches:
        runs = pc.run_end_encode(batch.column("slo"))
        start = 0
        for slo, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            yield slo, batch.slice(start, end - start)
            start = end


def slo_groups(folder: LakeDir, label: str, name: str,
               columns: Sequence[str] | None = None) -> Iterator[tuple[str, pa.Table]]:
    """Each SLO of the month's table ``name`` with its rows (in the table's order, with
    those of ``columns`` the table has, default all), by SLO name; nothing for a table the
    month does not have (computed before it existed)."""
    path = folder / f"{name}.parquet"
    if not lake.exists(path):
        return
    try:
        parquet = lake.open_file(path)
        names = parquet.schema_arrow.names
        if "slo" not in names or not parquet.metadata.num_rows:
            return
        read = None if columns is None else [c for c in columns if c in names]
        for slo, runs in itertools.groupby(_runs(_batches(parquet, read)), key=itemgetter(0)):
            yield slo, pa.Table.from_batches([run for _, run in runs])
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, label, name, exc) from None


def read_columns(folder: LakeDir, label: str, name: str, columns: Iterable[str]) -> Rows:
    """The rows of the month's table ``name`` with only those of ``columns`` it has (none
    for a table the month does not have)."""
    path = folder / f"{name}.parquet"
    if not lake.exists(path):
        return []
    try:
        parquet = lake.open_file(path)
        have = [c for c in columns if c in parquet.schema_arrow.names]
        rows: Rows = parquet.read(columns=have).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, label, name, exc) from None
    return rows


class Cursor:
    """One table's rows per SLO, for SLOs asked for in name order (others are skipped)."""

    def __init__(self, groups: Iterator[tuple[str, pa.Table]]) -> None:
        self._groups = groups
        self._head = next(groups, None)

    def take(self, slo: str) -> pa.Table | None:
        while self._head is not None and self._head[0] < slo:
            self._head = next(self._groups, None)
        if self._head is None or self._head[0] != slo:
            return None
        rows = self._head[1]
        self._head = next(self._groups, None)
        return rows


class SloRows:
    """One SLO's rows of the month's detail tables (none of a table: empty)."""

    def __init__(self, tables: dict[str, pa.Table | None]) -> None:
        self._tables = tables

    def rows(self, name: str) -> Rows:
        table = self._tables.get(name)
        return [] if table is None else table.to_pylist()

    def columns(self, name: str, columns: Sequence[str]) -> dict[str, list[Any]]:
        """The table's ``columns`` as lists (cheaper than rows for the 720 of ``burn``)."""
        table = self._tables.get(name)
        return {c: [] if table is None else table.column(c).to_pylist() for c in columns}


def slo_tables(folder: LakeDir, label: str, slos: Iterable[str], names: Iterable[str]
               ) -> Iterator[tuple[str, SloRows]]:
    """Each of ``slos`` (by name) with its rows of each table of ``names`` (the columns
    shown), the tables read once, in storage order, together."""
    cursors = {name: Cursor(slo_groups(folder, label, name, SHOWN_COLUMNS.get(name)))
               for name in names}
    for slo in sorted(slos):
        yield slo, SloRows({name: c.take(slo) for name, c in cursors.items()})


class Spool:
    """Texts written to an unnamed temporary file (gone when closed, or when the process
    dies), read back by key in any order."""

    def __init__(self, folder: Path) -> None:
        self._fh = tempfile.TemporaryFile(dir=folder)
        self._end = 0
        self._at: dict[tuple[str, str], tuple[int, int]] = {}

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def add(self, key: str, part: str, text: str) -> None:
        data = text.encode("utf-8")
        self._fh.seek(self._end)
        self._fh.write(data)
        self._at[(key, part)] = (self._end, len(data))
        self._end += len(data)

    def read(self, key: str, part: str) -> bytes:
        """The text spooled as ``part`` of ``key`` (empty if none), as UTF-8."""
        offset, size = self._at.get((key, part), (0, 0))
        self._fh.seek(offset)
        return self._fh.read(size)

    def copy(self, keys: Iterable[str], part: str, out: BinaryIO, sep: bytes = b"") -> None:
        """``part`` of each of ``keys`` in turn into ``out``, ``sep`` between them."""
        for i, key in enumerate(keys):
            out.write((sep if i else b"") + self.read(key, part))


def _window(seconds: int) -> str:
    """``3600`` -> ``1 h``, ``300`` -> ``5 min``, ``259200`` -> ``3 d``."""
    n, unit = whole_unit(seconds)
    return f"{n} {'min' if unit == 'm' else unit}"


def alert_conditions(row: dict[str, Any], period: Period) -> list[dict[str, Any]]:
    """The SLO's burn-rate alert conditions as the compute judged its incidents by (its own
    period and alerting.burnRates overrides); the four defaults over ``period`` for a
    summary computed before the conditions were stored."""
    conds = row.get("alert_conditions") or [
        {"severity": "page" if name.startswith("thr_page") else "ticket", "long_s": long_s,
         "short_s": long_s // SHORT_WINDOW_DIVISOR,
         "factor": alert_factor(share, period.seconds, long_s)}
        for name, (share, long_s) in CONDITIONS.items()]
    return [{**c, "label": f"{c['severity']} {_window(int(c['long_s']))} & "
                           f"{_window(int(c['short_s']))}"} for c in conds]


BURN_SHOWN = ("burn_1h", "burn_6h", "burn_1d")


def slo_view(row: dict[str, Any], period: Period, daily: list[dict[str, Any]],
             burn: dict[str, list[Any]], incidents: list[dict[str, Any]],
             decisions: dict[str, str], trend: list[dict[str, Any]],
             breakdown: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``report_slo.html.j2`` shows of one SLO: its figures, charts and advice.
    ``burn``: its hourly burn rates as columns, ``hour_end`` and ``BURN_SHOWN``."""
    days = [d["day"] for d in daily]
    n = len(days) or 1
    bands = [(charts.position(w["start"], row["period_start"], row["period_end"]),
              charts.position(w["end"], row["period_start"], row["period_end"]))
             for w in row.get("maintenance_windows") or []]
    sli_pts = [((i + 0.5) / n, d["sli"]) for i, d in enumerate(daily)]
    vals = [v for _, v in sli_pts if v is not None]
    lo = min(vals + [row["target"]]) if vals else row["target"]
    sli_chart = charts.line_chart(
        "Daily SLI", [charts.Series("SLI", sli_pts)], [charts.Ref("target", row["target"])],
        y_label="SLI", x_labels=charts.day_axis(days), pct=True,
        y_min=max(0.0, lo - (1 - lo) * 0.2), y_max=1.0, bands=bands)
    burndown = charts.line_chart(
        "Error budget remaining", [
            charts.Series("remaining", [(0.0, 1.0)] + [((i + 1) / n, d["budget_remaining"])
                                                       for i, d in enumerate(daily)]),
            charts.Series("even spend", [(0.0, 1.0), (1.0, 0.0)])],
        [charts.Ref("exhausted", 0.0)], y_label="budget", x_labels=charts.day_axis(days),
        pct=True, bands=bands)
    # Max-pool the hourly burn rates to at most 240 points: peaks are what matters.
    ends = burn["hour_end"]
    group = max(1, math.ceil(len(ends) / 240))
    pooled = []
    for i in range(0, len(ends), group):
        last = min(i + group, len(ends)) - 1
        pooled.append((charts.position(ends[last], period.start, period.end),
                       {k: max((v for v in burn[k][i:i + group] if v is not None), default=None)
                        for k in BURN_SHOWN}))
    conds = alert_conditions(row, period)
    burn_chart = charts.line_chart(
        "Burn rate (log scale)",
        [charts.Series(label, [(x, v[key]) for x, v in pooled])
         for label, key in (("1 h", "burn_1h"), ("6 h", "burn_6h"), ("1 d", "burn_1d"))],
        [charts.Ref(f"{c['label']} x{c['factor']:.4g}", c["factor"]) for c in conds],
        y_label="burn rate", x_labels=charts.day_axis(days), log=True, y_min=0.1, bands=bands)
    return {"row": row, "daily": daily, "incidents": incidents, "decisions": decisions,
            "trend": trend, "alert_conditions": conds,
            "recommendations": recommendations(row, incidents),
            "sli_chart": sli_chart, "burndown_chart": burndown, "burn_chart": burn_chart,
            "breakdown": attribution.view(row, breakdown)}
