"""Where the lake lives, behind one interface: :class:`Storage`, a file or folder of the lake
and what the lake does with it there, implemented by :class:`Disk` (a local folder, a
:class:`~pathlib.Path`) and :class:`ObjectStorage` (a prefix on an S3-compatible object
store, an :class:`~slo_jobs.lake.objectstore.ObjectPath`). :func:`location` makes a lake's
root from what the user named and :func:`storage_of` picks the implementation for a path: they
are the only code that tells the two apart.

- a file is written whole: on a disk to a temp file beside it, renamed over it
  (:mod:`atomicio`); on a store in one PUT of the complete file;
- a read-merge-write (``lake.update``) loses no concurrent writer's change: on a disk its
  writer holds the SLO's lock file (``flock``, the file opened with ``O_NOFOLLOW``); on a
  store the new version is PUT only over the version read (``If-Match``, or
  ``If-None-Match: *``), and merged again when that fails;
- a set of files published together: on a disk built in a folder beside its own and
  exchanged with it in one step; on a store PUT in place, then named by the set's manifest
  (:mod:`objectsets`), through which it is read;
- on a disk no symbolic link planted below the lake's folder is followed
  (:mod:`atomicio` opens each folder from its parent's descriptor).

Either way readers see the old or the new file, never half of one.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import pyarrow as pa

from ..core.errors import LakeError
from . import atomicio, objectsets
from .objectsets import SetName
from .objectstore import SCHEME, ObjectPath, ObjectStoreConfig, parse_url

# A lake's root and every path in it: a local folder or an object store prefix.
LakeDir = Path | ObjectPath
Fill = Callable[[BinaryIO], None]  # writes a file's content into the stream it is given


class Storage(Protocol):
    """A file or folder of the lake, and how it is read and written where it lives."""

    # Reads wait on the network: many of them run in threads of one process (a forked
    # child must not share the store client's connections).
    remote: bool

    def write(self, fill: Fill | bytes) -> None:
        """Replace the file whole by what ``fill`` writes (or by ``fill``, the content)."""

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        """The file (None: there is none) and which version it is, for :meth:`write_if`."""

    def write_if(self, data: bytes, version: str | None) -> bool:
        """Replace the file by ``data`` if it is still ``version`` (None: still absent);
        False when another writer came between."""

    def read(self, in_set: bool = False) -> bytes:
        """The whole file; ``in_set``: as a file of its folder's published set."""

    def source(self, in_set: bool = False) -> Path | pa.BufferReader:
        """The Parquet file for pyarrow to read, all of it at one version."""

    def in_set(self) -> bool:
        """Whether the file is one of its folder's published set."""

    def present(self, names: Sequence[str]) -> list[bool]:
        """Whether each of the files ``names`` (relative paths) below this folder is there."""

    def may_hold(self, key: bytes) -> bool:
        """False when the Parquet file surely holds no metadata ``key`` (a look cheaper than
        parsing its footer); True when it may."""

    def may_exist(self) -> bool:
        """False when this folder surely does not exist (a look cheaper than listing it);
        True when it may."""

    def lock(self) -> AbstractContextManager[None]:
        """Hold this lock file exclusively while the block runs."""

    def remove_temps(self) -> int:
        """Delete the temp files killed writers left in this folder; how many."""

    def publish(self) -> AbstractContextManager[LakeDir]:
        """Write a set of files that belong together into the folder yielded: readers see
        this folder's old set or the new one."""

    def remove(self) -> None:
        """Delete this folder, all below it, and its parent if that is left empty."""


def location(where: str | Path, config: ObjectStoreConfig | None = None) -> LakeDir:
    """The lake at ``where``: ``s3://bucket/prefix`` (``config`` defaults to the AWS_*
    environment) or a folder."""
    text = str(where)
    if text.startswith(SCHEME):
        return parse_url(text, config)
    if "://" in text:
        raise LakeError(f"lake {text!r}: expected a folder or s3://bucket/prefix")
    return atomicio.confined(Path(text))  # no link below it is followed when writing


def storage_of(path: LakeDir) -> Storage:
    """``path`` where it lives."""
    return ObjectStorage(path) if isinstance(path, ObjectPath) else Disk(path)


