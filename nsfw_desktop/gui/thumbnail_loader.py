"""Thumbnails and previews made off the GUI thread, kept in a bounded pixmap cache.

Jobs run in a ``QThreadPool``: they read or make the disk thumbnail
(``nsfw_desktop.media.thumbnails``), blur a copy for privacy and hand both back as
``QImage``s by signal; the ``QPixmap``s are made here, on the GUI thread, as Qt
requires. Requests are served newest first and the backlog is capped, so
scrolling fast through 20,000 photos decodes what is on screen now, not what
was on screen a second ago. Memory stays bounded: at most ``capacity`` pixmap
pairs are kept, least recently drawn evicted first.
"""

from __future__ import annotations

from collections import OrderedDict

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from nsfw_desktop.gui.worker_errors import reported
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.thumbnails import ThumbnailCache, make_thumbnail, privacy_blur

DEFAULT_CAPACITY = 400  # pixmap pairs: about 90 MB at most with 192 px thumbnails
MAX_BACKLOG = 400  # requests waiting for a thread; older ones are dropped
PREVIEW_SIZE = 1024  # longest side of the detail view's picture


def to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    # copy(): the QImage must own its pixels once ``data`` goes away.
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


class _JobSignals(QObject):
    done = Signal(object, QImage, QImage)  # path, sharp, blurred
    failed = Signal(object, object)  # path, reason
    preview_done = Signal(object, QImage, QImage)
    preview_failed = Signal(object, object)
    unexpected = Signal(object)  # a message for the message bar


def _job_failed(job: _ThumbnailJob | _PreviewJob, message: str) -> None:
    """The tile (or the preview) says so, the loader moves on, and the message bar is told."""
    failed = job.signals.failed if isinstance(job, _ThumbnailJob) else job.signals.preview_failed
    failed.emit(job.path, message)
    job.signals.unexpected.emit(message)


class _ThumbnailJob(QRunnable):
    def __init__(self, path: str, at: float | None, cache: ThumbnailCache, signals: _JobSignals):
        super().__init__()
        self.path, self.at, self.cache, self.signals = path, at, cache, signals

    @reported("Making a thumbnail", _job_failed)
    def run(self) -> None:
        try:
            with Image.open(self.cache.thumbnail(self.path, self.at)) as stored:
                image = stored.convert("RGB")
        except ImageError as exc:
            self.signals.failed.emit(self.path, str(exc))
            return
        except OSError as exc:  # the cache folder itself (disk full, permissions)
            self.signals.failed.emit(self.path, f"cannot write the thumbnail cache: {exc}")
            return
        self.signals.done.emit(self.path, to_qimage(image), to_qimage(privacy_blur(image)))


class _PreviewJob(QRunnable):
    def __init__(self, path: str, at: float | None, signals: _JobSignals):
        super().__init__()
        self.path, self.at, self.signals = path, at, signals

    @reported("Making a preview", _job_failed)
    def run(self) -> None:
        try:
            image = make_thumbnail(self.path, PREVIEW_SIZE, self.at)
        except ImageError as exc:
            self.signals.preview_failed.emit(self.path, str(exc))
            return
        self.signals.preview_done.emit(self.path, to_qimage(image), to_qimage(privacy_blur(image)))


class ThumbnailLoader(QObject):
    ready = Signal(object)  # a thumbnail (or its failure) for this path can be drawn now
    preview_ready = Signal(object, QPixmap, QPixmap)  # path, sharp, blurred
    preview_failed = Signal(object, object)
    idle = Signal()  # nothing running and nothing waiting
    problem = Signal(object)  # a message for the message bar: a job stopped on an unexpected error

    def __init__(self, cache: ThumbnailCache | None = None, *, capacity: int = DEFAULT_CAPACITY,
                 threads: int = 1, parent: QObject | None = None):
        super().__init__(parent)
        self.cache = cache or ThumbnailCache()
        self.capacity = capacity
        self.pool = QThreadPool(self)
        # One thread by default: the scan already keeps the cores busy, and the GUI
        # thread must still get its share of the CPU to stay smooth.
        self.pool.setMaxThreadCount(threads)
        self._pixmaps: OrderedDict[str, tuple[QPixmap, QPixmap]] = OrderedDict()
        self._failures: dict[str, str] = {}
        self._wanted: OrderedDict[str, float | None] = OrderedDict()  # path: a video's frame time
        self._running: set[str] = set()
        self._closed = False
        self._signals = _JobSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.preview_done.connect(self._on_preview_done)
        self._signals.preview_failed.connect(self.preview_failed)
        self._signals.unexpected.connect(self.problem)

    def pixmaps(self, path: str, at: float | None = None) -> tuple[QPixmap, QPixmap] | None:
        """(sharp, blurred) if ready; otherwise None and the thumbnail (of a video, its
        frame ``at`` seconds in) is asked for."""
        pair = self._pixmaps.get(path)
        if pair is not None:
            self._pixmaps.move_to_end(path)
            return pair
        if path not in self._failures:
            self.request(path, at)
        return None

    def failure(self, path: str) -> str | None:
        return self._failures.get(path)

    def request(self, path: str, at: float | None = None) -> None:
        if path in self._pixmaps or path in self._failures or path in self._running:
            return
        self._wanted[path] = at
        self._wanted.move_to_end(path)  # newest first: what is on screen now
        while len(self._wanted) > MAX_BACKLOG:
            self._wanted.popitem(last=False)
        self._pump()

    def forget(self, path: str) -> None:
        """The file changed, moved or vanished: make its thumbnail again when next drawn."""
        self._pixmaps.pop(path, None)
        self._failures.pop(path, None)
        self._wanted.pop(path, None)

    def request_preview(self, path: str, at: float | None = None) -> None:
        self.pool.start(_PreviewJob(path, at, self._signals))

    @property
    def is_idle(self) -> bool:
        return not self._wanted and not self._running

    def cached_count(self) -> int:
        return len(self._pixmaps)

    def shutdown(self) -> None:
        """Drop the backlog and wait for running jobs, so none outlives the window."""
        self._closed = True
        self._wanted.clear()
        self.pool.clear()
        self.pool.waitForDone()

    def _pump(self) -> None:
        while not self._closed and self._wanted and len(self._running) < self.pool.maxThreadCount():
            path, at = self._wanted.popitem(last=True)
            self._running.add(path)
            self.pool.start(_ThumbnailJob(path, at, self.cache, self._signals))

    def _finish(self, path: str) -> None:
        self._running.discard(path)
        if self._closed:
            return  # answers still queued when the window closed: nobody draws them
        self.ready.emit(path)
        self._pump()
        if self.is_idle:
            self.idle.emit()

    def _on_done(self, path: str, sharp: QImage, blurred: QImage) -> None:
        self._pixmaps[path] = (QPixmap.fromImage(sharp), QPixmap.fromImage(blurred))
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self._finish(path)

    def _on_failed(self, path: str, reason: str) -> None:
        self._failures[path] = reason
        self._finish(path)

    def _on_preview_done(self, path: str, sharp: QImage, blurred: QImage) -> None:
        self.preview_ready.emit(path, QPixmap.fromImage(sharp), QPixmap.fromImage(blurred))
