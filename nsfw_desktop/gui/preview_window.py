"""The large preview (View or Edit > Large preview, F3): one photo as large as the screen
allows, under the same reveal rule as the grid, with the heatmap switch, and Left and
Right to move through what the grid shows (its filter and order).

It follows the grid's current item, so the grid, the details panel and the preview
always show the same photo.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from nsfw_desktop.gui.actions import Action, ActionSet, handles
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.heatmaps import HeatmapProvider
from nsfw_desktop.gui.results_model import HiddenRole
from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader


class PreviewWindow(QDialog):
    def __init__(self, grid: ThumbnailGrid, loader: ThumbnailLoader, heatmaps: HeatmapProvider,
                 actions: ActionSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preview")
        self.grid, self.model, self.heatmaps = grid, grid.results, heatmaps
        self.heatmap_action = actions[Action.HEATMAP]
        self.view = DetailView(loader)
        self.view.fields_area.setVisible(False)  # the details panel has them; here the photo counts
        self.view.reveal_requested.connect(self.toggle_reveal)
        self.view.heatmap_toggle.toggled.connect(self.heatmap_action.setChecked)
        self.heatmap_action.toggled.connect(self.view.heatmap_toggle.setChecked)
        self.heatmap_action.toggled.connect(lambda _on: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        actions.bind(self)
        grid.selectionModel().currentChanged.connect(lambda *_: self.refresh())
        self.model.dataChanged.connect(lambda *_: self.refresh())
        heatmaps.ready.connect(lambda _path: self.refresh())

    @handles(Action.PREVIEW)
    def open(self) -> None:
        if not self.grid.currentIndex().isValid():
            if not self.model.rowCount():
                return
            self.step(0)
        self.view.heatmap_toggle.setChecked(self.heatmap_action.isChecked())
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            self.resize(int(screen.width() * 0.85), int(screen.height() * 0.85))
        self.show()
        self.raise_()
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():
            return
        current: QModelIndex = self.grid.currentIndex()
        if not current.isValid():
            self.view.show_result(None)
            return
        result, hidden = self.model.result(current.row()), bool(current.data(HiddenRole))
        self.setWindowTitle(f"Preview: {current.data(Qt.ItemDataRole.DisplayRole)} "
                            f"({current.row() + 1} of {self.model.rowCount()})")
        self.view.show_result(result, hidden=hidden)
        self.view.set_overlay(None if hidden else self.heatmaps.overlay(result, "preview"))

    def step(self, by: int) -> None:
        """Move ``by`` photos through the grid's rows (0: the first), staying within them."""
        count = self.model.rowCount()
        if not count:
            return
        row = 0 if by == 0 else max(0, min(count - 1, self.grid.currentIndex().row() + by))
        index = self.model.index(row)
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(index)

    def toggle_reveal(self) -> None:
        current = self.grid.currentIndex()
        if current.isValid():
            self.model.toggle_revealed(current)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.step(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step(-1)
        elif key == Qt.Key.Key_Space:
            self.toggle_reveal()
        elif key == Qt.Key.Key_F11:
            self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)
        else:
            super().keyPressEvent(event)
