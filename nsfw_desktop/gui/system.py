"""Hand a file to the operating system: its default viewer, or its file manager."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices


def open_file(path: str) -> bool:
    """Open ``path`` with the system's viewer; False when no viewer could be started."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def reveal_in_file_manager(path: str) -> bool:
    """Show ``path`` selected in the file manager where the system allows selecting,
    else open its folder."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{os.path.normpath(path)}"])[0]
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))
