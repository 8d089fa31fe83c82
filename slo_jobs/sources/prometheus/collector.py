"""Fewer garbage collections while Prometheus answers are decoded.

A raw-sample answer decodes into thousands of small lists (one per point) that live only
until they are converted to arrays.  With CPython's default threshold (a young collection
every 700 new container objects, a full one every 100 young ones) those short-lived lists
set off a full collection every few dozen answers, and each full collection walks every
object the process holds: in a process that has imported pandas, pyarrow and DuckDB, that
was about 30 % of the CPU spent fetching and decoding (``bench/extract.py``).  The
points are freed by reference counting, not by the collector, so collecting less often
while extracting loses nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Net new container objects between young collections while extracting: above the lists of
# a few answers in flight at once, so answers alone no longer set collections off.
THRESHOLD = 20_000

_lock = threading.Lock()
_users = 0
_saved: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold for the duration, then restore it.

    Safe to nest and to enter from several threads: the first entrant raises it, the last
    one out puts the previous thresholds back.
    """
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            gen0, *rest = _saved
            gc.set_threshold(max(gen0, THRESHOLD), *rest)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_saved)
