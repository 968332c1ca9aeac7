"""The window and every dialog open within the screen's available room, their buttons and
status bar in view, on an 800x600 screen as on a 1920x1080 one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect

SCREENS = [QRect(0, 0, 800, 600), QRect(0, 27, 800, 573), QRect(0, 0, 1920, 1080)]  # 573: a top panel
SCREEN_IDS = ["800x600", "800x600-panel", "1920x1080"]


@pytest.fixture(params=SCREENS, ids=SCREEN_IDS)
def screen_room(request, monkeypatch):
    """The screen's available geometry, as the app's sizing code reads it."""
    from PySide6.QtGui import QScreen

    room = request.param
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _screen: QRect(room))
    return room


def _within(widget, room: QRect) -> bool:
    return widget.width() <= room.width() and widget.height() <= room.height()


def _in_view(child, window) -> bool:
    """``child`` is shown, and lies inside ``window``'s own rectangle."""
    top_left = child.mapTo(window, child.rect().topLeft())
    return child.isVisible() and window.rect().contains(QRect(top_left, child.size()))


def test_the_window_opens_within_the_screen(screen_room, make_window):
    window = make_window()
    assert _within(window, screen_room), (window.size(), screen_room)
    if screen_room.width() >= 1280:
        assert (window.width(), window.height()) == (1280, 800)  # its usual size where it fits
    for part in (window.statusBar(), window.detail_dock, window.folder_dock, window.grid_area):
        assert _in_view(part, window), part


def _dialogs(settings, parent):
    from nsfw_desktop.gui.about import AboutDialog, describe_model
    from nsfw_desktop.gui.first_run import FirstRunDialog
    from nsfw_desktop.gui.folder_removal import RemoveFoldersDialog
    from nsfw_desktop.gui.models_dialog import ModelsDialog
    from nsfw_desktop.gui.settings_dialog import SettingsDialog
    from nsfw_desktop.store.result import Result

    folders = [f"/media/photos/folder {i}" for i in range(30)]
    results = [Result(path=f"{folder}/photo.jpg", label="normal", nsfw_score=0.1, model="m", width=1,
                      height=1, file_size=1, mtime_ns=1, scanned_at=0.0, review="safe") for folder in folders]
    return [ModelsDialog(settings, parent), SettingsDialog(settings, parent), FirstRunDialog(parent),
            AboutDialog(describe_model(None), parent), RemoveFoldersDialog(folders, results, parent)]


def test_every_dialog_opens_within_the_screen_with_its_buttons_in_view(screen_room, qtbot):
    from PySide6.QtWidgets import QAbstractButton, QDialogButtonBox

    from nsfw_desktop.config.settings import Settings

    for dialog in _dialogs(Settings(), None):
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        name = type(dialog).__name__
        assert _within(dialog, screen_room), (name, dialog.size(), screen_room)
        buttons = dialog.findChildren(QDialogButtonBox) or [
            b for b in dialog.findChildren(QAbstractButton) if b.text() in ("Not now", "Close")]
        assert buttons and all(_in_view(b, dialog) for b in buttons), name
        squeezed = [b.text() for b in dialog.findChildren(QAbstractButton)
                     if b.isVisible() and b.width() < b.sizeHint().width()]
        assert squeezed == [], name
        dialog.close()
