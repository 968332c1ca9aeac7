"""Watch folders and classify each new or changed image once it is complete.

Threads: watchdog's observer threads only note what happened (in
``Readiness``) and hand small tasks over. One worker thread owns the rest: it
runs the catch-up scan, checks the files whose wait is over, classifies them
with the engine, writes the results to its own ``Store`` and calls
``on_event``. The worker sleeps on a Condition between due times, so an idle
watcher costs no CPU; the only periodic work is a look at each watched folder
every ``folder_check`` seconds (``WatchedFolders.check``), which notices an
unmounted drive and a folder coming back.

When the kernel drops events (its inotify queue overflows while a burst of
files arrives faster than they are read), watchdog repairs its watches and
sends an ``EventsLostEvent`` for each watched folder; the worker then runs the
same catch-up scan as on start (``Readiness.lost`` holds it back until the
burst pauses), so every file that arrived is classified once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from nsfw_desktop.classify import Classifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.scan.engine import BatchDone, ScanFinished, ScanStarted, ScanSummary, scan
from nsfw_desktop.scan.pipeline import ScanControl, classify_and_commit, is_current
from nsfw_desktop.scan.types import DecodeOptions, FileEntry, ScanPolicy
from nsfw_desktop.scan.walker import is_candidate, is_temporary
from nsfw_desktop.store.results import Store
from nsfw_desktop.watch.events import (
    CaughtUp,
    FileClassified,
    FileMoved,
    FileRemoved,
    WatchEvent,
    WatchStopped,
    WatchWarning,
)
from nsfw_desktop.watch.folders import WatchedFolders
from nsfw_desktop.watch.handler import Handler
from nsfw_desktop.watch.observers import Observers, queue_limit_message
from nsfw_desktop.watch.readiness import OPEN_LIMIT, Readiness, fingerprint

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 1.0  # a file is complete once unchanged this long
FOLDER_CHECK_SECONDS = 5.0  # how often watched folders are looked at (unmounted, back again)


class Watcher:
    """Classify the images that appear or change in ``folders``, until stopped.

    ``on_event`` is called on the watcher's own thread with one ``WatchEvent``
    at a time; a Qt app re-emits it as a signal. On start, a catch-up scan
    classifies what changed while nobody watched (incremental: nothing already
    classified runs again). The classifier is loaded on the first file to
    classify, unless the caller loaded it already. A file is classified once
    it has not changed for ``settle`` seconds and is not open for writing, or
    has been open for writing ``open_limit`` seconds without a change
    (``readiness.py``).
    """

    def __init__(
        self,
        folders: Iterable[str | Path],
        classifier: Classifier,
        db_path: str | Path,
        *,
        on_event: Callable[[WatchEvent], None],
        threshold: float = 0.5,
        policy: ScanPolicy | None = None,
        options: DecodeOptions | None = None,
        settle: float = SETTLE_SECONDS,
        open_limit: float = OPEN_LIMIT,
        folder_check: float = FOLDER_CHECK_SECONDS,
        poll: bool = False,
    ):
        names = tuple(dict.fromkeys(os.path.abspath(folder) for folder in folders))
        if not names:
            raise ValueError("no folder to watch")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        if folder_check <= 0:
            raise ValueError(f"folder check interval must be positive, not {folder_check}")
        self.classifier = classifier
        self.db_path = db_path
        self.on_event = on_event
        self.threshold = threshold
        self.policy = policy or ScanPolicy()
        self.options = options or DecodeOptions()
        self.folder_check = folder_check
        self.poll = poll  # look at the folders every few seconds instead of kernel events
        self._readiness = Readiness(settle, open_limit=open_limit)
        self._folders = WatchedFolders(names, self._emit, self._readiness.forget_under)
        self._control = ScanControl()
        self._thread: threading.Thread | None = None
        # Set as the worker thread ends. Waiting on it, not on Thread.join: Python 3.11's join,
        # interrupted by Ctrl-C, takes a thread that is still running for ended, so a later
        # join returned at once and the process exited with the watcher inside torch (SIGABRT).
        self._ended = threading.Event()
        self._store: Store | None = None  # owned by the worker thread
        self._told_queue_limit = False  # the advice to raise the kernel's event queue is given once

    @property
    def folders(self) -> tuple[str, ...]:
        return self._folders.names

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a Watcher can be started only once; make a new one")
        self._thread = threading.Thread(target=self._run, name="watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; a batch in the model is finished and saved first."""
        self._readiness.close()
        self._control.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self.wait(timeout)

    def add_folder(self, folder: str | Path) -> None:
        """Watch one more folder (with a catch-up scan of it); from any thread."""
        folder = os.path.abspath(folder)
        self._readiness.post(lambda: self._add_folder(folder))

    def remove_folder(self, folder: str | Path) -> None:
        """Stop watching a folder; its stored results stay. From any thread."""
        folder = os.path.abspath(folder)
        self._readiness.post(lambda: self._folders.remove(folder))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the watcher has stopped (or ``timeout``); True when it has."""
        if self._thread is None:
            return True
        if not self._ended.wait(timeout):
            return False
        self._thread.join()  # it has nothing left to do but end
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._ended.is_set()

    # The worker thread.

    @property
    def _open_store(self) -> Store:
        assert self._store is not None, "the worker thread opens it before it watches"
        return self._store

    def _run(self) -> None:
        error = None
        try:
            self._store = Store(self.db_path)
            self._folders.observers = Observers(Handler(self), recursive=self.policy.recursive,
                                                poll=self.poll)
            self._catch_up([folder for folder in self.folders if self._folders.go_online(folder)])
            self._loop()
        except ModelError as exc:
            error = str(exc)
        except Exception as exc:
            logger.exception("the watcher stopped")
            error = f"Watching stopped after an unexpected error: {exc}"
        finally:
            if self._folders.observers is not None:
                self._folders.observers.stop()
            if self._store is not None:
                self._store.close()
            self._emit(WatchStopped(error))
            self._ended.set()

    def _loop(self) -> None:
        next_check = time.monotonic() + self.folder_check
        while True:
            woke = self._readiness.wait(next_check)
            if woke is None:
                return
            for task in woke.tasks:
                task()
            if woke.lost:
                self._catch_up_lost(woke.lost)
            if time.monotonic() >= next_check:
                self._catch_up(self._folders.check())
                next_check = time.monotonic() + self.folder_check
            ready = self._ready_entries(woke.due)
            if ready:
                self._classify(ready)

    def _ready_entries(self, due: list[str]) -> list[FileEntry]:
        entries = []
        for path in due:
            current = fingerprint(path)
            if not self._readiness.settled(path, current) or current is None:
                continue
            if not is_candidate(path, os.path.basename(path), videos=self.policy.videos):
                continue
            entry = FileEntry(path, *current)
            stored = self._open_store.fingerprint(path)
            if not is_current(stored, entry, self.classifier.model_id, self.policy):
                entries.append(entry)
        return entries

    def _classify(self, entries: list[FileEntry]) -> None:
        for results in classify_and_commit(entries, self.classifier, self._open_store, self.policy,
                                           self.options, self._control):
            for result in results:
                self._emit(FileClassified(result, result.flagged(self.threshold)))

    def _catch_up(self, folders: list[str]) -> ScanSummary | None:
        if not folders:
            return None
        summary = None
        for event in scan(folders, self.classifier, self._open_store, policy=self.policy,
                          options=self.options, control=self._control, threshold=self.threshold,
                          defer=self._still_written):
            if isinstance(event, ScanStarted):
                for problem in event.problems:
                    self._emit(WatchWarning(problem))
            elif isinstance(event, BatchDone):
                for result in event.results:
                    self._emit(FileClassified(result, result.flagged(self.threshold), catch_up=True))
            elif isinstance(event, ScanFinished):
                summary = event.summary
                self._emit(CaughtUp(tuple(folders), summary))
        return summary

    def _catch_up_lost(self, folders: list[str]) -> None:
        summary = self._catch_up([folder for folder in folders if self._folders.watched(folder)])
        if summary is None or self._told_queue_limit:
            return
        message = queue_limit_message(folders, summary.scanned)
        if message is not None:
            self._told_queue_limit = True
            self._emit(WatchWarning(message))

    def _still_written(self, entry: FileEntry) -> bool:
        """Leave a file open for writing, or changed within the settle interval, to the
        readiness checks: it may be a download in progress."""
        if (not self._readiness.writing(entry.path)
                and time.time_ns() - entry.mtime_ns >= self._readiness.settle * 1e9):
            return False
        self._readiness.track(entry.path)
        return True

    def _add_folder(self, folder: str) -> None:
        if self._folders.add(folder):
            self._catch_up([folder])

    def _follow_move(self, old: str, new: str) -> None:
        if self._open_store.get(old) is None:
            return
        if self._wanted(new):
            self._open_store.move(old, new)
            self._emit(FileMoved(old, new))
        else:
            self._open_store.remove([old])
            self._emit(FileRemoved(old))

    def _forget_file(self, path: str) -> None:
        if self._open_store.get(path) is not None:
            self._open_store.remove([path])
            self._emit(FileRemoved(path))

    def _emit(self, event: WatchEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            # The caller's bug must not stop the watching of everyone's folders.
            logger.exception("the watcher's event callback failed on %r", event)

    # Called on watchdog's observer threads: note and hand over, nothing slow.

    def _file_changed(self, path: str, *, wrote: bool = False) -> None:
        if self._wanted(path):
            self._readiness.touch(path, wrote=wrote)

    def _file_opened(self, path: str) -> None:
        if self._wanted(path):
            self._readiness.opened(path)

    def _file_closed(self, path: str, *, wrote: bool) -> None:
        if self._wanted(path):
            self._readiness.closed(path, wrote=wrote)

    def _file_moved(self, old: str, new: str) -> None:
        self._readiness.forget(old, moved_to=new if self._wanted(new) else None)
        self._readiness.post(lambda: self._follow_move(old, new))
        self._file_changed(new)

    def _file_deleted(self, path: str) -> None:
        self._readiness.forget(path)
        self._readiness.post(lambda: self._forget_file(path))

    def _events_lost(self, folder: str) -> None:
        if folder in self.folders:
            logger.info("the system dropped file events in %s: looking through it again", folder)
            self._readiness.lost(folder)

    def _folder_deleted(self, path: str) -> None:
        if path in self.folders:
            self._readiness.post(lambda: self._folders.go_offline(
                path, "the folder was deleted or moved; watching resumes when it is back"))

    def _wanted(self, path: str) -> bool:
        """Under a watched folder, not a temporary name, not hidden (unless asked for)."""
        folder = self._folders.under(path)
        if folder is None or is_temporary(os.path.basename(path)):
            return False
        relative = os.path.relpath(path, folder).split(os.sep)
        return self.policy.include_hidden or not any(p.startswith(".") for p in relative)

