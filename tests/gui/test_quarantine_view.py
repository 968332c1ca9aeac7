"""The quarantine view: what is quarantined, putting files back, and emptying it to the trash."""

import os

from PySide6.QtWidgets import QMessageBox

from nsfw_desktop.store import Store


def _quarantine_two(window, qtbot):
    paths = [window.model.result(row).path for row in range(2)]
    window.select_rows([0, 1])
    window.named_actions["quarantine"].trigger()
    qtbot.waitUntil(lambda: all(window.model.result_for(p) is None for p in paths), timeout=10_000)
    return paths


def test_the_quarantine_shows_its_files_and_puts_them_back(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    originals = _quarantine_two(window, qtbot)
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    assert window.quarantine_view.isVisible() and window.model.rowCount() == 2
    assert "2 file(s)" in window.quarantine_view.label.text()
    window.select_rows([0])
    back = window.model.result(0).path
    window.quarantine_view.restore_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    restored = [p for p in originals if window.model.result_for(p) is not None]
    assert len(restored) == 1 and os.path.exists(restored[0]) and not os.path.exists(back)
    assert not any("old name was taken" in m for m in window.messages.messages)


def test_emptying_the_quarantine_sends_files_to_the_trash(make_window, scan, photos, qtbot, db_path, tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the trash, kept in the test's folder
    window = make_window([photos])
    scan(window)
    _quarantine_two(window, qtbot)
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    quarantined = window.quarantine_view.quarantined()
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: asked.append(args[2]) or QMessageBox.StandardButton.Yes)
    window.quarantine_view.empty_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10_000)
    assert "system trash" in asked[0]
    assert not any(os.path.exists(p) for p in quarantined)
    trashed = os.listdir(tmp_path / "data" / "Trash" / "files")
    assert sorted(trashed) == sorted(os.path.basename(p) for p in quarantined)
    with Store(db_path) as store:
        assert store.count() == 3


def test_cancelling_keeps_the_quarantine(make_window, scan, photos, qtbot, monkeypatch):
    window = make_window([photos])
    scan(window)
    _quarantine_two(window, qtbot)
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Cancel)
    window.quarantine_view.empty_button.click()
    qtbot.wait(300)
    kept = window.quarantine_view.quarantined()
    assert window.model.rowCount() == 2 and all(os.path.exists(p) for p in kept)
