"""When a file that is still being written is ready to classify.

A file is ready once its size and modification time have stayed the same for
``settle`` seconds and its size is above zero. Every event about a file pushes
its check back, so a download written in chunks is looked at only after its
last chunk. A close-after-write event (Linux) shortens the wait to
``close_grace``: the writer is done, but a copy tool may still set the
modification time right after closing, and that is an event which pushes the
check back again.

A file known to be open for writing is not ready however long it pauses (curl
and wget write straight to the final name and keep it open between chunks).
inotify does not say whether an open is for reading or writing, so a file
counts as being written from the first write after an open we saw until no
handle we saw opening is left open: a viewer's open and close (no write)
changes nothing, our own decoding included; a reader open while the file is
written keeps it waiting until the reader closes too. A writer that stays open
``open_limit`` seconds without a change is classified anyway, with a log line;
the limit also bounds the wait when the kernel merged two identical events
in a row (two closes) into one or dropped some (a full inotify queue).
A polled folder sees no opens and closes, so the settle rule alone applies
there, as it does to a file already open when watching began.

When the kernel drops events (its queue overflowed during a burst), the
folder is caught up on by a scan once no events have been lost for
``lost_quiet`` seconds, so a burst that overflows the queue again and again
causes one catch-up; a stream of losses that never pauses is caught up on every
``lost_max_wait`` seconds.

Waiting uses one heap of due times and a Condition: the worker sleeps until
the next check is due, or without any timeout when nothing is pending, so an
idle watcher costs no CPU. The same Condition wakes the worker for tasks that
other threads hand it (a deleted file, a folder gone).
"""

from __future__ import annotations

import heapq
import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

logger = logging.getLogger(__name__)

CLOSE_GRACE = 0.2  # seconds between a close-after-write and the check
OPEN_LIMIT = 600.0  # seconds a file open for writing may go without a change before it is classified
LOST_QUIET = 2.0  # seconds without lost events before the catch-up of a burst
LOST_MAX_WAIT = 30.0  # seconds from the first lost event to the catch-up, however long the burst

Fingerprint = tuple[int, int]  # (size, mtime_ns)


