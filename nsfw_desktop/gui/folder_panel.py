"""The folder panel: the folders to screen, their watch boxes, and which are offline.

Adding, removing, ticking and unticking change the session's settings
(``LiveSettings``); the watcher follows them from there. The offline marks
come from the watcher's events, through ``mark``.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.gui.live_settings import LiveSettings

FolderRole = Qt.ItemDataRole.UserRole  # an item's folder path (its text may say "offline")


class FolderPanel(QWidget):
    def __init__(self, live: LiveSettings, actions: dict[str, QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self.live = live
        self.offline: dict[str, str] = {}  # watched folder -> why it is offline
        self.folder_list = QListWidget()
        self.folder_list.setToolTip("Tick a folder to watch it: new photos are classified as they arrive")
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for folder in live.settings.folders:
            self._add_item(folder)
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.clicked.connect(self.choose_folder)
        remove.clicked.connect(self.remove_selected)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Tick a folder to watch it for new photos:", wordWrap=True))
        layout.addWidget(self.folder_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        layout.addLayout(buttons)
        self.folder_list.itemChanged.connect(self._item_changed)
        actions["add_folder"].triggered.connect(self.choose_folder)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to screen")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        current = list(self.live.settings.folders)
        for folder in folders:
            folder = os.path.abspath(os.path.expanduser(folder))
            if folder not in current:
                current.append(folder)
                self._add_item(folder)
        self.live.update(self.live.settings.replace(folders=current))

    def remove_selected(self) -> None:
        gone = {item.data(FolderRole) for item in self.folder_list.selectedItems()}
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))
        s = self.live.settings
        self.live.update(s.replace(folders=[f for f in s.folders if f not in gone],
                                   watched_folders=[f for f in s.watched_folders if f not in gone]))

    def item(self, folder: str) -> QListWidgetItem | None:
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            if item.data(FolderRole) == folder:
                return item
        return None

    def set_watched(self, folder: str, watched: bool) -> None:
        """Tick or untick a folder's watch box, as a click on it does."""
        item = self.item(folder)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)

    def mark(self, folder: str, offline_reason: str | None) -> None:
        """Show ``folder`` as offline, for ``offline_reason``, or as back (None)."""
        if offline_reason is None:
            self.offline.pop(folder, None)
        else:
            self.offline[folder] = offline_reason
        item = self.item(folder)
        if item is not None:
            item.setText(folder if offline_reason is None else f"{folder} (offline)")
            item.setToolTip(offline_reason or "")

    def clear_marks(self) -> None:
        for folder in list(self.offline):
            self.mark(folder, None)

    def _add_item(self, folder: str) -> None:
        item = QListWidgetItem(folder)
        item.setData(FolderRole, folder)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        watched = folder in self.live.settings.watched_folders
        item.setCheckState(Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)
        self.folder_list.addItem(item)

    def _item_changed(self, item: QListWidgetItem) -> None:
        folder = item.data(FolderRole)
        watched = item.checkState() == Qt.CheckState.Checked
        s = self.live.settings
        if folder is None or watched == (folder in s.watched_folders):
            return  # a text change (the offline mark), not the box
        if not watched:
            self.mark(folder, None)
        current = [f for f in s.watched_folders if f != folder]
        self.live.update(s.replace(watched_folders=current + [folder] if watched else current))
