"""The one way slo-jobs writes a file or publishes a folder: whole, or not at all.

Every output (lake partitions, monthly tables, reports, rule files, dashboards) goes through
:func:`write_file`: a temp file with a random name created with ``O_EXCL`` in the target's
folder, synced and renamed over the target, with mode ``0o666 & ~umask`` like any file the
user creates. :func:`publish_folder` does the same for a set of files that belong together
(a month's report, a month's tables): readers see the old set or the new one.
:func:`synced_together` lets many small files (an SLO's day partitions) be synced at once.

Neither follows a symbolic link it did not make. Below a folder the user chose (the lake,
the output folder: :func:`confined`), every folder is slo-jobs' own: a link planted at any
of them, or at the file or folder written, is refused in one line, so no write lands outside
the chosen folder.

This module sits at the bottom: it imports nothing of slo_jobs but the errors.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, TextIO

from ..core.errors import SloJobsError

TEMP_PREFIX = ".tmp-"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
_TRIES = 8  # a name taken (by a planted file or symlink) is skipped, never opened
_roots: set[str] = set()  # folders the user chose (absolute, as given)


def confined(folder: Path) -> Path:
    """``folder``, noted as chosen by the user: below it, no symbolic link is followed.

    The folder itself may be a link (a lake on another disk); what slo-jobs builds in it
    may not. Registered once per process by the code that takes the folder from the user.
    """
    _roots.add(os.path.abspath(folder))
    return folder


def _root_of(full: str) -> str | None:  # the innermost chosen folder ``full`` lies below
    return max((r for r in _roots if full.startswith(r.rstrip(os.sep) + os.sep)), key=len,
               default=None)


def _link_error(step: str, final: bool, error: type[SloJobsError]) -> SloJobsError:
    return error(f"{step}: a symbolic link where slo-jobs writes; expected a real "
                 f"{'file or folder' if final else 'folder'} (a link planted here could "
                 "publish or overwrite files elsewhere)")


def _is_link(name: str, folder: int) -> bool:  # relative to the folder's descriptor
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _Folders:
    """Descriptors of the folders files are written in (created where missing), each below
    a chosen folder opened from its parent's without following a link: no link planted
    even between a check and the write is followed. Kept for a synced_together block."""

    def __init__(self, error: type[SloJobsError]) -> None:
        self.error = error
        self.fds: dict[str, int] = {}

    def open(self, folder: str) -> int:
        fd = self.fds.get(folder)
        if fd is not None:
            return fd
        if _root_of(folder) is None:  # the chosen folder itself, or outside every one
            os.makedirs(folder, exist_ok=True)
            fd = os.open(folder, _DIR)
        else:
            parent, name = os.path.split(folder)
            at = self.open(parent)
            with suppress(FileExistsError):
                os.mkdir(name, dir_fd=at)
            try:
                fd = os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=at)
            except OSError:
                if _is_link(name, at):
                    raise _link_error(folder, False, self.error) from None
                raise
        self.fds[folder] = fd
        return fd

    def close(self) -> None:
        fds, self.fds = self.fds, {}
        for fd in fds.values():
            os.close(fd)

    def __enter__(self) -> _Folders:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _token() -> str:
    return secrets.token_hex(8)


def _create_temp(folder: int, name: str) -> tuple[int, str]:
    """A new temp file for ``name`` in the folder open as ``folder``: (descriptor, name)."""
    for _ in range(_TRIES):
        tmp = f"{TEMP_PREFIX}{name}-{_token()}"
        try:
            return os.open(tmp, _FLAGS, 0o666, dir_fd=folder), tmp  # 0o666 less the umask
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, f"no free temp name after {_TRIES} tries")


# A file filled but not yet in place: (temp's descriptor, folder's, temp's name, target).
_Temp = tuple[int, int, str, Path]


def _discard(files: list[_Temp]) -> None:
    """Close and delete these temp files."""
    for fd, folder, tmp, _ in files:
        os.close(fd)
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)


def _put(temp: _Temp) -> None:
    """Rename the synced temp file over its target and close it (or delete it)."""
    fd, folder, tmp, target = temp
    try:
        os.replace(tmp, target.name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError:
        _discard([temp])
        raise
    os.close(fd)


class _Pending:
    """Files filled in a :func:`synced_together` block, not yet synced or renamed."""

    def __init__(self, error: type[SloJobsError]) -> None:
        self.error = error
        self.files: list[_Temp] = []
        self.folders = _Folders(error)

    def finish(self) -> None:
        """Sync every file at once, then rename each over its target, in the order written."""
        files, self.files = self.files, []
        folder = files[0][3].parent if files else Path()
        try:
            # Syncs in flight together share the file system's journal commits: on a busy
            # disk, a day partition's sync alone waited several milliseconds.
            list(_syncer().map(os.fsync, [f[0] for f in files]))
            while files:
                _put(files.pop(0))
        except OSError as exc:
            raise self.error(f"{folder}: cannot write ({exc.strerror})") from None
        finally:
            _discard(files)
            self.folders.close()

    def discard(self) -> None:
        files, self.files = self.files, []
        _discard(files)
        self.folders.close()


# Files held open by one synced_together block before they are synced and renamed: bounds
# the descriptors of several writers at once (a month of partitions is about 30 to 150).
_MAX_PENDING = 64
_local = threading.local()


@functools.cache
def _syncer() -> ThreadPoolExecutor:
    """The threads that sync files, one pool per process started when first used (8,
    shared by every writer: a pool per block started and stopped 8 threads per SLO
    written, a sixth of the lake's write CPU)."""
    return ThreadPoolExecutor(8, thread_name_prefix="slo-jobs-sync")


# A forked child (an Airflow task) has none of its parent's threads: it starts its own.
os.register_at_fork(after_in_child=_syncer.cache_clear)


@contextmanager
def synced_together(error: type[SloJobsError] = SloJobsError) -> Iterator[None]:
    """Within the block, this thread's :func:`write_file` calls defer the sync and rename of
    each file to the block's end (or every ``_MAX_PENDING`` files), where they are synced
    concurrently and renamed in the order written: many small files cost the disk's latency
    about once instead of once each. A failure in the block renames nothing still pending."""
    if getattr(_local, "pending", None) is not None:
        yield  # nested: the outer block finishes the files
        return
    pending = _local.pending = _Pending(error)
    try:
        yield
        pending.finish()
    finally:
        _local.pending = None
        pending.discard()


def write_file(target: Path, fill: Callable[[BinaryIO], None] | bytes,
               error: type[SloJobsError] = SloJobsError) -> Path:
    """Write ``target`` whole: ``fill`` writes into a temp file that replaces it on success
    (or ``fill`` is the content).

    On any failure the temp file is removed, the old ``target`` stays as it was, and an
    ``error`` naming the file is raised (``fill``'s own SloJobsError passes through).
    Inside :func:`synced_together` the file replaces ``target`` at the block's end.
    """
    pending: _Pending | None = getattr(_local, "pending", None)
    folders = pending.folders if pending is not None else _Folders(error)
    try:
        return _write(target, fill, error, folders, pending)
    finally:
        if pending is None:
            folders.close()


def _write(target: Path, fill: Callable[[BinaryIO], None] | bytes,
           error: type[SloJobsError], folders: _Folders, pending: _Pending | None) -> Path:
    try:
        folder = _folder_of(target, folders)
        fd, tmp = _create_temp(folder, target.name)
    except OSError as exc:
        raise error(f"{target.parent}: cannot write ({exc.strerror})") from None
    temp: _Temp = (fd, folder, tmp, target)
    try:
        if isinstance(fill, bytes):
            # The content as it is: one write, no file object around the descriptor.
            view = memoryview(fill)
            while view:
                view = view[os.write(fd, view):]
        else:
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fill(fh)
        if pending is None:
            os.fsync(fd)
    except BaseException as exc:
        _discard([temp])
        if isinstance(exc, OSError):
            raise error(f"{target}: cannot write ({exc.strerror})") from None
        raise
    if pending is not None:
        pending.files.append(temp)
        if len(pending.files) >= _MAX_PENDING:
            pending.finish()
        return target
    try:
        _put(temp)
    except OSError as exc:
        raise error(f"{target}: cannot write ({exc.strerror})") from None
    return target


def _folder_of(path: Path, folders: _Folders) -> int:
    """The descriptor of ``path``'s folder, created where missing, no link followed below a
    chosen folder; ``path`` itself is refused if it is a link (a rename would replace it)."""
    at = folders.open(os.path.abspath(path.parent))
    if _is_link(path.name, at):
        raise _link_error(os.path.abspath(path), True, folders.error)
    return at


def open_lock_file(path: Path, error: type[SloJobsError] = SloJobsError) -> TextIO:
    """``path`` opened to hold a lock on (created if missing), never through a link."""
    try:
        with _Folders(error) as folders:
            fd = os.open(path.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o666, dir_fd=_folder_of(path, folders))
    except OSError as exc:
        raise error(f"{path}: cannot open lock file ({exc.strerror})") from None
    return os.fdopen(fd, "a")


def write_text(target: Path, text: str, error: type[SloJobsError] = SloJobsError) -> Path:
    return write_file(target, text.encode("utf-8"), error)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2

def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step (Linux ``renameat2``); False where the
    system or file system cannot (e.g. NFS), for the caller's fallback."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _lock(folder: Path, block: bool = True) -> int | None:
    """An exclusive lock on ``folder`` (its descriptor), or None if another process holds it.

    A writer holds its stage folder's lock while it builds; the kernel drops it when the
    writer dies, even by SIGKILL, so an unlocked stage is one a killed writer left.
    """
    fd = os.open(folder, _DIR | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _remove_stale_stages(target: Path) -> None:
    """Remove the folders killed writers of ``target`` left half built: those no writer
    holds locked (a writer at work keeps its own). No clock is read."""
    for old in target.parent.glob(f"{TEMP_PREFIX}{target.name}-*"):
        try:
            if not old.is_dir() or old.is_symlink():
                continue
            fd = _lock(old, block=False)
        except OSError:
            continue
        if fd is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.close(fd)


@contextmanager
def publish_folder(target: Path, error: type[SloJobsError] = SloJobsError,
                   drop: Collection[str] = ()) -> Iterator[Path]:
    """Build the new content of the folder ``target`` in the folder yielded, then publish it.

    The new folder is built beside ``target`` and the two are exchanged in one step, so a
    reader sees the old set of files or the new set, never a mix (one that must read
    several files opens the folder once and reads through that descriptor).  Files of the
    old set that the new one does not write are carried over (hard links), so writing part
    of a set (one format, one service) keeps the rest, except the files named in ``drop``.
    If the body fails, ``target`` is untouched and the new folder removed.
    """
    parent = target.parent
    try:
        with _Folders(error) as folders:
            _folder_of(target, folders)  # creates it; refuses links on the way
        _remove_stale_stages(target)
        stage = parent / f"{TEMP_PREFIX}{target.name}-{_token()}"
        stage.mkdir()
        held = _lock(stage)
    except OSError as exc:
        raise error(f"{target}: cannot create a new version ({exc.strerror})") from None
    try:
        yield stage
        if target.is_dir():
            for entry in target.iterdir():
                if entry.name.startswith(TEMP_PREFIX) or entry.name in drop \
                        or (stage / entry.name).exists():
                    continue
                # Only the regular files of the old set carry over, never through a link.
                if entry.is_symlink():
                    raise _link_error(os.path.abspath(entry), True, error)
                if entry.is_file():
                    try:
                        os.link(entry, stage / entry.name, follow_symlinks=False)
                    except OSError:
                        shutil.copy2(entry, stage / entry.name, follow_symlinks=False)
            if not _exchange(stage, target):
                # No atomic exchange here: two renames, with a moment without the folder.
                old = parent / f"{TEMP_PREFIX}{target.name}-{_token()}"
                os.rename(target, old)
                os.rename(stage, target)
                stage = old
        else:
            os.rename(stage, target)
            return
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise error(f"{target}: cannot publish the new version ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if held is not None:
            os.close(held)
    shutil.rmtree(stage, ignore_errors=True)  # now the old set
