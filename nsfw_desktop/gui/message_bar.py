"""The message bar above the grid: problems and outcomes the user should see, until dismissed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from nsfw_desktop.displaypath import display_path

MAX_MESSAGES = 4  # lines kept in the message bar
MAX_LISTED = 5  # files named in one message before "and N more"


class MessageBar(QFrame):
    """Newest message last; the oldest drop off beyond ``MAX_MESSAGES``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # A fixed light background needs a fixed dark text colour to stay readable in dark themes.
        self.setStyleSheet("MessageBar { background: #fff4d6; border: 1px solid #e0c060; }"
                           "MessageBar QLabel { color: #3a2f00; }")
        self.text = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True)
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.messages: list[str] = []
        self.setVisible(False)

    def show_message(self, message: str) -> None:
        self.messages = (self.messages + [message])[-MAX_MESSAGES:]
        self.text.setText(display_path("\n".join(self.messages)))
        self.setVisible(True)

    def clear(self) -> None:
        self.messages = []
        self.setVisible(False)


def listed(paths: list[str]) -> str:
    """``paths`` for a message: the first few, then how many more."""
    shown = ", ".join(paths[:MAX_LISTED])
    return shown if len(paths) <= MAX_LISTED else f"{shown} and {len(paths) - MAX_LISTED} more"
