"""The app's icon for windows and dialogs."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from nsfw_desktop.files.resources import ICON_NAME, icon_files


def app_icon() -> QIcon:
    """Every PNG size of the icon (Qt picks the best per use), or the icon theme's
    ``nsfw-desktop`` when the app's resources are not installed alongside it."""
    icon = QIcon()
    for path in icon_files():
        icon.addFile(str(path))
    if icon.isNull():
        return QIcon.fromTheme(ICON_NAME)
    return icon
