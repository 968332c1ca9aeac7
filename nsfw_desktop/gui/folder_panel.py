"""The folder panel: the folders to screen as a tree, with their counts and watch boxes.

Clicking a folder (a screened one or a sub-folder of it) shows only its photos
in the grid (``chosen``); "All photos" shows everything. Each folder shows how
many photos, flagged, errors and reviewed files it holds, sub-folders included.
Adding, ticking and unticking change the session's settings (``LiveSettings``);
the watcher follows them from there. Removing asks first (``removal_requested``),
since the folder's results may go too. The offline marks come from the
watcher's events, through ``mark``.

A folder's path lives on its item as a Python attribute, never as item data: Qt
would turn it into a QString and lose the bytes of a name that is not UTF-8.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.actions import Action, ActionSet, handles
from nsfw_desktop.gui.folder_counts import Counts
from nsfw_desktop.gui.live_settings import LiveSettings

COLUMNS = ("Folder", "Photos", "⚑", "⚠", "✓")  # short headers: the panel is narrow
COLUMN_MIN_PANEL = (0, 0, 230, 290, 290)  # panel widths from which each column shows
COLUMN_TIPS = ("Click a folder to show only its photos; tick it to watch it for new photos",
               "Photos stored, sub-folders included", "At or over the threshold",
               "Files that could not be classified", "Marked reviewed safe or NSFW")


class FolderItem(QTreeWidgetItem):
    def __init__(self, folder: str | None, text: str):
        super().__init__([text])
        self.folder = folder  # None: "All photos"
        self.root = False  # a folder of the list, with a watch box


class FolderPanel(QWidget):
    chosen = Signal(object)  # the folder whose photos the grid shows, None for all
    removal_requested = Signal(object)  # list of folders the user wants to remove

    def __init__(self, live: LiveSettings, actions: ActionSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.live = live
        self.offline: dict[str, str] = {}  # watched folder -> why it is offline
        self._counts: dict[str, Counts] = {}
        self._all = Counts()  # what "All photos" shows
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        for column, tip in enumerate(COLUMN_TIPS):
            self.tree.headerItem().setToolTip(column, tip)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.all_item = FolderItem(None, "All photos")
        self.tree.addTopLevelItem(self.all_item)
        self.quarantine_item: FolderItem | None = None
        for folder in live.settings.folders:
            self._add_root(folder)
        self.tree.setCurrentItem(self.all_item)
        add, self.remove_button = QPushButton("Add…"), QPushButton("Remove")
        add.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        hint = QLabel("Click a folder to see its photos; tick it to watch for new ones.", wordWrap=True)
        layout.addWidget(hint)
        layout.addWidget(self.tree, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._current_changed)
        actions.bind(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # A narrow panel keeps the folder names readable; each item's tooltip has every count.
        for column, width in enumerate(COLUMN_MIN_PANEL):
            self.tree.setColumnHidden(column, event.size().width() < width)

    # The list of folders

    @handles(Action.ADD_FOLDER)
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
                self._add_root(folder)
        self.live.update(self.live.settings.replace(folders=current))
        self.set_counts(self._counts, self._all)

    def remove_selected(self) -> None:
        gone = [item.folder for item in self.tree.selectedItems()
                if isinstance(item, FolderItem) and item.root]
        if gone:
            self.removal_requested.emit(gone)

    def remove_folders(self, gone: list[str]) -> None:
        """Take ``gone`` off the list (the user agreed to what becomes of their results)."""
        for folder in gone:
            item = self.item(folder)
            if item is not None:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        s = self.live.settings
        self.live.update(s.replace(folders=[f for f in s.folders if f not in gone],
                                   watched_folders=[f for f in s.watched_folders if f not in gone]))

    def set_quarantine(self, folder: str) -> None:
        """Show the quarantine ``folder`` as the last item, below the screened folders."""
        if self.quarantine_item is None:
            self.quarantine_item = FolderItem(folder, "Quarantine")
            self.tree.addTopLevelItem(self.quarantine_item)
        self.quarantine_item.folder = folder
        self.quarantine_item.setToolTip(0, f"Photos moved to quarantine, in {display_path(folder)}")
        _show_counts(self.quarantine_item, self._counts.get(folder, Counts()))

    def item(self, folder: str) -> FolderItem | None:
        """The list's item of ``folder`` (a screened folder, not a sub-folder)."""
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            if isinstance(item, FolderItem) and item.root and item.folder == folder:
                return item
        return None

    def choose(self, folder: str | None) -> None:
        """Show ``folder``'s photos (None: all), as a click on its item does."""
        self.tree.setCurrentItem(self._find(folder) or self.all_item)

    @property
    def current_folder(self) -> str | None:
        item = self.tree.currentItem()
        return item.folder if isinstance(item, FolderItem) else None

    # Counts and sub-folders

    def set_counts(self, counts: dict[str, Counts], everything: Counts) -> None:
        """Show ``counts`` (folder -> Counts), the sub-folders that hold photos, and
        ``everything`` that "All photos" shows."""
        self._counts, self._all = counts, everything
        self.tree.blockSignals(True)  # text changes are not watch-box clicks
        try:
            for row in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(row)
                if isinstance(item, FolderItem) and item.root:
                    had_children = item.childCount() > 0
                    self._fill_children(item)
                    if not had_children:
                        item.setExpanded(True)  # a screened folder shows its sub-folders at first
            _show_counts(self.all_item, everything)
            if self.quarantine_item is not None:
                _show_counts(self.quarantine_item, counts.get(self.quarantine_item.folder, Counts()))
        finally:
            self.tree.blockSignals(False)

    def _fill_children(self, parent: FolderItem) -> None:
        _show_counts(parent, self._counts.get(parent.folder, Counts()))
        wanted = sorted(f for f in self._counts if os.path.dirname(f) == parent.folder and f != parent.folder)
        existing = {parent.child(i).folder: parent.child(i) for i in range(parent.childCount())}
        for folder, child in existing.items():
            if folder not in wanted:
                parent.removeChild(child)
        for position, folder in enumerate(wanted):
            child = existing.get(folder)
            if child is None:
                child = FolderItem(folder, display_path(os.path.basename(folder)))
                child.setToolTip(0, display_path(folder))
                parent.insertChild(position, child)
            self._fill_children(child)

    def _find(self, folder: str | None) -> FolderItem | None:
        if folder is None:
            return self.all_item
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if isinstance(item, FolderItem) and item.folder == folder:
                return item
            stack.extend(item.child(i) for i in range(item.childCount()))
        return None

    # Watching and offline marks

    def set_watched(self, folder: str, watched: bool) -> None:
        """Tick or untick a folder's watch box, as a click on it does."""
        item = self.item(folder)
        if item is not None:
            item.setCheckState(0, Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)

    def mark(self, folder: str, offline_reason: str | None) -> None:
        """Show ``folder`` as offline, for ``offline_reason``, or as back (None)."""
        if offline_reason is None:
            self.offline.pop(folder, None)
        else:
            self.offline[folder] = offline_reason
        item = self.item(folder)
        if item is not None:
            self.tree.blockSignals(True)
            name = os.path.basename(folder.rstrip(os.sep)) or folder
            item.setText(0, display_path(name if offline_reason is None else f"{name} (offline)"))
            item.setToolTip(0, display_path(offline_reason or folder))
            self.tree.blockSignals(False)

    def clear_marks(self) -> None:
        for folder in list(self.offline):
            self.mark(folder, None)

    def _add_root(self, folder: str) -> None:
        item = FolderItem(folder, display_path(os.path.basename(folder.rstrip(os.sep)) or folder))
        item.root = True
        item.setToolTip(0, display_path(folder))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        watched = folder in self.live.settings.watched_folders
        item.setCheckState(0, Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)
        if self.quarantine_item is None:
            self.tree.addTopLevelItem(item)
        else:  # the quarantine stays last
            self.tree.insertTopLevelItem(self.tree.indexOfTopLevelItem(self.quarantine_item), item)
        item.setExpanded(True)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column != 0 or not isinstance(item, FolderItem) or not item.root:
            return
        folder = item.folder
        watched = item.checkState(0) == Qt.CheckState.Checked
        s = self.live.settings
        if watched == (folder in s.watched_folders):
            return
        if not watched:
            self.mark(folder, None)
        current = [f for f in s.watched_folders if f != folder]
        self.live.update(s.replace(watched_folders=current + [folder] if watched else current))

    def _current_changed(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        self.chosen.emit(current.folder if isinstance(current, FolderItem) else None)


def _show_counts(item: QTreeWidgetItem, counts: Counts) -> None:
    values = (counts.photos, counts.flagged, counts.errors, counts.reviewed)
    for column, value in enumerate(values, start=1):
        item.setText(column, str(value))
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    tip = (f"{counts.photos} photo(s), {counts.flagged} flagged, {counts.errors} error(s), "
           f"{counts.reviewed} reviewed")
    if counts.missing:
        tip += f", {counts.missing} of them missing from disk"
    for column in range(1, len(COLUMNS)):
        item.setToolTip(column, tip)
