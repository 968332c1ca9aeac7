"""The quarantine view: what is quarantined, putting files back, and emptying it to the trash."""

import os

from PySide6.QtWidgets import QMessageBox

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.quarantine.moves import LOG_NAME
from nsfw_desktop.store.results import Store, StoreError


def _quarantine_two(window, qtbot):
    paths = [window.model.result(row).path for row in range(2)]
    window.select_rows([0, 1])
    window.action_set[Action.QUARANTINE].trigger()
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


def test_a_busy_database_during_a_move_is_told_and_undo_still_works(make_window, scan, photos, qtbot, db_path,
                                                                    monkeypatch):
    window = make_window([photos])
    scan(window)
    paths = [window.model.result(row).path for row in range(2)]

    def busy(*args):
        raise StoreError(f"The results database {db_path} is busy: another nsfw-desktop is writing to it. "
                         "Wait for it to finish, or use another database with --db.")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "move", busy)
        window.select_rows([0, 1])
        window.action_set[Action.QUARANTINE].trigger()
        qtbot.waitUntil(lambda: any("could not be updated" in m for m in window.messages.messages),
                        timeout=10_000)
    told = next(m for m in window.messages.messages if "could not be updated" in m)
    assert "is busy" in told and "--db" not in told
    assert not any(os.path.exists(p) for p in paths) and window.action_set[Action.UNDO].isEnabled()
    window.action_set[Action.UNDO].trigger()
    qtbot.waitUntil(lambda: all(os.path.exists(p) for p in paths), timeout=10_000)
    qtbot.waitUntil(lambda: all(window.model.result_for(p) is not None for p in paths), timeout=10_000)
    with Store(db_path) as store:
        assert all(store.get(p) is not None for p in paths)


def test_the_database_catches_up_when_the_quarantine_is_opened(make_window, scan, photos, qtbot, db_path,
                                                               monkeypatch):
    window = make_window([photos])
    scan(window)
    path = window.model.result(0).path
    with monkeypatch.context() as patch:
        patch.setattr(Store, "move", lambda *args: (_ for _ in ()).throw(StoreError("busy")))
        window.select_rows([0])
        window.action_set[Action.QUARANTINE].trigger()
        qtbot.waitUntil(lambda: any("could not be updated" in m for m in window.messages.messages),
                        timeout=10_000)
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    quarantined = os.path.join(window.quarantine_view.folder, os.path.basename(path))
    with Store(db_path) as store:
        qtbot.waitUntil(lambda: store.get(quarantined) is not None, timeout=10_000)
        assert store.get(path) is None, window.messages.messages


def test_a_damaged_journal_line_does_not_stop_putting_back(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    _quarantine_two(window, qtbot)
    with open(os.path.join(window.quarantine_view.folder, LOG_NAME), "a") as journal:
        journal.write("5\n")
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    window.select_rows([0])
    window.quarantine_view.restore_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)


def test_putting_back_into_a_vanished_folder_outside_the_folders_asks_first(make_window, scan, photos, qtbot,
                                                                            tmp_path, monkeypatch):
    window = make_window([photos])
    scan(window)
    elsewhere = tmp_path / "elsewhere" / "sub"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x.jpg").write_bytes(b"x")
    window.store.quarantine([str(elsewhere / "x.jpg")], window.quarantine_view.folder)
    qtbot.waitUntil(lambda: not (elsewhere / "x.jpg").exists(), timeout=10_000)
    os.rmdir(elsewhere)
    window.folders.tree.setCurrentItem(window.folders.quarantine_item)
    quarantined = os.path.join(window.quarantine_view.folder, "x.jpg")
    monkeypatch.setattr(window.grid, "selected_paths", lambda: [quarantined])
    asked = []
    answer = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args[2]) or answer)
    window.quarantine_view.restore_button.click()
    qtbot.wait(300)
    assert str(elsewhere) in asked[0] and not elsewhere.exists() and os.path.exists(quarantined)
    answer = QMessageBox.StandardButton.Yes
    window.quarantine_view.restore_button.click()
    qtbot.waitUntil(lambda: (elsewhere / "x.jpg").exists(), timeout=10_000)
