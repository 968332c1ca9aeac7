"""The file system observers behind the watcher: native where possible, polling where not.

watchdog's native observer (inotify on Linux) is told about changes by the
kernel and costs nothing while idle. Linux limits inotify watches and instances
per user; when a folder hits a limit it is polled instead, and the user is told
how far to raise the limit. The kernel also holds at most
``fs.inotify.max_queued_events`` events that are not read yet, and drops the
rest in a burst: the watcher then looks through the folders again, and the
user is told once how large a queue would have held the burst.
"""

from __future__ import annotations

import errno
import logging
import os

from watchdog.events import (
    DirDeletedEvent,
    EventsLostEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch

logger = logging.getLogger(__name__)

POLL_INTERVAL = 2.0  # seconds between two looks at a polled folder

# Opens and closes without writing (our own decoding included) only count the
# handles on a file, so that one open for writing is not classified half-written;
# they never schedule a check, so classifying a file does not wake the watcher again.
# Their price: about 40 microseconds of CPU per file another program reads in a
# watched folder (0.4 s while `cat` read 10,000 files). Polling sees none of them.
# EventsLostEvent: the kernel's queue overflowed (watchdog sends it only when asked for).
EVENTS = [FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileOpenedEvent, FileClosedEvent,
          FileClosedNoWriteEvent, FileMovedEvent, FileDeletedEvent, DirDeletedEvent, EventsLostEvent]

_LIMITS: dict[int | None, tuple[str, str]] = {  # keyed as OSError.errno is typed: int or None
    errno.ENOSPC: ("watched folders", "fs.inotify.max_user_watches"),
    errno.EMFILE: ("file watchers", "fs.inotify.max_user_instances"),
}
QUEUE_SETTING = "fs.inotify.max_queued_events"
EVENTS_PER_FILE = 4  # a file written: created, opened, modified, closed


def limit_message(exc: OSError, folder: str, *, recursive: bool) -> str:
    what, setting = _LIMITS[exc.errno]
    limit = system_setting(setting)
    if exc.errno == errno.ENOSPC:
        needed = _folders_in(folder) if recursive else 1
        need = f"Watching {folder} needs {needed} of them, one for each folder in it. "
    else:
        needed, need = 1, ""
    advice = (f"To raise the limit: {_sysctl(setting, limit + needed)}, then watch the folder again."
              if limit is not None else "")
    return (f"The system's limit on {what} ({setting}) is reached, so {folder} is checked for new "
            f"files every {POLL_INTERVAL:g} s instead, which is slower and costs some CPU. {need}{advice}")


def queue_limit_message(folders: list[str], files: int) -> str | None:
    """Advice after a burst overflowed the kernel's event queue, or None where there is no such queue."""
    limit = system_setting(QUEUE_SETTING)
    if limit is None:
        return None
    # The queue held ``limit`` events and dropped at least those of the files the catch-up found.
    value = 1 << (limit + EVENTS_PER_FILE * files).bit_length()
    return (f"So many files arrived at once in {', '.join(folders)} that the system's queue of file "
            f"events ({QUEUE_SETTING}={limit}) overflowed; looking through the folder again found "
            f"{files} file(s) it had missed, which takes longer than following events. A queue of "
            f"{value} events would have held this burst. To raise it: {_sysctl(QUEUE_SETTING, value)}; "
            f"it applies to watching started afterwards.")


def _sysctl(setting: str, value: int) -> str:
    return (f"sudo sysctl {setting}={value} (add '{setting}={value}' to /etc/sysctl.conf to keep it "
            f"after a restart)")


def system_setting(name: str) -> int | None:
    """The value of a kernel setting such as fs.inotify.max_user_watches, or None where there is none."""
    try:
        with open(os.path.join("/proc/sys", *name.split(".")), encoding="ascii") as file:
            return int(file.read())
    except (OSError, ValueError):
        return None


def _folders_in(folder: str) -> int:
    return sum(1 for _ in os.walk(folder))


class Observers:
    """Watch folders with one native observer, and a polling one for folders past the limits."""

    def __init__(self, handler: FileSystemEventHandler, *, recursive: bool, poll: bool = False):
        self.handler = handler
        self.recursive = recursive
        self.poll = poll  # poll every folder: network shares, whose changes the kernel does not see
        self._native: BaseObserver | None = None
        self._native_failed: OSError | None = None
        self._polling: BaseObserver | None = None
        self._watches: dict[str, tuple[BaseObserver, ObservedWatch]] = {}

    def watch(self, folder: str) -> str | None:
        """Start watching ``folder``; returns a warning for the user when it is polled
        against their wish.

        Raises OSError when the folder itself cannot be watched (gone, no permission).
        """
        failure = None
        if not self.poll:
            native = self._native_observer()
            if native is not None:
                try:
                    self._watches[folder] = native, self._schedule(native, folder)
                    return None
                except OSError as exc:
                    if exc.errno not in _LIMITS:
                        raise
                    failure = exc
            else:
                failure = self._native_failed
        polling = self._polling_observer()
        self._watches[folder] = polling, self._schedule(polling, folder)
        if failure is None:
            return None
        logger.info("polling %s: %s", folder, failure)
        return limit_message(failure, folder, recursive=self.recursive)

    def unwatch(self, folder: str) -> None:
        entry = self._watches.pop(folder, None)
        if entry is not None:
            observer, watch = entry
            # Unschedule also works on a watch whose emitter stopped by itself,
            # which is what watchdog does when the watched folder is deleted.
            observer.unschedule(watch)

    def stop(self) -> None:
        for observer in (self._native, self._polling):
            if observer is not None:
                observer.stop()
        for observer in (self._native, self._polling):
            if observer is not None:
                observer.join()
        self._watches.clear()

    def _schedule(self, observer: BaseObserver, folder: str) -> ObservedWatch:
        # The real path: inotify would watch a symbolic link itself, not the folder it
        # points to. Events then name files under the real path.
        return observer.schedule(self.handler, os.path.realpath(folder), recursive=self.recursive,
                                 event_filter=EVENTS)

    def _native_observer(self) -> BaseObserver | None:
        if self._native is None and self._native_failed is None:
            from watchdog.observers import Observer

            try:
                observer = Observer()
            except OSError as exc:  # no inotify instance left for this user
                if exc.errno not in _LIMITS:
                    raise
                self._native_failed = exc
                return None
            observer.start()
            self._native = observer
        return self._native

    def _polling_observer(self) -> BaseObserver:
        if self._polling is None:
            from watchdog.observers.polling import PollingObserver

            self._polling = PollingObserver(timeout=POLL_INTERVAL)
            self._polling.start()
        return self._polling
