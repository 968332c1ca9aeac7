"""The folder panel and the status bar count what the grid's model holds, after every change."""

from __future__ import annotations

import re

from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.folder_counts import under
from nsfw_desktop.gui.results_model import FlaggedRole
from tests.conftest import write_photos


def _items(tree):
    stack = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(item.child(i) for i in range(item.childCount()))


def _counts_disagree(window) -> list[str]:
    """Where the panel or the status bar says other than the grid, which shows "All photos",
    "Show: All"; empty when they agree."""
    model = window.model
    rows = [model.index(row) for row in range(model.rowCount())]
    paths = [model.result(index.row()).path for index in rows]
    flagged = [model.result(index.row()).path for index in rows if index.data(FlaggedRole)]
    wrong = []
    for item in _items(window.folders.tree):
        if item.folder is None:
            expected = (len(paths), len(flagged))
        elif item is window.folders.quarantine_item:
            inside = model.results_under(item.folder)
            expected = (len(inside), sum(r.flagged(model.filters.threshold) for r in inside))
        else:
            expected = tuple(sum(under(p, item.folder) for p in some) for some in (paths, flagged))
        if (item.text(1), item.text(2)) != tuple(map(str, expected)):
            wrong.append(f"{item.text(0)} says {item.text(1)} photos, {item.text(2)} flagged, "
                         f"not {expected}")
    status = window.filters.counts_label.text()
    if not status.startswith(f"{len(paths)} files · {len(flagged)} flagged"):
        wrong.append(f"the status bar says {status!r} beside {len(paths)} tiles, {len(flagged)} flagged")
    # The status bar's other line (the scan's progress and outcome) tells no count of its own.
    said = re.findall(r"(\d+) flagged", window.status.text())
    if said and said != [str(len(flagged))]:
        wrong.append(f"the status line says {window.status.text()!r} beside {len(flagged)} flagged tiles")
    return wrong


def test_the_counts_follow_scan_batches_threshold_review_and_quarantine(make_window, scan, tmp_path, qtbot):
    photos = tmp_path / "photos"
    write_photos(photos, 4)
    write_photos(photos / "trip", 3, start=4)
    quarantine = tmp_path / "quarantine"
    window = make_window([photos], batch_size=2, quarantine_folder=str(quarantine), threshold=1.0)
    after_batches = []
    window.batch_shown.connect(lambda _event: after_batches.append(_counts_disagree(window)))
    scan(window)
    assert len(after_batches) == 4 and after_batches == [[]] * 4
    assert window.model.rowCount() == 7

    flagged_before = window.filters.counts_label.text()
    window.filters.slider.setValue(50)
    assert _counts_disagree(window) == [] and window.filters.counts_label.text() != flagged_before

    path = window.model.result(0).path
    window.select_rows([0])
    window.files.review_selected("safe" if window.model.index(0).data(FlaggedRole) else "nsfw")
    qtbot.waitUntil(lambda: window.model.result_for(path).review is not None)
    assert _counts_disagree(window) == []

    window.select_rows([1, 2])
    window.quarantine.quarantine_selected()
    qtbot.waitUntil(window.action_set[Action.UNDO].isEnabled)
    assert window.model.rowCount() == 5  # the quarantined tiles left "All photos" at once
    assert window.folders.quarantine_item.text(1) == "2"
    assert _counts_disagree(window) == []

    window.filters.show_box.setCurrentText("Flagged")
    shown = window.model.rowCount()
    assert window.filters.counts_label.text().startswith(f"{shown} of 5 files shown · {shown} flagged")
