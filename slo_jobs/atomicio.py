"""The one way slo-jobs writes a file or publishes a folder: whole, or not at all.

Every output (lake partitions, monthly tables, reports, rule files, dashboards) goes through
:func:`write_file`: a temp file with a random name created with ``O_EXCL`` in the target's
folder (never following a planted symlink), flushed, synced and renamed over the target.
Files end with mode ``0o666 & ~umask`` like any file the user creates, not ``mkstemp``'s
0600.  :func:`publish_folder` does the same for a set of files that belong together
(a month's report, a month's computed tables): readers see the old set or the new one.

This module sits at the bottom: it imports nothing of slo_jobs but the errors.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import SloJobsError

TEMP_PREFIX = ".tmp-"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
_TRIES = 8  # a name taken (by a planted file or symlink) is skipped, never opened


def _token() -> str:
    return secrets.token_hex(8)


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    for _ in range(_TRIES):
        tmp = folder / f"{TEMP_PREFIX}{name}-{_token()}"
        try:
            # 0o666: the kernel applies the umask, as for any file the user creates.
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, f"no free temp name after {_TRIES} tries")


def write_file(target: Path, fill: Callable[[BinaryIO], None],
               error: type[SloJobsError] = SloJobsError) -> Path:
    """Write ``target`` whole: ``fill`` writes into a temp file that replaces it on success.

    On any failure the temp file is removed, the old ``target`` stays as it was, and an
    ``error`` naming the file is raised (``fill``'s own SloJobsError passes through).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(target.parent, target.name)
    except OSError as exc:
        raise error(f"{target.parent}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise error(f"{target}: cannot write ({exc.strerror})") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return target


def write_bytes(target: Path, data: bytes, error: type[SloJobsError] = SloJobsError) -> Path:
    def fill(fh: BinaryIO) -> None:
        fh.write(data)

    return write_file(target, fill, error)


def write_text(target: Path, text: str, error: type[SloJobsError] = SloJobsError) -> Path:
    return write_bytes(target, text.encode("utf-8"), error)


def _version_of(target: Path) -> Path | None:
    """The folder ``target`` (a symlink) points at, or None if it is not one of ours."""
    if not target.is_symlink():
        return None
    pointed = target.parent / os.readlink(target)
    return pointed if pointed.parent == target.parent and pointed.name.startswith(
        f".{target.name}.v-") else None


@contextmanager
def publish_folder(target: Path, error: type[SloJobsError] = SloJobsError
                   ) -> Iterator[Path]:
    """Build a new version of the folder ``target`` in the folder yielded, then publish it.

    ``target`` becomes a symlink to a hidden versioned folder beside it
    (``.<name>.v-<random>``); publishing swaps the symlink with one ``rename``, so a reader
    opening ``target/<file>`` gets the old set or the new set, never a mix.  Files of the
    old version that the new one does not write are carried over (hard links), so writing
    part of a set (one format, one service) keeps the rest.  If the body fails, the new
    version is removed and ``target`` is untouched.
    """
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = parent / f".{target.name}.v-{_token()}"
        stage.mkdir()
    except OSError as exc:
        raise error(f"{target}: cannot create a new version ({exc.strerror})") from None
    try:
        yield stage
        old = _version_of(target) or (target if target.is_dir() and not target.is_symlink()
                                      else None)
        if old is not None:
            for entry in old.iterdir():
                if entry.is_file() and not entry.name.startswith(TEMP_PREFIX) \
                        and not (stage / entry.name).exists():
                    try:
                        os.link(entry, stage / entry.name)
                    except OSError:
                        shutil.copy2(entry, stage / entry.name)
        if target.is_dir() and not target.is_symlink():
            # A plain folder from an earlier version of slo-jobs: moved aside once (the
            # only moment a reader may find no folder), a symlink from then on.
            legacy = parent / f".{target.name}.v-{_token()}"
            os.rename(target, legacy)
            old = legacy
        link = parent / f"{TEMP_PREFIX}{target.name}-{_token()}"
        os.symlink(stage.name, link)
        try:
            os.replace(link, target)
        except OSError:
            os.unlink(link)
            raise
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise error(f"{target}: cannot publish the new version ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
