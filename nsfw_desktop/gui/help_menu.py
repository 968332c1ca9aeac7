"""The Help menu: Models, About, and Open log folder.

The main window adds it with one call::

    add_help_menu(self, lambda: self.settings)
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMainWindow, QMenu

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.files import paths
from nsfw_desktop.gui.about import AboutDialog, describe_model
from nsfw_desktop.gui.models_dialog import ModelsDialog


def open_log_folder() -> bool:
    """Show the log folder in the file manager; False when no file manager could be started."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir())))


def add_help_menu(window: QMainWindow, settings: Callable[[], Settings]) -> QMenu:
    """Append Help > Models, Help > About nsfw-desktop and Help > Open log folder to ``window``'s
    menu bar. ``settings`` gives the settings in use when a dialog opens, so it names the current model."""
    menu = window.menuBar().addMenu("&Help")
    models = QAction("Models…", window)
    models.triggered.connect(lambda: ModelsDialog(settings(), window).exec())
    about = QAction("About nsfw-desktop", window, menuRole=QAction.MenuRole.AboutRole)

    def show_about() -> None:
        current = settings()
        AboutDialog(describe_model(current.model, current.endpoints), window).exec()

    about.triggered.connect(show_about)
    logs = QAction("Open log folder", window)
    logs.triggered.connect(open_log_folder)
    menu.addAction(models)
    menu.addAction(about)
    menu.addAction(logs)
    return menu
