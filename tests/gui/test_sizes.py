"""The window at every size from 800x600 to 4K: the grid keeps room for tiles, the toolbar
keeps its controls, the message bar and status bar stay one-line-ish and never overlap.

Each size is saved as a PNG in the test's folder, and in NSFW_DESKTOP_SCREENSHOTS
when that is set, for a person to look at."""

import os
import shutil

import pytest
from PIL import Image

from tests.gui.conftest import SCAN_TIMEOUT_MS

SIZES = [(800, 600), (1024, 768), (1366, 768), (1920, 1080), (3840, 2160)]
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page", "clock",
                  "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "grass", "gravel",
                  "brick", "cell", "text")


@pytest.fixture
def library(tmp_path):
    """Real photographs (scikit-image's samples) in two folders, one with a sub-folder."""
    data = pytest.importorskip("skimage.data")
    folders = [tmp_path / "Pictures" / "2024", tmp_path / "Pictures" / "2024" / "trip", tmp_path / "Phone"]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(SKIMAGE_PHOTOS):
        image = Image.fromarray(getattr(data, name)())
        image.convert("RGB").save(folders[i % 3] / f"{name}.jpg", quality=90)
    return [tmp_path / "Pictures", tmp_path / "Phone"]


def _save(window, tmp_path, name):
    path = tmp_path / name
    assert window.grab().save(str(path))
    wanted = os.environ.get("NSFW_DESKTOP_SCREENSHOTS")
    if wanted:
        os.makedirs(wanted, exist_ok=True)
        shutil.copyfile(path, os.path.join(wanted, name))
    return path


def _overlap(a, b):
    ra, rb = a.geometry(), b.geometry()
    return a.isVisible() and b.isVisible() and ra.intersects(rb)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_window_is_usable_at(size, make_window, scan, library, qtbot, tmp_path):
    window = make_window(library, threshold=0.6)
    scan(window)
    for i in range(5):
        window.messages.show_message(f"Folder not scanned: /media/disk{i}/a rather long path/to a "
                                     "folder that went away while the scan was running: no such file")
    window.resize(*size)
    window.select_rows([0])
    window.model.toggle_revealed(window.model.index(1))  # one revealed, the rest of the flagged hidden
    with qtbot.waitSignal(window.settled, timeout=SCAN_TIMEOUT_MS):
        window.start_scan()  # nothing changed: settles once the visible thumbnails are drawn
    qtbot.waitUntil(lambda: window.folders.all_item.text(1) == str(len(SKIMAGE_PHOTOS)), timeout=5000)
    _save(window, tmp_path, f"app-{size[0]}x{size[1]}.png")

    grid = window.grid.viewport()
    assert grid.width() >= 2 * 150 and grid.height() >= 200, (grid.width(), grid.height())
    assert window.messages.height() <= 0.25 * window.height()
    for widget in (window.filters.slider, window.filters.show_box, window.filters.sort_box):
        assert widget.isVisible(), widget
    assert not _overlap(window.status, window.filters.counts_label)
    assert window.status.width() >= 150
