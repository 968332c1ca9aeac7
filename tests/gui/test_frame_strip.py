"""The details panel's strip of a video's scored frames along its time line."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from nsfw_desktop.gui import frame_strip
from tests.videos import write_video

skimage_data = pytest.importorskip("skimage.data")


def photographs() -> list[Image.Image]:
    return [Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
            for name in ("astronaut", "coffee", "chelsea", "rocket")]


@pytest.fixture
def clip(tmp_path):
    """40 s of four photographs, ten seconds each."""
    folder = tmp_path / "camera"
    folder.mkdir()
    write_video(folder / "VID_0001.mp4", [(p, 10) for p in photographs()], size=(160, 90))
    return folder


def test_the_strip_shows_each_scored_frame_off_the_gui_thread_with_the_worst_marked(
        make_window, scan, clip, qtbot, monkeypatch):
    threads = []
    original = frame_strip.load_video

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(frame_strip, "load_video", recording)
    window = make_window([clip])
    scan(window)
    window.filters.slider.setValue(100)  # nothing flagged: every frame sharp
    video = window.model.result(0)
    assert video.kind == "video" and len(video.frame_scores) == video.frames >= 8
    window.grid.setCurrentIndex(window.model.index(0))
    strip = window.detail.strip
    qtbot.waitUntil(lambda: len(strip._pictures) == len(video.frame_scores), timeout=20_000)
    assert strip.isVisible() and strip.scores == video.frame_scores
    assert threads and threading.main_thread() not in threads  # decoded on a worker
    assert strip.scores[strip.worst][0] == video.worst_frame_time
    assert all(strip.picture(i) is strip._pictures[i][0] for i in range(len(strip.scores)))

    requested = []
    monkeypatch.setattr(window.loader, "request_preview", lambda path, at=None: requested.append(at))
    other = (strip.worst + 1) % len(strip.scores)
    rect = strip.frames.frame_rect(other)
    qtbot.mouseClick(strip.frames, frame_strip.Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert requested == [strip.scores[other][0]] and strip.chosen == other
    assert window.detail._frame_at == strip.scores[other][0]  # the worst frame's heatmap is not drawn

    scores = sorted(s for _, s in strip.scores)
    cut = next(v for v in range(101) if scores[0] < v / 100 <= scores[-1])
    window.filters.slider.setValue(cut)  # the video flagged and hidden: its flagged frames blurred
    qtbot.waitUntil(lambda: strip.hidden)
    blurred = [strip.picture(i) is strip._pictures[i][1] for i in range(len(strip.scores))]
    assert blurred == [s >= cut / 100 for _, s in strip.scores] and any(blurred) and not all(blurred)
    window.detail.hidden_mode = "placeholder"
    window.detail_link.refresh()
    assert [strip.picture(i) is None for i in range(len(strip.scores))] == blurred  # covered
    window.close()


def test_a_picture_has_no_strip(make_window, scan, tmp_path, qtbot):
    folder = tmp_path / "photos"
    folder.mkdir()
    photographs()[0].save(folder / "IMG_0001.png")
    window = make_window([folder])
    scan(window)
    window.grid.setCurrentIndex(window.model.index(0))
    assert not window.detail.strip.isVisible()
    window.close()
