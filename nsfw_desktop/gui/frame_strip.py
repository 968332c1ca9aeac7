"""The details panel's strip of a video's scored frames, along a time line.

Above: the frames a scan scored (``Result.frame_scores``), small, in time order,
each with its time and score; below: the time line of the whole video, a bar per
frame as high as its score, the threshold as a dashed line and a marker at the
highest-scoring frame. The frames are decoded on the thumbnail loader's worker
thread (``video.load_video`` seeking to the stored times), never on the GUI
thread; until they come, grey boxes stand in. While the video is hidden
(flagged and not revealed), its frames at or above the threshold are blurred,
or covered in the placeholder mode, as tiles are; a video flagged by a review
mark or a learnt policy with no frame over the threshold has all its frames
hidden. Clicking a frame, or the time line near one, asks for that frame in the
preview (``frame_chosen``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader, to_qimage
from nsfw_desktop.gui.tile_delegate import video_duration_text
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.thumbnails import privacy_blur
from nsfw_desktop.media.video import load_video
from nsfw_desktop.store.result import Result

FRAME_HEIGHT = 54  # pixels of a frame in the strip
LABEL_HEIGHT = 16  # its time and score under it
GAP = 4
TIMELINE_HEIGHT = 36
FLAGGED = QColor("#c62828")
SAFE = QColor("#5c7cfa")
WORST = QColor("#ff9800")


class _FrameJobSignals(QObject):
    done = Signal(int, object)  # request number, [(seconds, sharp QImage, blurred QImage)]
    failed = Signal(int, str)


class _FrameJob(QRunnable):
    """Decode a video's frames at the stored times, reduced to the strip's height."""

    def __init__(self, number: int, path: str, times: list[float], signals: _FrameJobSignals):
        super().__init__()
        self.number, self.path, self.times, self.signals = number, path, times, signals

    def run(self) -> None:
        try:
            video = load_video(self.path, min_side=FRAME_HEIGHT, at=self.times)
        except ImageError as exc:
            self.signals.failed.emit(self.number, str(exc))
            return
        self.signals.done.emit(self.number, [(t, to_qimage(f), to_qimage(privacy_blur(f)))
                                             for t, f in zip(video.times, video.frames, strict=True)])


class _Frames(QWidget):
    """The row of frames; its width grows with their number, inside a scroll area."""

    clicked = Signal(int)

    def __init__(self, strip: FrameStrip):
        super().__init__()
        self.strip = strip
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        count = len(self.strip.scores)
        return QSize(count * (self.strip.frame_width + GAP), FRAME_HEIGHT + LABEL_HEIGHT)

    def frame_rect(self, index: int) -> QRectF:
        return QRectF(index * (self.strip.frame_width + GAP), 0, self.strip.frame_width, FRAME_HEIGHT)

    def mousePressEvent(self, event) -> None:
        index = int(event.position().x() // (self.strip.frame_width + GAP))
        if 0 <= index < len(self.strip.scores):
            self.clicked.emit(index)

    def paintEvent(self, _event) -> None:
        strip = self.strip
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        for index, (seconds, score) in enumerate(strip.scores):
            rect = self.frame_rect(index)
            picture = strip.picture(index)
            if picture is None:
                painter.fillRect(rect, QColor("#808080"))
                if strip.is_covered(index):
                    painter.setPen(QColor("white"))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Flagged")
            else:
                painter.drawPixmap(rect, picture, QRectF(picture.rect()))
            if index == strip.worst:
                painter.setPen(QPen(WORST, 3))
                painter.drawRect(rect.adjusted(1, 1, -1, -1))
            if index == strip.chosen:
                painter.setPen(QPen(self.palette().highlight().color(), 2, Qt.PenStyle.DashLine))
                painter.drawRect(rect.adjusted(4, 4, -4, -4))
            painter.setPen(FLAGGED if score >= strip.threshold else self.palette().text().color())
            label = QRectF(rect.left(), FRAME_HEIGHT, rect.width(), LABEL_HEIGHT)
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter,
                             f"{video_duration_text(seconds)}  {score:.2f}")
        painter.end()


class _Timeline(QWidget):
    """The whole video's length: a bar per scored frame, the threshold, the worst frame."""

    clicked = Signal(int)

    def __init__(self, strip: FrameStrip):
        super().__init__()
        self.strip = strip
        self.setFixedHeight(TIMELINE_HEIGHT)
        self.setToolTip("Each bar is a scored frame, as high as its score; the dashed line is the "
                        "threshold, the orange marker the highest-scoring frame")

    def x_of(self, seconds: float) -> float:
        duration = self.strip.duration or 1.0
        return 4 + (self.width() - 8) * min(max(seconds / duration, 0.0), 1.0)

    def mousePressEvent(self, event) -> None:
        if self.strip.scores:
            x = event.position().x()
            self.clicked.emit(min(range(len(self.strip.scores)),
                                  key=lambda i: abs(self.x_of(self.strip.scores[i][0]) - x)))

    def paintEvent(self, _event) -> None:
        strip = self.strip
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        top, bottom = 8.0, self.height() - 2.0
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawLine(QPointF(4, bottom), QPointF(self.width() - 4, bottom))
        for seconds, score in strip.scores:
            x = self.x_of(seconds)
            painter.setPen(QPen(FLAGGED if score >= strip.threshold else SAFE, 2))
            painter.drawLine(QPointF(x, bottom), QPointF(x, bottom - (bottom - top) * score))
        level = bottom - (bottom - top) * strip.threshold
        painter.setPen(QPen(self.palette().text().color(), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(4, level), QPointF(self.width() - 4, level))
        if strip.worst is not None:
            x = self.x_of(strip.scores[strip.worst][0])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(WORST)
            painter.drawPolygon(QPolygonF([QPointF(x - 5, 0), QPointF(x + 5, 0), QPointF(x, 7)]))
        painter.end()


class FrameStrip(QWidget):
    frame_chosen = Signal(float)  # seconds into the video of a clicked frame

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.loader = loader
        self.path: str | None = None
        self.scores: list[tuple[float, float]] = []
        self.duration = 0.0
        self.worst: int | None = None
        self.chosen: int | None = None
        self.threshold = 0.5
        self.hidden = False
        self.hidden_mode = "blur"
        self.frame_width = FRAME_HEIGHT * 16 // 9
        self._pictures: dict[int, tuple[QPixmap, QPixmap]] = {}
        self._request = 0
        self._signals = _FrameJobSignals(self)
        self._signals.done.connect(self._frames_ready)
        self._signals.failed.connect(self._frames_failed)

        self.frames = _Frames(self)
        self.timeline = _Timeline(self)
        self.frames.clicked.connect(self._choose)
        self.timeline.clicked.connect(self._choose)
        self.scroll = QScrollArea(frameShape=QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.frames)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = self.scroll.horizontalScrollBar().sizeHint().height()
        self.scroll.setFixedHeight(FRAME_HEIGHT + LABEL_HEIGHT + bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.scroll)
        layout.addWidget(self.timeline)

    def show_result(self, result: Result | None, *, threshold: float, hidden: bool, hidden_mode: str) -> None:
        """The frames of ``result`` when it is a video scanned with them; hidden otherwise."""
        self.threshold, self.hidden, self.hidden_mode = threshold, hidden, hidden_mode
        scores = (result.frame_scores or []) if result is not None and result.error is None else []
        if result is None or not scores:
            self.path, self.scores, self.worst, self.chosen = None, [], None, None
            self._request += 1  # frames of the video shown before, still on their way, are not wanted
            self.setVisible(False)
            return
        if (result.path, scores) != (self.path, self.scores):
            self.path, self.scores, self.duration = result.path, scores, result.duration or scores[-1][0]
            self.worst = max(range(len(scores)), key=lambda i: scores[i][1])
            self.chosen = None
            self.frames.setToolTip("")
            self._pictures.clear()
            self._request += 1
            job = _FrameJob(self._request, result.path, [t for t, _ in scores], self._signals)
            self.loader.pool.start(job)  # the loader's thread: shut down with the window
            self._show_worst()
        self.setVisible(True)
        self.frames.update()
        self.timeline.update()

    def is_covered(self, index: int) -> bool:
        """Whether frame ``index`` is hidden: the video is, and the frame is flagged (or the video
        is flagged by a review or a policy, and no frame reaches the threshold)."""
        if not self.hidden or self.hidden_mode == "show":
            return False
        return self.scores[index][1] >= self.threshold or self.scores[self.worst][1] < self.threshold

    def picture(self, index: int) -> QPixmap | None:
        """What to draw for frame ``index``: sharp, blurred, or None (not decoded yet, or covered)."""
        pair = self._pictures.get(index)
        if pair is None:
            return None
        if not self.is_covered(index):
            return pair[0]
        return pair[1] if self.hidden_mode == "blur" else None

    def _show_worst(self) -> None:
        """Scroll the highest-scoring frame into view (the frames' width may just have changed)."""
        self.frames.adjustSize()
        rect = self.frames.frame_rect(self.worst)
        self.scroll.ensureVisible(round(rect.center().x()), 0, self.frame_width, 0)

    def _choose(self, index: int) -> None:
        self.chosen = index
        self.frames.update()
        self.frame_chosen.emit(self.scores[index][0])

    def _frames_ready(self, number: int, frames: list) -> None:
        if number != self._request:
            return  # another video was chosen meanwhile
        times = [t for t, _ in self.scores]
        for seconds, sharp, blurred in frames:
            index = min(range(len(times)), key=lambda i: abs(times[i] - seconds))
            self._pictures.setdefault(index, (QPixmap.fromImage(sharp), QPixmap.fromImage(blurred)))
        first = next(iter(self._pictures.values()), None)
        if first is not None and first[0].height():
            self.frame_width = max(1, round(first[0].width() * FRAME_HEIGHT / first[0].height()))
            self._show_worst()
        self.frames.update()

    def _frames_failed(self, number: int, reason: str) -> None:
        if number == self._request:
            self.frames.setToolTip(f"The frames cannot be shown: {reason}")

