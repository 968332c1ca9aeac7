"""The large preview: the same reveal rule as the grid, and arrows through the grid's rows."""

from PySide6.QtCore import Qt

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.results_model import HiddenRole


def test_the_preview_follows_arrows_and_keeps_hidden_photos_hidden(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(0)  # everything flagged, so everything hidden
    window.select_rows([0])
    window.action_set[Action.PREVIEW].trigger()
    preview = window.preview
    qtbot.waitUntil(preview.isVisible)
    assert preview.view.result.path == window.model.result(0).path
    assert preview.view.reveal_button.isVisibleTo(preview.view)  # hidden: Reveal is offered
    qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1 and preview.view.result.path == window.model.result(1).path
    assert "2 of 5" in preview.windowTitle()
    qtbot.keyClick(preview, Qt.Key.Key_Space)
    assert not window.model.index(1).data(HiddenRole)
    assert not preview.view.reveal_button.isVisibleTo(preview.view)
    for _ in range(6):
        qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 4  # stops at the last
    qtbot.keyClick(preview, Qt.Key.Key_Left)
    assert window.grid.currentIndex().row() == 3
