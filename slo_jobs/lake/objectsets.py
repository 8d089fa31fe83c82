"""Sets of objects published together on an object store (a month's tables, a shard's
folder), and read as one version.

A folder is published by exchanging it with its new version in one step
(:func:`slo_jobs.lake.atomicio.publish_folder`); a bucket cannot exchange two prefixes, so a
set's files are PUT in place, one by one. A reader running meanwhile, or after a writer was
killed half-way, would find some new and some old files. So the set's last write is its
manifest, ``<folder>/_set.json``: every file of the set and the ETag its PUT returned,
written with a conditional PUT over the manifest version read when the set began (of two
writers of one set, the later one fails instead of naming the other's files). A reader
reads each file with ``If-Match: <the ETag the manifest names>``: it gets that version or a
412, and never a file of another set in its place. Files the new set did not write are
deleted after the manifest. A folder without a manifest (written before sets had one) is
read as it is.

See docs/architecture.md, "The lake on an object store".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..core.errors import LakeError
from .objectstore import ObjectPath

MANIFEST = "_set.json"
# Seconds to wait before each new look at the manifest when a file is not the version it
# names: at once first (a set published since the manifest was read), then a writer that is
# half-way gets a moment to finish before the read fails.
WAITS = (0.0, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class SetName:
    """How errors name a set and its fix: ``month 2026-09``, ``re-run the merge ...``."""

    what: str
    fix: str


@dataclass(frozen=True)
class Manifest:
    etag: str | None  # the manifest's own version; None: the folder has no manifest
    files: Mapping[str, str]  # file name -> ETag


@dataclass
class _Seen:
    manifest: Manifest
    read: bool = False  # a file was read at this version: a newer one would mix two sets


# The manifests of the sets read so far in a :func:`pinned` block (None outside of one).
_SEEN: ContextVar[dict[ObjectPath, _Seen] | None] = ContextVar("slo_jobs_sets", default=None)


@contextmanager
def pinned() -> Iterator[None]:
    """Within the block, each set's manifest is read once, and every file of a set comes
    from one version of it: a set replaced after one of its files was read fails the next
    read of a replaced file instead of mixing the two. Nested blocks share the outer one."""
    if _SEEN.get() is not None:
        yield
        return
    token = _SEEN.set({})
    try:
        yield
    finally:
        _SEEN.reset(token)


def _bare(etag: str) -> str:
    return etag.strip('"')


def load(folder: ObjectPath, name: SetName) -> Manifest:
    """The manifest of the set at ``folder``, body and ETag from one GET."""
    path = folder / MANIFEST
    data, etag = path.read_versioned()
    if data is None:
        return Manifest(None, {})
    try:
        files = json.loads(data.decode("utf-8"))["files"]
        if not (isinstance(files, dict) and all(isinstance(v, str) for v in files.values())):
            raise TypeError("files is not an object of ETags")
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"{path}: not a set manifest ({exc.__class__.__name__}); expected "
                        f"JSON naming each file of {name.what} and its ETag: "
                        f"{name.fix}") from None
    return Manifest(etag, files)


def _manifest(folder: ObjectPath, name: SetName, fresh: bool) -> tuple[Manifest, bool]:
    """The set's manifest, from the :func:`pinned` block unless ``fresh``; and whether it
    was read just now."""
    seen = _SEEN.get()
    entry = None if seen is None else seen.get(folder)
    if entry is not None and not fresh:
        return entry.manifest, False
    got = load(folder, name)
    if entry is not None and entry.read and got.etag != entry.manifest.etag:
        raise LakeError(f"{folder / MANIFEST}: {name.what} was replaced while it was read; "
                        "expected one version of it throughout: read it again")
    if seen is not None:
        seen[folder] = _Seen(got, read=entry is not None and entry.read)
    return got, True


def _mark_read(folder: ObjectPath) -> None:
    seen = _SEEN.get()
    if seen is not None and folder in seen:
        seen[folder].read = True


def exists(path: ObjectPath, name: SetName) -> bool:
    """Whether ``path`` is a file of its folder's set (a file the manifest does not name
    is not, even if an object is there); without a manifest, whether the object is."""
    folder = path.parent
    got, fresh = _manifest(folder, name, fresh=False)
    if got.etag is not None and path.name not in got.files and not fresh:
        got, fresh = _manifest(folder, name, fresh=True)  # perhaps added since
    return path.exists() if got.etag is None else path.name in got.files


def read(path: ObjectPath, name: SetName) -> bytes:
    """The file ``path`` of its folder's set, at the version the set's manifest names (one
    GET with ``If-Match``). FileNotFoundError when the set has no such file; a LakeError
    when the file stays another version than the manifest names (a writer is half-way
    through replacing the set, or was stopped half-way)."""
    folder = path.parent
    got, fresh = _manifest(folder, name, fresh=False)
    waits = iter(WAITS)
    while True:
        if got.etag is None:  # a set written before sets had manifests: as it is
            whole = path.read_bytes()
            _mark_read(folder)
            return whole
        want = got.files.get(path.name)
        if want is None and fresh:
            raise FileNotFoundError(str(path))
        data = None if want is None else path.read_if(want)
        if data is not None:
            _mark_read(folder)
            return data
        wait = next(waits, None)
        if wait is None:
            assert want is not None
            raise _interrupted(path, want, name)
        time.sleep(wait)
        got, fresh = _manifest(folder, name, fresh=True)


def _interrupted(path: ObjectPath, want: str, name: SetName) -> LakeError:
    found = path.etag()
    shown = "no object" if found is None else f"version {_bare(found)}"
    return LakeError(f"{path}: found {shown}; expected version {_bare(want)}, the one "
                     f"{MANIFEST} names: {name.what} is being replaced, or its replacement "
                     f"was interrupted: {name.fix}")


@contextmanager
def publish(folder: ObjectPath, name: SetName) -> Iterator[ObjectPath]:
    """Write the set's files into the folder yielded (each PUT in place); then, unless the
    block failed, write the manifest naming them and delete the folder's other files."""
    manifest = folder / MANIFEST
    _, begun = manifest.read_versioned()  # the version this set is to replace
    written: dict[str, str] = {}
    yield folder.recording(written)
    prefix = f"{folder.key}/" if folder.key else ""
    files = {key[len(prefix):]: etag for key, etag in written.items()
             if key.startswith(prefix) and "/" not in key[len(prefix):]
             and key[len(prefix):] != MANIFEST}
    # Listed before the manifest is written: a writer that starts after it cannot lose
    # files it writes to this one's clean-up (barring one that rewrites a stale name).
    stale = [o for o in folder.glob("*") if o.name not in files and o.name != MANIFEST]
    body = json.dumps({"files": dict(sorted(files.items()))}, indent=1) + "\n"
    etag = manifest.put_if(body.encode(), begun)
    if etag is None:
        raise LakeError(f"{manifest}: another writer published {name.what} while this one "
                        f"wrote it; expected one writer of it at a time (theirs stands; "
                        f"files both wrote fail to read until it is written again): "
                        f"{name.fix}")
    seen = _SEEN.get()
    if seen is not None:  # this block's later reads are of the set just written
        seen[folder] = _Seen(Manifest(etag, files))
    for obj in stale:
        obj.unlink(missing_ok=True)
