"""The message bar above the grid: problems and outcomes the user should see.

Each message is a line of its own with its own close button. A problem stays
until it is closed (the user may be away when it comes); an outcome ("Moved 3
files...") goes away by itself after ``INFO_SECONDS``. At most ``MAX_MESSAGES``
are kept, the oldest dropped first, and a message already shown is not shown
twice, so the bar never grows past a few lines.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from nsfw_desktop.files.displaypath import display_path

MAX_MESSAGES = 3  # lines kept in the message bar
MAX_LISTED = 5  # files named in one message before "and N more"
INFO_SECONDS = 15  # how long an outcome stays
MAX_LINES = 3  # a long message is cut after this many lines; its tooltip has it all


class _Line(QWidget):
    def __init__(self, text: str, bar: MessageBar):
        super().__init__()
        self.text = text
        self.shown = display_path(text)
        self.label = QLabel(self.shown, wordWrap=True,
                            textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setToolTip(self.shown)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMaximumHeight(MAX_LINES * self.label.fontMetrics().lineSpacing())
        close = QToolButton(text="✕", autoRaise=True, toolTip="Dismiss this message")
        close.clicked.connect(lambda: bar.dismiss(self))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Cut with "…" what would not fit in MAX_LINES lines (wrapping wastes some of each
        # line, hence the margin); the tooltip keeps the whole message.
        room = int(self.label.width() * MAX_LINES * 0.85)
        self.label.setText(self.label.fontMetrics().elidedText(self.shown, Qt.TextElideMode.ElideRight, room))


class MessageBar(QFrame):
    """Newest message last; the oldest drop off beyond ``MAX_MESSAGES``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # A fixed light background needs a fixed dark text colour to stay readable in dark themes.
        self.setStyleSheet("MessageBar { background: #fff4d6; border: 1px solid #e0c060; }"
                           "MessageBar QLabel { color: #3a2f00; }")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 2, 4, 2)
        self._layout.setSpacing(0)
        self._lines: list[_Line] = []
        self.setVisible(False)

    @property
    def messages(self) -> list[str]:
        return [line.text for line in self._lines]

    def show_message(self, message: str) -> None:
        """A problem: shown until the user closes it."""
        self._add(message)

    def show_info(self, message: str) -> None:
        """An outcome: shown for ``INFO_SECONDS``, or until closed."""
        line = self._add(message)
        QTimer.singleShot(round(INFO_SECONDS * 1000), line, lambda: self.dismiss(line))

    def dismiss(self, line: _Line) -> None:
        if line in self._lines:
            self._lines.remove(line)
            self._layout.removeWidget(line)
            line.deleteLater()
        self.setVisible(bool(self._lines))

    def clear(self) -> None:
        for line in list(self._lines):
            self.dismiss(line)

    def _add(self, message: str) -> _Line:
        for line in self._lines:
            if line.text == message:
                self.dismiss(line)  # shown again: moved to the end, not doubled
                break
        line = _Line(message, self)
        self._lines.append(line)
        self._layout.addWidget(line)
        while len(self._lines) > MAX_MESSAGES:
            self.dismiss(self._lines[0])
        self.setVisible(True)
        return line


def listed(paths: list[str]) -> str:
    """``paths`` for a message: the first few, then how many more."""
    shown = ", ".join(paths[:MAX_LISTED])
    return shown if len(paths) <= MAX_LISTED else f"{shown} and {len(paths) - MAX_LISTED} more"
