"""An error nobody expected, in any worker's thread, reaches the window's message bar
(instead of a traceback on stderr and a window that waits forever)."""

from __future__ import annotations

import pytest

from nsfw_desktop.gui.actions import Action

BOOM = "an error no one planned for"


def _boom(*_args, **_kwargs):
    raise RuntimeError(BOOM)


def _wait_for_message(window, qtbot, start: str) -> str:
    def said():
        return next((m for m in window.messages.messages if m.startswith(start) and BOOM in m), None)

    qtbot.waitUntil(lambda: said() is not None, timeout=30_000)
    return said()


def test_a_scan_that_breaks_says_so(make_window, scan, photos, qtbot, monkeypatch):
    monkeypatch.setattr("nsfw_desktop.scan.engine.scan", _boom)
    window = make_window([photos])
    assert scan(window) is None
    _wait_for_message(window, qtbot, "The scan stopped")


def test_a_thumbnail_that_breaks_says_so_and_the_window_settles(make_window, scan, photos, qtbot,
                                                                monkeypatch):
    from nsfw_desktop.media.thumbnails import ThumbnailCache

    monkeypatch.setattr(ThumbnailCache, "thumbnail", _boom)
    window = make_window([photos])
    with qtbot.waitSignal(window.settled, timeout=60_000):
        scan(window)
    message = _wait_for_message(window, qtbot, "Making a thumbnail stopped on an unexpected error")
    assert "Help > Open log folder" in message
    assert BOOM in window.loader.failure(window.model.result(0).path)  # the tile says so too


def _select_first(window):
    window.filters.slider.setValue(100)  # nothing hidden
    window.select_rows([0])


BREAKS = {
    # what breaks, what asks the worker for it (window, a folder), how the message starts
    "find similar": ("nsfw_desktop.similar.search.find_similar", lambda w, _tmp: w.similar_action.trigger(),
                     "Find similar stopped on an unexpected error"),
    "heatmaps": ("nsfw_desktop.explain.heatmap.explain", lambda w, _tmp: w.heatmap_action.setChecked(True),
                 "The heatmap stopped on an unexpected error"),
    "export": ("nsfw_desktop.store.export.write_csv",
               lambda w, tmp: w.exporter.export_flagged(str(tmp / "out.csv")),
               "Export stopped on an unexpected error"),
    "model quality": ("nsfw_desktop.gui.quality_worker.QualityWorker._open",
                      lambda w, _tmp: w.action_set[Action.MODEL_QUALITY].trigger(),
                      "Model quality stopped on an unexpected error"),
    "sidecars": ("nsfw_desktop.gui.sidecar_sync.tag_stored",
                 lambda w, _tmp: w.action_set[Action.WRITE_TAGS].trigger(),
                 "Updating XMP sidecars stopped on an unexpected error"),
}


@pytest.mark.parametrize("worker", list(BREAKS))
def test_a_worker_that_breaks_says_so_in_the_window(worker, make_window, scan, photos, qtbot, monkeypatch,
                                                     tmp_path):
    target, trigger, start = BREAKS[worker]
    window = make_window([photos])
    scan(window)
    _select_first(window)
    monkeypatch.setattr(target, _boom)
    trigger(window, tmp_path)
    _wait_for_message(window, qtbot, start)
    if worker == "find similar":
        assert "Looking for photos like" not in window.status.text()
    window.close()


def test_a_model_error_in_model_quality_names_no_command_line_flag(make_window, photos, qtbot, monkeypatch):
    from nsfw_desktop.classify.model_source import ModelError

    def refuse(_worker):
        raise ModelError("The model folder /m has no weights.", "Point --model at another folder.",
                         setting="model")

    monkeypatch.setattr("nsfw_desktop.gui.quality_worker.QualityWorker._open", refuse)
    window = make_window([photos])
    window.action_set[Action.MODEL_QUALITY].trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Model quality:") for m in window.messages.messages),
                    timeout=30_000)
    message = next(m for m in window.messages.messages if m.startswith("Model quality:"))
    assert "has no weights" in message and "--" not in message and "File > Settings" in message
