"""The engine's features in the desktop app: heatmaps, find similar, watched folders, the token."""

import json
import os
import shutil
import stat
import threading

import pytest
from PySide6.QtCore import Qt

from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.feature_worker import HeatmapKey
from nsfw_desktop.gui.results_model import SimilarityRole
from nsfw_desktop.media.thumbnails import THUMBNAIL_SIZE
from nsfw_desktop.similar import search
from nsfw_desktop.store.results import Store
from tests.conftest import random_image, write_photos
from tests.gui.conftest import SCAN_TIMEOUT_MS

WATCH_TIMEOUT_MS = 60_000


def _paint_grid(window, qtbot):
    window.grid.viewport().repaint()
    qtbot.wait(10)


def _preview_pixmap(window, qtbot):
    qtbot.waitUntil(lambda: window.detail.preview.pixmap() is not None
                    and not window.detail.preview.pixmap().isNull(), timeout=20_000)
    return window.detail.preview.pixmap().toImage()


def test_the_heatmap_toggle_overlays_the_preview_and_the_tiles(make_window, scan, tmp_path, qtbot):
    folder = tmp_path / "photos"
    write_photos(folder, 3, size=(300, 200))
    window = make_window([folder])
    scan(window)
    window.filters.slider.setValue(100)  # nothing flagged, nothing hidden
    window.grid.setCurrentIndex(window.model.index(0))
    path = window.model.result(0).path
    qtbot.waitUntil(lambda: window.detail._pixmaps is not None
                    and window.detail._pixmaps[0].width() == 300, timeout=20_000)
    plain = _preview_pixmap(window, qtbot)

    assert window.heatmap_action.isEnabled()
    window.detail.heatmap_toggle.setChecked(True)  # the detail view's toggle drives the window's action
    assert window.heatmap_action.isChecked()
    with qtbot.waitSignal(window.heatmaps.ready, timeout=SCAN_TIMEOUT_MS,
                          check_params_cb=lambda p: p == path):
        pass
    mtime = window.model.result(0).mtime_ns
    preview = window.heatmaps._pixmaps[HeatmapKey(path, mtime, "rollout", "preview")]
    assert (preview.width(), preview.height()) == (300, 200)  # made at the size it is shown
    qtbot.waitUntil(lambda: window.detail.preview.pixmap().toImage() != plain, timeout=5_000)

    # Tiles: asked for when painted, made at the thumbnail's size.
    tile_key = HeatmapKey(path, mtime, "rollout", "tile")
    qtbot.waitUntil(lambda: (_paint_grid(window, qtbot), tile_key in window.heatmaps._pixmaps)[1],
                    timeout=SCAN_TIMEOUT_MS)
    assert max(window.heatmaps._pixmaps[tile_key].width(), window.heatmaps._pixmaps[tile_key].height()) \
        == THUMBNAIL_SIZE

    # Another method is another heatmap; turning the toggle off takes the overlay away.
    window.heatmap_controls.methods.actions()[1].trigger()
    # Tiles' heatmaps of the new method arrive too: wait for the preview's own.
    qtbot.waitUntil(lambda: HeatmapKey(path, mtime, "last", "preview") in window.heatmaps._pixmaps,
                    timeout=SCAN_TIMEOUT_MS)
    window.heatmap_action.setChecked(False)
    assert not window.detail.heatmap_toggle.isChecked() and window.detail._overlay is None
    window.close()


def test_no_heatmap_over_a_hidden_tile(make_window, scan, photos, qtbot):
    window = make_window([photos], threshold=0.0)  # everything flagged, so hidden
    scan(window)
    window.heatmap_action.setChecked(True)
    window.grid.setCurrentIndex(window.model.index(0))
    _paint_grid(window, qtbot)
    qtbot.wait(500)
    assert not window.heatmaps._pixmaps and not window.heatmaps._wanted
    assert window.detail._overlay is None
    window.model.toggle_revealed(window.model.index(0))
    with qtbot.waitSignal(window.heatmaps.ready, timeout=SCAN_TIMEOUT_MS):
        pass  # revealed: now it is drawn
    window.close()


def test_the_toggle_is_disabled_with_a_remote_endpoint(make_window):
    window = make_window(model=None, endpoints=["http://127.0.0.1:9"])
    assert not window.heatmap_action.isEnabled() and not window.detail.heatmap_toggle.isEnabled()
    assert "a model on this computer" in window.heatmap_action.toolTip()
    assert "a model on this computer" in window.detail.heatmap_toggle.toolTip()
    window.close()