def fingerprint(path: str) -> Fingerprint | None:
    """(size, mtime_ns) of a regular file, or None when it is gone or not a file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_size, info.st_mtime_ns


@dataclass
class _Pending:
    seen: Fingerprint | None  # at the latest event or check
    due: float  # monotonic time from which the file may be checked
    scheduled: float | None  # due time of this path's live heap entry, if any
    changed: float  # monotonic time of the latest event or change seen


class Woke(NamedTuple):
    tasks: list[Callable[[], None]]  # to run now
    due: list[str]  # paths to check (``settled``)
    lost: list[str]  # folders whose events were lost, to catch up on


@dataclass
class _Handles:
    open: int = 0  # opens seen minus closes seen
    written: bool = False  # a write came in while one of them was open


class Readiness:
    """Files waiting to settle, and tasks for the one thread that checks them.

    ``touch``, ``opened``, ``closed``, ``forget``, ``post`` and ``close`` may be
    called from any thread (the file system observers call them); ``wait`` and
    ``settled`` belong to the worker thread.
    """

    def __init__(self, settle: float, *, close_grace: float = CLOSE_GRACE, open_limit: float = OPEN_LIMIT,
                 lost_quiet: float = LOST_QUIET, lost_max_wait: float = LOST_MAX_WAIT):
        if settle < 0:
            raise ValueError(f"settle interval must not be negative, not {settle}")
        if open_limit < settle:
            raise ValueError(f"the limit for files open for writing ({open_limit} s) must not be "
                             f"shorter than the settle interval ({settle} s)")
        self.settle = settle
        self.close_grace = min(close_grace, settle)
        self.open_limit = open_limit
        self.lost_quiet, self.lost_max_wait = lost_quiet, lost_max_wait
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._handles: dict[str, _Handles] = {}  # files with a handle open, as far as we saw
        self._heap: list[tuple[float, str]] = []
        self._tasks: deque[Callable[[], None]] = deque()
        self._lost: dict[str, None] = {}  # folders to catch up on, in the order their losses came
        self._lost_since = self._catch_up_due = 0.0  # monotonic times, while ``_lost`` is not empty
        self._closed = False

    def touch(self, path: str, *, wrote: bool = False, closed: bool = False) -> None:
        """Something happened to ``path`` (``wrote``: its content changed): check it once
        it has been quiet long enough."""
        seen = fingerprint(path)
        with self._cond:
            handles = self._handles.get(path)
            if wrote and handles is not None:
                handles.written = True
            now = time.monotonic()
            wait = (self.open_limit if self._writing(path) else self.close_grace if closed
                    else self.settle)
            item = self._pending.get(path)
            if item is None:
                item = self._pending[path] = _Pending(seen, now + wait, None, now)
            else:
                item.seen, item.due, item.changed = seen, now + wait, now
            self._schedule(path, item)

    def opened(self, path: str) -> None:
        """``path`` was opened, for reading or writing: inotify does not say which."""
        with self._cond:
            self._handles.setdefault(path, _Handles()).open += 1

    def closed(self, path: str, *, wrote: bool) -> None:
        """A handle on ``path`` was closed; ``wrote``: it had been opened for writing."""
        with self._cond:
            handles = self._handles.get(path)
            finished = False
            if handles is not None:
                handles.open -= 1
                if handles.open <= 0:
                    finished = handles.written
                    del self._handles[path]
        # A close without writing is a read (ours included): nothing to check,
        # unless it was the last handle on a file being written.
        if wrote or finished:
            self.touch(path, closed=True)

    def writing(self, path: str) -> bool:
        """True while ``path`` is known to be open for writing."""
        with self._cond:
            return self._writing(path)

    def track(self, path: str) -> None:
        """Check ``path`` once it has been quiet long enough, unless it is waiting already
        (an earlier event, a close-after-write, knows more than a look at the folder)."""
        seen = fingerprint(path)
        with self._cond:
            if path not in self._pending:
                now = time.monotonic()
                item = self._pending[path] = _Pending(seen, now + self.settle, None, now)
                self._schedule(path, item)

    def forget(self, path: str, *, moved_to: str | None = None) -> None:
        """Stop waiting for ``path``; when it was renamed to ``moved_to``, its open
        handles go with it (their closes will name the new path)."""
        with self._cond:
            self._pending.pop(path, None)  # its heap entry is skipped when it comes up
            handles = self._handles.pop(path, None)
            if moved_to is not None and handles is not None:
                self._handles[moved_to] = handles

    def forget_under(self, folder: str) -> None:
        """Forget the files under a folder no longer watched: no close will come for them."""
        prefix = os.path.join(folder, "")
        with self._cond:
            for known in (self._pending, self._handles):
                for path in [p for p in known if p.startswith(prefix)]:
                    del known[path]
            self._lost.pop(folder, None)

    def lost(self, folder: str) -> None:
        """Events under ``folder`` were lost: have ``wait`` hand it over for a catch-up once
        the losses pause.

        Opens and closes may be among the lost events, so the handles counted
        under ``folder`` are forgotten: a file whose close was lost would
        otherwise wait ``open_limit`` seconds. The settle rule alone applies to
        them, as to a file already open when watching began.
        """
        prefix = os.path.join(folder, "")
        with self._cond:
            for path in [p for p in self._handles if p.startswith(prefix)]:
                del self._handles[path]
            now = time.monotonic()
            if not self._lost:
                self._lost_since = now
            self._lost[folder] = None
            self._catch_up_due = min(now + self.lost_quiet, self._lost_since + self.lost_max_wait)
            self._cond.notify()

    def post(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker thread, as soon as it is free."""
        with self._cond:
            self._tasks.append(task)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def wait(self, deadline: float | None = None) -> Woke | None:
        """Block until a task is posted, a check or a catch-up is due or ``deadline``
        (monotonic) passes; None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                due = self._pop_due(now)
                lost = list(self._lost) if self._lost and now >= self._catch_up_due else []
                if due or lost or self._tasks or (deadline is not None and now >= deadline):
                    tasks = list(self._tasks)
                    self._tasks.clear()
                    if lost:
                        self._lost.clear()
                    return Woke(tasks, due, lost)
                wake = min((t for t in (deadline, self._heap[0][0] if self._heap else None,
                                        self._catch_up_due if self._lost else None)
                            if t is not None), default=None)
                self._cond.wait(None if wake is None else wake - now)

    def settled(self, path: str, current: Fingerprint | None) -> bool:
        """Record the check of a due path; True when it is ready to classify.

        ``current`` is the file's fingerprint taken just now. A file that is gone,
        or complete but empty (a browser's placeholder), is dropped: its next
        write or the rename onto its name brings it back.
        """
        with self._cond:
            item = self._pending.get(path)
            if item is None:
                return False
            now = time.monotonic()
            if item.due > now:  # an event came in while the check ran
                self._schedule(path, item)
                return False
            if current is None or (current == item.seen and current[0] == 0):
                del self._pending[path]
                return False
            if self._writing(path):
                if now < item.changed + self.open_limit:
                    item.due = item.changed + self.open_limit  # or sooner, at its close
                    self._schedule(path, item)
                    return False
                logger.warning("%s is still open for writing but has not changed for %g s: "
                               "classifying it as it is now", path, now - item.changed)
            if current == item.seen:
                del self._pending[path]
                return True
            item.seen, item.due, item.changed = current, now + self.settle, now
            self._schedule(path, item)
            return False

    def _writing(self, path: str) -> bool:
        handles = self._handles.get(path)
        return handles is not None and handles.written

    def _schedule(self, path: str, item: _Pending) -> None:
        # One live heap entry per path: a later due time is picked up when the
        # entry comes up, so a file written in many chunks wakes the worker once
        # per settle interval, not once per chunk.
        if item.scheduled is None or item.due < item.scheduled:
            item.scheduled = item.due
            heapq.heappush(self._heap, (item.due, path))
            self._cond.notify()

    def _pop_due(self, now: float) -> list[str]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            when, path = heapq.heappop(self._heap)
            item = self._pending.get(path)
            if item is None or item.scheduled != when:
                continue  # forgotten, or superseded by an earlier entry
            item.scheduled = None
            if item.due > now:
                self._schedule(path, item)
            else:
                due.append(path)
        return due
