"""How one tile of the grid is drawn: the picture, then the score, label and name.

Flagged tiles are hidden until revealed, by the user's chosen privacy mode:
blurred, a plain placeholder, or shown as they are. The picture and the caption
are painted by separate methods. With heatmaps on, a revealed tile gets its
attention heatmap laid over the picture; a hidden one never does, since the
heatmap would show more than the blur. A video's tile shows its worst frame
with a play badge and the video's duration.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
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
from nsfw_desktop.store import Result
from nsfw_desktop.thumbnails import THUMBNAIL_SIZE

PADDING = 6
CAPTION_LINES = 2
FLAGGED_COLOR = QColor(200, 40, 40)
ERROR_COLOR = QColor(200, 120, 0)
PLACEHOLDER_COLOR = QColor(120, 120, 120)
LOADING_COLOR = QColor(225, 225, 225)
REVIEW_TEXT = {"safe": "reviewed safe", "nsfw": "reviewed NSFW"}
HEATMAP_OPACITY = 0.5
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

    def tile_size(self, font_height: int) -> QSize:
        side = THUMBNAIL_SIZE + 2 * PADDING
        return QSize(side, side + CAPTION_LINES * font_height + PADDING)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.tile_size(option.fontMetrics.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect.adjusted(2, 2, -2, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        picture = QRect(rect.left() + PADDING - 2, rect.top() + PADDING - 2, THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        result: Result = index.data(ResultRole)
        self._paint_picture(painter, picture, index, result)
        caption = QRect(rect.left() + PADDING - 2, picture.bottom() + 4,
                        THUMBNAIL_SIZE, rect.bottom() - picture.bottom() - 4)
        self._paint_caption(painter, caption, option, result, index.data(FlaggedRole),
                            index.data(SimilarityRole))
        painter.restore()

    def _paint_picture(self, painter: QPainter, area: QRect, index: QModelIndex, result: Result) -> None:
        if result.error:
            # The scan's reason, which is what the user needs to act on.
            self._paint_text_box(painter, area, ERROR_COLOR, f"Not classified:\n{result.error}")
            return
        hidden = index.data(HiddenRole) and self.blur_mode != "show"
        if hidden and self.blur_mode == "placeholder":
            self._paint_text_box(painter, area, PLACEHOLDER_COLOR, "Flagged\nclick or Space to reveal")
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
        if hidden:
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "Flagged\nclick or Space to reveal")
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
        painter.drawPixmap(target, pixmap)
        return target

    @staticmethod
    def _paint_text_box(painter: QPainter, area: QRect, color: QColor, text: str) -> None:
        painter.fillRect(area, color)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(area.adjusted(6, 6, -6, -6),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    @staticmethod
    def _paint_caption(painter: QPainter, area: QRect, option: QStyleOptionViewItem,
                       result: Result, flagged: bool, similarity: float | None) -> None:
        line = QRect(area.left(), area.top(), area.width(), option.fontMetrics.height())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_color = option.palette.highlightedText() if selected else option.palette.text()
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        if result.error:
            painter.setPen(ERROR_COLOR)
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft, "error")
        else:
            painter.setPen(FLAGGED_COLOR if flagged else text_color.color())
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft, f"{result.nsfw_score:.2f} {result.label}")
        if result.review:
            painter.setFont(option.font)
            painter.setPen(text_color.color())
            painter.drawText(line, Qt.AlignmentFlag.AlignRight, REVIEW_TEXT[result.review])
        painter.setFont(option.font)
        painter.setPen(text_color.color())
        line.translate(0, line.height())
        width = line.width()
        if similarity is not None:
            alike = f"{similarity:.2f} alike"
            painter.setFont(bold)
            painter.drawText(line, Qt.AlignmentFlag.AlignRight, alike)
            painter.setFont(option.font)
            width -= option.fontMetrics.horizontalAdvance(alike) * 1.2
        name = option.fontMetrics.elidedText(os.path.basename(result.path), Qt.TextElideMode.ElideMiddle,
                                             int(width))
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft, name)
