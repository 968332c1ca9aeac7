"""The grid's view: selection, thumbnail size, sort direction, and what is remembered."""

import pytest
from PySide6.QtCore import QSettings, Qt

from nsfw_desktop.files import paths
from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.filter_state import Show, SortBy
from nsfw_desktop.gui.results_model import FlaggedRole
from nsfw_desktop.gui.tile_delegate import DEFAULT_SIDE
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store


def test_select_all_flagged_and_the_count(make_window, scan, photos):
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(50)
    flagged = [row for row in range(5) if window.model.result(row).flagged(0.5)]
    window.action_set[Action.SELECT_FLAGGED].trigger()
    assert window.grid.selected_rows() == flagged
    assert window.view_controls.selected_label.text() == (f"{len(flagged)} selected" if flagged else "")


def test_thumbnail_size_follows_ctrl_plus_and_minus(make_window, scan, photos):
    window = make_window([photos])
    scan(window)
    def tile_width():
        return window.delegate.tile_rect(window.grid.visualRect(window.model.index(0))).width()

    before = tile_width()
    window.action_set[Action.ZOOM_IN].trigger()
    assert window.delegate.side > DEFAULT_SIDE
    window.grid.executeDelayedItemsLayout()
    assert tile_width() > before
    window.action_set[Action.ZOOM_OUT].trigger()
    window.action_set[Action.ZOOM_OUT].trigger()
    assert window.delegate.side < DEFAULT_SIDE == window.view_controls.size_slider.value() + 32


def test_the_sort_direction_reverses_the_order(make_window, scan, photos):
    window = make_window([photos])
    scan(window)
    first = [window.model.result(row).path for row in range(5)]
    window.filters.reverse_button.setChecked(True)
    assert [window.model.result(row).path for row in range(5)] == first[::-1]


def test_the_view_is_remembered(make_window, scan, photos, qtbot):
    window = make_window([photos])
    window.filters.show_box.setCurrentIndex(list(Show).index(Show.FLAGGED))
    window.filters.sort_box.setCurrentIndex(list(SortBy).index(SortBy.NAME))
    window.filters.reverse_button.setChecked(True)
    window.view_controls.set_tile_side(224)
    window.resize(760, 560)  # within the offscreen screen (800x600), which a restore keeps to
    window.close()
    again = make_window([photos])
    state = again.filter_state
    assert state.show is Show.FLAGGED and state.sort is SortBy.NAME and state.reverse
    assert again.filters.show_box.currentText() == "Flagged" and again.filters.reverse_button.isChecked()
    assert again.delegate.side == 224 and again.width() == 760


@pytest.mark.parametrize(("show", "sort", "expected"), [
    ("1", "1", (Show.FLAGGED, SortBy.NAME)),  # the older save: the menus' indexes
    ("Sideways", "99", (Show.ALL, SortBy.SCORE)),  # hand-edited: ignored, the defaults stay
])
def test_an_older_or_odd_saved_view_loads_or_is_ignored(make_window, photos, show, sort, expected):
    store = QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)
    store.setValue("show", show)
    store.setValue("sort", sort)
    store.sync()
    window = make_window([photos])
    assert (window.filter_state.show, window.filter_state.sort) == expected
    assert window.filters.sort_box.currentText() == expected[1].value


def test_the_threshold_is_one_value_wherever_it_is_read(make_window, scan, photos):
    window = make_window([photos])
    scan(window)
    window.apply_settings(window.settings.replace(threshold=0.8))  # as the settings dialog does
    assert window.filter_state.threshold == 0.8 and window.filters.slider.value() == 80
    flags = [window.model.index(row).data(FlaggedRole) for row in range(window.model.rowCount())]
    assert flags == [window.model.result(row).flagged(0.8) for row in range(window.model.rowCount())]
    window.filters.slider.setValue(30)
    assert window.settings.threshold == 0.3 == window.filter_state.threshold
    assert window.filters.threshold_label.text() == "0.30"


def test_a_reviewed_file_gone_from_disk_shows_as_missing_and_can_go(make_window, db_path, tmp_path, qtbot):
    with Store(db_path) as store:
        store.put_many([Result(path=str(tmp_path / "gone.jpg"), label="nsfw", nsfw_score=0.9, model="m",
                               width=1, height=1, file_size=1, mtime_ns=1, scanned_at=0.0)])
        store.set_review([str(tmp_path / "gone.jpg")], "nsfw")
        store.forget_gone([bytes(str(tmp_path / "gone.jpg"), "utf-8")])
    window = make_window()
    index = window.model.index(0)
    assert "missing" in index.data(Qt.ItemDataRole.ToolTipRole)
    window.select_rows([0])
    window.action_set[Action.FORGET_MISSING].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10_000)
    with Store(db_path) as store:
        assert store.count() == 0


def test_the_selection_is_exported_with_reviews(make_window, scan, photos, qtbot, tmp_path):
    import csv

    window = make_window([photos])
    scan(window)
    window.select_rows([1, 3])
    chosen = window.grid.selected_paths()
    window.action_set[Action.REVIEW_SAFE].trigger()
    out = tmp_path / "chosen.csv"
    window.exporter.export_selection(str(out))
    qtbot.waitUntil(lambda: "Exported 2 selected" in "\n".join(window.messages.messages), timeout=10_000)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["path"] for r in rows) == sorted(chosen) and {r["review"] for r in rows} == {"safe"}


def test_a_tile_whose_heatmap_is_being_made_is_marked(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    result = window.model.result(0)
    assert not window.heatmaps.pending(result, "tile")
    window.heatmap_action.setChecked(True)
    assert window.heatmaps.overlay(result, "tile") is None  # asked for now
    assert window.heatmaps.pending(result, "tile")
    qtbot.waitUntil(lambda: not window.heatmaps.pending(result, "tile"), timeout=60_000)
    assert window.heatmaps.overlay(result, "tile") is not None


def test_to_review_next_shows_unreviewed_photos_nearest_the_threshold_first(make_window, scan, photos, qtbot):
    window = make_window([photos])
    scan(window)
    window.filters.slider.setValue(50)
    window.filters.show_box.setCurrentIndex(list(Show).index(Show.REVIEW_NEXT))
    shown = [window.model.result(row) for row in range(window.model.rowCount())]
    distances = [abs(r.score - 0.5) for r in shown]
    assert len(shown) == 5 and distances == sorted(distances)
    window.select_rows([0])
    window.files.review_selected("safe")
    qtbot.waitUntil(lambda: window.model.rowCount() == 4)  # reviewed: no longer to review
    assert shown[0].path not in [window.model.result(row).path for row in range(4)]


def test_tiles_share_out_the_width_of_a_wide_window(make_window, scan, tmp_path, qtbot):
    """No empty band beside the tiles: the spare width goes between the columns."""
    from tests.conftest import write_photos

    folder = tmp_path / "many"
    write_photos(folder, 12)
    window = make_window([folder])
    scan(window)
    for width in (1280, 1600, 1920):
        window.resize(width, 900)
        qtbot.waitUntil(lambda: window.grid.viewport().width() > 0)
        grid = window.grid
        grid.executeDelayedItemsLayout()
        first_top = grid.visualRect(window.model.index(0)).top()
        row = [grid.visualRect(window.model.index(i)) for i in range(12)
               if grid.visualRect(window.model.index(i)).top() == first_top]
        tile = window.delegate.tile_rect(row[-1])
        band = grid.viewport().width() - tile.right()
        assert band < tile.width() / 3, (width, band, tile.width())
