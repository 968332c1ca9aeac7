"""File > Export flagged to CSV and Edit > Export selection to CSV: where to, and what the
user is told once it is written. The CSV is written in the ``StoreWorker``'s thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext


class Exporter(QObject):
    def __init__(self, context: WindowContext, selected: Callable[[], list[str]]):
        window = context.window
        super().__init__(window)
        live, store, messages, actions = context.live, context.store, context.messages, context.actions
        self.live, self.store, self.messages, self.window = live, store, messages, window
        self.selected = selected
        self._what = "flagged file(s)"  # what the export under way holds, for its message
        actions.bind(self)
        store.worker.exported.connect(self._exported)

    @handles(Action.EXPORT)
    def choose(self) -> None:
        default = str(Path.home() / "nsfw-flagged.csv")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export flagged files", default,
                                              "CSV files (*.csv)")
        if path:
            self.export_flagged(path)

    @handles(Action.EXPORT_SELECTION)
    def choose_for_selection(self) -> None:
        if not self.selected():
            self.messages.show_info("Select the photos to export first.")
            return
        default = str(Path.home() / "nsfw-selection.csv")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the selected files", default,
                                              "CSV files (*.csv)")
        if path:
            self.export_selection(path)

    def export_flagged(self, path: str) -> None:
        """Write the files flagged at the current threshold, with their reviews, to ``path``."""
        self._what = "flagged file(s)"
        self.store.export_flagged(path, self.live.settings.threshold)

    def export_selection(self, path: str) -> None:
        """Write the selected files' results, with their reviews, to ``path``."""
        self._what = "selected file(s)"
        self.store.export_paths(path, self.selected())

    def _exported(self, path: str, rows: int) -> None:
        self.messages.show_info(f"Exported {rows} {self._what} with their reviews to {path}")
