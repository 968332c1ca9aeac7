"""A tile's caption: the verdict, the review mark, the likeness and the name never overlap."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from nsfw_desktop.gui.tile_delegate import DEFAULT_SIDE, MAX_SIDE, MIN_SIDE, TileDelegate
from nsfw_desktop.store.result import Result


class RecordingPainter(QPainter):
    """Paints, and keeps where each text landed (the text's own bounds, not the box given)."""

    def __init__(self, device):
        super().__init__(device)
        self.texts: list[tuple[QRect, str]] = []

    def drawText(self, *args):  # noqa: N802 (Qt's name)
        if len(args) == 3 and isinstance(args[0], QRect):
            self.texts.append((self.boundingRect(*args), args[2]))
        super().drawText(*args)


def _result(review, score=0.16, error=None):
    return Result(path="/photos/2024/a rather long file name from a phone camera.jpg", label="nsfw",
                  nsfw_score=score, error=error, model="m", width=1, height=1, file_size=1,
                  mtime_ns=1, scanned_at=0.0, review=review)


@pytest.mark.parametrize("side", [MIN_SIDE, 112, 128, DEFAULT_SIDE, 224, MAX_SIDE])
@pytest.mark.parametrize("review", ["nsfw", "safe", None])
@pytest.mark.parametrize("similarity", [None, 0.93])
def test_the_caption_texts_do_not_overlap(qtbot, side, review, similarity):
    """A flagged tile's verdict and its review mark, "0.93 alike" and the name: never one over another."""
    result = _result(review)
    delegate = TileDelegate(blur_mode="placeholder")
    delegate.side = side
    image = QImage(side + 40, side + 80, QImage.Format.Format_ARGB32)
    painter = RecordingPainter(image)
    option = QStyleOptionViewItem()
    option.font, option.fontMetrics = painter.font(), painter.fontMetrics()
    caption = QRect(4, side + 8, side, 2 * option.fontMetrics.height())
    delegate._paint_caption(painter, caption, option, result, review != "safe", similarity,
                            "a rather long file name from a phone camera.jpg")
    painter.end()
    texts = painter.texts
    assert texts[0][1] in ("Flagged 0.16", "score 0.16")
    marks = [text for _rect, text in texts if text.startswith(("reviewed", "\u2713"))]
    assert len(marks) == bool(review)
    if review and side >= (DEFAULT_SIDE if similarity is None else 224):  # the words, where they fit
        assert marks[0].startswith("reviewed")
    for (a, text_a), (b, text_b) in itertools.combinations(texts, 2):
        assert not a.intersects(b), (side, text_a, a, text_b, b)
    for rect, text in texts:
        assert caption.contains(rect), (text, rect, caption)
