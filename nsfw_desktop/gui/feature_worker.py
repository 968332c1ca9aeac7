"""Heatmaps and "find similar", made off the GUI thread.

A ``FeatureWorker`` lives in its own QThread. It uses the ``ModelHost``'s
classifier, the one scans and the watcher use too, and loads its weights on
the first job that needs them (never on the GUI thread). Every answer goes
back by signal, each naming its request, so the window can drop answers it no
longer needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, Signal, Slot

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.model_host import ModelHost
from nsfw_desktop.gui.thumbnail_loader import PREVIEW_SIZE, to_qimage
from nsfw_desktop.gui.worker_errors import reported
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.thumbnails import ThumbnailCache, make_thumbnail

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class HeatmapKey:
    """One heatmap: a file as it was (path + mtime), a method, and the size it is drawn at."""

    path: str
    mtime_ns: int
    method: str  # "rollout" or "last"
    kind: str  # "tile" (the thumbnail's size) or "preview" (the detail view's, at most 1024 px)
    at: float | None = None  # a video's worst frame, the one its tile and preview show


def _heatmap_failed(worker: FeatureWorker, message: str, key: HeatmapKey) -> None:
    worker.heatmap_failed.emit(key, message)  # the tile stops waiting for it
    worker.failed.emit(message)


def _similar_failed(worker: FeatureWorker, message: str, *_args) -> None:
    worker.similar_failed.emit(message)


class FeatureWorker(QObject):
    heatmap_ready = Signal(object, object)  # HeatmapKey, QImage: the colour map alone, the image's size
    heatmap_failed = Signal(object, object)  # HeatmapKey, why this file has none
    heatmaps_unavailable = Signal(object)  # the model cannot make heatmaps at all, and why
    similar_found = Signal(object, object)  # query path, list[Match] best first
    similar_failed = Signal(object)  # a message for the user
    failed = Signal(object)  # a message for the user: an unexpected error

    def __init__(self, thumbnails: ThumbnailCache, host: ModelHost):
        super().__init__()
        self.thumbnails = thumbnails
        self.host = host

    @Slot(object)
    @reported("The heatmap", _heatmap_failed)
    def explain(self, key: HeatmapKey) -> None:
        from nsfw_desktop.explain.heatmap import explain, explain_file, load_for_heatmaps

        try:
            _choice, classifier = self.host.classifier()
            load_for_heatmaps(classifier)  # ModelError when it draws none; loads it the first time
            # Opacity 1: the colour map alone; the view lays it over the picture it shows,
            # so the overlay has that picture's size: the stored thumbnail, or the preview.
            if key.kind == "tile":
                with Image.open(self.thumbnails.thumbnail(key.path, key.at)) as stored:
                    explanation = explain(classifier, stored.convert("RGB"), method=key.method,
                                          opacity=1.0)
            elif key.at is not None:
                explanation = explain(classifier, make_thumbnail(key.path, PREVIEW_SIZE, key.at),
                                      method=key.method, opacity=1.0)
            else:
                explanation = explain_file(classifier, key.path, side=PREVIEW_SIZE, max_frames=1,
                                           method=key.method, opacity=1.0)
            overlay = explanation.overlay
        except ModelError as exc:
            self.heatmaps_unavailable.emit(f"No heatmaps with this model: {for_window(exc)}")
            return
        except (ImageError, OSError) as exc:
            self.heatmap_failed.emit(key, str(exc))
            return
        self.heatmap_ready.emit(key, to_qimage(overlay))

    @Slot(object, object, int)
    @reported("Find similar", _similar_failed)
    def find_similar(self, db_path: str, path: str, top_k: int) -> None:
        from nsfw_desktop.similar.search import EmbeddingsError, find_similar

        reason = self.host.choice.capabilities.no_embeddings
        if reason:
            self.similar_failed.emit(f"Find similar: {reason}")
            return
        try:
            _choice, classifier = self.host.classifier()
            matches = find_similar(db_path, path, classifier, top_k=top_k)
        except (EmbeddingsError, ImageError, ModelError) as exc:
            self.similar_failed.emit(f"Find similar: {for_window(exc)}")
            return
        self.similar_found.emit(path, matches)
