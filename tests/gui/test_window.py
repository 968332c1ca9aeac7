import csv
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.filter_state import Show, SortBy
from nsfw_desktop.gui.results_model import HiddenRole
from nsfw_desktop.store.export import COLUMNS
from nsfw_desktop.store.results import Store
from tests.conftest import write_photos
from tests.gui.conftest import SCAN_TIMEOUT_MS


def _stored(db_path):
    with Store(db_path) as store:
        return {r.path: r for r in store.results()}


def test_a_scan_fills_the_grid(make_window, scan, photos, db_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    window = make_window([photos])
    assert window.model.rowCount() == 0
    summary = scan(window)
    assert summary.scanned == 6 and summary.errors == 1
    stored = _stored(db_path)
    assert window.model.rowCount() == len(stored) == 6
    # Sorted by score, highest first, the error last.
    shown = [window.model.result(row) for row in range(6)]
    scores = [r.nsfw_score for r in shown[:5]]
    assert scores == sorted(scores, reverse=True) and shown[5].error
    assert "6 files" in window.filters.counts_label.text()
    assert window.status.text().startswith("Done: 6 scanned")


def test_stored_results_show_before_any_scan(make_window, scan, photos, qtbot):
    first = make_window([photos])
    scan(first)
    first.close()
    again = make_window([photos])
    assert again.model.rowCount() == 5 and not again.scanner.scanning


def test_pause_resume_and_cancel(make_window, qtbot, tmp_path, db_path):
    folder = tmp_path / "many"
    write_photos(folder, 40)
    window = make_window([folder], batch_size=1)
    batches = []

    def pause_after_first(event):
        batches.append(event.progress.done)
        if len(batches) == 1:
            window.scanner.toggle_pause()

    window.batch_shown.connect(pause_after_first)
    window.start_scan()
    qtbot.waitUntil(lambda: len(batches) > 0, timeout=SCAN_TIMEOUT_MS)
    assert window.scanner.control.paused and window.action_set[Action.PAUSE].text() == "Resume"
    qtbot.wait(800)  # the batch already in the model may still finish
    paused_at = len(batches)
    qtbot.wait(800)
    assert len(batches) == paused_at < 40

    window.batch_shown.disconnect(pause_after_first)
    with qtbot.waitSignal(window.batch_shown, timeout=SCAN_TIMEOUT_MS):
        window.scanner.toggle_pause()
    with qtbot.waitSignal(window.scan_ended, timeout=SCAN_TIMEOUT_MS) as finished:
        window.scanner.cancel()
    summary = finished.args[0]
    assert summary.cancelled and paused_at < summary.scanned < 40
    assert len(_stored(db_path)) == summary.scanned  # everything classified was kept
    assert window.action_set[Action.SCAN].isEnabled() and not window.action_set[Action.CANCEL].isEnabled()


def test_closing_during_a_scan_keeps_what_was_done(make_window, qtbot, tmp_path, db_path):
    folder = tmp_path / "many"
    write_photos(folder, 40)
    window = make_window([folder], batch_size=1)
    with qtbot.waitSignal(window.batch_shown, timeout=SCAN_TIMEOUT_MS):
        window.start_scan()
    window.close()
    assert not window.scanner.thread.isRunning()
    stored = _stored(db_path)
    assert 1 <= len(stored) <= 40
    assert all(r.error is None for r in stored.values())


def test_the_threshold_slider_filters_from_stored_scores(make_window, scan, photos, db_path):
    window = make_window([photos])
    scan(window)
    stored = list(_stored(db_path).values())
    window.filters.show_box.setCurrentIndex(list(Show).index(Show.FLAGGED))
    for value in (0, 30, 50, 70, 100):
        window.filters.slider.setValue(value)
        expected = sum(r.nsfw_score >= value / 100 for r in stored)
        assert window.model.rowCount() == expected
        assert all(window.model.result(row).nsfw_score >= value / 100 for row in range(expected))
    window.filters.show_box.setCurrentIndex(list(Show).index(Show.UNFLAGGED))
    window.filters.slider.setValue(50)
    assert window.model.rowCount() == sum(r.nsfw_score < 0.5 for r in stored)
    assert window.settings.threshold == 0.5


def test_errors_view_shows_each_reason(make_window, scan, photos):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    window = make_window([photos])
    scan(window)
    window.filters.show_box.setCurrentIndex(list(Show).index(Show.ERRORS))
    assert window.model.rowCount() == 1
    index = window.model.index(0)
    assert "broken.png" in index.data(Qt.ItemDataRole.DisplayRole)
    assert "Error:" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_sort_by_name_and_date(make_window, scan, photos):
    for i, path in enumerate(sorted(photos.iterdir())):
        os.utime(path, ns=(0, (100 - i) * 1_000_000_000))  # later names are older
    window = make_window([photos])
    scan(window)
    window.filters.sort_box.setCurrentIndex(list(SortBy).index(SortBy.NAME))
    names = [os.path.basename(window.model.result(r).path) for r in range(5)]
    assert names == sorted(names)
    window.filters.sort_box.setCurrentIndex(list(SortBy).index(SortBy.DATE))
    assert [os.path.basename(window.model.result(r).path) for r in range(5)] == names  # newest first


def test_export_writes_flagged_with_reviews(make_window, scan, photos, qtbot, tmp_path, db_path):
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(50)
    flagged = sorted(p for p, r in _stored(db_path).items() if r.nsfw_score >= 0.5)
    assert flagged, "the tiny model should flag some of the photos"
    window.select_rows([window.model.row_of(flagged[0])])
    window.files.review_selected("safe")
    qtbot.waitUntil(lambda: window.model.result_for(flagged[0]).review == "safe")
    out = tmp_path / "flagged.csv"
    window.exporter.export_flagged(str(out))
    qtbot.waitUntil(lambda: "Exported" in "\n".join(window.messages.messages))
    # The review mark wins over the score: the photo reviewed safe is no longer flagged.
    assert f"Exported {len(flagged) - 1} flagged" in "\n".join(window.messages.messages)
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == COLUMNS + ["review"]
    reviews = {row[0]: row[-1] for row in rows[1:]}
    assert sorted(reviews) == flagged[1:]
    assert set(reviews.values()) == {""}


def test_quarantine_moves_and_undo_restores(make_window, scan, photos, qtbot, tmp_path, db_path):
    quarantine = tmp_path / "quarantine"
    window = make_window([photos], quarantine_folder=str(quarantine))
    scan(window)
    chosen = [window.model.result(row).path for row in (0, 1)]
    window.select_rows([0, 1])
    window.quarantine.quarantine_selected()
    qtbot.waitUntil(window.action_set[Action.UNDO].isEnabled)
    moved = [str(quarantine / os.path.basename(p)) for p in chosen]
    assert all(not os.path.exists(p) for p in chosen) and all(os.path.exists(p) for p in moved)
    stored = _stored(db_path)
    assert all(p in stored for p in moved) and not any(p in stored for p in chosen)
    assert all(window.model.row_of(p) is None for p in moved)  # out of "All photos"
    window.folders.choose(str(quarantine))
    assert {window.model.result(row).path for row in range(window.model.rowCount())} == set(moved)
    window.folders.choose(None)
    assert window.action_set[Action.UNDO].isEnabled()

    window.quarantine.undo()
    qtbot.waitUntil(lambda: "Put back" in "\n".join(window.messages.messages))
    assert all(os.path.exists(p) for p in chosen) and not any(os.path.exists(p) for p in moved)
    stored = _stored(db_path)
    assert all(p in stored for p in chosen)
    assert window.model.row_of(chosen[0]) is not None
    assert not window.action_set[Action.UNDO].isEnabled()


def test_a_deleted_file_gives_a_message_not_a_crash(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    qtbot.waitUntil(lambda: window.loader.is_idle)
    path = window.model.result(0).path
    os.remove(path)
    window.loader.forget(path)
    window.select_rows([0])
    window.files.open_selected()
    assert "No longer on disk" in "\n".join(window.messages.messages)
    window.loader.request(path)
    qtbot.waitUntil(lambda: window.loader.failure(path) is not None)
    assert window.loader.failure(path) == "the file no longer exists"
    window.grid.viewport().repaint()  # the tile draws its reason


def test_a_vanished_folder_is_reported(make_window, scan, photos, tmp_path):
    window = make_window([photos, tmp_path / "gone"])
    summary = scan(window)
    assert summary.scanned == 5
    assert "Folder not scanned" in "\n".join(window.messages.messages)
    assert "gone" in "\n".join(window.messages.messages)


def test_a_model_that_cannot_load_gives_a_message(make_window, qtbot, photos, tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    window = make_window([photos])
    window.apply_settings(window.settings.replace(model=str(empty)))
    with qtbot.waitSignal(window.scan_ended, timeout=SCAN_TIMEOUT_MS) as ended:
        window.start_scan()
    assert ended.args == [None]
    assert "The model cannot be used" in "\n".join(window.messages.messages)
    assert window.scan_error and window.action_set[Action.SCAN].isEnabled() and not window.scanner.scanning


def test_flagged_tiles_are_hidden_until_revealed(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(0)  # everything flagged
    index = window.model.index(0)
    assert index.data(HiddenRole)
    rect = window.grid.visualRect(index)
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert index.data(HiddenRole)  # a click selects, and reveals nothing
    assert window.grid.selected_rows() == [0] and window.view_controls.selected_label.text() == "1 selected"
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.delegate.eye_rect(rect).center())
    assert not index.data(HiddenRole)  # the eye reveals
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.delegate.eye_rect(rect).center())
    assert index.data(HiddenRole)  # and hides again
    qtbot.mouseDClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not index.data(HiddenRole)  # so does a double-click
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert index.data(HiddenRole)
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert not index.data(HiddenRole)
    window.filters.slider.setValue(100)  # nothing reaches 1.0: nothing flagged, nothing hidden
    assert not any(window.model.index(row).data(HiddenRole) for row in range(5))


def test_keyboard_moves_and_enter_shows_details(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    window.select_rows([0])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1
    assert window.detail.result.path == window.model.result(1).path
    window.detail_dock.hide()
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert window.detail_dock.isVisible()
    assert window.detail.fields["Path"].text() == window.model.result(1).path


def test_settings_persist(make_window, qtbot, tmp_path):
    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    window = make_window()
    window.add_folders([str(tmp_path / "photos")])
    dialog = SettingsDialog(window.settings, window)
    dialog.threshold.setValue(0.8)
    dialog.blur_mode.setCurrentText("placeholder")
    dialog.batch_size.setValue(4)
    dialog.accept()
    window.apply_settings(dialog.settings)
    saved = settings_file.load()
    assert saved.folders == [str(tmp_path / "photos")]
    assert (saved.threshold, saved.blur_mode, saved.batch_size) == (0.8, "placeholder", 4)
    assert window.filters.slider.value() == 80 and window.delegate.blur_mode == "placeholder"


def test_the_settings_dialog_refuses_what_cannot_work(make_window, tmp_path):
    from nsfw_desktop.gui.settings_dialog import FOLDER, REMOTE, SettingsDialog

    window = make_window()
    dialog = SettingsDialog(window.settings, window)
    dialog.model_kind.setCurrentIndex(FOLDER)
    dialog.model_text.setText(str(tmp_path / "no-such-model"))
    dialog.accept()
    assert dialog.result() == 0 and "does not exist" in dialog.error.text()
    dialog.model_kind.setCurrentIndex(REMOTE)
    dialog.model_text.setText("ftp://example")
    dialog.accept()
    assert "not an http" in dialog.error.text()
    dialog.model_kind.setCurrentIndex(REMOTE)
    dialog.model_text.setText("https://gpu.local:8443")
    dialog.token.setText("t0ken")
    dialog.accept()
    assert dialog.settings.endpoints == ["https://gpu.local:8443"] and dialog.settings.model is None


def test_the_item_model_passes_qtmodeltester(make_window, scan, photos, qtmodeltester):
    window = make_window([photos])
    scan(window)
    qtmodeltester.check(window.model, force_py=True)
    window.filter_state.set_show(Show.FLAGGED)
    window.filter_state.set_sort(SortBy.NAME)
    qtmodeltester.check(window.model, force_py=True)
    window.close()  # while the tester still watches: thumbnails may land during shutdown


def test_the_item_model_stays_consistent_while_results_stream_in(qtmodeltester, qtbot, tmp_path):
    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.gui.filter_state import FilterState
    from nsfw_desktop.gui.live_settings import LiveSettings
    from nsfw_desktop.gui.results_model import ResultsModel
    from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
    from nsfw_desktop.store.result import Result

    def result(i, score):
        return Result(path=str(tmp_path / f"{i}.jpg"), label="nsfw", nsfw_score=score, model="m",
                      width=1, height=1, file_size=1, mtime_ns=i, scanned_at=0.0)

    loader = ThumbnailLoader()
    model = ResultsModel(loader, FilterState(LiveSettings(Settings())))
    qtmodeltester.check(model, force_py=True)  # keeps watching the model's signals from here on
    model.set_results([result(0, 0.2), result(1, 0.9)])
    model.add_results([result(2, 0.5), result(3, 0.7)])
    model.add_results([result(0, 0.95)])  # rescored
    model.resort()
    assert [model.result(r).nsfw_score for r in range(4)] == [0.95, 0.9, 0.7, 0.5]
    model.filters.set_show(Show.FLAGGED)
    model.filters.set_threshold(0.8)
    assert model.rowCount() == 2
    model.add_results([result(3, 0.1)])
    model.remove_paths([str(tmp_path / "1.jpg")])
    assert model.rowCount() == 1
    loader.shutdown()


def test_the_thumbnail_cache_in_memory_is_bounded(qtbot, tmp_path):
    from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader

    paths = [str(p) for p in write_photos(tmp_path / "p", 6)]
    loader = ThumbnailLoader(capacity=3, threads=2)
    for path in paths:
        loader.request(path)
    qtbot.waitUntil(lambda: loader.is_idle, timeout=20_000)
    assert loader.cached_count() == 3
    assert sum(loader.pixmaps(p) is not None for p in paths) == 3  # the others are made again if drawn
    loader.shutdown()


def test_the_detail_view_takes_an_overlay(make_window, scan, photos, qtbot):
    from PySide6.QtGui import QColor, QPixmap

    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(100)  # nothing hidden
    window.select_rows([0])
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.detail.preview.pixmap() is not None
                    and not window.detail.preview.pixmap().isNull(), timeout=20_000)
    plain = window.detail.preview.pixmap().toImage()
    red = QPixmap(8, 8)
    red.fill(QColor("red"))
    window.detail.set_overlay(red)
    tinted = window.detail.preview.pixmap().toImage()
    assert tinted != plain and QColor(tinted.pixel(5, 5)).red() > QColor(plain.pixel(5, 5)).red()
    assert window.detail.heatmap_toggle.isVisibleTo(window.detail)  # wired to heatmaps (test_integration)


def test_the_gui_imports_no_torch_before_the_window_shows():
    code = ("import sys; import nsfw_desktop.cli, nsfw_desktop.cli.gui, nsfw_desktop.gui.app, "
            "nsfw_desktop.gui.main_window; "
            "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_screenshot_command_scans_renders_and_exits(tiny_model, photos, tmp_path, isolated_home):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-m", "nsfw_desktop", "gui", str(photos), "--model", str(tiny_model), "--scan",
         "--screenshot", str(out), "--quit-after-scan"],
        env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    from PIL import Image

    with Image.open(out) as shot:
        assert 600 <= shot.size[0] <= 800 and 600 <= shot.size[1] <= 800  # the offscreen screen: 800x800
        assert len(shot.convert("RGB").getcolors(1 << 20)) > 50  # rendered, not blank
    assert len(_stored(isolated_home / "data" / "results.sqlite3")) == 5
    assert settings_file.load().folders == [str(photos)]


def test_screenshot_command_fails_with_a_model_that_cannot_load(photos, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-m", "nsfw_desktop", "gui", str(photos), "--model", str(empty), "--scan",
         "--screenshot", str(tmp_path / "shot.png"), "--quit-after-scan"],
        env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert "The model cannot be used" in done.stderr
    assert (tmp_path / "shot.png").exists()


def test_qt_calls_do_not_drain_none_or_bools():
    from PySide6.QtCore import QObject

    from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts

    guard_singleton_refcounts()
    probe = QObject()
    for _ in range(200_000):
        # Each call used to take a reference from None, or from False, on Python 3.11.
        probe.setObjectName("x")
        probe.signalsBlocked()
    assert sys.getrefcount(None) > 1_000_000 and sys.getrefcount(False) > 1_000_000


def test_a_scan_through_a_remote_endpoint(make_window, scan, photos, tiny_model, monkeypatch, db_path):
    from huggingface_hub import constants

    from nsfw_desktop.classify.local import LocalClassifier
    from nsfw_desktop.classify.model_source import resolve
    from nsfw_desktop.server import InferenceService, ServerConfig, create_app
    from nsfw_desktop.server.background import ServerThread

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the requests go to 127.0.0.1 only
    local = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    with ServerThread(create_app(InferenceService(local, ServerConfig()))) as server:
        window = make_window([photos], model=None, endpoints=[server.url], token="t0ken")
        summary = scan(window)
    assert summary.scanned == 5 and summary.errors == 0
    assert {r.model for r in _stored(db_path).values()} == {server.url}


def test_without_a_display_the_command_says_so(monkeypatch, capsys):
    from nsfw_desktop.cli import main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([]) == 1
    assert "no graphical display found" in capsys.readouterr().err


def test_only_the_rows_on_screen_are_asked_for(make_window, db_path, tmp_path, qtbot):
    from nsfw_desktop.store.result import Result

    with Store(db_path) as store:
        store.put_many([Result(path=str(tmp_path / f"{i:04d}.jpg"), label="normal", nsfw_score=i / 1000,
                               model="m", width=1, height=1, file_size=1, mtime_ns=1, scanned_at=0.0)
                        for i in range(600)])
    window = make_window()
    assert window.model.rowCount() == 600
    grid = window.grid
    grid.request_visible()

    def on_screen():
        area = grid.viewport().rect()
        return {row for row in range(600) if grid.visualRect(window.model.index(row)).intersects(area)}

    rows = grid.visible_rows()
    assert rows.start == 0 and 1 <= len(rows) <= 60 and on_screen() <= set(rows)
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum() // 2)
    rows = grid.visible_rows()
    assert rows.start > 0 and rows.stop < 600 and len(rows) <= 60 and on_screen() <= set(rows)
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum())
    rows = grid.visible_rows()
    assert rows.stop == 600 and on_screen() <= set(rows)


def test_no_two_actions_share_a_shortcut(make_window):
    from PySide6.QtGui import QAction

    window = make_window()
    shortcuts = [key.toString() for action in window.findChildren(QAction) for key in action.shortcuts()]
    assert shortcuts and len(shortcuts) == len(set(shortcuts)), sorted(shortcuts)
