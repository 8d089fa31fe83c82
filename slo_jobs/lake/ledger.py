"""The delivery ledger: one small record per message sent, so that a re-run, a retry or a
backfill never sends the same message twice.

Layout::

    <lake>/delivered/period=<label>/<channel>/<key>.json

``label`` is the period the message is about (``2026-09``, ``2026-Q3``), ``channel`` how it
went (``email``, ``chat``, ``publish``, ``budget``) and ``key`` whom or what it was for (a
team, an SLO and threshold). A record is created once, never replaced: on a disk by a temp
file renamed into place under a lock after checking the name is free, on an object store by
a PUT with ``If-None-Match: *`` (:meth:`storage.Storage.write_if` with no version).

It lives in the lake, not beside the report, because the report's folder is replaced whole
when a month is rendered again, and the record of what readers were sent must outlive that.
A send that succeeded but whose record was not written (the task killed in between) is sent
again by the retry: delivery is at least once, never silently dropped.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ..core.errors import LakeError
from ..core.names import SAFE_NAME
from .storage import LakeDir, storage_of

ROOT = "delivered"
# Period labels (core.periods): 2026, 2026-09, 2026-Q3, 2026-W38.
_LABEL = re.compile(r"\A[0-9]{4}(?:-(?:[0-9]{2}|Q[1-4]|W[0-9]{2}))?\Z")


def _name(kind: str, value: str) -> str:
    # Keys are built from spec names (teams, SLOs), validated there; paths are built here.
    if not (_LABEL if kind == "period" else SAFE_NAME).match(value):
        raise LakeError(f"delivery {kind} {value!r} is not safe as a lake path")
    return value


def record_path(lake: LakeDir, label: str, channel: str, key: str) -> LakeDir:
    return (lake / ROOT / f"period={_name('period', label)}" / _name("channel", channel)
            / f"{_name('key', key)}.json")


def sent(lake: LakeDir, label: str, channel: str, key: str) -> dict[str, Any] | None:
    """The record of this message, None if it was never sent."""
    data, _ = storage_of(record_path(lake, label, channel, key)).read_versioned()
    if data is None:
        return None
    record: dict[str, Any] = json.loads(data)
    return record


def mark_sent(lake: LakeDir, label: str, channel: str, key: str,
              detail: dict[str, Any], as_of: datetime) -> bool:
    """Record that the message went out; False when a record was already there (another run
    sent it first), which is kept as it was. ``as_of`` is the instant the message spoke for
    (the run's data interval end): the ledger reads no clock, so a record is the same
    whenever its run ran; when it was sent is the task's log."""
    record = {"period": label, "channel": channel, "key": key, "as_of": as_of.isoformat(),
              **detail}
    body = json.dumps(record, sort_keys=True, default=str).encode()
    path = record_path(lake, label, channel, key)
    # On a disk the lock makes "absent, then written" one step; a store's conditional PUT
    # is that step by itself (its lock holds nothing).
    with storage_of(lake / ".locks" / f"delivered-{label}-{channel}-{key}.lock").lock():
        where = storage_of(path)
        if where.read_versioned()[0] is not None:
            return False
        return where.write_if(body, None)
