"""File names that are not UTF-8: every path crosses Qt signals with all its bytes, and the
window shows such a name with a visible replacement character."""

import os
import shutil

from PySide6.QtCore import Qt

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.store.results import Store
from tests.conftest import write_photos


def _undecodable_photo(folder):
    """Copy one photo of ``folder`` to a name with the Latin-1 byte 0xE9: not UTF-8."""
    source = sorted(folder.iterdir())[0]
    target = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    shutil.copyfile(os.fsencode(source), target)
    return os.fsdecode(target)


def test_a_non_utf8_name_does_not_stop_the_thumbnails(make_window, scan, tmp_path, qtbot):
    folder = tmp_path / "photos"
    write_photos(folder, 4)
    odd = _undecodable_photo(folder)
    window = make_window([folder])
    scan(window)
    window.filter_state.set_sort(type(window.filter_state.sort).NAME)  # the odd name first: caf\xe9 < photo_
    with qtbot.waitSignal(window.settled, timeout=20_000):
        window.start_scan()  # unchanged: settles once the visible thumbnails are drawn
    qtbot.waitUntil(lambda: window.loader.is_idle, timeout=20_000)
    assert window.loader.cached_count() == 5
    assert window.loader.failure(odd) is None
    row = window.model.row_of(odd)
    shown = window.model.data(window.model.index(row), Qt.ItemDataRole.DisplayRole)
    assert shown == "caf\ufffd.png"


def test_reviewing_a_non_utf8_name_is_saved(make_window, scan, tmp_path, qtbot, db_path):
    folder = tmp_path / "photos"
    write_photos(folder, 2)
    odd = _undecodable_photo(folder)
    window = make_window([folder])
    scan(window)
    window.select_rows([window.model.row_of(odd)])
    window.action_set[Action.REVIEW_SAFE].trigger()
    qtbot.waitUntil(lambda: window.model.result_for(odd).review == "safe", timeout=10_000)
    with Store(db_path) as store:
        assert store.get(odd).review == "safe"
