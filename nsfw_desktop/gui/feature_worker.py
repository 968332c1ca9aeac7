"""Heatmaps, "find similar" and the watcher's classifier, made off the GUI thread.

A ``FeatureWorker`` lives in its own QThread. It builds one classifier from the
model settings (importing torch there, never on the GUI thread), loads it on
the first job that needs it and keeps it until the settings change; the
watcher is handed the same object (its ``load`` is locked, its forward passes
are thread-safe). Every answer goes back by signal, each naming its request,
so the window can drop answers it no longer needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, Signal, Slot

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS, Classifier
from nsfw_desktop.gui.thumbnail_loader import PREVIEW_SIZE, to_qimage
from nsfw_desktop.imaging import ImageError, load_image
from nsfw_desktop.model_source import ModelError
from nsfw_desktop.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)

REMOTE_REASON = "Heatmaps need a local model: a remote endpoint sends back only scores."


@dataclass(frozen=True)
class ModelChoice:
    """What the classifier is built from; a change means a new classifier."""

    model: str | None = None
    endpoints: tuple[str, ...] = ()
    token: str | None = None
    device: str = "auto"
    unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS

    @property
    def remote(self) -> bool:
        return bool(self.endpoints)

    def __repr__(self) -> str:  # the token never reaches a log line
        return f"ModelChoice(model={self.model!r}, endpoints={self.endpoints!r}, device={self.device!r})"


@dataclass(frozen=True)
class HeatmapKey:
    """One heatmap: a file as it was (path + mtime), a method, and the size it is drawn at."""

    path: str
    mtime_ns: int
    method: str  # "rollout" or "last"
    kind: str  # "tile" (the thumbnail's size) or "preview" (the detail view's, at most 1024 px)


class FeatureWorker(QObject):
    heatmap_ready = Signal(object, object)  # HeatmapKey, QImage: the colour map alone, the image's size
    heatmap_failed = Signal(object, str)  # HeatmapKey, why this file has none
    heatmaps_unavailable = Signal(str)  # the model cannot make heatmaps at all, and why
    similar_found = Signal(str, object)  # query path, list[Match] best first
    similar_failed = Signal(str)  # a message for the user
    classifier_ready = Signal(object, object)  # ModelChoice, Classifier
    classifier_failed = Signal(str)  # a message for the user

    def __init__(self, thumbnails: ThumbnailCache):
        super().__init__()
        self.thumbnails = thumbnails
        self._choice: ModelChoice | None = None
        self._classifier: Classifier | None = None

    @Slot(object)
    def set_model(self, choice: ModelChoice) -> None:
        if choice != self._choice:
            self._choice, self._classifier = choice, None

    @Slot()
    def build_classifier(self) -> None:
        """Answer with the classifier for the current choice (for the watcher), unloaded if new."""
        try:
            self.classifier_ready.emit(self._choice, self._get_classifier())
        except ModelError as exc:
            self.classifier_failed.emit(f"The model cannot be used: {exc}")

    @Slot(object)
    def explain(self, key: HeatmapKey) -> None:
        from nsfw_desktop.classify.features import load_vit
        from nsfw_desktop.heatmap import explain

        if self._choice is not None and self._choice.remote:
            self.heatmaps_unavailable.emit(REMOTE_REASON)
            return
        try:
            classifier = self._get_classifier()
            load_vit(classifier)  # ModelError unless a local ViT; loads it the first time
            image = self._picture(key)
            # Opacity 1: the colour map alone; the view lays it over the picture it shows.
            overlay = explain(classifier, image, method=key.method, opacity=1.0).overlay
        except ModelError as exc:
            self.heatmaps_unavailable.emit(f"No heatmaps with this model: {exc}")
            return
        except (ImageError, OSError) as exc:
            self.heatmap_failed.emit(key, str(exc))
            return
        self.heatmap_ready.emit(key, to_qimage(overlay))

    @Slot(str, str, int)
    def find_similar(self, db_path: str, path: str, top_k: int) -> None:
        from nsfw_desktop.search import EmbeddingsError, find_similar

        if self._choice is not None and self._choice.remote:
            self.similar_failed.emit("Find similar needs a local model: a remote endpoint sends back "
                                     "only scores, not the embeddings that are compared.")
            return
        try:
            matches = find_similar(db_path, path, self._get_classifier(), top_k=top_k)
        except (EmbeddingsError, ImageError, ModelError) as exc:
            self.similar_failed.emit(f"Find similar: {exc}")
            return
        self.similar_found.emit(path, matches)

    def _get_classifier(self) -> Classifier:
        if self._classifier is None:
            from nsfw_desktop.classify import make_classifier

            c = self._choice or ModelChoice()
            self._classifier = make_classifier(c.model, device=c.device, unsafe_labels=c.unsafe_labels,
                                               endpoints=c.endpoints, token=c.token)
        return self._classifier

    def _picture(self, key: HeatmapKey) -> Image.Image:
        """The picture at the size it is shown, so the overlay matches it pixel for pixel."""
        if key.kind == "tile":
            with Image.open(self.thumbnails.thumbnail(key.path)) as stored:
                return stored.convert("RGB")
        image = load_image(key.path, min_side=PREVIEW_SIZE, max_frames=1).frames[0]
        image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.LANCZOS)
        return image
