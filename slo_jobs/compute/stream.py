"""Window sums, burn rates and alert conditions of every bucket, over dense numpy arrays.

Why numpy and not SQL: a window over the last L buckets is the difference of two prefix-sum
entries, and a dense partition puts bucket b at position b. DuckDB streams lag() only for
offsets under 2,048 rows, so the 1-day and 3-day windows cost more than everything else
together in SQL; here each window is one vectorised subtraction per SLO. The outputs have the
shapes the SQL files read (``snap``, and ``slices``: the time-slice counts per SLO, judged
here because grouping 8.6 M bucket rows of 200 time-slice SLOs into slices cost DuckDB more
than the rest of its work), and every figure is still checked against the pandas reference
(tests/test_compute_reference.py) and the slo-math.md checks (tests/test_sql_files.py).

Each partition is read once, whole, with every page's checksum verified
(``lake.read_verified``): verification costs no second read. Reading many small files is
bound by Python's GIL in threads, so the SLOs are spread over processes (``run``); on an
object store the reads wait on the network instead, so they run in threads of one process
(a forked child must not share the S3 client's open connections).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import lake
from ..core.burnrate import BURN_WINDOWS_S
from ..lake import LakeDir
from .maintenance import masks

# A worker process costs about a second to start: not worth it for fewer SLOs per process.
MIN_SLOS_PER_PROCESS = 64
CHUNK = 16  # SLOs per unit of work handed to a process or thread

SNAP_SCHEMA = pa.schema(
    # slice_bad: a time-slice SLO's bad slices spread evenly over their buckets (incidents)
    [("k", pa.int64()), ("b", pa.int64()), ("bad", pa.float64()), ("total", pa.float64()),
     ("slice_bad", pa.float64()),
     ("cgood", pa.float64()), ("ctot", pa.float64()), ("cbad", pa.float64()),
     ("chas", pa.int64()), ("cclip", pa.int64())]
    + [(name, pa.float64()) for name in BURN_WINDOWS_S]
    + [("page", pa.bool_()), ("ticket", pa.bool_()), ("is_snap", pa.bool_())])
# good_slices is fractional for RatioTimeslices: the sum of the slices' ratios (see _slices).
SLICES_SCHEMA = pa.schema([("k", pa.int64()), ("good_slices", pa.float64()),
                           ("counted_slices", pa.int64()), ("no_data_slices", pa.int64()),
                           ("all_slices", pa.int64()), ("ratio_mean", pa.float64())])
# The same counts per local day (the day starting at bucket b_start), for the daily series.
SLICE_DAYS_SCHEMA = pa.schema([("k", pa.int64()), ("b_start", pa.int64()),
                               ("good", pa.float64()), ("total", pa.float64())])


@dataclass(frozen=True)
class Condition:
    """Fire iff bad(L) > threshold * total(L) and bad(S) > threshold * total(S)."""

    page: bool  # severity page, else ticket
    long_b: int  # window lengths in buckets
    short_b: int
    threshold: float  # f * B


@dataclass(frozen=True)
class Grid:
    """Bucket indices shared by every SLO of one window (see engine._Layout)."""

    per_day: int
    b0: int  # first bucket of the window
    b1: int  # past-the-end bucket of the window
    basof: int  # past-the-end bucket evaluated (slices)
    snap: int  # snapshot every ``snap`` buckets
    burn_b: tuple[int, ...]  # BURN_WINDOWS_S in buckets, same order
    # Local days of the window that ended by as-of: [start, end) bucket indices, ascending.
    days: tuple[tuple[int, int], ...] = ()
    # Boundaries off the ``snap`` grid (an as-of at any minute): a snapshot row each.
    marks: tuple[int, ...] = ()


@dataclass(frozen=True)
class SloInput:
    k: int
    paths: tuple[LakeDir | None, ...]  # one per day from the origin; None: no partition
    budget: float  # B = 1 - target
    conditions: tuple[Condition, ...]
    sliced: bool  # a time-slice SLO: also judge its slices of [b0, basof)
    slice_b: int = 1  # buckets per time slice
    ratio: bool = False  # RatioTimeslices: judged by the mean slice ratio, no slice target
    slice_target: float = 1.0  # Timeslices: a slice is good iff good / total >= this
    no_data: str = "skip"  # a slice without data or events counts as good, bad or skip
    # Planned maintenance (slo_jobs/compute/maintenance.py): bucket ranges [a, b) left out
    # of good and total, and ranges whose events all count as good.
    excluded: tuple[tuple[int, int], ...] = ()
    as_good: tuple[tuple[int, int], ...] = ()


# Concurrent GETs of one SLO's partitions on an object store (each waits on a round trip).
REMOTE_READS = 8


def _read_all(paths: Sequence[LakeDir | None], per_day: int) -> list[pa.Table | None]:
    def one(path: LakeDir | None) -> pa.Table | None:
        return None if path is None else lake.read_verified(path, per_day)

    if any(p is not None and lake.remote(p) for p in paths):
        with ThreadPoolExecutor(REMOTE_READS) as pool:
            return list(pool.map(one, paths))
    return [one(p) for p in paths]


def _load(paths: Sequence[LakeDir | None], per_day: int) -> tuple[np.ndarray, ...]:
    n = len(paths) * per_day
    good, total = np.zeros(n), np.zeros(n)
    has, clip = np.zeros(n, bool), np.zeros(n, bool)
    for i, table in enumerate(_read_all(paths, per_day)):
        if table is None:
            continue  # a day never extracted reads as a day without data
        at = slice(i * per_day, (i + 1) * per_day)
        good[at] = table.column("good").to_numpy()
        total[at] = table.column("total").to_numpy()
        has[at] = table.column("has_data").to_numpy()
        clip[at] = table.column("clipped").to_numpy()
    return good, total, has, clip


def _prefix(values: np.ndarray) -> np.ndarray:
    """p[i] = sum of the first i values, so the sum over buckets [a, b] is p[b+1] - p[a]."""
    out = np.zeros(len(values) + 1, values.dtype)
    np.cumsum(values, out=out[1:])
    return out


Arrays = dict[str, np.ndarray]


def _one(grid: Grid, slo: SloInput) -> tuple[Arrays, Arrays, Arrays]:
    good, total, has, clip = _load(slo.paths, grid.per_day)
    skip, forced = masks(slo.excluded, slo.as_good, len(good))
    if slo.excluded or slo.as_good:
        # Before any sum: every window, burn rate and count then sees the same buckets.
        good[forced] = total[forced]
        good[skip] = total[skip] = 0.0
        has[skip | forced] = True  # planned, not missing data
        clip[skip | forced] = False
    bad = total - good
    cb, ct = _prefix(bad), _prefix(total)
    # Burn rates and alert conditions in the budget's unit: slices for a time-slice SLO.
    wcb, wct = cb, ct
    if slo.sliced:
        bad_u, counted_u = _units(grid, slo, good, total, has, skip, forced)
        wcb, wct = _prefix(bad_u), _prefix(counted_u)
    # Evaluated rows: b in [b0 - 1, b1); the row b0 - 1 carries the prefix sums before the
    # window. p[e] is the prefix up to and including bucket e - 1.
    lo, hi = grid.b0, grid.b1 + 1
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def window(length: int) -> tuple[np.ndarray, np.ndarray]:
        # The caller's lookback covers the longest window: lo - length >= 0.
        if length not in sums:
            sums[length] = (wcb[lo:hi] - wcb[lo - length:hi - length],
                            wct[lo:hi] - wct[lo - length:hi - length])
        return sums[length]

    page = np.zeros(hi - lo, bool)
    ticket = np.zeros(hi - lo, bool)
    for c in slo.conditions:
        bl, tl = window(c.long_b)
        bs, ts = window(c.short_b)
        fires = (bl > c.threshold * tl) & (bs > c.threshold * ts)
        if c.page:
            page |= fires
        else:
            ticket |= fires
    page[0] = ticket[0] = False  # the row before the window only carries prefix sums
    b = np.arange(grid.b0 - 1, grid.b1, dtype=np.int64)
    is_snap = ((b + 1) % grid.snap == 0) | np.isin(b + 1, grid.marks)
    keep = np.flatnonzero(is_snap | page | ticket)
    rows = keep + grid.b0 - 1
    out = {"k": np.full(len(keep), slo.k, np.int64), "b": rows, "bad": bad[rows],
           "total": total[rows], "cgood": ct[rows + 1] - cb[rows + 1], "ctot": ct[rows + 1],
           "cbad": cb[rows + 1], "chas": _prefix(has.astype(np.int64))[rows + 1],
           "cclip": _prefix(clip.astype(np.int64))[rows + 1]}
    for name, length in zip(BURN_WINDOWS_S, grid.burn_b, strict=True):
        wb, wt = window(length)
        wb, wt = wb[keep], wt[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            # NaN where the window has no events (no counted slice): null in the table
            out[name] = np.where(wt != 0, wb / wt / slo.budget, np.nan)
    out.update(page=page[keep], ticket=ticket[keep], is_snap=is_snap[keep])
    if not slo.sliced:
        out["slice_bad"] = np.zeros(len(keep))
        return out, {}, {}
    in_window, per_day, spread = _slices(grid, slo, good, total, has, skip, forced)
    slice_bad = np.zeros(len(good))
    slice_bad[grid.b0:grid.basof] = spread
    out["slice_bad"] = slice_bad[rows]
    return out, in_window, per_day


def _slices(grid: Grid, slo: SloInput, good: np.ndarray, total: np.ndarray,
            has: np.ndarray, skip: np.ndarray | None = None,
            forced: np.ndarray | None = None) -> tuple[Arrays, Arrays, np.ndarray]:
    """docs/slo-math.md over the slices of [b0, basof) (the last one may be partial): the window's
    counts, the same per local day of ``grid.days`` (a slice belongs to the day it starts
    in), so the daily series and burn-down add up to the headline, and each bucket's share
    of its slice's bad value (an incident's share of a budget counted in slices).

    Timeslices: a slice is good iff good/total >= timeSliceTarget; one with no bucket with
    data or no events follows the no-data policy (good, bad, or skip: left out of N).
    RatioTimeslices: ``good`` is the sum of good/total over the slices with events and
    ``counted`` their number, so good/counted is the mean ratio and bad/(B * counted) the
    budget consumed, (1 - SLI) / B: one definition for SLI, status and budget.

    A slice touching an excluded maintenance window is left out (not counted, not "no
    data"); one touching a window counted good is a good slice (ratio 1)."""
    at = slice(grid.b0, grid.basof)
    if skip is None or forced is None:
        skip = forced = np.zeros(len(good), bool)
    starts = np.arange(0, grid.basof - grid.b0, max(1, slo.slice_b))
    t, left_out, as_good, ratio, counted, value = _judge(slo, good, total, has, skip, forced,
                                                         at, starts)
    rated = ((t > 0) | as_good) & ~left_out
    mean = float(ratio[rated].mean()) if rated.any() else np.nan

    def one(value: float) -> np.ndarray:
        return np.array([value])

    lengths = np.diff(np.append(starts, grid.basof - grid.b0))
    spread = np.repeat((counted - value) / lengths, lengths)
    window = {"k": one(slo.k).astype(np.int64), "good_slices": one(float(value.sum())),
              "counted_slices": one(int(np.count_nonzero(counted))).astype(np.int64),
              "no_data_slices": one(int(np.count_nonzero((t == 0) & ~left_out & ~as_good))
                                    ).astype(np.int64),
              "all_slices": one(len(starts)).astype(np.int64), "ratio_mean": one(mean)}
    if not grid.days:
        return window, {}, spread
    day_start = np.array([d[0] for d in grid.days], np.int64)
    day_end = np.array([d[1] for d in grid.days], np.int64)
    first = starts + grid.b0
    day = np.searchsorted(day_start, first, side="right") - 1
    inside = (day >= 0) & (first < day_end[np.maximum(day, 0)])
    n = len(grid.days)
    per_day = {"k": np.full(n, slo.k, np.int64), "b_start": day_start,
               "good": np.bincount(day[inside], value[inside], n),
               "total": np.bincount(day[inside], counted[inside].astype(float), n)}
    return window, per_day, spread


def _judge(slo: SloInput, good: np.ndarray, total: np.ndarray, has: np.ndarray,
           skip: np.ndarray, forced: np.ndarray, at: slice, starts: np.ndarray
           ) -> tuple[np.ndarray, ...]:
    """The slices of ``at`` beginning at ``starts`` (offsets into it), judged as _slices says:
    their events, left-out and counted-good masks, ratios, whether each counts and its good
    value."""
    g = np.add.reduceat(good[at], starts)
    t = np.add.reduceat(total[at], starts)
    no_data = ~np.logical_or.reduceat(has[at], starts) | (t == 0)
    left_out = np.logical_or.reduceat(skip[at], starts)
    as_good = np.logical_or.reduceat(forced[at], starts) & ~left_out
    events = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(as_good, 1.0, np.where(events, g / np.where(events, t, 1.0), 0.0))
    if slo.ratio:
        counted = (events | as_good) & ~left_out
        value = np.where(counted, ratio, 0.0)
    else:
        judged_good = np.where(as_good, True, np.where(
            no_data, slo.no_data == "good", ratio >= slo.slice_target))
        counted = (~no_data | (slo.no_data != "skip") | as_good) & ~left_out
        value = (judged_good & counted).astype(float)
    return t, left_out, as_good, ratio, counted, value


def _units(grid: Grid, slo: SloInput, good: np.ndarray, total: np.ndarray, has: np.ndarray,
           skip: np.ndarray, forced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket, its slice's bad value and whether that slice counts (docs/slo-math.md,
    "Burn rate and alerts"): a window's burn is then sum(bad) / sum(counted) / B, the share
    of bad slices. The slices run on the window's grid (from b0) back over the lookback, so
    a burn window reaching before b0 sees the slices the budget would; the slice cut by the
    lookback's start and the one cut by as-of are judged on the buckets they have."""
    n = len(good)
    bad_u, counted_u = np.zeros(n), np.zeros(n)
    if grid.basof <= 0:
        return bad_u, counted_u
    size = max(1, slo.slice_b)
    starts = np.arange(grid.b0 % size, grid.basof, size)
    if starts.size == 0 or starts[0] > 0:
        starts = np.concatenate(([0], starts))
    *_, counted, value = _judge(slo, good, total, has, skip, forced, slice(0, grid.basof),
                                starts)
    lengths = np.diff(np.append(starts, grid.basof))
    bad_u[:grid.basof] = np.repeat(counted - value, lengths)
    counted_u[:grid.basof] = np.repeat(counted.astype(float), lengths)
    return bad_u, counted_u


def _table(parts: list[dict[str, np.ndarray]], schema: pa.Schema) -> pa.Table:
    parts = [p for p in parts if p]
    if not parts:
        return schema.empty_table()
    cols = {}
    for f in schema:
        values = np.concatenate([p[f.name] for p in parts])
        cols[f.name] = pa.array(values, f.type,
                                from_pandas=f.name.startswith("burn_") or f.name == "ratio_mean")
    return pa.table(cols, schema=schema)


Tables = tuple[pa.Table, pa.Table, pa.Table]


def compute(grid: Grid, slos: Sequence[SloInput]) -> Tables:
    """``snap`` (snapshot and firing rows), ``slices`` and ``slice_days`` (time-slice SLOs)
    of ``slos``."""
    snaps, slices, days = zip(*(_one(grid, s) for s in slos), strict=True) if slos \
        else ((), (), ())
    return (_table(list(snaps), SNAP_SCHEMA), _table(list(slices), SLICES_SCHEMA),
            _table(list(days), SLICE_DAYS_SCHEMA))


def _workers(n_slos: int) -> int:
    if multiprocessing.current_process().daemon:
        return 1  # a daemonic process (some task runners) may not start children
    return max(1, min(os.cpu_count() or 1, n_slos // MIN_SLOS_PER_PROCESS))


def _ready(_: int) -> None:
    return None


def run(grid: Grid, slos: Sequence[SloInput], processes: bool = True) -> Tables:
    """``compute`` over all SLOs, this process and one worker process per further core
    taking chunks of SLOs from one queue (a worker's start-up is then not a straggler).

    ``processes=False``: this process only. An orchestrator's task (one shard of a month)
    runs beside other tasks that the scheduler already spreads over the cores."""
    remote = any(p is not None and lake.remote(p) for s in slos for p in s.paths)
    workers = 1 if remote or not processes else _workers(len(slos))
    if workers == 1:
        return compute(grid, slos)
    chunks = deque(enumerate(slos[i:i + CHUNK] for i in range(0, len(slos), CHUNK)))
    done: dict[int, Tables] = {}
    lock = threading.Lock()
    failed = threading.Event()

    def take() -> tuple[int, Sequence[SloInput]] | None:
        with lock:
            return None if failed.is_set() or not chunks else chunks.popleft()

    def drain(pool: ProcessPoolExecutor | None) -> None:
        try:
            while (item := take()) is not None:
                done[item[0]] = (pool.submit(compute, grid, item[1]).result() if pool
                                 else compute(grid, item[1]))
        except BaseException:
            failed.set()  # the others stop taking chunks
            raise

    # fork, not spawn: spawn re-imports the caller's main module (a script without a main
    # guard would run again). The children only read files and run numpy.
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers - 1, mp_context=ctx) as pool, \
            ThreadPoolExecutor(workers) as feeders:
        # Fork every child now, before this process starts reading: a fork while another
        # thread holds an allocator or Arrow lock would copy the held lock into the child.
        list(pool.map(_ready, range(workers - 1)))
        futures: list[Future[None]] = [feeders.submit(drain, pool)
                                       for _ in range(workers - 1)]
        drain(None)
        for f in futures:
            f.result()
    parts = [done[i] for i in sorted(done)]
    return (pa.concat_tables([p[0] for p in parts]), pa.concat_tables([p[1] for p in parts]),
            pa.concat_tables([p[2] for p in parts]))
