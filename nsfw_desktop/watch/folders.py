"""Which watched folders are online, and the switch between online and offline.

A watched folder can be deleted, moved or unmounted while watched, and come
back later (a drive plugged in again). The kernel sends no event a watcher can
rely on for an unmount, so the worker thread calls ``check`` every few seconds;
it compares each folder's (st_dev, st_ino) with the one being watched.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable

from nsfw_desktop.watch.events import FolderOffline, FolderOnline, WatchEvent, WatchWarning
from nsfw_desktop.watch.observers import Observers

logger = logging.getLogger(__name__)


class WatchedFolders:
    """The folders to watch, as the user named them, and which of them are watched now.

    Owned by the worker thread, except ``names``, ``under`` and ``as_watched``,
    which observer threads call: what they read is replaced whole, never
    changed in place.
    """

    def __init__(self, names: tuple[str, ...], emit: Callable[[WatchEvent], None],
                 forget_under: Callable[[str], None]):
        self.names = names
        self.observers: Observers | None = None  # made by the worker thread
        self._emit = emit
        self._forget_under = forget_under  # drops what is pending under a folder no longer watched
        self._online: dict[str, tuple[int, int]] = {}  # folder -> (st_dev, st_ino) being watched
        self._linked: tuple[tuple[str, str], ...] = ()  # (real path, folder) of symbolic links
        self._reported_offline: set[str] = set()

    @property
    def _started(self) -> Observers:
        assert self.observers is not None, "the worker thread makes them before it watches a folder"
        return self.observers

    def go_online(self, folder: str) -> bool:
        """Watch ``folder`` if it is there; True when it is watched now (catch up on it)."""
        identity = _folder_identity(folder)
        if identity is None:
            self._report_offline(folder, "the folder is not there (deleted, moved or not mounted)")
            return False
        try:
            warning = self._started.watch(folder)
        except OSError as exc:
            self._report_offline(folder, f"the folder cannot be watched: {exc.strerror or exc}")
            return False
        self._online[folder] = identity
        real = os.path.realpath(folder)
        self._linked = (*((r, f) for r, f in self._linked if f != folder),
                        *([(real, folder)] if real != folder else []))
        self._reported_offline.discard(folder)
        self._emit(FolderOnline(folder))
        if warning:
            self._emit(WatchWarning(warning))
        return True

    def go_offline(self, folder: str, reason: str) -> None:
        if self._online.pop(folder, None) is not None:
            self._started.unwatch(folder)
        self._forget_under(folder)
        self._report_offline(folder, reason)

    def check(self) -> list[str]:
        """Notice folders gone or back; returns those back online, to catch up on."""
        back = []
        for folder in self.names:
            identity = _folder_identity(folder)
            watched = self._online.get(folder)
            if watched is not None and identity != watched:
                # Gone, or another folder now under the same name (a drive remounted).
                self.go_offline(folder, "the folder is no longer there (deleted, moved or unmounted)")
                watched = None
            if watched is None and identity is not None and self.go_online(folder):
                back.append(folder)
        return back

    def add(self, folder: str) -> bool:
        """Watch one more folder; True when it is watched now (catch up on it)."""
        if folder in self.names:
            return False
        self.names = (*self.names, folder)
        return self.go_online(folder)

    def remove(self, folder: str) -> None:
        if folder not in self.names:
            return
        self.names = tuple(f for f in self.names if f != folder)
        if self._online.pop(folder, None) is not None:
            self._started.unwatch(folder)
        self._linked = tuple((real, f) for real, f in self._linked if f != folder)
        self._forget_under(folder)
        self._reported_offline.discard(folder)

    def watched(self, folder: str) -> bool:
        """True while ``folder`` is online and watched."""
        return folder in self._online

    def under(self, path: str) -> str | None:
        """The watched folder that ``path`` is in, or None."""
        for folder in self.names:
            if path.startswith(os.path.join(folder, "")):
                return folder
        return None

    def as_watched(self, path: bytes | str) -> str:
        """An event's path under the folder as the user named it, symbolic link included."""
        path = os.fsdecode(path)
        for real, folder in self._linked:
            if path == real or path.startswith(os.path.join(real, "")):
                return folder + path[len(real):]
        return path

    def _report_offline(self, folder: str, reason: str) -> None:
        if folder not in self._reported_offline:
            self._reported_offline.add(folder)
            logger.info("not watching %s: %s", folder, reason)
            self._emit(FolderOffline(folder, reason))


def _folder_identity(folder: str) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a folder that is there, or None."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None
