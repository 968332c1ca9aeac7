"""How the grid looks and what is selected: the thumbnail size (slider, Ctrl + and Ctrl -),
"N selected" in the status bar, and Edit > Select all flagged."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QObject, Qt
from PySide6.QtWidgets import QLabel, QSlider, QToolBar

from nsfw_desktop.gui.actions import Action, ActionSet, handles
from nsfw_desktop.gui.results_model import FlaggedRole
from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid
from nsfw_desktop.gui.tile_delegate import DEFAULT_SIDE, MAX_SIDE, MIN_SIDE, TileDelegate

ZOOM_STEP = 32  # pixels of picture side per Ctrl + or Ctrl -


class ViewControls(QObject):
    def __init__(self, grid: ThumbnailGrid, delegate: TileDelegate, actions: ActionSet,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.grid, self.delegate, self.model = grid, delegate, grid.results
        self.size_slider = QSlider(Qt.Orientation.Horizontal, minimum=MIN_SIDE, maximum=MAX_SIDE,
                                   singleStep=8, pageStep=ZOOM_STEP, value=DEFAULT_SIDE)
        self.size_slider.setFixedWidth(110)
        self.size_slider.setToolTip("Thumbnail size (Ctrl + and Ctrl -)")
        self.size_slider.valueChanged.connect(self.set_tile_side)
        self.selected_label = QLabel()
        actions.bind(self)
        grid.selectionModel().selectionChanged.connect(self._update_selected)
        self.model.modelReset.connect(self._update_selected)
        self.model.rowsRemoved.connect(self._update_selected)

    def add_to(self, toolbar: QToolBar) -> None:
        toolbar.addWidget(QLabel(" Size: "))
        toolbar.addWidget(self.size_slider)

    @handles(Action.ZOOM_IN)
    def zoom_in(self) -> None:
        self.set_tile_side(self.delegate.side + ZOOM_STEP)

    @handles(Action.ZOOM_OUT)
    def zoom_out(self) -> None:
        self.set_tile_side(self.delegate.side - ZOOM_STEP)

    def set_tile_side(self, side: int) -> None:
        side = max(MIN_SIDE, min(MAX_SIDE, side))
        if side == self.delegate.side:
            return
        self.delegate.side = side
        self.size_slider.setValue(side)
        self.grid.fit_columns()
        self.grid.relayout()
        self.grid.request_visible()

    @handles(Action.SELECT_FLAGGED)
    def select_flagged(self) -> None:
        selection = QItemSelection()
        for row in range(self.model.rowCount()):
            index = self.model.index(row)
            if index.data(FlaggedRole):
                selection.select(index, index)
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _update_selected(self) -> None:
        count = len(self.grid.selectionModel().selectedIndexes())
        self.selected_label.setText(f"{count} selected" if count else "")