def test_the_toggle_is_disabled_with_a_model_that_is_no_vit(make_window, scan, photos, tmp_path, qtbot):
    import torch
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessorPil

    folder = tmp_path / "convnext"
    torch.manual_seed(0)
    config = ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2,
                            id2label={0: "normal", 1: "nsfw"}, label2id={"normal": 0, "nsfw": 1})
    ConvNextForImageClassification(config).save_pretrained(folder)
    ConvNextImageProcessorPil(size={"shortest_edge": 32}).save_pretrained(folder)
    window = make_window([photos], model=str(folder))
    scan(window)
    window.filters.slider.setValue(100)
    window.grid.setCurrentIndex(window.model.index(0))
    with qtbot.waitSignal(window.heatmaps.availability_changed, timeout=SCAN_TIMEOUT_MS) as answer:
        window.heatmap_action.setChecked(True)
    assert answer.args[0] is False and "ViT" in answer.args[1]
    assert not window.heatmap_action.isEnabled() and not window.heatmap_action.isChecked()
    assert "ViT" in window.heatmap_action.toolTip()
    assert any("ViT" in m for m in window.messages.messages)
    window.close()


def test_find_similar_shows_the_matches_best_first(make_window, scan, photos, qtbot, monkeypatch):
    shutil.copy(photos / "photo_0002.png", photos / "copy_of_2.png")
    window = make_window([photos], embeddings=True)
    scan(window)
    threads = []  # the query reads a matrix of up to 1.5 GB: never on the GUI thread
    original = search.find_similar
    monkeypatch.setattr(search, "find_similar", lambda *args, **kwargs: (
        threads.append(threading.current_thread()), original(*args, **kwargs))[1])
    assert window.model.rowCount() == 6
    query = str(photos / "photo_0002.png")
    window.select_rows([window.model.row_of(query)])
    with qtbot.waitSignal(window.similar_shown, timeout=SCAN_TIMEOUT_MS):
        window.similar_action.trigger()
    assert window.filter_state.showing_similar and window.similar.isVisible()
    assert "photo_0002.png" in window.similar.label.text()
    assert threads and threading.main_thread() not in threads
    shown = [window.model.result(row).path for row in range(window.model.rowCount())]
    assert len(shown) == 5 and query not in shown  # the query itself is left out
    assert shown[0] == str(photos / "copy_of_2.png")
    similarities = [window.model.index(row).data(SimilarityRole) for row in range(5)]
    assert similarities == sorted(similarities, reverse=True)
    assert similarities[0] == pytest.approx(1, abs=1e-3)

    window.action_set[Action.ALL_RESULTS].trigger()
    assert window.model.rowCount() == 6 and not window.similar.isVisible()
    assert window.model.index(0).data(SimilarityRole) is None
    window.close()


def test_the_settings_dialog_offers_the_new_options(make_window):
    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    window = make_window()
    dialog = SettingsDialog(window.settings.replace(endpoints=["https://gpu.local"], model=None), window)
    assert not dialog.auto_quarantine.isChecked() and dialog.notify_flagged.isChecked()
    assert dialog.remember_token.isEnabled()
    dialog.token.setText("hf_secret")
    for box in (dialog.embeddings, dialog.auto_quarantine):
        box.setChecked(True)
    dialog.notify_flagged.setChecked(False)
    new = dialog.edited()
    assert (new.embeddings, new.auto_quarantine, new.notify_flagged, new.remember_token) == (
        True, True, False, False)
    assert new.token == "hf_secret"
    window.close()


def test_embeddings_setting_makes_scans_keep_embeddings(make_window, scan, photos, db_path):
    import sqlite3

    window = make_window([photos], embeddings=True)
    scan(window)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 5
    window.close()


def test_the_watch_box_is_remembered(make_window, photos, tmp_path, qtbot):
    other = tmp_path / "other"
    other.mkdir()
    window = make_window([photos, other])
    window.folders.set_watched(str(photos), True)
    assert settings_file.load().watched_folders == [str(photos)]
    qtbot.waitUntil(lambda: window.watch.bridge.running, timeout=SCAN_TIMEOUT_MS)
    window.folders.set_watched(str(photos), False)
    assert settings_file.load().watched_folders == []
    assert window.watch.bridge.running and window.watch.bridge.folders == set()  # idle, not stopped
    window.close()
    assert not window.watch.bridge.running


def _age(folder, seconds=60):
    """Date the files back, so the catch-up scan takes them as there before the watcher."""
    for path in folder.iterdir():
        then = path.stat().st_mtime - seconds
        os.utime(path, (then, then))


def _wait_caught_up(window, qtbot):
    # The status line, not the CaughtUp signal: it may come while the window is still opening.
    qtbot.waitUntil(lambda: "up to date" in window.status.text(), timeout=WATCH_TIMEOUT_MS)


def test_new_files_in_a_watched_folder_appear_and_notify(make_window, photos, qtbot):
    arrived = []
    _age(photos)
    window = make_window([photos], watched_folders=[str(photos)], threshold=0.0)
    window.watch.flagged_arrived.connect(arrived.append)
    _wait_caught_up(window, qtbot)
    assert window.model.rowCount() == 5  # the catch-up classified what was there...
    assert arrived == []  # ...without a notification for each
    new = photos / "new_arrival.png"
    with qtbot.waitSignal(window.watch.flagged_arrived, timeout=WATCH_TIMEOUT_MS):
        random_image(99, (64, 48)).save(new)
    assert [r.path for r in arrived] == [str(new)]
    assert window.model.row_of(str(new)) is not None
    assert any("new_arrival.png" in m for m in window.messages.messages)
    new.unlink()
    qtbot.waitUntil(lambda: window.model.row_of(str(new)) is None, timeout=WATCH_TIMEOUT_MS)
    window.close()
    assert not window.watch.bridge.running


