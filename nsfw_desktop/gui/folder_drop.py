"""Folders dropped on the window (from a file manager) join the folders to screen."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtWidgets import QWidget


def dropped_folders(mime: QMimeData) -> list[str]:
    """The local folders among the dropped ``mime`` data's URLs; files are left out."""
    folders = []
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and os.path.isdir(url.toLocalFile()):
            folders.append(url.toLocalFile())
    return folders


class FolderDrop(QObject):
    """Installed on ``window``: accepts a drag that carries folders, and hands them to ``add``."""

    def __init__(self, window: QWidget, add: Callable[[list[str]], None]):
        super().__init__(window)
        self.add = add
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_folders(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            folders = dropped_folders(event.mimeData())
            if folders:
                event.acceptProposedAction()
                self.add(folders)
                return True
        return super().eventFilter(watched, event)
