"""When a file that is still being written is ready to classify.

A file is ready once its size and modification time have stayed the same for
``settle`` seconds and its size is above zero. Every event about a file pushes
its check back, so a download written in chunks is looked at only after its
last chunk. A close-after-write event (Linux) shortens the wait to
``close_grace``: the writer is done, but a copy tool may still set the
modification time right after closing, and that is an event which pushes the
check back again.

Waiting uses one heap of due times and a Condition: the worker sleeps until
the next check is due, or without any timeout when nothing is pending, so an
idle watcher costs no CPU. The same Condition wakes the worker for tasks that
other threads hand it (a deleted file, a folder gone).
"""

from __future__ import annotations

import heapq
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

CLOSE_GRACE = 0.2  # seconds between a close-after-write and the check

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


class Readiness:
    """Files waiting to settle, and tasks for the one thread that checks them.

    ``touch``, ``forget``, ``post`` and ``close`` may be called from any thread
    (the file system observers call them); ``wait`` and ``settled`` belong to
    the worker thread.
    """

    def __init__(self, settle: float, *, close_grace: float = CLOSE_GRACE):
        if settle < 0:
            raise ValueError(f"settle interval must not be negative, not {settle}")
        self.settle = settle
        self.close_grace = min(close_grace, settle)
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._heap: list[tuple[float, str]] = []
        self._tasks: deque[Callable[[], None]] = deque()
        self._closed = False

    def touch(self, path: str, *, closed: bool = False) -> None:
        """Something happened to ``path``: check it once it has been quiet long enough."""
        seen = fingerprint(path)
        with self._cond:
            due = time.monotonic() + (self.close_grace if closed else self.settle)
            item = self._pending.get(path)
            if item is None:
                item = self._pending[path] = _Pending(seen, due, None)
            else:
                item.seen, item.due = seen, due
            self._schedule(path, item)

    def track(self, path: str) -> None:
        """Check ``path`` once it has been quiet long enough, unless it is waiting already
        (an earlier event, a close-after-write, knows more than a look at the folder)."""
        seen = fingerprint(path)
        with self._cond:
            if path not in self._pending:
                item = self._pending[path] = _Pending(seen, time.monotonic() + self.settle, None)
                self._schedule(path, item)

    def forget(self, path: str) -> None:
        with self._cond:
            self._pending.pop(path, None)  # its heap entry is skipped when it comes up

    def forget_under(self, folder: str) -> None:
        prefix = os.path.join(folder, "")
        with self._cond:
            for path in [p for p in self._pending if p.startswith(prefix)]:
                del self._pending[path]

    def post(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker thread, as soon as it is free."""
        with self._cond:
            self._tasks.append(task)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def wait(self, deadline: float | None = None) -> tuple[list[Callable[[], None]], list[str]] | None:
        """Block until a task is posted, a check is due or ``deadline`` (monotonic) passes.

        Returns the tasks to run and the paths to check (``settled``), or None
        once closed.
        """
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                due = self._pop_due(now)
                if due or self._tasks or (deadline is not None and now >= deadline):
                    tasks = list(self._tasks)
                    self._tasks.clear()
                    return tasks, due
                wake = min((t for t in (deadline, self._heap[0][0] if self._heap else None)
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
            if current == item.seen:
                del self._pending[path]
                return True
            item.seen, item.due = current, now + self.settle
            self._schedule(path, item)
            return False

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
