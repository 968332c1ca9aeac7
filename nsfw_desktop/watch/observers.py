"""The file system observers behind the watcher: native where possible, polling where not.

watchdog's native observer (inotify on Linux) is told about changes by the
kernel and costs nothing while idle. Linux limits inotify watches and instances
per user; when a folder hits a limit it is polled instead, and the user is told
how to raise the limit.
"""

from __future__ import annotations

import errno
import logging
import os

from watchdog.events import (
    DirDeletedEvent,
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
EVENTS = [FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileOpenedEvent, FileClosedEvent,
          FileClosedNoWriteEvent, FileMovedEvent, FileDeletedEvent, DirDeletedEvent]

_LIMITS = {
    errno.ENOSPC: ("watched folders", "fs.inotify.max_user_watches", 524288),
    errno.EMFILE: ("file watchers", "fs.inotify.max_user_instances", 512),
}


def limit_message(exc: OSError, folder: str) -> str:
    what, setting, value = _LIMITS[exc.errno]
    return (f"The system's limit on {what} ({setting}) is reached, so {folder} is checked for new "
            f"files every {POLL_INTERVAL:g} s instead, which is slower and costs some CPU. To raise "
            f"the limit: sudo sysctl {setting}={value} (add '{setting}={value}' to "
            f"/etc/sysctl.conf to keep it after a restart).")


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
        return limit_message(failure, folder)

    def unwatch(self, folder: str) -> None:
        observer, watch = self._watches.pop(folder, (None, None))
        if observer is not None:
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