@dataclass(frozen=True)
class Disk:
    """A file or folder below a lake folder."""

    path: Path
    remote = False

    def write(self, fill: Fill | bytes) -> None:
        atomicio.write_file(self.path, fill, LakeError)

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        try:
            return self.path.read_bytes(), None
        except FileNotFoundError:
            return None, None

    def write_if(self, data: bytes, version: str | None) -> bool:
        # The writer holds the SLO's lock (lake.slo_lock): no other came between.
        atomicio.write_file(self.path, data, LakeError)
        return True

    def read(self, in_set: bool = False) -> bytes:
        return self.path.read_bytes()

    def source(self, in_set: bool = False) -> Path:
        # A folder's set is exchanged whole: the file opened is of one set.
        return self.path

    def in_set(self) -> bool:
        return self.path.exists()

    def present(self, names: Sequence[str]) -> list[bool]:
        return [(self.path / name).exists() for name in names]

    def may_hold(self, key: bytes) -> bool:
        """The footer stores a key's bytes as they are (Thrift), so a footer without them
        has no such key: most partitions have none, and this raw look (one open, two small
        reads) is a seventh of parsing the footer, which the report does for 30 partitions
        per SLO."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(-8, 2)
                tail = fh.read(8)
                size = int.from_bytes(tail[:4], "little")
                if tail[4:] != b"PAR1" or fh.seek(0, 2) < size + 12:
                    return True  # not a plain Parquet file: the parser decides
                fh.seek(-8 - size, 2)
                return key in fh.read(size)
        except FileNotFoundError:
            return False
        except OSError:
            return True

    def may_exist(self) -> bool:
        return self.path.is_dir()

    @contextmanager
    def lock(self) -> Iterator[None]:
        # The kernel drops the lock when its holder dies, even by SIGKILL.
        with atomicio.open_lock_file(self.path, LakeError) as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def remove_temps(self) -> int:
        removed = 0
        try:
            entries = list(os.scandir(self.path))
        except (FileNotFoundError, NotADirectoryError):
            return 0
        for entry in entries:
            if entry.name.startswith(atomicio.TEMP_PREFIX):
                (self.path / entry.name).unlink(missing_ok=True)
                removed += 1
        return removed

    def publish(self) -> AbstractContextManager[Path]:
        return atomicio.publish_folder(self.path, LakeError)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.path.parent.rmdir()  # only when nothing else is there
        except OSError:
            pass


def set_name(folder: ObjectPath) -> SetName:
    """How errors name the set published at ``folder`` and what writes it again."""
    if folder.parent.name == "monthly" and folder.name.startswith("month="):
        label = folder.name.removeprefix("month=")
        return SetName(f"month {label}",
                       f"re-run the merge (or slo-jobs compute --month {label})")
    if folder.name.startswith("shard=") and folder.parent.name.startswith("month="):
        label = folder.parent.name.removeprefix("month=")
        return SetName(f"shard {folder.name.removeprefix('shard=')} of month {label}",
                       f"re-run the month's compute_shard tasks (or slo-jobs compute "
                       f"--month {label})")
    return SetName(f"the set {folder}", "write it again")


@dataclass(frozen=True)
class ObjectStorage:
    """An object, or a prefix ("folder"), below a lake's prefix on an object store. A PUT
    that did not finish left nothing: no temp files, no lock needed (see :meth:`write_if`)."""

    path: ObjectPath
    remote = True

    def write(self, fill: Fill | bytes) -> None:
        if isinstance(fill, bytes):
            self.path.put(fill)  # one PUT of the whole file
            return
        buffer = io.BytesIO()
        fill(buffer)
        self.path.put(buffer.getvalue())

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        return self.path.read_versioned()  # one GET: body and ETag of one version

    def write_if(self, data: bytes, version: str | None) -> bool:
        return self.path.put_if(data, version) is not None

    def read(self, in_set: bool = False) -> bytes:
        if in_set:
            return objectsets.read(self.path, set_name(self.path.parent))
        return self.path.read_bytes()

    def source(self, in_set: bool = False) -> pa.BufferReader:
        # One GET of the whole object: ranged reads could mix two versions of it.
        return pa.BufferReader(pa.py_buffer(self.read(in_set)))

    def in_set(self) -> bool:
        return objectsets.exists(self.path, set_name(self.path.parent))

    def present(self, names: Sequence[str]) -> list[bool]:
        if not names:
            return []
        listed = {p.key for p in self.path.below()}  # one listing, not a request per file
        return [(self.path / name).key in listed for name in names]

    def may_hold(self, key: bytes) -> bool:
        return True  # finding out costs the GET that reads the file

    def may_exist(self) -> bool:
        return True  # a prefix has no cheap existence test: finding out costs a listing

    def lock(self) -> AbstractContextManager[None]:
        return nullcontext()

    def remove_temps(self) -> int:
        return 0

    def publish(self) -> AbstractContextManager[ObjectPath]:
        return objectsets.publish(self.path, set_name(self.path))

    def remove(self) -> None:
        for obj in self.path.below():  # an empty prefix is no folder: nothing above to remove
            obj.unlink(missing_ok=True)
