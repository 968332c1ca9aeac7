"""Tags in XMP sidecars from the window: scans, review marks, the threshold slider,
quarantine and its undo, and "Write tags for selection"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyexiv2

from nsfw_desktop.gui import sidecar_sync
from nsfw_desktop.gui.actions import Action


def ours(photo: str) -> list[str] | None:
    """Our keywords in the photo's sidecar (lr:hierarchicalSubject), None without a sidecar."""
    sidecar = Path(photo + ".xmp")
    if not sidecar.exists():
        return None
    with pyexiv2.ImageData(sidecar.read_bytes()) as data:
        values = data.read_xmp().get("Xmp.lr.hierarchicalSubject", [])
    return [v for v in values if v.startswith("NSFW|")]


def digests(folder) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(folder).iterdir()
            if p.suffix != ".xmp"}


def test_sidecars_follow_scan_review_threshold_and_quarantine(make_window, scan, photos, qtbot, tmp_path,
                                                                monkeypatch):
    monkeypatch.setattr(sidecar_sync, "SETTLE_MS", 50)
    quarantine = tmp_path / "quarantine"
    before = digests(photos)
    window = make_window([photos], xmp_sidecars=True, threshold=0.0, quarantine_folder=str(quarantine))
    scan(window)
    paths = sorted(str(p) for p in before)
    assert all(ours(p) == ["NSFW|flagged"] for p in paths)

    window.select_rows([window.model.row_of(paths[0])])
    window.files.review_selected("safe")
    qtbot.waitUntil(lambda: ours(paths[0]) == ["NSFW|reviewed safe"])

    window.filters.slider.setValue(100)  # nothing reaches 1.0: flagged no longer
    qtbot.waitUntil(lambda: all(ours(p) is None for p in paths[1:]), timeout=10_000)
    assert ours(paths[0]) == ["NSFW|reviewed safe"]  # a review outlasts the threshold

    window.filters.slider.setValue(0)
    qtbot.waitUntil(lambda: all(ours(p) == ["NSFW|flagged"] for p in paths[1:]), timeout=10_000)

    window.select_rows([window.model.row_of(paths[1])])
    window.quarantine.quarantine_selected()
    qtbot.waitUntil(lambda: not os.path.exists(paths[1] + ".xmp"), timeout=10_000)
    assert not list(quarantine.glob("*.xmp"))  # quarantined files get no keywords
    window.quarantine.undo()
    qtbot.waitUntil(lambda: ours(paths[1]) == ["NSFW|flagged"], timeout=10_000)
    assert digests(photos) == before  # the photos themselves never change


def test_write_tags_for_selection_with_the_setting_off(make_window, scan, photos, qtbot):
    window = make_window([photos], threshold=0.0)
    scan(window)
    assert not list(photos.glob("*.xmp"))  # off by default: scans write no sidecars
    path = window.model.result(0).path
    window.select_rows([0])
    window.action_set[Action.WRITE_TAGS].trigger()
    qtbot.waitUntil(lambda: "Wrote tags to 1 XMP sidecar(s)" in " ".join(window.messages.messages))
    assert ours(path) == ["NSFW|flagged"]
    assert [str(p) for p in photos.glob("*.xmp")] == [path + ".xmp"]
    window.files.review_selected("nsfw")
    qtbot.waitUntil(lambda: window.model.result_for(path).review == "nsfw")
    assert ours(path) == ["NSFW|flagged"]  # the setting is off: reviews leave sidecars alone


def test_a_sidecar_that_cannot_be_read_is_named_in_the_message_bar(make_window, scan, photos, qtbot):
    window = make_window([photos], threshold=0.0)
    scan(window)
    path = window.model.result(0).path
    Path(path + ".xmp").write_bytes(b"not xml")
    window.select_rows([0])
    window.action_set[Action.WRITE_TAGS].trigger()
    qtbot.waitUntil(lambda: "could not be read as XMP" in " ".join(window.messages.messages))
    assert Path(path + ".xmp").read_bytes() == b"not xml"


def test_the_setting_in_the_settings_dialog(qtbot):
    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert not dialog.sidecars.keep.isChecked()
    dialog.sidecars.keep.setChecked(True)
    dialog.sidecars.root.setText("Screening")
    dialog.sidecars.naming.setCurrentIndex(dialog.sidecars.naming.findData("lightroom"))
    edited = dialog.edited()
    assert (edited.xmp_sidecars, edited.xmp_root, edited.xmp_naming) == (True, "Screening", "lightroom")
    dialog.sidecars.root.setText("a|b")
    dialog.accept()
    assert "root" in dialog.error.text() and dialog.error.isVisibleTo(dialog)
