"""The settings dialog fits a small screen: its rows scroll, its buttons stay in view."""

from __future__ import annotations

from nsfw_desktop.config.settings import Settings

SMALL_SCREEN = (800, 600)  # the smallest screen the app supports


def test_the_settings_dialog_fits_a_small_screen_with_its_buttons_in_view(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.frameGeometry().height() <= dialog.screen().availableGeometry().height()
    dialog.resize(*SMALL_SCREEN)
    qtbot.waitUntil(lambda: dialog.height() <= SMALL_SCREEN[1])
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons.isVisible() and dialog.rect().contains(buttons.geometry())
