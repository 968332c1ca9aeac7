"""File > Export flagged to CSV: where to, and what the user is told once it is written.
The CSV is written in the ``StoreWorker``'s thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QWidget

from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.gui.message_bar import MessageBar
from nsfw_desktop.gui.store_worker import StoreClient


class Exporter(QObject):
    def __init__(self, live: LiveSettings, store: StoreClient, messages: MessageBar,
                 actions: dict[str, QAction], window: QWidget):
        super().__init__(window)
        self.live, self.store, self.messages, self.window = live, store, messages, window
        actions["export"].triggered.connect(self.choose)
        store.worker.exported.connect(self._exported)

    def choose(self) -> None:
        default = str(Path.home() / "nsfw-flagged.csv")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export flagged files", default,
                                              "CSV files (*.csv)")
        if path:
            self.export_flagged(path)

    def export_flagged(self, path: str) -> None:
        """Write the files flagged at the current threshold, with their reviews, to ``path``."""
        self.store.export_flagged(path, self.live.settings.threshold)

    def _exported(self, path: str, rows: int) -> None:
        self.messages.show_info(f"Exported {rows} flagged file(s) with their reviews to {path}")
