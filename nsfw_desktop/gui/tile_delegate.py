"""How one tile of the grid is drawn: the picture, then the verdict, the review and the name.

Flagged tiles are hidden until revealed, by the user's chosen privacy mode:
blurred, a plain placeholder, or shown as they are, and framed in red, so
"flagged" never looks like "scored but under the threshold" (those show their
score in plain text). The picture side is the user's (the thumbnail size
slider); thumbnails are made once at ``THUMBNAIL_SIZE`` and scaled when drawn.
With heatmaps on, a revealed tile gets its attention heatmap laid over the
picture (a hidden one never does, since the heatmap would show more than the
blur), and a mark in the corner while it is being made. A reviewed file that
a scan found gone is drawn as missing. A video's tile shows its worst frame
with a play badge and the video's duration.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from nsfw_desktop.gui.heatmaps import HeatmapProvider
from nsfw_desktop.gui.results_model import (
    FailureRole,
    FlaggedRole,
    HiddenRole,
    ResultRole,
    SimilarityRole,
    ThumbnailRole,
)
from nsfw_desktop.store.result import Result

PADDING = 6
CAPTION_LINES = 2
CAPTION_GAP = 6  # pixels between two texts on one caption line
MIN_SIDE, DEFAULT_SIDE, MAX_SIDE = 96, 160, 320  # the picture's side, in pixels
FLAGGED_COLOR = QColor(200, 40, 40)
ERROR_COLOR = QColor(200, 120, 0)
MISSING_COLOR = QColor(110, 110, 140)
PLACEHOLDER_COLOR = QColor(120, 120, 120)
LOADING_COLOR = QColor(225, 225, 225)
REVIEW_TEXT = {"safe": "reviewed safe", "nsfw": "reviewed NSFW"}
REVIEW_MARK = {"safe": "\u2713 safe", "nsfw": "\u2713 NSFW"}  # where the words do not fit
HEATMAP_OPACITY = 0.5
HIDDEN_TEXT = "Flagged\n(Space to reveal)"
EYE_SIZE = 26  # the reveal button on a flagged tile
BADGE_COLOR = QColor(0, 0, 0, 170)


def video_duration_text(seconds: float | None) -> str:
    """1:05 or 1:02:05; a dash when the duration is unknown."""
    if seconds is None:
        return "\u2013"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TileDelegate(QStyledItemDelegate):
    def __init__(self, parent=None, *, blur_mode: str = "blur", heatmaps: HeatmapProvider | None = None):
        super().__init__(parent)
        self.blur_mode = blur_mode
        self.heatmaps = heatmaps
        self.side = DEFAULT_SIDE
        self.cell_width = 0  # set by the grid to share the window's width; 0: the tile's own

    def tile_size(self, font_height: int) -> QSize:
        side = self.side + 2 * PADDING
        return QSize(side, side + CAPTION_LINES * font_height + PADDING)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = self.tile_size(option.fontMetrics.height())
        return QSize(max(size.width(), self.cell_width), size.height())

    def tile_rect(self, cell: QRect) -> QRect:
        """The tile drawn in ``cell``: its own width, centred; cells are wider when the grid
        shares out the window's width."""
        width = self.side + 2 * PADDING
        return QRect(cell.left() + max(0, cell.width() - width) // 2, cell.top(), width, cell.height())

    def eye_rect(self, cell: QRect) -> QRect:
        """Where a flagged tile's eye button is: the picture's top-left corner."""
        tile = self.tile_rect(cell)
        return QRect(tile.left() + PADDING, tile.top() + PADDING, EYE_SIZE, EYE_SIZE)

    def editorEvent(self, event, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        """A click on the eye reveals or hides the tile; any other click only selects."""
        on_eye = (event.type() == QEvent.Type.MouseButtonRelease
                  and self.eye_rect(option.rect).contains(event.position().toPoint()))
        if on_eye and index.data(FlaggedRole) and self.blur_mode != "show":
            model.toggle_revealed(index)
            return True
        return super().editorEvent(event, model, option, index)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = self.tile_rect(option.rect).adjusted(2, 2, -2, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        picture = QRect(rect.left() + PADDING - 2, rect.top() + PADDING - 2, self.side, self.side)
        result: Result = index.data(ResultRole)
        flagged = bool(index.data(FlaggedRole))
        self._paint_picture(painter, picture, index, result)
        if flagged and result.missing_since is None:
            painter.setPen(QPen(FLAGGED_COLOR, 3))
            painter.drawRect(picture.adjusted(1, 1, -2, -2))
            if self.blur_mode != "show" and not result.error:
                self._paint_eye(painter, self.eye_rect(option.rect), hidden=bool(index.data(HiddenRole)))
        caption = QRect(rect.left() + PADDING - 2, picture.bottom() + 4,
                        self.side, rect.bottom() - picture.bottom() - 4)
        self._paint_caption(painter, caption, option, result, flagged,
                            index.data(SimilarityRole), index.data(Qt.ItemDataRole.DisplayRole))
        painter.restore()

    def _paint_picture(self, painter: QPainter, area: QRect, index: QModelIndex, result: Result) -> None:
        if result.missing_since is not None:
            self._paint_text_box(painter, area, MISSING_COLOR, "Missing\nno longer on disk (kept: reviewed)")
            return
        if result.error:
            # The scan's reason, which is what the user needs to act on.
            self._paint_text_box(painter, area, ERROR_COLOR, f"Not classified:\n{result.error}")
            return
        hidden = index.data(HiddenRole) and self.blur_mode != "show"
        if hidden and self.blur_mode == "placeholder":
            self._paint_text_box(painter, area, PLACEHOLDER_COLOR, HIDDEN_TEXT)
            self._paint_video_badge(painter, area, result)
            return
        pair = index.data(ThumbnailRole)
        if pair is None:
            failure = index.data(FailureRole)
            if failure:
                self._paint_text_box(painter, area, ERROR_COLOR, f"No preview:\n{failure}")
            else:
                painter.fillRect(area, LOADING_COLOR)
            return
        sharp, blurred = pair
        target = self._draw_centered(painter, area, blurred if hidden else sharp)
        heat = None if hidden or self.heatmaps is None else self.heatmaps.overlay(result, "tile")
        if heat is not None:
            painter.setOpacity(HEATMAP_OPACITY)
            painter.drawPixmap(target, heat)
            painter.setOpacity(1.0)
        elif not hidden and self.heatmaps is not None and self.heatmaps.pending(result, "tile"):
            self._paint_badge(painter, area, "heatmap…")
        if hidden:
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(area.adjusted(4, 4, -4, -4),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, HIDDEN_TEXT)
        self._paint_video_badge(painter, target, result)

    @staticmethod
    def _paint_video_badge(painter: QPainter, picture: QRect, result: Result) -> None:
        """A play sign and the duration in the picture's bottom left corner."""
        if result.kind != "video":
            return
        text = f"\u25b6 {video_duration_text(result.duration)}"
        metrics = painter.fontMetrics()
        badge = QRect(0, 0, metrics.horizontalAdvance(text) + 8, metrics.height() + 4)
        badge.moveBottomLeft(picture.bottomLeft() + QPoint(4, -4))
        painter.fillRect(badge, BADGE_COLOR)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _draw_centered(painter: QPainter, area: QRect, pixmap: QPixmap) -> QRect:
        size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        # Bottom-aligned, so a landscape photo sits right above its caption.
        target.moveCenter(area.center())
        target.moveBottom(area.bottom())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, pixmap)
        return target

    @staticmethod
    def _paint_eye(painter: QPainter, area: QRect, *, hidden: bool) -> None:
        """The reveal button: an open eye to reveal a hidden tile, a struck one to hide it again."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawEllipse(area)
        painter.setPen(QPen(Qt.GlobalColor.white, 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        eye = area.adjusted(4, 8, -4, -8)
        painter.drawEllipse(eye)
        painter.setBrush(Qt.GlobalColor.white)
        painter.drawEllipse(eye.center(), 2, 2)
        if not hidden:
            painter.drawLine(area.topLeft() + QPoint(5, 5), area.bottomRight() - QPoint(5, 5))

    @staticmethod
    def _paint_badge(painter: QPainter, area: QRect, text: str) -> None:
        width = painter.fontMetrics().horizontalAdvance(text) + 8
        badge = QRect(area.right() - width, area.top(), width, painter.fontMetrics().height() + 2)
        painter.fillRect(badge, QColor(0, 0, 0, 160))
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _paint_text_box(painter: QPainter, area: QRect, color: QColor, text: str) -> None:
        painter.fillRect(area, color)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(area.adjusted(6, 6, -6, -6),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    @staticmethod
    def _paint_caption(painter: QPainter, area: QRect, option: QStyleOptionViewItem,
                       result: Result, flagged: bool, similarity: float | None, name: str) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_color = (option.palette.highlightedText() if selected else option.palette.text()).color()
        bold = QFont(option.font)
        bold.setBold(True)
        if result.missing_since is not None:
            verdict, verdict_color, verdict_bold = "missing", text_color, True
        elif result.error:
            verdict, verdict_color, verdict_bold = "error", ERROR_COLOR, True
        elif flagged:
            verdict, verdict_color, verdict_bold = f"Flagged {result.score:.2f}", FLAGGED_COLOR, True
        else:
            # Under the threshold: the score alone, in plain text, whatever the model's top label.
            verdict, verdict_color, verdict_bold = f"score {result.score:.2f}", text_color, False
        alike = None if similarity is None else f"{similarity:.2f} alike"
        pieces = caption_layout(area, option.fontMetrics, QFontMetrics(bold), verdict=verdict,
                                verdict_bold=verdict_bold, review=result.review,
                                alike=alike, name=name)
        for role, (rect, text) in pieces.items():
            strong = role == "alike" or (role == "verdict" and verdict_bold)
            painter.setFont(bold if strong else option.font)
            painter.setPen(verdict_color if role == "verdict" and not selected else text_color)
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft, text)


def caption_layout(area: QRect, metrics: QFontMetrics, bold: QFontMetrics, *, verdict: str,
                   verdict_bold: bool, review: str | None, alike: str | None,
                   name: str) -> dict[str, tuple[QRect, str]]:
    """Where each text of a tile's caption goes (role -> (rect, text)), on two lines of
    ``area``, so that none overlaps another at any tile size: the verdict first; the review
    (``review``: 'safe', 'nsfw' or None) beside it when both fit, else on the second line, in
    short if need be; the second line's marks on its right, and the file's name elided into
    the room they leave."""
    height = metrics.height()
    first = QRect(area.left(), area.top(), area.width(), height)
    second = first.translated(0, height)
    placed: dict[str, tuple[QRect, str]] = {}
    verdict_metrics = bold if verdict_bold else metrics
    verdict = verdict_metrics.elidedText(verdict, Qt.TextElideMode.ElideRight, first.width())
    verdict_width = verdict_metrics.horizontalAdvance(verdict)
    placed["verdict"] = (QRect(first.left(), first.top(), verdict_width, height), verdict)
    on_second: list[tuple[str, str, QFontMetrics]] = []  # right to left
    if alike:
        on_second.append(("alike", alike, bold))
    if review:
        words = REVIEW_TEXT[review]
        width = metrics.horizontalAdvance(words)
        if verdict_width + CAPTION_GAP + width <= first.width():
            placed["review"] = (QRect(first.right() + 1 - width, first.top(), width, height), words)
        else:
            on_second.append(("review", words, metrics))
    edge = second.right() + 1  # the free room on the second line ends before this x
    for role, text, text_metrics in on_second:
        if role == "review" and text_metrics.horizontalAdvance(text) > edge - second.left():
            text = REVIEW_MARK[review]
        text = text_metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, edge - second.left()))
        width = text_metrics.horizontalAdvance(text)
        if text:
            placed[role] = (QRect(edge - width, second.top(), width, height), text)
            edge -= width + CAPTION_GAP
    name = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, max(0, edge - second.left()))
    if name:
        placed["name"] = (QRect(second.left(), second.top(), metrics.horizontalAdvance(name), height), name)
    return placed
