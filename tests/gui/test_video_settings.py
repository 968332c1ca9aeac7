"""The settings dialog's video rows, and scans of the window following them."""

from __future__ import annotations

from pathlib import Path

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.scan import refine
from tests.conftest import random_image, write_photos
from tests.videos import write_video


def test_the_video_rows_edit_the_video_settings(qtbot):
    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(video_interval=2.5, video_max_frames=48))
    qtbot.addWidget(dialog)
    rows = dialog.videos
    assert rows.screen.isChecked() and (rows.interval.value(), rows.max_frames.value()) == (2.5, 48)
    rows.screen.setChecked(False)
    assert not rows.interval.isEnabled() and not rows.max_frames.isEnabled()
    rows.screen.setChecked(True)
    rows.interval.setValue(10)
    rows.max_frames.setValue(16)
    rows.screen.setChecked(False)
    dialog.accept()
    saved = dialog.settings
    assert (saved.videos, saved.video_interval, saved.video_max_frames) == (False, 10.0, 16)


def test_scans_of_the_window_follow_the_video_settings(make_window, scan, tmp_path, monkeypatch):
    monkeypatch.setattr(refine, "REFINE_FROM", 1.0)  # no second look: the frames are the sampling's
    folder = tmp_path / "downloads"
    write_photos(folder, 1)
    write_video(folder / "clip.mp4", [(random_image(1, (128, 96)), 20)])

    window = make_window([folder], videos=False)
    scan(window)
    assert [Path(r.path).name for r in window.model.all_results()] == ["photo_0000.png"]
    window.close()

    window = make_window([folder], video_max_frames=3)
    scan(window)
    clip = window.model.result_for(str(folder / "clip.mp4"))
    assert (clip.kind, clip.frames) == ("video", 3)
