"""The detail panel: a large preview of the current photo and everything stored about it.

The preview is decoded off the GUI thread by the ThumbnailLoader; until it
arrives the tile's thumbnail stands in. A flagged photo stays blurred (or
covered) here too until the user reveals it. ``set_overlay`` lays a
half-transparent image (an attention heatmap) over the preview, never over a
hidden one; the window drives ``heatmap_toggle`` with its View menu action.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.frame_strip import FrameStrip
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
from nsfw_desktop.gui.tile_delegate import REVIEW_TEXT, video_duration_text
from nsfw_desktop.store.result import Result

OVERLAY_OPACITY = 0.5


class DetailView(QWidget):
    reveal_requested = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.loader = loader
        self.result: Result | None = None
        self.hidden_mode = "blur"  # how a hidden photo is shown: "blur" or "placeholder"
        self._hidden = False
        self._pixmaps: tuple[QPixmap, QPixmap] | None = None
        self._overlay: QPixmap | None = None
        self._frame_at: float | None = None  # a video's frame chosen in the strip; None: its worst

        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(QSize(120, 120))
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.reveal_button = QPushButton("Reveal (Space)")
        self.reveal_button.clicked.connect(self.reveal_requested)
        self.heatmap_toggle = QCheckBox("Show heatmap")
        self.heatmap_toggle.setToolTip("Colour where the model looked (red: most)")
        self.strip = FrameStrip(loader)
        self.strip.frame_chosen.connect(self._show_frame)

        self.fields: dict[str, QLabel] = {}
        fields = QWidget()
        form = QFormLayout(fields)
        form.setContentsMargins(0, 0, 0, 0)
        for name in ("Score", "Policy score", "Label", "Review", "Model", "Dimensions", "Video",
                     "File size", "Modified", "Scanned", "Path", "Error"):
            label = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.fields[name] = label
            form.addRow(f"{name}:", label)

        layout = QVBoxLayout(self)
        # The fields scroll, so the preview keeps its room in a short window.
        self.fields_area = scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(fields)
        scroll.setMinimumHeight(80)
        layout.addWidget(self.preview, 3)
        layout.addWidget(self.strip)
        layout.addWidget(self.reveal_button)
        layout.addWidget(self.heatmap_toggle)
        layout.addWidget(scroll, 2)
        loader.preview_ready.connect(self._preview_ready)
        loader.preview_failed.connect(self._preview_failed)
        self.show_result(None)

    def show_result(self, result: Result | None, *, hidden: bool = False, threshold: float = 0.5) -> None:
        """Show ``result`` (None clears the panel); ``hidden``: flagged and not revealed;
        ``threshold``: the score from which a video's frame counts as flagged."""
        changed = result is None or self.result is None or result.path != self.result.path
        self.result = result
        self._hidden = hidden
        self.strip.show_result(result, threshold=threshold, hidden=hidden, hidden_mode=self.hidden_mode)
        if result is None:
            for label in self.fields.values():
                label.clear()
            self._pixmaps = None
            self.preview.setText("Select a photo")
            self.reveal_button.setVisible(False)
            return
        self._fill_fields(result)
        self.reveal_button.setVisible(hidden and self.hidden_mode != "show")
        if changed:
            self._overlay = None
            self._frame_at = None
            # Stand-in until the preview comes; of a video, its worst frame.
            self._pixmaps = self.loader.pixmaps(result.path, result.worst_frame_time)
            if result.error is None:
                self.loader.request_preview(result.path, result.worst_frame_time)
        self._render()

    def set_overlay(self, overlay: QPixmap | None) -> None:
        """Lay ``overlay`` (scaled to the picture) over the preview; None removes it."""
        self._overlay = overlay
        self._render()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render()

    def _fill_fields(self, result: Result) -> None:
        f = self.fields
        f["Score"].setText("" if result.nsfw_score is None else f"{result.nsfw_score:.3f}")
        f["Policy score"].setText("none: the model's score decides" if result.policy_score is None
                                  else f"{result.policy_score:.3f} (learnt from your reviews; decides)")
        f["Label"].setText(result.label or "")
        f["Review"].setText(REVIEW_TEXT.get(result.review, "not reviewed"))
        f["Model"].setText(result.model)
        f["Dimensions"].setText(f"{result.width} × {result.height}" if result.width else "")
        f["Video"].setText(_video_text(result))
        f["File size"].setText(_file_size(result.file_size))
        f["Modified"].setText(result.modified.strftime("%Y-%m-%d %H:%M:%S"))
        f["Scanned"].setText(datetime.fromtimestamp(result.scanned_at).strftime("%Y-%m-%d %H:%M:%S"))
        f["Path"].setText(display_path(result.path))
        f["Error"].setText(display_path(result.error or ""))

    def _render(self) -> None:
        if self.result is None:
            return
        if self._hidden and self.hidden_mode == "placeholder":
            self.preview.setText("Flagged: press Space or Reveal to show")
            return
        if self._pixmaps is None:
            self.preview.setText(self.result.error or "Loading…")
            return
        sharp, blurred = self._pixmaps
        picture = (blurred if self._hidden and self.hidden_mode == "blur" else sharp).scaled(
            self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation)
        # The heatmap is of the worst frame: not drawn over another one chosen in the strip.
        if self._overlay is not None and not self._hidden and self._frame_at is None:
            painter = QPainter(picture)
            painter.setOpacity(OVERLAY_OPACITY)
            painter.drawPixmap(picture.rect(), self._overlay)
            painter.end()
        self.preview.setPixmap(picture)

    def _show_frame(self, seconds: float) -> None:
        """The strip's frame ``seconds`` into the video, in the preview (the worst: as at first)."""
        if self.result is None:
            return
        self._frame_at = None if seconds == self.result.worst_frame_time else seconds
        self.loader.request_preview(self.result.path, seconds)

    def _preview_ready(self, path: str, sharp: QPixmap, blurred: QPixmap) -> None:
        if self.result is not None and path == self.result.path:
            self._pixmaps = (sharp, blurred)
            self._render()

    def _preview_failed(self, path: str, reason: str) -> None:
        if self.result is not None and path == self.result.path:
            self._pixmaps = None
            self.preview.setText(display_path(f"Cannot show this file: {reason}"))


def _file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _video_text(result: Result) -> str:
    """A video's length and where its worst frame is; empty for a picture."""
    if result.kind != "video":
        return ""
    text = video_duration_text(result.duration)
    if result.worst_frame_time is not None:
        text += (f", highest-scoring frame at {video_duration_text(result.worst_frame_time)} "
                 f"of {result.frames} sampled")
    return text