def test_auto_quarantine_moves_newly_flagged_files(make_window, photos, tmp_path, qtbot, db_path):
    quarantine = tmp_path / "quarantine"
    _age(photos)
    window = make_window([photos], watched_folders=[str(photos)], threshold=0.0, auto_quarantine=True,
                         quarantine_folder=str(quarantine))
    _wait_caught_up(window, qtbot)
    assert list(photos.iterdir()) and not quarantine.exists()  # nothing already there is moved
    random_image(7, (64, 48)).save(photos / "incoming.png")
    # A move that never overwrites puts the file in place, then removes the original: wait for both.
    qtbot.waitUntil(lambda: (quarantine / "incoming.png").exists() and not (photos / "incoming.png").exists(),
                    timeout=WATCH_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.model.result_for(str(quarantine / "incoming.png")) is not None,
                    timeout=10_000)
    assert window.model.row_of(str(quarantine / "incoming.png")) is None  # shown in the quarantine only
    assert window.action_set[Action.UNDO].isEnabled()
    with Store(db_path) as store:  # the database followed the move, whoever saw it first
        assert store.get(str(quarantine / "incoming.png")) is not None
        assert store.get(str(photos / "incoming.png")) is None
    window.close()


def test_a_deleted_watched_folder_is_marked_offline(make_window, tmp_path, qtbot):
    folder = tmp_path / "drive"
    write_photos(folder, 1)
    _age(folder)
    window = make_window([folder], watched_folders=[str(folder)])
    _wait_caught_up(window, qtbot)
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: str(folder) in window.folders.offline, timeout=WATCH_TIMEOUT_MS)
    item = window.folders.item(str(folder))
    assert "offline" in item.text(0) and item.checkState(0) == Qt.CheckState.Checked
    assert str(folder) in window.settings.watched_folders  # still watched: it may come back
    window.close()


def test_a_token_is_saved_only_when_asked_and_owner_only(isolated_home):
    settings_file.save(Settings(endpoints=["https://gpu.local"], token="hf_not_asked"))
    path = settings_file.settings_path()
    assert "hf_not_asked" not in path.read_text() and json.loads(path.read_text())["token"] is None
    assert settings_file.load().token is None

    settings_file.save(Settings(endpoints=["https://gpu.local"], token="hf_remembered", remember_token=True))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings_file.load().token == "hf_remembered"

    # A file from before "remember the token" existed keeps its token.
    path.write_text(json.dumps({"endpoints": ["https://gpu.local"], "token": "hf_older"}))
    assert settings_file.load().remember_token is True


def test_the_session_keeps_an_unsaved_token(make_window, qtbot):
    window = make_window()
    window.apply_settings(window.settings.replace(model=None, endpoints=["https://gpu.local"],
                                                  token="hf_session_only"))
    assert window.settings.token == "hf_session_only"  # used for this session's scans
    assert "hf_session_only" not in settings_file.settings_path().read_text()
    window.close()
    assert "hf_session_only" not in settings_file.settings_path().read_text()


def test_one_model_load_serves_scan_heatmaps_and_watching(make_window, scan, photos, qtbot, monkeypatch):
    from nsfw_desktop.classify.local import LocalClassifier

    loaded = []
    real_load = LocalClassifier._load

    def counting_load(self):
        loaded.append(self)
        real_load(self)

    monkeypatch.setattr(LocalClassifier, "_load", counting_load)
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(100)  # nothing hidden, so the preview gets its heatmap
    window.grid.setCurrentIndex(window.model.index(0))
    with qtbot.waitSignal(window.heatmaps.ready, timeout=SCAN_TIMEOUT_MS):
        window.heatmap_action.setChecked(True)
    window.folders.set_watched(str(photos), True)
    qtbot.waitUntil(lambda: window.watch.bridge.running, timeout=SCAN_TIMEOUT_MS)
    new = photos / "arrived.png"
    random_image(5, (64, 48)).save(new)
    qtbot.waitUntil(lambda: window.model.row_of(str(new)) is not None, timeout=WATCH_TIMEOUT_MS)
    assert len(loaded) == 1 and window.watch.bridge.classifier is loaded[0]
    window.close()


def test_the_token_never_crosses_to_the_scan_thread(make_window, scan, photos):
    window = make_window([photos], token="hf_secret_token_1234")
    crossed = []
    window.scanner.requested.connect(lambda *args: crossed.append(args))
    summary = scan(window)
    assert summary.scanned == 5 and crossed
    shown = repr(crossed) + repr([vars(arg) for args in crossed for arg in args])
    assert "hf_secret_token_1234" not in shown
