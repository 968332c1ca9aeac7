"""Folders first: a folder's photos, its counts, and what removing it does to its results."""

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.folder_removal import RemoveFoldersDialog
from nsfw_desktop.store.results import Store
from tests.conftest import write_photos


def _stored(db_path):
    with Store(db_path) as store:
        return {r.path: r for r in store.results()}


def _answer(monkeypatch, *, forget=True, reviewed=False, accept=True):
    """Answer the removal dialog as the user would, without showing it."""
    def exec_(dialog):
        dialog.forget_box.setChecked(forget)
        dialog.reviewed_box.setChecked(reviewed)
        return QDialog.DialogCode.Accepted if accept else QDialog.DialogCode.Rejected

    monkeypatch.setattr(RemoveFoldersDialog, "exec", exec_)


def _two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_photos(a, 3)
    write_photos(b / "trip", 2)
    return a, b


def test_removing_a_folder_can_forget_its_results(make_window, scan, tmp_path, qtbot, db_path, monkeypatch):
    a, b = _two_folders(tmp_path)
    window = make_window([a, b])
    scan(window)
    assert window.model.rowCount() == 5
    _answer(monkeypatch, forget=True)
    window.folders.item(str(a)).setSelected(True)
    window.folders.remove_selected()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=10_000)
    assert str(a) not in window.settings.folders
    assert "2 files" in window.filters.counts_label.text()
    assert all(path.startswith(str(b)) for path in _stored(db_path))  # gone after a restart too


def test_removing_keeps_reviewed_files_unless_told(make_window, scan, tmp_path, qtbot, db_path, monkeypatch):
    a, b = _two_folders(tmp_path)
    window = make_window([a, b])
    scan(window)
    reviewed = window.model.results_under(str(a))[0].path
    window.select_rows([window.model.row_of(reviewed)])
    window.action_set[Action.REVIEW_SAFE].trigger()
    qtbot.waitUntil(lambda: window.model.result_for(reviewed).review == "safe", timeout=10_000)
    _answer(monkeypatch, forget=True, reviewed=False)
    window.folder_link.remove([str(a)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10_000)
    assert reviewed in _stored(db_path) and window.model.result_for(reviewed) is not None


def test_cancelling_the_removal_keeps_the_folder(make_window, scan, tmp_path, monkeypatch):
    a, b = _two_folders(tmp_path)
    window = make_window([a, b])
    scan(window)
    _answer(monkeypatch, accept=False)
    window.folder_link.remove([str(a)])
    assert str(a) in window.settings.folders and window.model.rowCount() == 5


def test_clicking_a_folder_shows_its_photos_and_counts(make_window, scan, tmp_path, qtbot):
    a, b = _two_folders(tmp_path)
    window = make_window([a, b])
    scan(window)
    window.folder_link.update_counts()
    trip = str(b / "trip")
    item = window.folders.tree.topLevelItem(2).child(0)
    assert item.folder == trip and item.text(1) == "2"
    assert window.folders.item(str(a)).text(1) == "3" and window.folders.all_item.text(1) == "5"
    window.folders.tree.setCurrentItem(item)
    assert window.model.rowCount() == 2
    assert all(window.model.result(row).path.startswith(trip + os.sep) for row in range(2))
    window.folders.choose(None)
    assert window.model.rowCount() == 5


def test_same_named_files_are_told_apart(make_window, scan, tmp_path):
    a, b = _two_folders(tmp_path)  # a/photo_0000.png and b/trip/photo_0000.png
    window = make_window([a, b])
    scan(window)
    names = {window.model.data(window.model.index(row), Qt.ItemDataRole.DisplayRole)
             for row in range(window.model.rowCount())}
    assert {os.path.join("a", "photo_0000.png"), os.path.join("trip", "photo_0000.png")} <= names


def test_a_folder_dropped_on_the_window_is_added(make_window, tmp_path, qtbot):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    a, _b = _two_folders(tmp_path)
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(a)), QUrl.fromLocalFile(str(a / "photo_0000.png"))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    # Qt delivers a drop only during a real drag, so the window's drop handler gets it directly.
    assert window.folder_drop.eventFilter(window, drop)
    assert window.settings.folders == [str(a)] and window.folders.item(str(a)) is not None


def test_a_settled_window_shows_its_folder_counts(make_window, scan, tmp_path, qtbot):
    """The screenshot automation waits for "settled": the counts must be there by then."""
    folder = tmp_path / "photos"
    write_photos(folder / "sub", 3)
    window = make_window([folder])
    with qtbot.waitSignal(window.settled, timeout=60_000):
        scan(window)
    assert window.folders._counts[str(folder)].photos == 3
    assert window.folders.item(str(folder)).text(1) == "3"
