"""The GUI side of heatmaps: which ones are wanted, which are made, and whether they can be.

Views ask for the heatmap of what they show; the answer is the cached pixmap,
or None while the ``FeatureWorker`` makes it. One request is with the worker
at a time and the newest waiting request goes next, so scrolling past a
hundred tiles explains what is on screen now; the detail view's preview goes
before any tile. Pixmaps are cached by path +
mtime + method + size (``HeatmapKey``), least recently drawn evicted first.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from nsfw_desktop.gui.feature_worker import HeatmapKey
from nsfw_desktop.store.result import Result

CAPACITY = 300  # cached heatmap pixmaps: tiles are 192 px, previews at most 1024 px
MAX_BACKLOG = 200  # waiting requests; the oldest are dropped, as the thumbnail loader does
METHODS = {"rollout": "Attention rollout", "last": "Last layer"}


class HeatmapProvider(QObject):
    ready = Signal(object)  # a heatmap for this path can be drawn now
    availability_changed = Signal(bool, object)  # available, and when not, why
    _request = Signal(object)  # HeatmapKey, to the worker

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.enabled = False  # the user's toggle
        self.available = True
        self.reason = ""
        self.method = "rollout"
        self._pixmaps: OrderedDict[HeatmapKey, QPixmap] = OrderedDict()
        self._failed: set[HeatmapKey] = set()
        self._wanted: OrderedDict[HeatmapKey, None] = OrderedDict()
        self._in_flight: HeatmapKey | None = None

    def connect_worker(self, worker) -> None:
        self._request.connect(worker.explain)
        worker.heatmap_ready.connect(self._ready)
        worker.heatmap_failed.connect(self._failed_one)
        worker.heatmaps_unavailable.connect(self.set_unavailable)

    @property
    def active(self) -> bool:
        return self.enabled and self.available

    def overlay(self, result: Result, kind: str) -> QPixmap | None:
        """The heatmap of ``result`` at ``kind``'s size if made; otherwise None and it is asked for."""
        if not self.active or result.error:
            return None
        key = HeatmapKey(result.path, result.mtime_ns, self.method, kind, result.worst_frame_time)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if key not in self._failed and key != self._in_flight:
            self._wanted[key] = None
            self._wanted.move_to_end(key)
            while len(self._wanted) > MAX_BACKLOG:
                self._wanted.popitem(last=False)
            self._pump()
        return None

    def pending(self, result: Result, kind: str) -> bool:
        """True while the heatmap of ``result`` is being made or waits its turn."""
        key = HeatmapKey(result.path, result.mtime_ns, self.method, kind)
        return self.active and (key == self._in_flight or key in self._wanted)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            self._wanted.clear()  # nobody looks at them any more

    def set_method(self, method: str) -> None:
        if method not in METHODS:
            raise ValueError(f"heatmap method must be one of {', '.join(METHODS)}, not {method!r}")
        self.method = method
        self._wanted.clear()

    def set_unavailable(self, reason: str) -> None:
        self.available, self.reason = False, reason
        self._wanted.clear()
        self._in_flight = None  # the worker answered this instead
        self.availability_changed.emit(False, reason)

    def reset(self, *, available: bool = True, reason: str = "") -> None:
        """The model changed: drop every heatmap, and say whether the new one can make them."""
        self._pixmaps.clear()
        self._failed.clear()
        self._wanted.clear()
        self._in_flight = None
        self.available, self.reason = available, reason
        self.availability_changed.emit(available, reason)

    def _pump(self) -> None:
        if self._in_flight is None and self._wanted and self.active:
            # The detail view's preview first: it is the one picture the user is looking at.
            previews = [key for key in self._wanted if key.kind == "preview"]
            key = previews[-1] if previews else next(reversed(self._wanted))
            del self._wanted[key]
            self._in_flight = key
            self._request.emit(key)

    def _done(self, key: HeatmapKey) -> None:
        if key == self._in_flight:
            self._in_flight = None
        self._pump()

    def _ready(self, key: HeatmapKey, image: QImage) -> None:
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > CAPACITY:
            self._pixmaps.popitem(last=False)
        self._done(key)
        self.ready.emit(key.path)

    def _failed_one(self, key: HeatmapKey, _reason: str) -> None:
        # The tile or preview already says why the file cannot be shown; asking again would not help.
        self._failed.add(key)
        self._done(key)
