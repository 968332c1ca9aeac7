"""The detail view follows the grid: the current item, whether it is hidden, its heatmap,
and how flagged pictures are hidden (the blur mode setting)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QDockWidget

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.heatmaps import HeatmapProvider
from nsfw_desktop.gui.results_model import HiddenRole
from nsfw_desktop.gui.tile_delegate import TileDelegate


class DetailLink(QObject):
    def __init__(self, context: WindowContext, delegate: TileDelegate, detail: DetailView,
                 dock: QDockWidget, heatmaps: HeatmapProvider):
        super().__init__(context.window)
        live, grid = context.live, context.grid
        self.grid, self.model, self.delegate, self.detail = grid, grid.results, delegate, detail
        self.dock, self.heatmaps = dock, heatmaps
        detail.hidden_mode = live.settings.blur_mode
        grid.selectionModel().currentChanged.connect(self._show)
        # A click selects; revealing has its own gestures: double-click, Space, the tile's eye.
        grid.doubleClicked.connect(self._double_clicked)
        grid.activated.connect(self._open_details)
        detail.reveal_requested.connect(grid.reveal_requested)
        self.model.dataChanged.connect(self._data_changed)
        self.model.modelReset.connect(self.refresh)
        heatmaps.ready.connect(self._heatmap_ready)
        live.changed.connect(self._settings_changed)

    def refresh(self) -> None:
        """Show the current item again: its state, or what is drawn over it, changed."""
        self._show(self.grid.currentIndex())

    def _show(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if not current.isValid():
            self.detail.show_result(None)
            return
        result, hidden = self.model.result(current.row()), bool(current.data(HiddenRole))
        self.detail.show_result(result, hidden=hidden, threshold=self.model.filters.threshold)
        self.detail.set_overlay(None if hidden else self.heatmaps.overlay(result, "preview"))

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex) -> None:
        current = self.grid.currentIndex()
        if current.isValid() and top.row() <= current.row() <= bottom.row():
            self._show(current)

    def _heatmap_ready(self, path: str) -> None:
        current = self.grid.currentIndex()
        if current.isValid() and self.model.result(current.row()).path == path:
            self._show(current)

    def _double_clicked(self, index: QModelIndex) -> None:
        if index.data(HiddenRole):
            self.model.toggle_revealed(index)
        self._open_details(index)

    def _open_details(self, _index: QModelIndex) -> None:
        self.dock.show()
        self.dock.raise_()

    def _settings_changed(self, new: Settings) -> None:
        if new.blur_mode != self.delegate.blur_mode:
            self.delegate.blur_mode = new.blur_mode
            self.detail.hidden_mode = new.blur_mode
            self.grid.viewport().update()
            self.refresh()
