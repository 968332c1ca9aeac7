"""What the grid area says while there is nothing to show: how to get to the first photos.

With no folder yet it offers Add folder; with folders but no results, Scan; while
the first scan runs, that photos appear as they are classified; with a folder
chosen in the panel that holds no photos, how to scan it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.actions import Action, ActionSet
from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid


class EmptyState(QWidget):
    def __init__(self, actions: ActionSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.add_button = QPushButton("Add folder…")
        self.add_button.clicked.connect(actions[Action.ADD_FOLDER].trigger)
        self.scan_button = QPushButton("Scan now")
        self.scan_button.clicked.connect(actions[Action.SCAN].trigger)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.scan_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def describe(self, *, folders: list[str], scanning: bool, folder: str | None) -> None:
        """Say what to do next, given the screened ``folders``, a running scan and the chosen
        ``folder`` (None: all photos)."""
        self.add_button.setVisible(not scanning)
        self.scan_button.setVisible(bool(folders) and not scanning)
        if scanning:
            self.title.setText("Scanning…")
            self.text.setText("Photos appear here as they are classified; flagged ones stay blurred.")
        elif not folders:
            self.title.setText("No photos yet")
            self.text.setText("Add a folder of photos to screen (Add folder…, File > Add folder, or drop "
                              "a folder on this window), then Scan.")
        elif folder is not None:
            self.title.setText("No photos here yet")
            self.text.setText(f"{display_path(folder)} holds no classified photos. Scan (F5) to look "
                              "for new ones.")
        else:
            self.title.setText("Ready to scan")
            self.text.setText(f"{len(folders)} folder(s) to screen. Scan now (F5) classifies their "
                              "photos; the first scan of a large library takes a while, and you can "
                              "pause it.")


class GridArea(QStackedWidget):
    """The grid, or the empty state in its place while there is nothing to show."""

    def __init__(self, grid: ThumbnailGrid, empty: EmptyState, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid, self.empty, self.model = grid, empty, grid.results
        self.addWidget(grid)
        self.addWidget(empty)

    def refresh(self, *, folders: list[str], scanning: bool) -> None:
        folder = self.model.filters.folder
        nothing = self.model.rowCount() == 0 and (
            not self.model.all_results() or (folder is not None and not self.model.results_under(folder)))
        if nothing:
            self.empty.describe(folders=folders, scanning=scanning, folder=folder)
        self.setCurrentWidget(self.empty if nothing else self.grid)
