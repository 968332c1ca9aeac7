"""What a Watcher tells its caller, one event at a time, on the watcher's own thread."""

from __future__ import annotations

from dataclasses import dataclass

from nsfw_desktop.scan.engine import ScanSummary
from nsfw_desktop.store.result import Result


@dataclass(frozen=True)
class FileClassified:
    result: Result  # as stored; ``result.error`` is set when the file could not be read
    flagged: bool  # Result.flagged at the watcher's threshold: review mark, else policy or model score
    catch_up: bool = False  # found by a catch-up scan, not as it arrived (a tray may stay quiet)


@dataclass(frozen=True)
class FileMoved:
    old: str  # the stored result (and review) now belongs to ``new``
    new: str


@dataclass(frozen=True)
class FileRemoved:
    path: str  # deleted or moved out of the watched folders; its row is gone


@dataclass(frozen=True)
class FolderOnline:
    folder: str  # watched from now on (at start, or back after being offline)


@dataclass(frozen=True)
class FolderOffline:
    folder: str
    reason: str  # for the user; watching resumes by itself when the folder is back


@dataclass(frozen=True)
class CaughtUp:
    folders: tuple[str, ...]  # what changed in them while nobody watched is classified now
    summary: ScanSummary


@dataclass(frozen=True)
class WatchWarning:
    message: str  # for the user: a folder polled past the inotify limits, an unreadable subfolder


@dataclass(frozen=True)
class WatchStopped:
    error: str | None  # None after stop(); otherwise why the watcher could not go on


WatchEvent = (FileClassified | FileMoved | FileRemoved | FolderOnline | FolderOffline | CaughtUp
              | WatchWarning | WatchStopped)
