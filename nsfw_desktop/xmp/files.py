"""Reading and replacing a sidecar that other programs share.

darktable, digiKam and sync tools write the same sidecars, so a change of ours
lands only on the sidecar we read: what was read is remembered (inode, size,
modification time), compared again just before the new one takes its place,
and a sidecar changed meanwhile raises ``ChangedMeanwhile`` so the caller reads
it again. A sidecar marked read-only (the file, or its folder) is left alone.
A sidecar we update keeps its permissions, owner and extended attributes (they
are copied onto the new file) and its hard links (it is then written in place).
Links are never followed: one may point out of the photo's folder.

The new file is written beside the sidecar as ``.NAME.<random>.nsfw-desktop.tmp``
and held locked while it exists; a run that finds such a file nobody holds (a
killed run's) removes it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: a temporary file is stale by its age alone
    fcntl = None  # type: ignore[assignment]  # mypy types the name as the module; None says there is none

MAX_SIDECAR_BYTES = 64 * 1024 * 1024  # darktable's edit histories stay far below this
TEMP_SUFFIX = ".nsfw-desktop.tmp"
STALE_AFTER_S = 5.0 if fcntl else 3600.0  # a live writer holds its file for milliseconds


class SidecarError(Exception):
    """A sidecar that was left as it is; the message says which and why, for the user."""


class ChangedMeanwhile(Exception):
    """Another program changed the sidecar after we read it: read it again."""


@dataclass(frozen=True)
class Snapshot:
    """A sidecar as it was read: its bytes (None: there was none) and its identity."""

    data: bytes | None
    identity: tuple[int, int, int] | None = None  # inode, size, mtime_ns


def read(path: Path) -> Snapshot:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return Snapshot(None)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SidecarError(f"{path} is a symbolic link; tags are not written through links, "
                               "so it was left as it is") from None
        raise SidecarError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SidecarError(f"{path} is not a regular file; it was left as it is")
        if info.st_size > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{path} is larger than {MAX_SIDECAR_BYTES // 2**20} MiB; it was "
                               "left as it is")
        try:
            data = handle.read()
        except OSError as exc:
            raise SidecarError(f"cannot read {path}: {exc.strerror}") from None
    return Snapshot(data, _identity(info))


def write(path: Path, data: bytes | None, before: Snapshot, photo: str) -> None:
    """Make ``path`` hold ``data`` (None: remove it), provided it is still what ``before``
    read; else ChangedMeanwhile. A new sidecar gets the photo's permissions."""
    problem = _read_only(path, before)
    if problem:
        raise SidecarError(f"{problem}, so it was left as it is (make it writable to keep "
                           "its tags up to date)")
    try:
        if before.identity is None:
            _create(path, data, photo)
        elif data is None:
            _check_unchanged(path, before)
            os.unlink(path)
        else:
            info = os.lstat(path)
            if info.st_nlink > 1:
                _overwrite(path, data, before)  # a new file would leave the other links behind
            else:
                _replace(path, data, before, info)
    except OSError as exc:
        raise SidecarError(f"cannot write {path}: {exc.strerror or exc}") from None


def remove_stale_temporaries(folder: Path, names: list[str]) -> None:
    """Remove the temporary files a killed run of ours left in ``folder`` (``names``: its listing)."""
    for name in names:
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                _remove_if_abandoned(os.path.join(folder, name))


def _remove_if_abandoned(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if time.time() - os.fstat(fd).st_mtime < STALE_AFTER_S:
            return
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a live writer holds it
        os.unlink(path)
    finally:
        os.close(fd)


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_ino, info.st_size, info.st_mtime_ns


def _check_unchanged(path: Path, before: Snapshot) -> None:
    try:
        now = _identity(os.lstat(path))
    except FileNotFoundError:
        raise ChangedMeanwhile from None
    if now != before.identity:
        raise ChangedMeanwhile


def _read_only(path: Path, before: Snapshot) -> str | None:
    """Why the user asked us not to write ``path``: the file or its folder has no write
    permission (by its mode bits too, which root's access check would pass)."""
    if before.identity is not None:
        info = os.lstat(path)
        if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
            return f"{path} is read-only"
    folder = path.parent
    if not os.stat(folder).st_mode & 0o222 or not os.access(folder, os.W_OK):
        return f"{path}'s folder is read-only"
    return None


@contextlib.contextmanager
def _temporary(path: Path, data: bytes, mode: int) -> Iterator[tuple[int, str]]:
    """A locked temporary file beside ``path`` holding ``data``, fsynced; removed unless
    the block moves it away."""
    tmp = os.fspath(path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        yield fd, tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.close(fd)


def _create(path: Path, data: bytes | None, photo: str) -> None:
    if data is None:
        return
    mode = stat.S_IMODE(os.stat(photo).st_mode) & 0o666
    with _temporary(path, data, mode) as (_fd, tmp):
        try:
            os.link(tmp, path)  # never over a sidecar another program created meanwhile
        except FileExistsError:
            raise ChangedMeanwhile from None


def _replace(path: Path, data: bytes, before: Snapshot, info: os.stat_result) -> None:
    with _temporary(path, data, stat.S_IMODE(info.st_mode)) as (fd, tmp):
        if not _copy_owner_and_attributes(path, fd, info):
            _overwrite(path, data, before)
            return
        _check_unchanged(path, before)
        os.replace(tmp, path)


def _copy_owner_and_attributes(path: Path, fd: int, info: os.stat_result) -> bool:
    """Give the new file the sidecar's owner and extended attributes; False when that
    cannot be done (another user's file, an attribute we may not set)."""
    try:
        if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, info.st_uid, info.st_gid)
        if hasattr(os, "listxattr"):
            for name in os.listxattr(path, follow_symlinks=False):
                os.setxattr(fd, name, os.getxattr(path, name, follow_symlinks=False))
    except OSError:
        return False
    return True


def _overwrite(path: Path, data: bytes, before: Snapshot) -> None:
    """Write the sidecar's own file in place: its links, owner and attributes stay."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        if _identity(os.fstat(fd)) != before.identity:
            raise ChangedMeanwhile
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
