"""The thumbnail grid: uniform tiles in icon mode, the selection, and thumbnails asked for ahead.

Only the rows on screen are asked for, worked out from the grid's geometry,
plus the next screen before it is scrolled into view.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from nsfw_desktop.gui.results_model import ResultsModel
from nsfw_desktop.gui.tile_delegate import TileDelegate

PREFETCH_PAGES = 1  # thumbnails made ahead of the scroll position, in screens


class ThumbnailGrid(QListView):
    """Icon-mode grid with uniform tiles; Space asks to reveal the selection."""

    reveal_requested = Signal()

    def __init__(self, model: ResultsModel, delegate: TileDelegate, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)  # layout of 20,000 tiles without asking each its size
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(4)
        self.setItemDelegate(delegate)
        self.setModel(model)
        self.results = model
        self._prefetch_timer = QTimer(self, singleShot=True, interval=30)
        self._prefetch_timer.timeout.connect(self.prefetch)
        self.verticalScrollBar().valueChanged.connect(self._prefetch_timer.start)

    def fit_columns(self) -> None:
        """As many columns as fit, each cell widened to share the spare width, so that a
        wide window shows no empty band beside the tiles (the delegate centres each tile)."""
        delegate = self.itemDelegate()
        tile = delegate.tile_size(self.fontMetrics().height()).width()
        pitch = tile + 2 * self.spacing()
        width = self.viewport().width()
        cell = max(tile, width // max(1, width // pitch) - 2 * self.spacing())
        if cell != delegate.cell_width:
            delegate.cell_width = cell
            self.relayout()

    def relayout(self) -> None:
        """Lay the tiles out again after their size changed."""
        # The grid caches the one size of its uniform tiles: this makes it ask again.
        self.setUniformItemSizes(False)
        self.setUniformItemSizes(True)
        self.doItemsLayout()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.reveal_requested.emit()
            return
        super().keyPressEvent(event)

    # Selection

    def selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.selectionModel().selectedIndexes())

    def selected_paths(self) -> list[str]:
        return [self.results.result(row).path for row in self.selected_rows()]

    def select_rows(self, rows: list[int]) -> None:
        selection = self.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(self.results.index(row), QItemSelectionModel.SelectionFlag.Select)
        if rows:
            selection.setCurrentIndex(self.results.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)

    # Thumbnails on screen and ahead

    def visible_rows(self) -> range:
        """Rows on screen, from the grid's geometry: tiles are uniform, so the first
        row's tiles give the columns and the second row's the line pitch."""
        count = self.results.rowCount()
        first = self.visualRect(self.results.index(0)) if count else None
        if first is None or not first.isValid():
            return range(0)
        columns = 1
        while columns < count and self.visualRect(self.results.index(columns)).top() == first.top():
            columns += 1
        pitch = first.height() + 2 * self.spacing()
        if columns < count:
            pitch = self.visualRect(self.results.index(columns)).top() - first.top()
        start = max(0, -first.top() // max(pitch, 1)) * columns
        lines = self.viewport().height() // max(pitch, 1) + 2
        return range(min(start, count), min(count, start + lines * columns))

    def request_visible(self) -> None:
        """Ask for the thumbnails on screen now, without waiting for a paint."""
        self.executeDelayedItemsLayout()  # rows just added may not have a place yet
        for row in self.visible_rows():
            result = self.results.result(row)
            self.results.thumbnails.request(result.path, result.worst_frame_time)

    def prefetch(self) -> None:
        rows = self.visible_rows()
        if not rows:
            return
        ahead = range(rows.stop, min(self.results.rowCount(), rows.stop + PREFETCH_PAGES * len(rows)))
        # Requested farthest first: the loader serves the newest request first.
        for row in reversed(ahead):
            result = self.results.result(row)
            self.results.thumbnails.request(result.path, result.worst_frame_time)
